import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  controllerMetrics,
  createRegistry,
  deliveryMetrics,
  ingestMetrics,
  queueMetrics,
  redisMemoryMetrics,
  redisMetrics,
} from '../../src/metrics/metrics.js';

const DOC = fileURLToPath(new URL('../../docs/metrics.md', import.meta.url));
const RULES = fileURLToPath(new URL('../../manifests/prometheus/herald-rules.yaml', import.meta.url));
const DASHBOARDS = ['herald-overview.json', 'herald-destination.json'].map((f) =>
  fileURLToPath(new URL(`../../manifests/grafana/${f}`, import.meta.url)),
);

interface CatalogueEntry {
  type: string;
  labels: string[];
}

/**
 * Reads every catalogue table of docs/metrics.md: tables whose header is
 * `| Metric | Type | Labels | Meaning |`. Metric and label names are the back-quoted words of their
 * cells; "—" means no labels. Throws on a metric listed twice.
 */
function documentedCatalogue(markdown: string): Map<string, CatalogueEntry> {
  const cells = (line: string) => line.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((c) => c.trim());
  const quoted = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
  const catalogue = new Map<string, CatalogueEntry>();
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const header = cells(lines[i]!);
    if (!lines[i]!.trim().startsWith('|') || header[0] !== 'Metric' || header[1] !== 'Type' || header[2] !== 'Labels') continue;
    for (i += 2; i < lines.length && lines[i]!.trim().startsWith('|'); i++) {
      const [metricCell = '', type = '', labelsCell = ''] = cells(lines[i]!);
      const [name] = quoted(metricCell);
      if (!name) throw new Error(`docs/metrics.md line ${i + 1}: no back-quoted metric name in "${metricCell}"`);
      if (catalogue.has(name)) throw new Error(`docs/metrics.md lists ${name} twice`);
      catalogue.set(name, { type, labels: quoted(labelsCell).sort() });
    }
  }
  return catalogue;
}

/**
 * Builds a registry with every factory, records one sample per metric with every declared label,
 * and reads names, types and label names back from `getMetricsAsJSON()`: what a scrape shows.
 */
async function exportedCatalogue(): Promise<Map<string, CatalogueEntry>> {
  const registry: Registry = createRegistry('catalogue-test', '0.0.0-test');
  redisMetrics(registry);
  redisMemoryMetrics(registry);
  ingestMetrics(registry);
  deliveryMetrics(registry);
  queueMetrics(registry);
  controllerMetrics(registry);

  for (const metric of registry.getMetricsAsArray()) {
    // prom-client keeps the configured label names on the instance but does not type them.
    const names = (metric as unknown as { labelNames?: readonly string[] }).labelNames ?? [];
    const labels = Object.fromEntries(names.map((n) => [n, 'x']));
    if (metric instanceof Counter) metric.inc(labels, 1);
    else if (metric instanceof Gauge) metric.set(labels, 1);
    else if (metric instanceof Histogram) metric.observe(labels, 1);
  }

  const catalogue = new Map<string, CatalogueEntry>();
  for (const m of await registry.getMetricsAsJSON()) {
    if (!m.name.startsWith('herald_') || m.name.startsWith('herald_process_')) continue;
    const labels = new Set<string>();
    for (const v of m.values) for (const l of Object.keys(v.labels)) if (l !== 'le') labels.add(l);
    catalogue.set(m.name, { type: String(m.type), labels: [...labels].sort() });
  }
  return catalogue;
}

describe('docs/metrics.md', () => {
  it('lists exactly the herald_ metrics src/metrics/metrics.ts declares, with their types and labels', async () => {
    const documented = documentedCatalogue(readFileSync(DOC, 'utf8'));
    const exported = await exportedCatalogue();

    // Names both ways first, so a missing or stale row is reported by name.
    const missingFromDocs = [...exported.keys()].filter((n) => !documented.has(n)).sort();
    const notExported = [...documented.keys()].filter((n) => !exported.has(n)).sort();
    expect({ missingFromDocs, notExported }).toEqual({ missingFromDocs: [], notExported: [] });

    expect(Object.fromEntries([...documented].sort(([a], [b]) => a.localeCompare(b)))).toEqual(
      Object.fromEntries([...exported].sort(([a], [b]) => a.localeCompare(b))),
    );
  });

  it('finds the whole catalogue, including metrics without labels', async () => {
    const documented = documentedCatalogue(readFileSync(DOC, 'utf8'));
    expect(documented.get('herald_controller_is_leader')).toEqual({ type: 'gauge', labels: [] });
    expect(documented.get('herald_deliveries_total')).toEqual({ type: 'counter', labels: ['destination', 'outcome'] });
    expect(documented.size).toBe((await exportedCatalogue()).size);
  });
});

/** Every herald_ metric an expression names (recording-rule names, which contain ":", excluded). */
function referencedMetrics(expr: string): string[] {
  return [...expr.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)].map((m) => m[0]).filter((t) => t.startsWith('herald_') && !t.includes(':'));
}

describe('rules and dashboards', () => {
  it('use only metrics the catalogue declares', async () => {
    const exported = await exportedCatalogue();
    const known = (name: string) => {
      if (name.startsWith('herald_process_') || exported.has(name)) return true;
      const base = name.replace(/_(bucket|sum|count)$/, '');
      return base !== name && exported.get(base)?.type === 'histogram';
    };
    const rules = parse(readFileSync(RULES, 'utf8')) as { groups: { rules: { expr: string }[] }[] };
    const exprs = [
      ...rules.groups.flatMap((g) => g.rules.map((r) => r.expr)),
      ...DASHBOARDS.flatMap((f) => {
        const board = JSON.parse(readFileSync(f, 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
        return board.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
      }),
    ];
    const used = new Set(exprs.flatMap(referencedMetrics));
    expect(used.size).toBeGreaterThan(10);
    expect([...used].filter((n) => !known(n)).sort()).toEqual([]);
  });
});
