/**
 * A real Prometheus (Debian's `prometheus` package) scrapes a real `herald dev` process under a
 * short load, with the shipped rules loaded. Then every Grafana panel expression and every rule
 * expression is evaluated through Prometheus' HTTP API: each must be valid PromQL, and each must
 * return series unless this file says, with a reason, why it may not here.
 *
 * The five destinations are chosen so that every kind of series exists: deliveries that succeed
 * (with retries), dead letters and digest emails, an open circuit breaker and a 410-disabled
 * destination. No controller and no kube-state-metrics run, so their series are absent.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { DestinationSpecInput } from '../../src/api/destination.js';
import { ROOT, spawnHerald, type HeraldProcess } from '../support/cli.js';
import { freePort } from '../support/net.js';
import { assertPrometheusInstalled, startPrometheus, type PrometheusServer, type QueryResult } from '../support/prometheus.js';
import { startReceiver, type Behaviour, type Receiver } from '../support/receiver.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp.js';
import { waitFor } from '../support/wait.js';

const RULES = join(ROOT, 'manifests/prometheus/herald-rules.yaml');
const DASHBOARDS = { 'herald-overview': 'manifests/grafana/herald-overview.json', 'herald-destination': 'manifests/grafana/herald-destination.json' };
const EVENTS = 300;

/** Which series a destination produces, decided by what its receiver answers. */
interface Traits {
  /** Deliveries succeed: success counters and the end-to-end latency histogram exist. */
  delivers: boolean;
  /** Events are dead-lettered: dead-letter counters and digest emails exist. */
  deadLetters: boolean;
  /** `spec.circuitBreaker` against a receiver that is down: `herald_circuit_open` is 1. */
  circuitOpen: boolean;
  /** The receiver answers 410 Gone: `herald_destination_disabled` is 1, the queue is paused. */
  gone: boolean;
}
const no: Traits = { delivers: false, deadLetters: false, circuitOpen: false, gone: false };
const DESTINATIONS: Record<string, { path: string; spec: Omit<DestinationSpecInput, 'url'>; traits: Traits }> = {
  audit: { path: '/ok', spec: {}, traits: { ...no, delivers: true } },
  // The first attempt of every 4th event gets a 503, its retry succeeds: `retry` outcomes, no dead letters.
  orders: { path: '/flaky', spec: { retry: { schedule: ['100ms'], maxAttempts: 5 } }, traits: { ...no, delivers: true } },
  broken: { path: '/fail', spec: { retry: { schedule: ['100ms'], maxAttempts: 2 } }, traits: { ...no, deadLetters: true } },
  // The first 410 disables it; the events in flight with it are dead-lettered, the rest wait.
  retired: { path: '/gone', spec: {}, traits: { ...no, deadLetters: true, gone: true } },
  // Opens after 3 failures and stays open (probes keep failing); held events neither end nor expire.
  breaker: {
    path: '/down',
    spec: { retry: { schedule: ['200ms'], maxAttempts: 100 }, circuitBreaker: { failureThreshold: 3, probeInterval: '1s', maxProbeInterval: '2s', maxOpenDuration: '1h' } },
    traits: { ...no, circuitOpen: true },
  },
};
const NAMES = Object.keys(DESTINATIONS).sort();

// ------------------------------------------------------------------ what may legitimately be empty

const NO_CONTROLLER = 'no controller runs here: herald_controller_* comes from `herald controller` only';
const NO_KSM = 'kube-state-metrics: there is no Kubernetes here';

/** herald-overview panels that may return nothing here, by title. Every other panel must return series. */
const OVERVIEW_MAY_BE_EMPTY: Record<string, string> = {
  'Controller leader': NO_CONTROLLER,
  'Worker replicas available': NO_KSM,
  'Reconciles by result': NO_CONTROLLER,
  'Reconcile duration p99 and work queue': NO_CONTROLLER,
};

/**
 * herald-destination is evaluated for every destination. These panels (by `title` or `title/refId`)
 * return series only for destinations with the given traits; all others must return series for all.
 */
