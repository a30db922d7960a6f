import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RULES = 'manifests/prometheus/herald-rules.yaml';
const RULE_TESTS = 'test/prometheus/herald-rules.test.yaml';
const RUNBOOK = 'docs/runbook.md';
const RUNBOOK_URL = 'https://github.com/herald-dev/herald/blob/main/docs/runbook.md#';
const DASHBOARDS = { 'herald-overview': 'manifests/grafana/herald-overview.json', 'herald-destination': 'manifests/grafana/herald-destination.json' };

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}
interface Panel {
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: { refId: string; expr: string; datasource?: { uid: string } }[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown; datasource?: { uid: string } }[] };
}
interface RuleTestFile {
  rule_files: string[];
  tests: { name?: string; alert_rule_test?: { eval_time: string; alertname: string; exp_alerts?: unknown[] | null }[] }[];
}

const read = (path: string) => readFileSync(resolve(ROOT, path), 'utf8');
const rules = parse(read(RULES)) as RuleFile;
const ruleTests = parse(read(RULE_TESTS)) as RuleTestFile;
const alerts = rules.groups.flatMap((g) => g.rules).filter((r): r is Rule & { alert: string } => r.alert !== undefined);

/** Runs promtool from the repository root; a missing promtool is an error that says how to get it. */
function promtool(args: string[]): { ok: boolean; output: string } {
  const r = spawnSync('promtool', args, { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  if (r.error) {
    const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new Error(
      missing
        ? "promtool not found on PATH: install Debian's `prometheus` package (apt-get install -y prometheus), as CI does"
        : `could not run promtool ${args.join(' ')}: ${r.error.message}`,
    );
  }
  return { ok: r.status === 0, output: `$ promtool ${args.join(' ')}\n${r.stdout}${r.stderr}` };
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats suffixed -1, -2, … */
function githubAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const slug = heading[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

describe('Prometheus rules', () => {
  it('pass promtool check rules', () => {
    const { ok, output } = promtool(['check', 'rules', RULES]);
    expect(ok, output).toBe(true);
  });

  it('pass their promtool unit tests', () => {
    const { ok, output } = promtool(['test', 'rules', RULE_TESTS]);
    expect(ok, output).toBe(true);
  });

  it('are the rules the promtool tests load', () => {
    const loaded = ruleTests.rule_files.map((f) => resolve(dirname(resolve(ROOT, RULE_TESTS)), f));
    expect(loaded).toEqual([resolve(ROOT, RULES)]);
  });

  it('define the alerts a Herald operator needs', () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual(
      [
        'HeraldBacklogGrowing',
        'HeraldBacklogHigh',
        'HeraldCircuitOpen',
        'HeraldControllerNoLeader',
        'HeraldControllerReconcileErrors',
        'HeraldDeadLettersIncreasing',
        'HeraldDeliveryFailureRatioHigh',
        'HeraldDestinationGone',
        'HeraldIngestErrors',
        'HeraldIngestUnavailable',
        'HeraldNoWorkerForBacklog',
        'HeraldOldestEventTooOld',
        'HeraldOrderedKeyBlocked',
        'HeraldRedisDown',
      ].sort(),
    );
  });

  describe.each(alerts.map((a) => [a.alert, a] as const))('%s', (name, alert) => {
    it('has a severity and summary, description and runbook_url annotations', () => {
      expect(['critical', 'warning', 'info']).toContain(alert.labels?.severity);
      expect(alert.annotations?.summary?.trim()).toBeTruthy();
      expect(alert.annotations?.description?.trim()).toBeTruthy();
      expect(alert.annotations?.runbook_url).toMatch(new RegExp(`^${RUNBOOK_URL.replace(/[.?]/g, '\\$&')}[a-z0-9_-]+$`));
    });

    it('links to a section of docs/runbook.md that exists', () => {
      const anchor = (alert.annotations?.runbook_url ?? '').split('#')[1] ?? '';
      expect([...githubAnchors(read(RUNBOOK))], `no heading in ${RUNBOOK} has the anchor #${anchor}`).toContain(anchor);
    });

    it('has a promtool test case where it fires and one where it stays silent', () => {
      const cases = ruleTests.tests.flatMap((t) => t.alert_rule_test ?? []).filter((c) => c.alertname === name);
      expect(cases.some((c) => (c.exp_alerts ?? []).length > 0), `no case in ${RULE_TESTS} expects ${name} to fire`).toBe(true);
      expect(cases.some((c) => (c.exp_alerts ?? []).length === 0), `no case in ${RULE_TESTS} expects ${name} to stay silent`).toBe(true);
    });
  });
});

describe('Grafana dashboards', () => {
  const dashboards = Object.entries(DASHBOARDS).map(([uid, path]) => ({ uid, path, board: JSON.parse(read(path)) as Dashboard }));

  it.each(dashboards)('$path has a stable uid, schemaVersion 39 and a Prometheus datasource variable', ({ uid, board }) => {
    expect(board.uid).toBe(uid);
    expect(board.schemaVersion).toBe(39);
    expect(board.templating.list.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
  });

  it.each(dashboards)('$path queries ${datasource} from every panel and target', ({ board }) => {
    const panels = board.panels.filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThan(0);
    for (const p of panels) {
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.datasource?.uid, `${p.title} ${t.refId}`).toBe('${datasource}');
    }
  });

  it('herald-destination picks the destination from herald_queue_backlog', () => {
    const board = dashboards.find((d) => d.uid === 'herald-destination')!.board;
    const variable = board.templating.list.find((v) => v.name === 'destination');
    expect(variable).toMatchObject({ type: 'query', datasource: { uid: '${datasource}' } });
    // Several at once, and only of the chosen installs (namespace, job).
    expect(variable).toMatchObject({ multi: true, query: { query: 'label_values(herald_queue_backlog{namespace=~"$namespace", job=~"$job"}, destination)' } });
    for (const p of board.panels.filter((p) => p.type !== 'row')) {
      for (const t of p.targets ?? []) expect(t.expr, `${p.title} ${t.refId}`).toContain('$destination');
    }
  });

  it('scope every Herald series by the namespace and job variables, and rate over $__rate_interval', () => {
    for (const { board } of dashboards) {
      expect(board.templating.list.filter((v) => v.name === 'namespace' || v.name === 'job').map((v) => v.name)).toEqual(['namespace', 'job']);
      for (const p of board.panels) {
        for (const t of p.targets ?? []) {
          for (const m of t.expr.matchAll(/\bherald_[a-z0-9_]+(\{[^}]*\})?/g)) expect(m[1] ?? '', `${p.title} ${t.refId}: ${m[0]}`).toContain('namespace=~"$namespace", job=~"$job"');
          expect(t.expr, `${p.title} ${t.refId}`).not.toMatch(/rate\([^)]*\[\d+[smh]\]\)/);
        }
      }
    }
  });

  it('use only valid PromQL in targets[].expr (checked by promtool)', () => {
    // Each expression, with the variables filled in as Grafana would, becomes a recording rule that promtool parses.
    const grafanaFilled = (expr: string) => expr.replaceAll('$destination', 'orders').replaceAll('$__rate_interval', '1m').replaceAll('$namespace', '.*').replaceAll('$job', '.*');
    const rules = dashboards.flatMap(({ uid, board }) =>
      board.panels.flatMap((p) =>
        (p.targets ?? []).map((t) => ({ record: `dashboard:${uid.replace(/-/g, '_')}:check`, expr: grafanaFilled(t.expr) })),
      ),
    );
    const dir = mkdtempSync(join(tmpdir(), 'herald-dashboards-'));
    try {
      const file = join(dir, 'dashboard-exprs.yaml');
      writeFileSync(file, stringify({ groups: [{ name: 'dashboard-exprs', rules }] }));
      const { ok, output } = promtool(['check', 'rules', file]);
      expect(ok, output).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
