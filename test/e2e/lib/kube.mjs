// The I/O the e2e steps share: kubectl, helm, HTTP GETs from inside the cluster, and waiting on a
// condition with a deadline. Plain Node, no dependencies (test/e2e/verify.mjs runs without a build).
import { execFile, execFileSync, spawn } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** An assertion that did not hold: its message says what was expected and what was seen. */
export class Failure extends Error {}

/** The settings verify runs with, from run.sh's environment. */
export const env = Object.freeze({
  namespace: process.env.E2E_NAMESPACE ?? 'herald-e2e',
  release: process.env.E2E_RELEASE ?? 'herald',
  ingestUrl: process.env.E2E_INGEST_URL ?? 'http://127.0.0.1:18080/ingest',
  // The chart's HTTPRoute through the Gateway, when the cluster has one (empty: not checked).
  gatewayUrl: process.env.E2E_GATEWAY_URL ?? '',
  helm: process.env.E2E_HELM ?? 'helm',
  chart: process.env.E2E_CHART ?? 'charts/herald',
  values: (process.env.E2E_VALUES ?? '').split(':').filter(Boolean),
  prometheusUrl: process.env.E2E_PROMETHEUS_URL ?? 'http://prometheus.monitoring.svc:9090',
  alertmanagerUrl: process.env.E2E_ALERTMANAGER_URL ?? 'http://alertmanager.monitoring.svc:9093',
  // The SMTP sink's list of received mail (test/e2e/addons/manifests/mail-sink.yaml, Mailpit's API).
  mailUrl: process.env.E2E_MAIL_URL ?? 'http://e2e-smtp-sink:8025/api/v1/messages',
  dashboards: (process.env.E2E_DASHBOARDS ?? 'charts/herald/files/dashboards/herald-overview.json:charts/herald/files/dashboards/herald-destination.json').split(':').filter(Boolean),
});

// Sha256 of it is in test/e2e/values.yaml (ingest.auth.keys).
export const API_KEY = 'hk_e2e-not-a-secret';
/** Unique per run, in payloads and Idempotency-Keys, so a reused cluster cannot answer from an earlier run. */
export const RUN = Date.now().toString(36);

const started = Date.now();
const clock = () => `${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s`;
export const step = (msg) => console.log(`\n[verify ${clock()}] ${msg}`);
export const info = (msg) => console.log(`[verify ${clock()}]   ${msg}`);

/** kubectl in the test namespace (`-n` first; pass `-A`/`-n other` after it to override). */
export function kubectl(args, { input, timeoutMs = 60_000 } = {}) {
  try {
    return execFileSync('kubectl', ['-n', env.namespace, ...args], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs, maxBuffer: 64 << 20 });
  } catch (err) {
    throw new Error(`kubectl ${args.join(' ')}: ${err.stderr?.toString().trim() || err.message}`);
  }
}

/** kubectl without blocking the event loop (the load generator keeps running meanwhile). */
export async function kubectlAsync(args, { timeoutMs = 120_000 } = {}) {
  try {
    const { stdout } = await execFileAsync('kubectl', ['-n', env.namespace, ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
    return stdout;
  } catch (err) {
    throw new Error(`kubectl ${args.join(' ')}: ${err.stderr?.toString().trim() || err.message}`);
  }
}

/** `kubectl apply` of one object (JSON on stdin), without blocking the event loop. */
export async function kubectlApply(obj) {
  await new Promise((resolve, reject) => {
    const p = spawn('kubectl', ['-n', env.namespace, 'apply', '-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (c) => (err += c));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`kubectl apply ${obj.kind}/${obj.metadata?.name}: ${err.trim()}`))));
    p.stdin.end(JSON.stringify(obj));
  });
}

export function kubectlJson(args) {
  return JSON.parse(kubectl([...args, '-o', 'json']));
}

export async function kubectlJsonAsync(args) {
  return JSON.parse(await kubectlAsync([...args, '-o', 'json']));
}

/** helm against the e2e release, without blocking the event loop. */
export async function helm(args, { timeoutMs = 600_000 } = {}) {
  try {
    const { stdout } = await execFileAsync(env.helm, [...args, '--namespace', env.namespace], { encoding: 'utf8', timeout: timeoutMs });
    return stdout;
  } catch (err) {
    throw new Error(`helm ${args.join(' ')}: ${err.stderr?.toString().trim() || err.message}`);
  }
}

/**
 * GET a URL from inside the cluster with the node of the receiver pod (the Herald image's node), so
 * neither the host nor any other image needs curl and no port-forward is left behind. Resolves the
 * body, parsed as JSON when `json`.
 */
export async function inCluster(url, { json = true } = {}) {
  const script = `fetch(${JSON.stringify(url)}).then(async (r) => { const t = await r.text(); if (!r.ok) { console.error(r.status + ' ' + t.slice(0, 500)); process.exit(2); } process.stdout.write(t); }).catch((e) => { console.error(String(e.cause ?? e)); process.exit(3); })`;
  const out = await kubectlAsync(['exec', 'deploy/e2e-receiver', '--', 'node', '-e', script], { timeoutMs: 60_000 });
  return json ? JSON.parse(out) : out;
}

/**
 * GETs several URLs from inside the cluster in one `kubectl exec` (each exec costs about half a
 * second); resolves their bodies parsed as JSON, in order. A failed GET rejects the whole call.
 */
export async function inClusterMany(urls) {
  const script = `Promise.all(${JSON.stringify(urls)}.map(async (u) => { const r = await fetch(u); const t = await r.text(); if (!r.ok) throw new Error(u + ': ' + r.status + ' ' + t.slice(0, 300)); return JSON.parse(t); })).then((all) => process.stdout.write(JSON.stringify(all))).catch((e) => { console.error(String(e.cause ?? e)); process.exit(3); })`;
  return JSON.parse(await kubectlAsync(['exec', 'deploy/e2e-receiver', '--', 'node', '-e', script], { timeoutMs: 120_000 }));
}

/**
 * Polls `check` until it returns a truthy value and resolves that value; a throw counts as "not
 * yet" and its message is kept. On timeout throws a Failure naming `what` and the last observation.
 */
export async function waitFor(what, check, { timeoutMs = 120_000, intervalMs = 1_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = 'never checked';
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
      last = 'condition not met yet';
    } catch (err) {
      if (err instanceof Failure) throw err;
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) throw new Failure(`timed out after ${timeoutMs / 1000}s waiting for ${what}\n  last seen: ${String(last).slice(0, 2000)}`);
    await delay(intervalMs);
  }
}

/** The condition of `type` on a resource's status. */
export function condition(obj, type) {
  return (obj.status?.conditions ?? []).find((c) => c.type === type);
}

/** The receiver's record of deliveries (test/e2e/manifests/receiver.yaml), optionally only under a path prefix. */
export async function received(prefix = '') {
  return inCluster(`http://127.0.0.1:8080/_received${prefix ? `?prefix=${encodeURIComponent(prefix)}` : ''}`);
}
