import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { hasData, needsKubeStateMetrics, panelQueries, substituteVariables, templateVariables, unresolvedVariables } from '../../e2e/lib/dashboards.mjs';

const load = (name: string) => JSON.parse(readFileSync(new URL(`../../../charts/herald/files/dashboards/${name}`, import.meta.url), 'utf8'));

describe('dashboard panel queries (e2e metrics step)', () => {
  it('collects targets of panels and of panels nested in rows, skipping hidden and empty ones', () => {
    const d = {
      title: 'T',
      panels: [
        { title: 'A', targets: [{ refId: 'A', expr: 'up' }, { refId: 'B', expr: 'x', hide: true }, { refId: 'C', expr: ' ' }] },
        { type: 'row', title: 'R', panels: [{ title: 'B', targets: [{ refId: 'A', expr: 'sum(y)' }] }] },
      ],
    };
    expect(panelQueries(d)).toEqual([
      { dashboard: 'T', panel: 'A', refId: 'A', expr: 'up' },
      { dashboard: 'T', panel: 'B', refId: 'A', expr: 'sum(y)' },
    ]);
  });

  it("reads the shipped dashboards' variables: a data source, then namespace, job and destination with All as .*", () => {
    expect(templateVariables(load('herald-destination.json'))).toEqual([
      { name: 'datasource', type: 'datasource' },
      { name: 'namespace', type: 'query', labelValues: { metric: 'herald_build_info', label: 'namespace' }, allValue: '.*' },
      { name: 'job', type: 'query', labelValues: { metric: 'herald_build_info{namespace=~"$namespace"}', label: 'job' }, allValue: '.*' },
      { name: 'destination', type: 'query', labelValues: { metric: 'herald_queue_backlog{namespace=~"$namespace", job=~"$job"}', label: 'destination' }, allValue: '.*' },
    ]);
  });

  it('substitutes $var, ${var}, ${var:regex} and [[var]], longest name first, and leaves unknown ones', () => {
    const vars = { destination: 'orders', destination_x: 'X' };
    expect(substituteVariables('a{d=~"$destination"} ${destination} ${destination:regex} [[destination]] $destination_x $other', vars)).toBe(
      'a{d=~"orders"} orders orders orders X $other',
    );
    expect(substituteVariables('rate(x[$__rate_interval])', {})).toBe('rate(x[1m])');
    expect(unresolvedVariables('x{a="$other"} [[more]]')).toEqual(['other', 'more']);
  });

  it('leaves no variable unresolved in any shipped panel once namespace, job and destination are set', () => {
    for (const file of ['herald-overview.json', 'herald-destination.json']) {
      const queries = panelQueries(load(file));
      expect(queries.length).toBeGreaterThan(10);
      for (const q of queries) expect(unresolvedVariables(substituteVariables(q.expr, { namespace: '.*', job: '.*', destination: 'orders' }))).toEqual([]);
    }
  });

  it('counts a finite sample as data, NaN or an empty result as none', () => {
    expect(hasData({ resultType: 'vector', result: [{ metric: {}, value: [1, '0'] }] })).toBe(true);
    expect(hasData({ resultType: 'vector', result: [{ metric: {}, value: [1, 'NaN'] }] })).toBe(false);
    expect(hasData({ resultType: 'vector', result: [] })).toBe(false);
    expect(hasData({ resultType: 'scalar', result: [1, '3'] })).toBe(true);
  });

  it('tells kube-state-metrics panels from Herald-metric panels', () => {
    expect(needsKubeStateMetrics('sum(kube_deployment_status_replicas_available{deployment=~"herald-worker-x"})')).toBe(true);
    expect(needsKubeStateMetrics('max(herald_queue_backlog{destination=~"x"})')).toBe(false);
  });
});
