/**
 * Herald's benchmark (issue 7): `node bench/dist/run.js --mode quick|full|profile|compare`.
 *
 * Starts a private Redis, the receiver, Herald processes and the baselines, drives load with wrk,
 * and writes bench/results/<stamp>-<mode>.{json,md,png} (plus latest.*). See docs/performance.md.
 */
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backlogScenario } from './lib/backlog.js';
import { bullmqCeilings, httpCeiling, receiverCeiling, redisCeiling } from './lib/ceilings.js';
import { clusterScenario } from './lib/cluster.js';
import type { Ctx, ScenarioResult } from './lib/context.js';
import { environment } from './lib/environment.js';
import { failingScenario } from './lib/failing.js';
import { writeApiKeyFile } from './lib/herald.js';
import { loadOptions } from './lib/options.js';
import { configurePinning, pinSelf, stopAll } from './lib/procs.js';
import { startReceiver } from './lib/receiver-client.js';
import { startRedis, startReplica, type BenchRedis } from './lib/redis.js';
import { writeReport } from './lib/report.js';
import { machineLoad, merge, once } from './lib/rounds.js';
import { deliveryScenario, ingestScenario, latencyScenario } from './lib/scenarios.js';
import { orderingDeliveryScenario, orderingIngestScenario } from './lib/ordering.js';
import { figure } from './lib/stats.js';
import { evaluateTargets } from './lib/targets.js';