const DESTINATION_PANELS_NEED: Record<string, { when: (t: Traits) => boolean; why: string }> = {
  'Workers available': { when: () => false, why: NO_KSM },
  'Worker replicas': { when: () => false, why: NO_KSM },
  'Circuit breaker': { when: (t) => t.circuitOpen, why: 'only workers with spec.circuitBreaker export herald_circuit_open' },
  'Circuit breaker and 410 Gone over time/A': { when: (t) => t.circuitOpen, why: 'only workers with spec.circuitBreaker export herald_circuit_open' },
  'Disabled (410 Gone)': { when: (t) => t.gone, why: 'herald_destination_disabled is set only on a 410' },
  'Circuit breaker and 410 Gone over time/B': { when: (t) => t.gone, why: 'herald_destination_disabled is set only on a 410' },
  'Queued vs delivered/B': { when: (t) => t.delivers, why: 'counts successful deliveries' },
  'End-to-end latency': { when: (t) => t.delivers, why: 'observed on successful delivery only' },
  'Attempts per event': { when: (t) => t.delivers || t.deadLetters, why: 'observed when an event is delivered or dead-lettered; held events have neither' },
  'Dead letters by reason (15m)': { when: (t) => t.deadLetters, why: 'counts dead letters' },
  'Alert emails': { when: (t) => t.deadLetters, why: 'digest emails are sent for dead letters only' },
};

/** Recording rules that may return nothing here. */
const RECORDING_MAY_BE_EMPTY: Record<string, string> = {
  'herald:controller_reconcile_errors:increase15m': NO_CONTROLLER,
};

/**
 * What a query returns here: `some` series, `none`, exactly these `destinations`, at least these
 * (`includes`), or `any` (valid PromQL; the result depends on timing, explained where used).
 */
type Expect = { series: 'some' | 'none' | 'any' } | { destinations: string[] } | { includes: string[] };
const SOME: Expect = { series: 'some' };
const NONE: Expect = { series: 'none' };
const EVERY_DESTINATION: Expect = { destinations: NAMES };

/**
 * Every alert: whether its expression (the condition, before `for:`) holds here and for which
 * destinations, and the expressions under its threshold, each of which must return what it says.
 * The sub-expressions are checked to be verbatim parts of the alert's `expr`.
 */
const ALERTS: Record<string, { now: Expect; why: string; under: Record<string, Expect> }> = {
  HeraldDeliveryFailureRatioHigh: {
    now: { includes: ['broken'] },
    why: 'every attempt to broken fails, at about 2 attempts/s over 5m (guard 0.1/s); breaker and retired attempt too little to be sure of',
    under: { 'destination:herald_delivery_failures:ratio_rate5m': EVERY_DESTINATION, 'destination:herald_deliveries:rate5m': EVERY_DESTINATION },
  },
  HeraldDeadLettersIncreasing: {
    now: { includes: ['broken'] },
    why: "broken dead-letters throughout the load; retired's few dead letters happen at once, before Prometheus first sees the series, so increase() is 0",
    under: { 'destination:herald_dead_letters:increase15m': { destinations: ['broken', 'retired'] } },
  },
  // The exporter publishes these gauges for every destination (0 or 1), so the part under the threshold covers all.
  HeraldCircuitOpen: { now: { destinations: ['breaker'] }, why: 'its circuit is open', under: { 'max by (destination) (herald_circuit_open)': EVERY_DESTINATION } },
  HeraldDestinationGone: {
    now: { destinations: ['retired'] },
    why: 'its receiver answered 410',
    under: { 'max by (destination) (herald_destination_disabled)': EVERY_DESTINATION },
  },
  HeraldOrderedKeyBlocked: {
    now: NONE,
    why: 'no destination here orders its deliveries, so none has a blocked key',
    under: { 'destination:herald_ordering_blocked_keys:max': EVERY_DESTINATION },
  },
  HeraldBacklogHigh: { now: NONE, why: `at most ${EVENTS} events wait`, under: { 'destination:herald_queue_backlog:max': EVERY_DESTINATION } },
  HeraldBacklogGrowing: {
    now: { series: 'any' },
    why: 'the held backlogs of breaker and retired rose by hundreds in seconds; whether deriv() is still positive depends on when the load ended',
    under: { 'predict_linear(destination:herald_queue_backlog:max[15m], 3600)': EVERY_DESTINATION, 'deriv(destination:herald_queue_backlog:max[15m])': EVERY_DESTINATION },
  },
  HeraldOldestEventTooOld: { now: NONE, why: 'nothing has waited 10 minutes', under: { 'destination:herald_queue_oldest_waiting_seconds:max': EVERY_DESTINATION } },
  HeraldIngestErrors: {
    now: NONE,
    why: 'ingest answered every request 202',
    under: { 'herald:ingest_requests_5xx:ratio_rate5m': SOME, 'herald:ingest_requests:rate5m': SOME },
  },
  HeraldIngestUnavailable: {
    now: NONE,
    why: 'ingest answered every request 202',
    under: { 'herald:ingest_requests_503:ratio_rate5m': SOME, 'herald:ingest_requests:rate5m': SOME },
  },
  HeraldNoWorkerForBacklog: {
    now: { series: 'any' },
    why: "retired's paused queue has waiting events; whether increase() saw its last attempts depends on whether a scrape fell between them",
    under: { 'destination:herald_queue_waiting:max': EVERY_DESTINATION, 'sum by (destination) (increase(herald_deliveries_total[10m]))': EVERY_DESTINATION },
  },
  HeraldRedisDown: { now: NONE, why: 'Redis is up', under: { herald_redis_up: SOME } },
  HeraldControllerNoLeader: {
    now: SOME,
    why: 'no controller is scraped, which the absent() branch reports',
    under: { 'max(herald_controller_is_leader)': NONE, 'absent(herald_controller_is_leader)': SOME },
  },
  HeraldControllerReconcileErrors: { now: NONE, why: NO_CONTROLLER, under: { 'herald:controller_reconcile_errors:increase15m': NONE } },
};

