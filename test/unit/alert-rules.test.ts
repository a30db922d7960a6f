import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RULES = 'manifests/prometheus/herald-rules.yaml';
const RULE_TESTS = 'test/prometheus/herald-rules.test.yaml';
const RUNBOOK = 'docs/runbook.md';
const RUNBOOK_URL = 'https://github.com/herald-dev/herald/blob/main/docs/runbook.md#';

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
        'HeraldControllerNoLeader',
        'HeraldControllerReconcileErrors',
        'HeraldDeadLettersIncreasing',
        'HeraldDeliveryFailureRatioHigh',
        'HeraldIngestErrors',
        'HeraldIngestUnavailable',
        'HeraldNoWorkerForBacklog',
        'HeraldOldestEventTooOld',
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
