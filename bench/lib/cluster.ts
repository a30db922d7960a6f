import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Cluster, type Redis } from 'ioredis';
import type { Ctx, ScenarioResult } from './context.js';
import { authHeader, batchJson, eventJson, prefill, PREFIX, startIngest, startWorker, type BenchDestination, type HeraldEnv } from './herald.js';
import { sleep, waitUntil, type Proc } from './procs.js';
import { commandStats, flush, perOperation, startRedis, type BenchRedis } from './redis.js';
import { figure, rateBetween } from './stats.js';
import { postScript, wrk } from './wrk.js';

const exec = promisify(execFile);

/** One Redis layout under test: its servers (one per shard), Herald's settings for it, and how to empty it. */
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

/** Publishes destinations as `publish()` in herald.ts does, with commands a Cluster client can route one by one. */
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

/** Starts `primaries` redis-servers with `--cluster-enabled yes` (the harness's Redis settings) and joins them, no replicas. */
async function startCluster(ctx: Ctx, primaries: number): Promise<BenchRedis[]> {
  const servers: BenchRedis[] = [];
  try {
    for (let i = 0; i < primaries; i++) servers.push(await startRedis(ctx.tmpDir, ctx.logDir, ctx.opts.aof, [...ctx.opts.redisArgs, '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf']));
    await exec('redis-cli', ['--cluster', 'create', ...servers.map((p) => `127.0.0.1:${p.port}`), '--cluster-replicas', '0', '--cluster-yes']);
    await waitUntil('cluster_state:ok', async () => (await Promise.all(servers.map((p) => p.client.call('CLUSTER', 'INFO')))).every((x) => String(x).includes('cluster_state:ok')), 30_000, 100);
    return servers;
  } catch (err) {
    for (const s of servers) await s.close();
    throw err;
  }
}

/**
 * Herald on a 3-primary Redis Cluster beside the harness's one Redis, `ctx.opts.runs` rounds
 * alternating the two. Three destinations whose `{d:<name>}` tags land one on each primary, every
 * event routed to all three, so an event is one job on every shard. Per round and layout: batch
 * ingest (100 events a request, 10 connections) and single-event ingest (50 connections) with only
 * ingest running, then one worker process draining `drainEvents` × 3. Redis CPU comes from each
 * redis-server's /proc time, so the cluster's figures show how the load splits by destination.
 *
 * The primaries are started like the harness's Redis (on the infrastructure CPU): on a 2-core machine
 * they share one core, so the rates here are not a cluster's throughput; the costs per shard are
 * (docs/performance.md, "Redis Cluster"). Figures are `<layout>.<figure>` (per shard:
 * `….shard<i>`), `ratio.<figure>` (cluster ÷ one Redis, paired by round) and `spread.<figure>`
 * (largest ÷ smallest shard).
 */
