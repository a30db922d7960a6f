/**
 * Herald on a 3-primary Redis Cluster beside one Redis, in one run, alternating rounds:
 * `make bench-cluster`, or `node bench/dist/cluster.js` after `make bench-build` (knobs BENCH_RUNS,
 * BENCH_DURATION, BENCH_WARMUP, BENCH_DRAIN_EVENTS, BENCH_HERALD, BENCH_PIN as in bench/README.md).
 *
 * Three destinations whose hash tags land one on each primary, so an event of the load is one job on
 * every shard. Per round and per Redis layout: batch ingest (100 events a request, 10 connections) and
 * single-event ingest (50 connections) with only ingest running, then the drain of a prefilled backlog
 * by one worker process serving the three destinations. Redis CPU comes from each redis-server's
 * /proc CPU time, so the cluster's figures show how the load splits by destination. Pinned as the
 * harness pins: Herald on CPU 0, every redis-server, wrk and the receiver on CPU 1 — on this machine
 * the three primaries share one core, so the figures are costs per shard, not a cluster's throughput
 * (docs/performance.md, "Redis Cluster").
 *
 * Writes bench/results/<stamp>-cluster.{json,md}.
 */
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Cluster, type Redis } from 'ioredis';
import { authHeader, batchJson, eventJson, prefill, PREFIX, startIngest, startWorker, writeApiKeyFile, type BenchDestination, type HeraldEnv } from './lib/herald.js';
import { configurePinning, pinSelf, sleep, stopAll, waitUntil, type Proc } from './lib/procs.js';
import { startReceiver, type ReceiverHandle } from './lib/receiver-client.js';
import { commandStats, flush, perOperation, startRedis, type BenchRedis } from './lib/redis.js';
import { machineLoad } from './lib/rounds.js';
import { figure, rateBetween, type Figure } from './lib/stats.js';
import { postScript, wrk } from './lib/wrk.js';

const exec = promisify(execFile);
const dist = dirname(fileURLToPath(import.meta.url));
const benchDir = resolve(dist, '..');
const num = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);
const runs = num('BENCH_RUNS', 3);
const durationS = num('BENCH_DURATION', 3);
const warmupS = num('BENCH_WARMUP', 1);
const drainEvents = num('BENCH_DRAIN_EVENTS', 3000);
const payloadBytes = 256;
const concurrency = 50;
const heraldDir = resolve(process.env.BENCH_HERALD ?? join(benchDir, '..'));
const resultsDir = resolve(process.env.BENCH_RESULTS ?? join(benchDir, 'results'));
const started = Date.now();
const log = (msg: string) => process.stderr.write(`[cluster ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${msg}\n`);

/** One Redis layout under test: its servers (one per shard), a way to empty and configure it, and Herald's settings for it. */
interface Layout {
  name: 'single' | 'cluster';
  shards: Array<{ port: number; proc: Proc; client: Redis }>;
  herald: HeraldEnv;
  /** Empties every shard and publishes the destinations (Herald's processes start afterwards or reload). */
  reset(dests: BenchDestination[]): Promise<void>;
}

/** The hash slot of `key` and the port of the primary serving it, from the cluster's own CLUSTER KEYSLOT / CLUSTER SLOTS. */
async function slotOwner(client: Redis, key: string): Promise<{ slot: number; port: number }> {
  const slot = Number(await client.call('CLUSTER', 'KEYSLOT', key));
  const ranges = (await client.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, ...unknown[]]]>;
  const owner = ranges.find(([lo, hi]) => slot >= lo && slot <= hi);
  if (!owner) throw new Error(`no primary serves slot ${slot}`);
  return { slot, port: owner[2][1] };
}

/** Publishes destinations as `publish()` in lib/herald.ts does, with commands a Cluster client can route one by one. */
async function publishTo(client: Redis | Cluster, dests: BenchDestination[]): Promise<void> {
  await client.del(`${PREFIX}:destinations`);
  await client.hset(`${PREFIX}:destinations`, Object.fromEntries(dests.map((d) => [d.name, JSON.stringify(d.spec)])));
  await client.publish(`${PREFIX}:destinations:changed`, '*');
}

/** INFO commandstats summed over a layout's shards (since their last CONFIG RESETSTAT). */
async function layoutCommandStats(l: Layout): Promise<Record<string, { calls: number; usec: number }>> {
  const sum: Record<string, { calls: number; usec: number }> = {};
  for (const s of l.shards) {
    for (const [c, v] of Object.entries(await commandStats(s.client))) {
      const t = (sum[c] ??= { calls: 0, usec: 0 });
      t.calls += v.calls;
      t.usec += v.usec;
    }
  }
  return sum;
}

