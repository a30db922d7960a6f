// Panel queries of Herald's Grafana dashboards, as Grafana would send them to Prometheus: every
// target of every panel (rows included), with the dashboard's template variables substituted.
// Pure: used by the e2e metrics step and unit-tested in test/unit/e2e/dashboards.test.ts.

/**
 * Every PromQL target of a dashboard: panels, panels nested in collapsed rows, hidden targets left
 * out. Order follows the dashboard.
 * @param {any} dashboard parsed dashboard JSON
 * @returns {{dashboard: string, panel: string, refId: string, expr: string}[]}
 */
export function panelQueries(dashboard) {
  const out = [];
  const visit = (panels) => {
    for (const p of panels ?? []) {
      if (Array.isArray(p.panels)) visit(p.panels);
      for (const t of p.targets ?? []) {
        if (t.hide || typeof t.expr !== 'string' || t.expr.trim() === '') continue;
        out.push({ dashboard: dashboard.title ?? dashboard.uid ?? '?', panel: p.title ?? `panel ${p.id}`, refId: t.refId ?? '', expr: t.expr });
      }
    }
  };
  visit(dashboard.panels);
  return out;
}

/**
 * Template variables a dashboard declares, with the PromQL of `query` variables
 * (`label_values(metric, label)` is the only form Herald's dashboards use) and, for a variable
 * offering "All", the value Grafana sends when it is chosen (its `allValue`).
 * @returns {{name: string, type: string, labelValues?: {metric: string, label: string}, allValue?: string}[]}
 */
export function templateVariables(dashboard) {
  return (dashboard.templating?.list ?? []).map((v) => {
    const q = typeof v.query === 'string' ? v.query : v.query?.query ?? v.definition ?? '';
    const m = /^\s*label_values\(\s*(.+?)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$/.exec(q);
    return {
      name: v.name,
      type: v.type,
      ...(v.type === 'query' && m ? { labelValues: { metric: m[1], label: m[2] } } : {}),
      ...(v.includeAll && typeof v.allValue === 'string' ? { allValue: v.allValue } : {}),
    };
  });
}

/** Grafana's built-in interval variables, set to what a 5-minute dashboard range at 15 s steps gives. */
export const BUILTIN_VARIABLES = Object.freeze({ __rate_interval: '1m', __interval: '15s', __range: '5m', __interval_ms: '15000', __range_s: '300' });

/**
 * Replaces `$var`, `${var}`, `${var:format}` and `[[var]]` by their values, longest names first so
 * `$destination_x` is not cut at `$destination`. Values are inserted verbatim (single-value
 * variables: Grafana's regex escaping of a plain name changes nothing). Unknown variables stay.
 * @param {string} expr
 * @param {Record<string, string>} values
 */
export function substituteVariables(expr, values) {
  const all = { ...BUILTIN_VARIABLES, ...values };
  return expr.replace(/\$\{([a-zA-Z_][a-zA-Z0-9_]*)(?::[^}]*)?\}|\[\[([a-zA-Z_][a-zA-Z0-9_]*)\]\]|\$([a-zA-Z_][a-zA-Z0-9_]*)/g, (m, a, b, c) => {
    const name = a ?? b ?? c;
    return Object.hasOwn(all, name) ? all[name] : m;
  });
}

/** Variables still present in `expr` after substitution (a dashboard using one the test does not know). */
export function unresolvedVariables(expr) {
  return [...expr.matchAll(/\$\{?([a-zA-Z_][a-zA-Z0-9_]*)|\[\[([a-zA-Z_][a-zA-Z0-9_]*)\]\]/g)].map((m) => m[1] ?? m[2]);
}

/**
 * Whether a Prometheus instant-query result holds data a panel would draw: at least one sample
 * whose value is a number (NaN, e.g. a quantile of an empty rate, draws nothing).
 * @param {{resultType: string, result: any}} data the `data` of /api/v1/query
 */
export function hasData(data) {
  if (!data) return false;
  if (data.resultType === 'scalar') return Number.isFinite(Number(data.result?.[1]));
  if (!Array.isArray(data.result)) return false;
  return data.result.some((s) => Number.isFinite(Number((s.value ?? s.values?.at(-1))?.[1])));
}

/**
 * Whether a query reads kube-state-metrics series (`kube_deployment_*` and the like) rather than
 * Herald's own: those panels have data only where kube-state-metrics runs.
 */
export function needsKubeStateMetrics(expr) {
  return /\bkube_[a-z_]+/.test(expr);
}
