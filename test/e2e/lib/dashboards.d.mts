export interface PanelQuery {
  dashboard: string;
  panel: string;
  refId: string;
  expr: string;
}
export function panelQueries(dashboard: unknown): PanelQuery[];
export function templateVariables(dashboard: unknown): { name: string; type: string; labelValues?: { metric: string; label: string }; allValue?: string }[];
export const BUILTIN_VARIABLES: Readonly<Record<string, string>>;
export function substituteVariables(expr: string, values: Record<string, string>): string;
export function unresolvedVariables(expr: string): string[];
export function hasData(data: { resultType: string; result: unknown } | undefined): boolean;
export function needsKubeStateMetrics(expr: string): boolean;
