/**
 * Runs the helm binary built by test/tools/build.sh against charts/herald and parses what it renders.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { kubeToolPath } from '../support/kube.js';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const CHART = join(ROOT, 'charts/herald');
export const VALUES_ALL = join(ROOT, 'test/chart/values-all.yaml');

/** A rendered Kubernetes object, loosely typed: tests index into it. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: any;
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs helm with the given arguments from the repository root; never throws on a non-zero exit. */
export function helm(args: string[]): HelmResult {
  const r = spawnSync(kubeToolPath('helm'), args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new Error(`could not run helm ${args.join(' ')}: ${r.error.message}`);
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

export interface RenderOptions {
  release?: string;
  namespace?: string;
  /** Values files, applied in order. */
  values?: string[];
  /** --set-string pairs would lose types; these go through --set. */
  set?: Record<string, string | number | boolean>;
  includeCrds?: boolean;
  chartDir?: string;
  showOnly?: string;
}

function templateArgs(o: RenderOptions): string[] {
  const args = ['template', o.release ?? 'herald', o.chartDir ?? CHART, '--namespace', o.namespace ?? 'herald'];
  for (const f of o.values ?? []) args.push('--values', f);
  for (const [k, v] of Object.entries(o.set ?? {})) args.push('--set', `${k}=${String(v)}`);
  if (o.includeCrds) args.push('--include-crds');
  if (o.showOnly) args.push('--show-only', o.showOnly);
  return args;
}

/** `helm template` as raw output; the result carries the exit code and stderr for failure tests. */
export function renderRaw(o: RenderOptions = {}): HelmResult {
  return helm(templateArgs(o));
}

/** `helm template`, parsed into objects; throws with helm's stderr when rendering fails. */
export function render(o: RenderOptions = {}): KubeObject[] {
  const r = renderRaw(o);
  if (r.code !== 0) throw new Error(`helm ${templateArgs(o).join(' ')} failed:\n${r.stderr}`);
  return parseManifests(r.stdout);
}

/** Splits multi-document YAML into objects, skipping empty documents. */
export function parseManifests(text: string): KubeObject[] {
  const docs = parseAllDocuments(text);
  const objects: KubeObject[] = [];
  for (const d of docs) {
    if (d.errors.length > 0) throw new Error(`invalid YAML in rendering: ${d.errors.map((e) => e.message).join('; ')}`);
    const o = d.toJS() as KubeObject | null;
    if (o) objects.push(o);
  }
  return objects;
}

/** The one object of a kind (and name, if given); throws listing what exists otherwise. */
export function find(objects: KubeObject[], kind: string, name?: string): KubeObject {
  const hits = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (hits.length !== 1) {
    const have = objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ');
    throw new Error(`expected exactly one ${kind}${name ? `/${name}` : ''}, found ${hits.length}; rendered: ${have}`);
  }
  return hits[0]!;
}

/** Pod templates of every workload in a rendering, with the object they belong to. */
export function podTemplates(objects: KubeObject[]): { owner: KubeObject; template: KubeObject['spec'] }[] {
  return objects
    .filter((o) => ['Deployment', 'StatefulSet', 'DaemonSet', 'Job'].includes(o.kind))
    .map((o) => ({ owner: o, template: o.spec.template }));
}

/**
 * NOTES.txt as `helm install` would print it. `helm template` drops NOTES, and `helm install
 * --dry-run` wants a cluster, but the engine renders NOTES.txt like any template: a copy of the
 * chart with one extra template that includes it gives the exact text.
 */
export function renderNotes(o: Omit<RenderOptions, 'chartDir' | 'showOnly'> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'herald-notes-'));
  try {
    cpSync(CHART, join(dir, 'herald'), { recursive: true });
    writeFileSync(
      join(dir, 'herald/templates/zz-notes-under-test.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: {{ include (print $.Template.BasePath "/NOTES.txt") . | toJson }}\n',
    );
    const [cm] = render({ ...o, chartDir: join(dir, 'herald'), showOnly: 'templates/zz-notes-under-test.yaml' });
    return (cm!.data as { notes: string }).notes;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