const stamp = new Date().toISOString().replace(/[:]/g, '').replace(/\..*/, 'Z');
const tmpDir = join(resultsDir, 'tmp', `${stamp}-cluster`);
const logDir = join(tmpDir, 'logs');
await mkdir(logDir, { recursive: true });
const pinned = configurePinning(process.env.BENCH_PIN !== '0');
pinSelf();
process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));
const loadBefore = machineLoad();

const servers: BenchRedis[] = [];
let clusterClient: Cluster | undefined;
let receiver: ReceiverHandle | undefined;
try {
  const auth = await writeApiKeyFile(tmpDir);
  receiver = await startReceiver(dist, logDir);
  const baseEnv = { heraldDir, logLevel: process.env.BENCH_LOG_LEVEL ?? 'info', logDir, keepLogs: process.env.BENCH_KEEP_LOGS === '1', ...auth };

  log('starting one Redis and a 3-primary Redis Cluster (no replicas: the same work per write as one Redis)');
  const one = await startRedis(tmpDir, logDir, true);
  servers.push(one);
  const primaries: BenchRedis[] = [];
  for (let i = 0; i < 3; i++) primaries.push(await startRedis(tmpDir, logDir, true, ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf']));
  servers.push(...primaries);
  await exec('redis-cli', ['--cluster', 'create', ...primaries.map((p) => `127.0.0.1:${p.port}`), '--cluster-replicas', '0', '--cluster-yes']);
  await waitUntil('cluster_state:ok', async () => (await Promise.all(primaries.map((p) => p.client.call('CLUSTER', 'INFO')))).every((x) => String(x).includes('cluster_state:ok')), 30_000, 100);
  clusterClient = new Cluster(primaries.map((p) => ({ host: '127.0.0.1', port: p.port })), { scaleReads: 'master' });
  const cc = clusterClient;

  // Destination names whose `{d:<name>}` tags land one on each primary: evenly loaded destinations, one per shard.
  const owners = new Map<number, { name: string; slot: number }>();
  for (let i = 1; owners.size < primaries.length && i < 1000; i++) {
    const o = await slotOwner(primaries[0]!.client, `${PREFIX}:{d:c${i}}:deliveries`);
    if (!owners.has(o.port)) owners.set(o.port, { name: `c${i}`, slot: o.slot });
  }
  const placement = primaries.map((p, i) => ({ shard: i, port: p.port, ...owners.get(p.port)! }));
  const names = placement.map((p) => p.name);
  log(`destinations by shard: ${placement.map((p) => `${p.name} → shard ${p.shard} (slot ${p.slot})`).join(', ')}`);
  const dests: BenchDestination[] = names.map((n) => ({ name: n, spec: { url: receiver!.url(n), concurrency, timeout: '10s' } }));

  const layouts: Layout[] = [
    {
      name: 'single',
      shards: [one],
      herald: { ...baseEnv, redisUrl: one.url },
      async reset(d) {
        await flush(one.client);
        await publishTo(one.client, d);
      },
    },
    {
      name: 'cluster',
      shards: primaries,
      herald: { ...baseEnv, redisUrl: '', clusterNodes: primaries.map((p) => `127.0.0.1:${p.port}`).join(',') },
      async reset(d) {
        await Promise.all(primaries.map((p) => flush(p.client)));
        await publishTo(cc, d);
      },
    },
  ];

  const batch = await postScript(tmpDir, 'cluster-batch', batchJson(payloadBytes, 100), authHeader(auth.apiKey));
  const single = await postScript(tmpDir, 'cluster-single', eventJson(payloadBytes), authHeader(auth.apiKey));
  /** Values by layout and figure, in round order. */
  const values: Record<string, Record<string, number[]>> = { single: {}, cluster: {} };
  const push = (layout: string, key: string, v: number) => ((values[layout]![key] ??= []).push(v));
  let errors = 0;
  /** Redis commands per job (ingest) and per delivery, summed over the shards, from the last round. */
  const commands: Record<string, unknown> = {};

  const ingestRound = async (l: Layout) => {
    await l.reset(dests);
    const ingest = await startIngest(l.herald, 'sut', `ingest-${l.name}`);
    try {
      for (const [kind, script, connections, perRequest] of [['batch', batch, 10, 100], ['single', single, 50, 1]] as const) {
        const url = `${ingest.url}/ingest${kind === 'batch' ? '/batch' : ''}`;
        await wrk(url, script, { connections, durationS: warmupS });
        await l.reset(dests);
        await Promise.all(l.shards.map((s) => s.client.config('RESETSTAT')));
        const cpu0 = ingest.cpuSeconds();
        const shard0 = l.shards.map((s) => s.proc.cpuSeconds());
        const r = await wrk(url, script, { connections, durationS });
        errors += r.errors.status + r.errors.timeout + r.errors.connect + r.errors.read;
        const events = r.okPerS * perRequest * r.durationS;
        push(l.name, `${kind}EventsPerS`, r.okPerS * perRequest);
        push(l.name, `${kind}IngestCpuUsPerEvent`, ((ingest.cpuSeconds() - cpu0) / events) * 1e6);
        // Every event is one job per destination; on the cluster each shard holds one destination's jobs.
        const jobsPerShard = (events * dests.length) / l.shards.length;
        commands[`${l.name}.${kind}PerJob`] = perOperation(await layoutCommandStats(l), events * dests.length, 6);
        l.shards.forEach((s, i) => push(l.name, `${kind}RedisCpuUsPerJob.shard${i}`, ((s.proc.cpuSeconds() - shard0[i]!) / jobsPerShard) * 1e6));
      }
    } finally {
      await ingest.stop();
    }
  };

  const deliveryRound = async (l: Layout) => {
    await l.reset(dests);
    const ingest = await startIngest(l.herald, 'infra', `prefill-${l.name}`);
    await prefill(ingest.url, drainEvents, payloadBytes, auth.apiKey);
    await ingest.stop();
    await receiver!.reset();
    await Promise.all(l.shards.map((s) => s.client.config('RESETSTAT')));
    const shard0 = l.shards.map((s) => s.proc.cpuSeconds());
    const t0 = performance.now();
    const worker = await startWorker(l.herald, names, 'sut', `worker-${l.name}`);
    const cpu0 = worker.cpuSeconds();
    try {
      for (const n of names) await receiver!.waitFor(n, drainEvents, 600_000);
      const deliveries = drainEvents * names.length;
      const windowS = (performance.now() - t0) / 1000;
      push(l.name, 'workerCpuUsPerDelivery', ((worker.cpuSeconds() - cpu0) / deliveries) * 1e6);
      const st = await receiver!.stats();
      // The three destinations drain side by side: the sum of their rates is the worker's.
      push(l.name, 'deliveriesPerS', names.reduce((sum, n) => sum + rateBetween(st[n]!.series, drainEvents), 0));
      const perShard = deliveries / l.shards.length;
      commands[`${l.name}.perDelivery`] = perOperation(await layoutCommandStats(l), deliveries, 8);
      l.shards.forEach((s, i) => {
        const cpuS = s.proc.cpuSeconds() - shard0[i]!;
        push(l.name, `deliveryRedisCpuUsPerDelivery.shard${i}`, (cpuS / perShard) * 1e6);
        push(l.name, `deliveryRedisCpuNetUsPerDelivery.shard${i}`, ((cpuS - idleCpuPerS.get(s.port)! * windowS) / perShard) * 1e6);
      });
    } finally {
      await worker.stop();
    }
  };

  // What each redis-server burns with no load (serverCron; on the cluster also the cluster bus): over a
  // drain of a few seconds it is a visible share of a shard's CPU per delivery, since each shard serves
  // a third of the deliveries in the same time. Measured once, subtracted in the `Net` delivery figures.
  const idleS = 3;
  const idle0 = servers.map((s) => s.proc.cpuSeconds());
  await sleep(idleS * 1000);
  const idleCpuPerS = new Map(servers.map((s, i) => [s.port, (s.proc.cpuSeconds() - idle0[i]!) / idleS]));

  log(`${runs} round(s) of ${durationS}s per measurement, ${drainEvents} events × ${names.length} destinations drained; pinning ${pinned ? 'on' : 'off'}`);
  for (let round = 0; round < runs; round++) {
    const order = round % 2 === 0 ? layouts : [...layouts].reverse();
    for (const l of order) {
      log(`round ${round + 1}: ${l.name} ingest`);
      await ingestRound(l);
      log(`round ${round + 1}: ${l.name} delivery`);
      await deliveryRound(l);
    }
  }

  const loadAfter = machineLoad();
  const figures: Record<string, Record<string, Figure>> = {};
  for (const [layout, byKey] of Object.entries(values)) figures[layout] = Object.fromEntries(Object.entries(byKey).map(([k, v]) => [k, figure(v, '')]));
  /** Max/min of the shards' medians for one figure of the cluster: 1.0 is a perfectly even split. */
  const spread = (prefix: string) => {
    const meds = Object.entries(figures.cluster!).filter(([k]) => k.startsWith(prefix)).map(([, f]) => f.median);
    return Number((Math.max(...meds) / Math.min(...meds)).toFixed(2));
  };
  /** Cluster ÷ one Redis per round (the two were measured side by side), then the median and range of those ratios. */
  const ratio = (k: string) => {
    const f = figure(values.cluster![k]!.map((v, i) => v / values.single![k]![i]!), '×');
    return { median: Number(f.median.toFixed(2)), min: Number(f.min.toFixed(2)), max: Number(f.max.toFixed(2)) };
  };
  const summary = {
    batchEventsPerS: ratio('batchEventsPerS'),
    singleEventsPerS: ratio('singleEventsPerS'),
    deliveriesPerS: ratio('deliveriesPerS'),
    workerCpuUsPerDelivery: ratio('workerCpuUsPerDelivery'),
    batchIngestCpuUsPerEvent: ratio('batchIngestCpuUsPerEvent'),
    singleIngestCpuUsPerEvent: ratio('singleIngestCpuUsPerEvent'),
    shardSpread: { batch: spread('batchRedisCpuUsPerJob'), single: spread('singleRedisCpuUsPerJob'), delivery: spread('deliveryRedisCpuUsPerDelivery'), deliveryNet: spread('deliveryRedisCpuNetUsPerDelivery') },
  };
  const result = { stamp, runs, durationS, warmupS, drainEvents, payloadBytes, pinned, placement, loadBefore, loadAfter, errors, idleCpuPctByPort: Object.fromEntries([...idleCpuPerS].map(([p, c]) => [p, Number((c * 100).toFixed(2))])), redisCommands: commands, elapsedS: (Date.now() - started) / 1000, figures, clusterOverSingle: summary };

  const fmt = (f: Figure | undefined) => (f ? `${f.median.toFixed(f.median < 100 ? 1 : 0)} (${f.min.toFixed(f.min < 100 ? 1 : 0)}–${f.max.toFixed(f.max < 100 ? 1 : 0)})` : '—');
  const rows = [...new Set([...Object.keys(figures.single!), ...Object.keys(figures.cluster!)])].sort();
  const md = [
    `# Redis Cluster (3 primaries) beside one Redis — ${stamp}`,
    '',
    `${runs} alternating rounds, ${durationS} s per measurement, ${drainEvents} events × ${names.length} destinations drained; median (min–max). Destinations: ${placement.map((p) => `${p.name} → shard${p.shard} (slot ${p.slot})`).join(', ')}. Machine load before: PSI cpu some avg10 ${loadBefore.cpuPressure} %, load1 ${loadBefore.load1}; after: ${loadAfter.cpuPressure} %, ${loadAfter.load1}. Errors: ${errors}.`,
    '',
    '| figure | one Redis | cluster |',
    '|---|---|---|',
    ...rows.map((k) => `| ${k} | ${fmt(figures.single![k])} | ${fmt(figures.cluster![k])} |`),
    '',
    '| cluster ÷ one Redis, paired by round | median (min–max) |',
    '|---|---|',
    ...Object.entries(summary)
      .filter(([k]) => k !== 'shardSpread')
      .map(([k, r]) => { const x = r as { median: number; min: number; max: number }; return `| ${k} | ×${x.median} (×${x.min}–${x.max}) |`; }),
    '',
    `Shard spread on the cluster (largest ÷ smallest shard median of Redis CPU per job): ${JSON.stringify(summary.shardSpread)}`,
    '',
    `Idle CPU of each redis-server (% of a core, by port; one Redis: ${one.port}): ${JSON.stringify(result.idleCpuPctByPort)}`,
    '',
    'Redis commands, summed over the shards, last round (calls and Redis µs per job / per delivery; the µs are INFO commandstats, wall-clock inside the command, so they include time a server waited for the core it shares with the other shards: trust the calls and the /proc CPU figures above):',
    '',
    '```json',
    JSON.stringify(commands, null, 1),
    '```',
    '',
  ].join('\n');
  await mkdir(resultsDir, { recursive: true });
  await writeFile(join(resultsDir, `${stamp}-cluster.json`), `${JSON.stringify(result, null, 2)}\n`);
  await writeFile(join(resultsDir, `${stamp}-cluster.md`), md);
  process.stdout.write(md);
  log(`wrote ${join(resultsDir, `${stamp}-cluster.{json,md}`)}`);
} finally {
  clusterClient?.disconnect();
  await receiver?.proc.stop(5_000);
  for (const s of servers) await s.close();
  await stopAll();
  if (process.env.BENCH_KEEP_LOGS !== '1') await rm(tmpDir, { recursive: true, force: true });
}