// ------------------------------------------------------------------ expressions under test

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}
const rules = (parse(readFileSync(RULES, 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const alertRules = rules.filter((r): r is Rule & { alert: string } => r.alert !== undefined);
const recordingRules = rules.filter((r): r is Rule & { record: string } => r.record !== undefined);

interface PanelTarget {
  dashboard: string;
  title: string;
  refId: string;
  expr: string;
}
const targets: PanelTarget[] = Object.entries(DASHBOARDS).flatMap(([dashboard, file]) => {
  const board = JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as { panels: { title: string; targets?: { refId: string; expr: string }[] }[] };
  return board.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ dashboard, title: p.title, refId: t.refId, expr: t.expr })));
});

/** Test names: panel title and query refId. */
const named = (ts: PanelTarget[]) => ts.map((t) => [`${t.title} (${t.refId})`, t] as const);

/**
 * Grafana's built-in interval variables, with values that suit a 1 s scrape interval, and the
 * dashboards' namespace and job variables at "All" (`.*`, which also matches a series without the label).
 */
const GRAFANA_VARIABLES: Record<string, string> = { __rate_interval: '1m', __interval: '15s', __range: '1m', namespace: '.*', job: '.*' };

/**
 * A panel expression as Grafana would send it: `$destination` / `${destination}` and the interval
 * variables filled in; any other variable is an error, so a new one cannot go unchecked. Subquery
 * steps of 1m become 5s: a `[15m:1m]` subquery has fewer than the two points `predict_linear` needs
 * until two wall-clock minute boundaries have passed, longer than this test runs.
 */
function instantiate(expr: string, destination?: string): string {
  const filled = expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    if (/^\d+$/.test(name)) return whole; // label_replace's $1
    if (name === 'destination' && destination !== undefined) return destination;
    const value = GRAFANA_VARIABLES[name];
    if (value === undefined) throw new Error(`unknown Grafana variable ${whole} in ${expr}: give it a value in prometheus-scrape.test.ts`);
    return value;
  });
  return filled.replace(/\[(\w+):1m\]/g, '[$1:5s]');
}

// ------------------------------------------------------------------ the running system

let redis: RedisServer;
let receiver: Receiver;
let smtp: SmtpSink;
let herald: HeraldProcess | undefined;
let prometheus: PrometheusServer | undefined;
let dir: string;
/** Every query is evaluated at this one instant (Unix seconds), after the state below was scraped and evaluated. */
let evalTime: number;