const dist = dirname(fileURLToPath(import.meta.url));
const benchDir = resolve(dist, '..');
const opts = loadOptions(process.argv.slice(2), process.env, benchDir);
const started = Date.now();
const log = (msg: string) => process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${msg}\n`);

const stamp = new Date().toISOString().replace(/[:]/g, '').replace(/\..*/, 'Z');
const tmpDir = join(opts.resultsDir, 'tmp', stamp);
const logDir = join(tmpDir, 'logs');
await mkdir(logDir, { recursive: true });
const pinned = configurePinning(opts.pin);
pinSelf();
process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));

const profileDir = opts.mode === 'profile' ? join(tmpDir, 'profiles') : undefined;
if (profileDir) await mkdir(profileDir, { recursive: true });

log(`mode ${opts.mode}, ${opts.runs} round(s) of ${opts.durationS}s, Herald from ${opts.heraldDir}, pinning ${pinned ? 'on (SUT: CPU 0; Redis, wrk, receiver: CPU 1)' : 'off'}`);
const redis = await startRedis(tmpDir, logDir, opts.aof, opts.redisArgs);
const replicas: BenchRedis[] = [];
for (let i = 0; i < opts.replicas; i++) replicas.push(await startReplica(redis, tmpDir, logDir, opts.aof, opts.redisArgs));
const auth = opts.ingestAuth === 'key' ? await writeApiKeyFile(tmpDir) : {};
const receiver = await startReceiver(dist, logDir);
const ctx: Ctx = {
  opts,
  redis,
  receiver,
  herald: { heraldDir: opts.heraldDir, node: opts.heraldNode, redisUrl: redis.url, logLevel: opts.logLevel, logDir, keepLogs: opts.keepLogs, ...(opts.ackReplicas ? { ackReplicas: opts.ackReplicas } : {}), ...auth, ...(profileDir ? { profileDir } : {}) },
  dist,
  tmpDir,
  logDir,
  log,
};

const results: Record<string, ScenarioResult> = {};
const wanted = (name: string) => opts.only.length === 0 || opts.only.some((o) => name.startsWith(o) || name.replace(/^(before|after):/, '').startsWith(o));
async function scenario(name: string, fn: () => Promise<ScenarioResult>): Promise<void> {
  if (!wanted(name)) return;
  const t = Date.now();
  const load = machineLoad();
  const r = await fn();
  r.figures.machineCpuPressure = figure([load.cpuPressure], '% (PSI some avg10)');
  results[name] = merge(results[name], r);
  const brief = Object.entries(r.figures)
    .slice(0, 3)
    .map(([k, f]) => `${k}=${f.median.toFixed(f.median < 100 ? 2 : 0)}`)
    .join(' ');
  log(`${name} ${((Date.now() - t) / 1000).toFixed(1)}s: ${brief} (cpu pressure ${load.cpuPressure}%)`);
}

/**
 * Every figure is measured once per round, next to the ceiling it is compared with, so that the
 * ratios are paired (same round) and survive other load on the machine that comes and goes.
 */
async function rounds(): Promise<void> {
  const one = once(ctx);
  for (let round = 1; round <= opts.runs; round++) {
    // bench-quick measures the slower scenarios once, to stay near two minutes; `full` repeats everything.
    const every = opts.mode === 'full' || round === 1;
    log(`round ${round}/${opts.runs}`);
    if (every) await scenario('ceiling-redis', () => redisCeiling(one));
    await scenario('ceiling-express', () => httpCeiling(one, 'express'));
    // Context for T1, not a target: once in bench-quick, to keep it near two minutes.
    if (every) await scenario('ceiling-node-http', () => httpCeiling(one, 'node'));
    await scenario('ingest-fanout1', () => ingestScenario(one, 1));
    await scenario('ceiling-bullmq', () => bullmqCeilings(one, opts.mode === 'full' ? ['add', 'addBulk1', 'addBulk5'] : every ? ['addBulk1', 'addBulk5'] : ['addBulk5']));
    await scenario('ingest-fanout5', () => ingestScenario(one, 5, opts.mode === 'full' ? ['single', 'batch'] : ['batch']));
    if (opts.mode === 'full') {
      await scenario('ceiling-bullmq', () => bullmqCeilings(one, ['addBulk20']));
      await scenario('ingest-fanout20', () => ingestScenario(one, 20));
    }
    if (every) await scenario('ceiling-receiver', () => receiverCeiling(one));
    await scenario('ceiling-bullmq', () => bullmqCeilings(one, ['noopWorker']));
    await scenario('delivery', () => deliveryScenario(one));
    if (every) await scenario('failing-shared', () => failingScenario(one, 'shared'));
    if (opts.mode === 'full' && opts.breaker) await scenario('failing-shared-breaker', () => failingScenario(one, 'shared', true));
    if (opts.mode === 'full') await scenario('failing-split', () => failingScenario(one, 'split'));
    // Every round: T7a and T7c are ratios within a round, and one round on a shared machine is noise.
    await scenario('ordering-delivery', () => orderingDeliveryScenario(one));
    await scenario('ordering-ingest', () => orderingIngestScenario(one));
  }
  const sat = results.delivery?.figures.deliveriesPerS?.median ?? Number(process.env.BENCH_LATENCY_RATE ?? 1000);
  await scenario('latency', () => latencyScenario(ctx, Math.round(sat / 2)));
  if (opts.backlogEvents > 0 && opts.backlogRuns > 0) await scenario('backlog', () => backlogScenario(ctx));
  // Its own alternating rounds (one Redis, then a 3-primary cluster it starts): in the full run, or when BENCH_ONLY names it.
  // Not with BENCH_REPLICAS: one Redis would then also feed replicas the cluster's primaries do not have.
  if ((opts.mode === 'full' || opts.only.length > 0) && opts.replicas === 0) await scenario('cluster', () => clusterScenario(ctx));
}

/** Before and after builds, alternating scenario by scenario, so slow changes in other load hit both alike. */
async function compare(): Promise<void> {
  const before = once(ctx);
  const after: Ctx = { ...before, herald: { ...before.herald, heraldDir: opts.compareDir!, node: opts.compareNode ?? opts.heraldNode } };
  const pairs = [['before', before], ['after', after]] as const;
  for (let round = 1; round <= opts.runs; round++) {
    log(`round ${round}/${opts.runs}`);
    for (const [label, c] of pairs) await scenario(`${label}:ingest-fanout1`, () => ingestScenario(c, 1, ['single', 'batch']));
    for (const [label, c] of pairs) await scenario(`${label}:ingest-fanout5`, () => ingestScenario(c, 5, ['batch']));
    for (const [label, c] of pairs) await scenario(`${label}:delivery`, () => deliveryScenario(c));
    for (const [label, c] of pairs) await scenario(`${label}:ordering-ingest`, () => orderingIngestScenario(c));
  }
  // Both builds at one rate: half of what the first delivered (BENCH_LATENCY_RATE when delivery did not run).
  const sat = results['before:delivery']?.figures.deliveriesPerS?.median ?? Number(process.env.BENCH_LATENCY_RATE ?? 1000);
  for (let round = 1; round <= Math.min(opts.runs, 3); round++) {
    for (const [label, c] of pairs) await scenario(`${label}:latency`, () => latencyScenario({ ...c, opts: { ...c.opts, runs: 1 } }, Math.round(sat / 2)));
  }
}

let failed: unknown;
try {
  if (opts.mode === 'compare') await compare();
  else if (opts.mode === 'profile') {
    // Long single runs with --cpu-prof on the Herald processes; summarised into bench/results/profiles/.
    await scenario('ingest-fanout1', () => ingestScenario(ctx, 1, ['single']));
    await scenario('ingest-fanout5', () => ingestScenario(ctx, 5, ['batch']));
    await scenario('delivery', () => deliveryScenario(ctx));
    // Ingest and worker together at the latency scenario's rate, where per-event costs differ from saturation.
    await scenario('latency', () => latencyScenario(ctx, Math.round(Number(process.env.BENCH_LATENCY_RATE ?? 8000) / 2)));
  } else await rounds();
} catch (err) {
  failed = err;
  log(`FAILED: ${(err as Error).stack ?? String(err)}`);
} finally {
  await receiver.proc.stop(5_000);
  for (const r of replicas) await r.close();
  await redis.close();
  await stopAll();
}

const env = await environment(opts, pinned);
const targets = opts.mode === 'compare' ? [] : evaluateTargets(results, opts.payloadBytes);
const files = await writeReport({ stamp, opts, env, results, targets, elapsedS: (Date.now() - started) / 1000, ...(failed ? { error: String(failed) } : {}) }, profileDir);
log(`wrote ${files.join(', ')}`);
for (const t of targets) log(`${t.info ? 'INFO' : t.pass ? 'PASS' : 'MISS'} ${t.id} ${t.target}: ${t.ratio !== undefined ? `${(t.ratio * 100).toFixed(0)}%` : t.herald.toFixed(1)}`);
if (!opts.keepLogs && !failed && opts.mode !== 'profile') await rm(tmpDir, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