export async function clusterScenario(ctx: Ctx): Promise<ScenarioResult> {
  const one = ctx.redis;
  const primaries = await startCluster(ctx, 3);
  const cc = new Cluster(primaries.map((p) => ({ host: '127.0.0.1', port: p.port })), { scaleReads: 'master' });
  try {
    // Destination names whose tags land one on each primary: evenly loaded destinations, one per shard.
    const owners = new Map<number, { name: string; slot: number }>();
    for (let i = 1; owners.size < primaries.length && i < 1000; i++) {
      const o = await slotOwner(primaries[0]!.client, `${PREFIX}:{d:c${i}}:deliveries`);
      if (!owners.has(o.port)) owners.set(o.port, { name: `c${i}`, slot: o.slot });
    }
    const placement = primaries.map((p, i) => ({ shard: i, ...owners.get(p.port)! }));
    const names = placement.map((p) => p.name);
    ctx.log(`cluster: destinations by shard: ${placement.map((p) => `${p.name} → shard ${p.shard} (slot ${p.slot})`).join(', ')}`);
    const dests: BenchDestination[] = names.map((n) => ({ name: n, spec: { url: ctx.receiver.url(n), concurrency: ctx.opts.concurrency, timeout: '10s' } }));

    const layouts: Layout[] = [
      {
        name: 'single',
        shards: [one],
        herald: ctx.herald,
        async reset(d) {
          await flush(one.client);
          await publishTo(one.client, d);
        },
      },
      {
        name: 'cluster',
        shards: primaries,
        herald: { ...ctx.herald, clusterNodes: primaries.map((p) => `127.0.0.1:${p.port}`).join(',') },
        async reset(d) {
          await Promise.all(primaries.map((p) => flush(p.client)));
          await publishTo(cc, d);
        },
      },
    ];

    // What each redis-server burns with no load (serverCron; on the cluster also the cluster bus): each
    // shard serves a third of the deliveries in a drain's few seconds, so it is checked, not assumed away.
    const idleS = 3;
    const all = [one, ...primaries];
    const idle0 = all.map((s) => s.proc.cpuSeconds());
    await sleep(idleS * 1000);
    const idleCpuPerS = new Map(all.map((s, i) => [s.port, (s.proc.cpuSeconds() - idle0[i]!) / idleS]));

    const { payloadBytes, durationS, warmupS, drainEvents } = ctx.opts;
    const batch = await postScript(ctx.tmpDir, 'cluster-batch', batchJson(payloadBytes, 100), authHeader(ctx.herald.apiKey));
    const single = await postScript(ctx.tmpDir, 'cluster-single', eventJson(payloadBytes), authHeader(ctx.herald.apiKey));
    /** Values by `<layout>.<figure>`, in round order, and their units. */
    const values: Record<string, number[]> = {};
    const units: Record<string, string> = {};
    const push = (key: string, unit: string, v: number) => {
      (values[key] ??= []).push(v);
      units[key] = unit;
    };
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
          push(`${l.name}.${kind}EventsPerS`, 'events/s', r.okPerS * perRequest);
          push(`${l.name}.${kind}IngestCpuUsPerEvent`, 'µs CPU/event', ((ingest.cpuSeconds() - cpu0) / events) * 1e6);
          // Every event is one job per destination; on the cluster each shard holds one destination's jobs.
          const jobsPerShard = (events * dests.length) / l.shards.length;
          commands[`${l.name}.${kind}PerJob`] = perOperation(await layoutCommandStats(l), events * dests.length, 6);
          l.shards.forEach((s, i) => push(`${l.name}.${kind}RedisCpuUsPerJob.shard${i}`, 'µs Redis CPU/job', ((s.proc.cpuSeconds() - shard0[i]!) / jobsPerShard) * 1e6));
        }
      } finally {
        await ingest.stop();
      }
    };

    const deliveryRound = async (l: Layout) => {
      await l.reset(dests);
      const ingest = await startIngest(l.herald, 'infra', `prefill-${l.name}`);
      await prefill(ingest.url, drainEvents, payloadBytes, ctx.herald.apiKey);
      await ingest.stop();
      await ctx.receiver.reset();
      await Promise.all(l.shards.map((s) => s.client.config('RESETSTAT')));
      const shard0 = l.shards.map((s) => s.proc.cpuSeconds());
      const t0 = performance.now();
      const worker = await startWorker(l.herald, names, 'sut', `worker-${l.name}`);
      const cpu0 = worker.cpuSeconds();
      try {
        for (const n of names) await ctx.receiver.waitFor(n, drainEvents, 600_000);
        const deliveries = drainEvents * names.length;
        const windowS = (performance.now() - t0) / 1000;
        push(`${l.name}.workerCpuUsPerDelivery`, 'µs CPU/delivery', ((worker.cpuSeconds() - cpu0) / deliveries) * 1e6);
        const st = await ctx.receiver.stats();
        // The three destinations drain side by side: the sum of their rates is the worker's.
        push(`${l.name}.deliveriesPerS`, 'deliveries/s', names.reduce((sum, n) => sum + rateBetween(st[n]!.series, drainEvents), 0));
        const perShard = deliveries / l.shards.length;
        commands[`${l.name}.perDelivery`] = perOperation(await layoutCommandStats(l), deliveries, 8);
        l.shards.forEach((s, i) => {
          const cpuS = s.proc.cpuSeconds() - shard0[i]!;
          push(`${l.name}.deliveryRedisCpuUsPerDelivery.shard${i}`, 'µs Redis CPU/delivery', (cpuS / perShard) * 1e6);
          push(`${l.name}.deliveryRedisCpuNetUsPerDelivery.shard${i}`, 'µs Redis CPU/delivery, idle CPU subtracted', ((cpuS - idleCpuPerS.get(s.port)! * windowS) / perShard) * 1e6);
        });
      } finally {
        await worker.stop();
      }
    };

    for (let round = 0; round < ctx.opts.runs; round++) {
      for (const l of round % 2 === 0 ? layouts : [...layouts].reverse()) {
        ctx.log(`cluster: round ${round + 1}/${ctx.opts.runs}, ${l.name}`);
        await ingestRound(l);
        await deliveryRound(l);
      }
    }

    const figures: ScenarioResult['figures'] = {};
    for (const [k, v] of Object.entries(values)) figures[k] = figure(v, units[k]!);
    for (const k of ['batchEventsPerS', 'singleEventsPerS', 'deliveriesPerS', 'batchIngestCpuUsPerEvent', 'singleIngestCpuUsPerEvent', 'workerCpuUsPerDelivery']) {
      figures[`ratio.${k}`] = figure(values[`cluster.${k}`]!.map((v, i) => v / values[`single.${k}`]![i]!), '× (cluster ÷ one Redis)');
    }
    for (const k of ['batchRedisCpuUsPerJob', 'singleRedisCpuUsPerJob', 'deliveryRedisCpuUsPerDelivery']) {
      const perShard = primaries.map((_, i) => values[`cluster.${k}.shard${i}`]!);
      figures[`spread.${k}`] = figure(perShard[0]!.map((_, r) => Math.max(...perShard.map((s) => s[r]!)) / Math.min(...perShard.map((s) => s[r]!))), '× (largest ÷ smallest shard)');
    }
    const idleCpuPct = Object.fromEntries(all.map((s, i) => [i === 0 ? 'single' : `shard${i - 1}`, Number((idleCpuPerS.get(s.port)! * 100).toFixed(2))]));
    return { figures, details: { errors, placement, idleCpuPct, redisCommandsSummedOverShards: commands } };
  } finally {
    cc.disconnect();
    for (const p of primaries) await p.close();
  }
}