/** Answers by path: /ok 200, /flaky 503 to the first attempt of every 4th event, /fail 500, /gone 410, /down 503. */
function receiverBehaviour(): Behaviour {
  const seen = new Set<string>();
  return (_n, req) => {
    const path = req.path;
    if (path === '/flaky') {
      const id = String(req.headers['webhook-id']);
      if (seen.has(id)) return { status: 200 };
      seen.add(id);
      return { status: seen.size % 4 === 0 ? 503 : 200 };
    }
    return { status: { '/ok': 200, '/fail': 500, '/gone': 410, '/down': 503 }[path] ?? 404 };
  };
}

/** Sends `total` events, `perTick` every `tickMs`, and resolves with the status of each. */
async function sendLoad(url: string, total: number, perTick: number, tickMs: number): Promise<number[]> {
  const answers: Promise<number>[] = [];
  const post = (i: number) =>
    fetch(`${url}/ingest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userID: `user-${i % 7}`, type: 'order.created', payload: { i } }) })
      .then(async (r) => (await r.text(), r.status))
      .catch(() => 0);
  await new Promise<void>((done) => {
    const timer = setInterval(() => {
      for (let i = 0; i < perTick && answers.length < total; i++) answers.push(post(answers.length));
      if (answers.length >= total) {
        clearInterval(timer);
        done();
      }
    }, tickMs);
  });
  return Promise.all(answers);
}

/** One sample's value from Prometheus text exposition, or undefined when the series is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function vector(expr: string): Promise<number[]> {
  const r = await prometheus!.query(expr);
  if (r.status !== 'success' || r.resultType !== 'vector') throw new Error(`${expr}: ${JSON.stringify(r)}`);
  return r.result.map((s) => Number(s.value[1]));
}

beforeAll(async () => {
  assertPrometheusInstalled();
  redis = await startRedis();
  receiver = await startReceiver(receiverBehaviour());
  smtp = await startSmtpSink();
  dir = await mkdtemp(join(tmpdir(), 'herald-scrape-'));
  const file = join(dir, 'destinations.yaml');
  await writeFile(
    file,
    Object.entries(DESTINATIONS)
      .map(([name, d]) => stringify({ apiVersion: 'herald.dev/v1alpha1', kind: 'Destination', metadata: { name }, spec: { url: receiver.url + d.path, ...d.spec } }))
      .join('---\n'),
  );

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const h = spawnHerald(['dev', '--destinations', file, '--port', String(port)], {
    REDIS_URL: redis.url,
    HERALD_HTTP_HOST: '127.0.0.1',
    HERALD_SHUTDOWN_TIMEOUT: '5s',
    SMTP_URL: smtp.url,
    ALERT_EMAIL_TO: 'ops@example.test',
    HERALD_DIGEST_WINDOW: '1s',
    // broken dead-letters all 300 events (600 attempts) within the wait below; paced at the default
    // 10 attempts/s after ten failures in a row, that alone would take a minute.
    HERALD_THROTTLED_ATTEMPT_INTERVAL: '0ms',
  });
  herald = h;
  await waitFor(async () => h.proc.exitCode !== null || (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200, { what: 'herald dev to be ready' }).catch((err: Error) => {
    throw new Error(`${err.message}\nherald output:\n${h.output().slice(-4000)}`);
  });
  if (h.proc.exitCode !== null) throw new Error(`herald dev exited with ${h.proc.exitCode}:\n${h.output()}`);

  prometheus = await startPrometheus({ targets: [`127.0.0.1:${port}`], ruleFiles: [RULES], scrapeInterval: '1s', evaluationInterval: '1s' });

  // About 10 s of load, so counters move across many scrapes and rate() sees them move.
  const statuses = await sendLoad(url, EVENTS, 3, 100);
  expect(statuses.filter((s) => s !== 202), 'ingest answers').toEqual([]);

  // Herald reached the state the expectations above describe.
  let metrics = '';
  try {
    await waitFor(
      async () => {
        const m = (metrics = await (await fetch(`${url}/metrics`)).text());
        return (
          // `>=`: a delivery whose worker stalled is delivered twice.
          (sample(m, 'herald_deliveries_total{destination="audit",outcome="success"}') ?? 0) >= EVENTS &&
          (sample(m, 'herald_deliveries_total{destination="orders",outcome="success"}') ?? 0) >= EVENTS &&
          (sample(m, 'herald_dead_letters_total{destination="broken",reason="exhausted"}') ?? 0) >= EVENTS &&
          sample(m, 'herald_circuit_open{destination="breaker"}') === 1 &&
          sample(m, 'herald_destination_disabled{destination="retired"}') === 1 &&
          sample(m, 'herald_alert_emails_total{destination="broken",kind="digest",result="sent"}') !== undefined &&
          sample(m, 'herald_alert_emails_total{destination="retired",kind="digest",result="sent"}') !== undefined
        );
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'herald to deliver, dead-letter, open the circuit, disable retired and send digests' },
    );
  } catch (err) {
    const relevant = metrics.split('\n').filter((l) => /^herald_(deliveries_total|dead_letters_total|circuit_open|destination_disabled|alert_emails_total)\{/.test(l));
    throw new Error(`${(err as Error).message}\nherald metrics:\n${relevant.join('\n')}\nherald output:\n${h.output().slice(-4000)}`);
  }
  const ready = Date.now() / 1000;

  // Prometheus has at least 15 s of samples, scraped that state, and evaluated both rule groups since.
  await waitFor(async () => (await vector('count_over_time(up{job="herald"}[1m]) >= 15')).length === 1, {
    timeoutMs: 30_000,
    intervalMs: 250,
    what: '15 scrapes of herald',
  });
  const scrapedAt = await waitFor(async () => (await vector('timestamp(up{job="herald"} == 1)')).find((t) => t > ready), {
    timeoutMs: 10_000,
    intervalMs: 250,
    what: 'a successful scrape after herald reached its state',
  });
  type Groups = { groups: { name: string; lastEvaluation: string }[] };
  const evaluated = async (group: string, after: number) => {
    const g = (await prometheus!.api<Groups>('/api/v1/rules')).groups.find((x) => x.name === group);
    const at = g ? Date.parse(g.lastEvaluation) / 1000 : 0;
    return at > after ? at : undefined;
  };
  const recordedAt = await waitFor(() => evaluated('herald.recording', scrapedAt), { timeoutMs: 10_000, intervalMs: 250, what: 'herald.recording evaluated after that scrape' });
  await waitFor(() => evaluated('herald.alerts', recordedAt), { timeoutMs: 10_000, intervalMs: 250, what: 'herald.alerts evaluated after the recording rules' });
  evalTime = Date.now() / 1000;
});

afterAll(async () => {
  await prometheus?.close();
  if (herald && herald.proc.exitCode === null) {
    const h = herald;
    h.proc.kill('SIGTERM');
    const timer = setTimeout(() => h.proc.kill('SIGKILL'), 10_000);
    await h.exited;
    clearTimeout(timer);
  }
  await Promise.all([receiver?.close(), smtp?.close()]);
  await redis?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

// ------------------------------------------------------------------ assertions

/** Evaluates `expr` at evalTime; says what is wrong with the answer, or undefined when it meets `expect`. */
async function problem(expr: string, want: Expect): Promise<string | undefined> {
  const r: QueryResult = await prometheus!.query(expr, evalTime);
  if (r.status === 'error') return `${expr}\n  is not valid or failed: ${r.errorType}: ${r.error}`;
  const series = r.resultType === 'vector' ? r.result : r.resultType === 'matrix' ? r.result : [r.result];
  const dests = r.resultType === 'vector' ? [...new Set(r.result.map((s) => s.metric.destination ?? '(none)'))].sort() : [];
  const got = `${series.length} series${dests.length ? ` (destination: ${dests.join(', ')})` : ''}: ${JSON.stringify(r.result).slice(0, 400)}`;
  if ('series' in want) {
    if (want.series === 'some' && series.length === 0) return `${expr}\n  returned no series`;
    if (want.series === 'none' && series.length > 0) return `${expr}\n  should return nothing here but returned ${got}`;
    return undefined;
  }
  if ('destinations' in want) {
    return JSON.stringify(dests) === JSON.stringify([...want.destinations].sort()) ? undefined : `${expr}\n  should return exactly destinations ${want.destinations.join(', ')}, returned ${got}`;
  }
  const missing = want.includes.filter((d) => !dests.includes(d));
  return missing.length === 0 ? undefined : `${expr}\n  should return destinations ${missing.join(', ')}, returned ${got}`;
}

describe('Prometheus scraping herald dev', () => {
  it('scrapes the herald target, and the destination variable lists every destination', async () => {
    const { activeTargets } = await prometheus!.api<{ activeTargets: { health: string; lastError: string; labels: Record<string, string> }[] }>('/api/v1/targets');
    expect(activeTargets.map((t) => ({ job: t.labels.job, health: t.health, lastError: t.lastError }))).toEqual([{ job: 'herald', health: 'up', lastError: '' }]);
    // herald-destination's variable: label_values(herald_queue_backlog, destination).
    const values = await prometheus!.api<string[]>(`/api/v1/label/destination/values?match[]=${encodeURIComponent('herald_queue_backlog')}`);
    expect(values.sort()).toEqual(NAMES);
  });

  it('loads and evaluates every rule without errors', async () => {
    type Rules = { groups: { name: string; rules: { name: string; health: string; lastError?: string }[] }[] };
    const loaded = (await prometheus!.api<Rules>('/api/v1/rules')).groups.flatMap((g) => g.rules);
    expect(loaded.map((r) => r.name).sort()).toEqual(rules.map((r) => r.alert ?? r.record).sort());
    expect(loaded.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`)).toEqual([]);
  });

  it('has an expectation for every alert and every allow-listed panel', () => {
    expect(Object.keys(ALERTS).sort(), 'add new alerts to ALERTS with what they return here').toEqual(alertRules.map((a) => a.alert).sort());
    const overview = new Set(targets.filter((t) => t.dashboard === 'herald-overview').map((t) => t.title));
    const destination = new Set(targets.filter((t) => t.dashboard === 'herald-destination').flatMap((t) => [t.title, `${t.title}/${t.refId}`]));
    expect(Object.keys(OVERVIEW_MAY_BE_EMPTY).filter((k) => !overview.has(k)), 'allow-list entries that match no herald-overview panel').toEqual([]);
    expect(Object.keys(DESTINATION_PANELS_NEED).filter((k) => !destination.has(k)), 'entries that match no herald-destination panel').toEqual([]);
    expect(Object.keys(RECORDING_MAY_BE_EMPTY).filter((k) => !recordingRules.some((r) => r.record === k))).toEqual([]);
  });

  describe('herald-overview', () => {
    it.each(named(targets.filter((t) => t.dashboard === 'herald-overview')))('%s', async (_, t) => {
      const mayBeEmpty = OVERVIEW_MAY_BE_EMPTY[t.title];
      expect(await problem(instantiate(t.expr), mayBeEmpty ? { series: 'any' } : SOME)).toBeUndefined();
    });
  });

  describe('herald-destination, for every destination', () => {
    it.each(named(targets.filter((t) => t.dashboard === 'herald-destination')))('%s', async (_, t) => {
      const need = DESTINATION_PANELS_NEED[`${t.title}/${t.refId}`] ?? DESTINATION_PANELS_NEED[t.title];
      const problems: string[] = [];
      for (const name of NAMES) {
        const required = need ? need.when(DESTINATIONS[name]!.traits) : true;
        const p = await problem(instantiate(t.expr, name), required ? SOME : { series: 'any' });
        if (p) problems.push(`[${name}] ${p}`);
      }
      expect(problems).toEqual([]);
    });
  });

  describe('recording rules', () => {
    it.each(recordingRules.map((r) => [r.record, r] as const))('%s', async (_, r) => {
      expect(await problem(r.expr, RECORDING_MAY_BE_EMPTY[r.record] ? { series: 'any' } : SOME)).toBeUndefined();
    });
  });

  describe('alerts', () => {
    it.each(alertRules.map((r) => [r.alert, r] as const))('%s', async (_, rule) => {
      const e = ALERTS[rule.alert];
      if (!e) throw new Error(`no expectation for ${rule.alert} in ALERTS`);
      const normal = (s: string) => s.replace(/\s+/g, ' ').trim();
      const problems: string[] = [];
      for (const [expr, expected] of Object.entries(e.under)) {
        if (!normal(rule.expr).includes(normal(expr))) problems.push(`${expr}\n  is not part of the alert's expr: update ALERTS`);
        else {
          const p = await problem(expr, expected);
          if (p) problems.push(p);
        }
      }
      const p = await problem(rule.expr, e.now);
      if (p) problems.push(`${p}\n  (expected because ${e.why})`);
      expect(problems).toEqual([]);
    });
  });
});
