import { Cluster, type Redis } from 'ioredis';
import type { Ctx, ScenarioResult } from './context.js';
import { authHeader, batchJson, eventJson, prefill, PREFIX, startIngest, startWorker, type BenchDestination, type HeraldEnv } from './herald.js';
import { run, sleep, waitUntil } from './procs.js';
import { commandStats, flush, ioCounters, perOperation, scriptUsec, startRedis, type BenchRedis } from './redis.js';
import { machineLoad } from './rounds.js';
import { figure, rateBetween } from './stats.js';
import { postScript, wrk } from './wrk.js';

const SLOTS = 16_384;

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** A Redis Cluster of the bench: its primaries (no replicas), which of them serves a slot, and a Cluster client for the harness's own writes. */
interface BenchCluster {
  primaries: BenchRedis[];
  /** Index in `primaries` of the one serving `slot`. */
  shardOf(slot: number): number;
  client: Cluster;
  close(): Promise<void>;
}

/** One Redis layout under test: its servers (one per shard), Herald's settings for it, and how to empty it. */
interface Layout {
  /** `single` (the harness's one Redis) or `cluster<N>` (N primaries). */
  name: string;
  shards: BenchRedis[];
  /** Destinations each shard serves, by shard index. */
  destinationsOn: number[];
  herald: HeraldEnv;
  /** Empties every shard and publishes the destinations (Herald's processes start afterwards or reload). */
  reset(dests: BenchDestination[]): Promise<void>;
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

/** Redis' I/O counters summed over a layout's shards. */
async function layoutIo(l: Layout): Promise<{ reads: number; inBytes: number; outBytes: number }> {
  const each = await Promise.all(l.shards.map((s) => ioCounters(s.client)));
  return { reads: sum(each.map((c) => c.reads)), inBytes: sum(each.map((c) => c.inBytes)), outBytes: sum(each.map((c) => c.outBytes)) };
}

/**
 * Starts `n` redis-servers with `--cluster-enabled yes` (the harness's Redis settings) and joins them,
 * no replicas. Joined by hand rather than by `redis-cli --cluster create`, which refuses fewer than
 * three primaries: for every size the same steps (an even split of the slots, a config epoch each,
 * CLUSTER MEET), so a 1-primary cluster differs from a 6-primary one only in the number of shards.
 */
async function startCluster(ctx: Ctx, n: number): Promise<BenchCluster> {
  const primaries: BenchRedis[] = [];
  try {
    // An announced address: a node that never met another does not know its own, and names none in
    // CLUSTER SLOTS, where ioredis' Cluster client then finds no node to connect to.
    const args = [...ctx.opts.redisArgs, '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-announce-ip', '127.0.0.1'];
    for (let i = 0; i < n; i++) primaries.push(await startRedis(ctx.tmpDir, ctx.logDir, ctx.opts.aof, args));
    const first = (i: number) => Math.floor((i * SLOTS) / n);
    for (const [i, p] of primaries.entries()) {
      await p.client.call('CLUSTER', 'ADDSLOTS', ...Array.from({ length: first(i + 1) - first(i) }, (_, k) => String(first(i) + k)));
      await p.client.call('CLUSTER', 'SET-CONFIG-EPOCH', String(i + 1));
    }
    for (const p of primaries.slice(1)) await p.client.call('CLUSTER', 'MEET', '127.0.0.1', String(primaries[0]!.port));
    const joined = (info: string) => info.includes('cluster_state:ok') && new RegExp(`cluster_known_nodes:${n}\\b`).test(info) && info.includes(`cluster_slots_assigned:${SLOTS}`);
    await waitUntil(`cluster_state:ok on a ${n}-primary cluster`, async () => (await Promise.all(primaries.map((p) => p.client.call('CLUSTER', 'INFO')))).every((x) => joined(String(x))), 30_000, 100);
    // Which primary serves each slot, as the cluster says (CLUSTER SLOTS), not as the split above meant.
    const shardBySlot = new Array<number>(SLOTS).fill(-1);
    const ranges = (await primaries[0]!.client.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, ...unknown[]]]>;
    for (const [lo, hi, [, port]] of ranges) shardBySlot.fill(primaries.findIndex((p) => p.port === port), lo, hi + 1);
    const client = new Cluster(primaries.map((p) => ({ host: '127.0.0.1', port: p.port })), { scaleReads: 'master' });
    client.on('error', () => undefined);
    return {
      primaries,
      shardOf: (slot) => shardBySlot[slot]!,
      client,
      async close() {
        client.disconnect();
        for (const p of primaries) await p.close();
      },
    };
  } catch (err) {
    for (const p of primaries) await p.close();
    throw err;
  }
}

/**
 * `count` destination names for every layout at once, in distinct slots, no primary of any cluster
 * serving more than its share of them: one each on 3 primaries, three primaries with one each and
 * three with none on 6. The same names and slots on every layout keep the client's work per event
 * the same (one script and one body copy per destination slot, ADR 0015), so a ratio between two
 * clusters is the number of shards alone. Spreading three destinations' load over six primaries
 * would take more destinations per event or events routed to some of them only, and change that work.
 */
async function chooseDestinations(clusters: BenchCluster[], count: number): Promise<Array<{ name: string; slot: number }>> {
  const ask = clusters[0]!.primaries[0]!.client;
  const chosen: Array<{ name: string; slot: number }> = [];
  for (let i = 1; chosen.length < count; i++) {
    if (i > 10_000) throw new Error(`no ${count} destination names spread over clusters of ${clusters.map((c) => c.primaries.length).join(', ')} primaries`);
    const name = `c${i}`;
    const slot = Number(await ask.call('CLUSTER', 'KEYSLOT', `${PREFIX}:{d:${name}}:deliveries`));
    if (chosen.some((c) => c.slot === slot)) continue;
    const fits = clusters.every((c) => chosen.filter((d) => c.shardOf(d.slot) === c.shardOf(slot)).length < Math.ceil(count / c.primaries.length));
    if (fits) chosen.push({ name, slot });
  }
  return chosen;
}

/**
 * The same commands without Herald, sent by `redis-benchmark` (50 clients, 16 pipelined) to one
 * Redis and to the 1-primary cluster, whose node serves every slot, so nothing is redirected: what
 * cluster mode costs the server by itself. `Get` of missing keys (cluster mode checks each command's
 * key slot), `Set` of new keys (each also added to its slot's key index), and a script that creates a
 * hash with 8 `HSET` and deletes it (each `redis.call` in a script is checked as well).
 */
const BARE: Array<{ name: string; requests: number; command: string[] }> = [
  { name: 'Get', requests: 200_000, command: ['GET', 'bare:__rand_int__'] },
  { name: 'Set', requests: 200_000, command: ['SET', 'bare:__rand_int__', 'v'] },
  { name: 'Script', requests: 50_000, command: ['EVAL', "for i = 1, 8 do redis.call('HSET', KEYS[1], 'f' .. i, ARGV[1]) end return redis.call('DEL', KEYS[1])", '1', 'bare-hash:__rand_int__', 'v'] },
];

/** Paired per-round ratios reported for every pair of layouts that both have the figure. */
const RATIO_FIGURES = [
  'batchIngestCpuUsPerEvent',
  'singleIngestCpuUsPerEvent',
  'workerCpuUsPerDelivery',
  'batchRedisCpuUsPerJob',
  'singleRedisCpuUsPerJob',
  'deliveryRedisCpuUsPerDelivery',
  'deliveryRedisCpuNetUsPerDelivery',
  'batchRedisScriptUsPerJob',
  'singleRedisScriptUsPerJob',
  'deliveryRedisScriptUsPerDelivery',
  'batchRedisReadsPerJob',
  'singleRedisReadsPerJob',
  'deliveryRedisReadsPerDelivery',
  ...BARE.map((b) => `bare${b.name}RedisCpuUsPerCommand`),
  'batchEventsPerS',
  'singleEventsPerS',
  'deliveriesPerS',
];

/**
 * Herald on Redis Clusters of `ctx.opts.clusterPrimaries` primaries beside the harness's one Redis,
 * `ctx.opts.runs` rounds alternating every layout. Three destinations (see {@link chooseDestinations}),
 * every event routed to all three, so an event is three jobs, one per destination slot. Per round
 * and layout: batch ingest (100 events a request, 10 connections) and single-event ingest (50
 * connections) with only ingest running, then one worker process draining `drainEvents` × 3; on one
 * Redis and on the 1-primary cluster also {@link BARE}. Redis CPU comes from each redis-server's /proc
 * time: summed over a layout's shards per job (idle shards included), and per shard serving a
 * destination per job it holds.
 *
 * The ratio cluster<N> ÷ cluster1 is what the number of shards costs (the client's code path is the
 * same); cluster1 ÷ single is what cluster mode costs, Herald's cluster write path and the server's
 * own bookkeeping together (the bare commands tell the latter apart).
 *
 * The primaries are started like the harness's Redis (on the infrastructure CPU): on a 2-core machine
 * they share one core, so the rates here are not a cluster's throughput; the costs per shard are
 * (docs/performance.md, "Redis Cluster"). Figures are `<layout>.<figure>` (per shard:
 * `….shard<i>`), `ratio.<a>/<b>.<figure>` (paired by round) and `spread.<layout>.<figure>` (largest ÷
 * smallest shard serving a destination).
 */
export async function clusterScenario(ctx: Ctx): Promise<ScenarioResult> {
  const one = ctx.redis;
  const clusters: BenchCluster[] = [];
  try {
    for (const n of ctx.opts.clusterPrimaries) clusters.push(await startCluster(ctx, n));
    const hasOne = clusters.some((c) => c.primaries.length === 1);
    const chosen = await chooseDestinations(clusters, 3);
    const names = chosen.map((c) => c.name);
    const placement = Object.fromEntries(clusters.map((c) => [`cluster${c.primaries.length}`, chosen.map((d) => ({ ...d, shard: c.shardOf(d.slot) }))]));
    ctx.log(`cluster: destinations ${chosen.map((d) => `${d.name} (slot ${d.slot})`).join(', ')}; shards: ${clusters.map((c) => `${c.primaries.length} primaries → ${chosen.map((d) => c.shardOf(d.slot)).join('/')}`).join(', ')}`);
    const dests: BenchDestination[] = names.map((n) => ({ name: n, spec: { url: ctx.receiver.url(n), concurrency: ctx.opts.concurrency, timeout: '10s' } }));

    const layouts: Layout[] = [
      {
        name: 'single',
        shards: [one],
        destinationsOn: [dests.length],
        herald: ctx.herald,
        async reset(d) {
          await flush(one.client);
          await publishTo(one.client, d);
        },
      },
      ...clusters.map(
        (c): Layout => ({
          name: `cluster${c.primaries.length}`,
          shards: c.primaries,
          destinationsOn: c.primaries.map((_, i) => chosen.filter((d) => c.shardOf(d.slot) === i).length),
          herald: { ...ctx.herald, clusterNodes: c.primaries.map((p) => `127.0.0.1:${p.port}`).join(',') },
          async reset(d) {
            await Promise.all(c.primaries.map((p) => flush(p.client)));
            await publishTo(c.client, d);
          },
        }),
      ),
    ];

    // What each redis-server burns with no load (serverCron; on a cluster also the cluster bus): the
    // other layouts' servers stay up while one is measured, so it is checked, not assumed away.
    const idleS = 3;
    const all = layouts.flatMap((l) => l.shards.map((s, i) => ({ label: l.shards.length > 1 ? `${l.name}.shard${i}` : l.name, s })));
    const idle0 = all.map(({ s }) => s.proc.cpuSeconds());
    await sleep(idleS * 1000);
    const idleCpuPerS = new Map(all.map(({ s }, i) => [s.port, (s.proc.cpuSeconds() - idle0[i]!) / idleS]));

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

    /** Redis CPU over `cpuS` (by shard): per operation summed over all shards, and per shard serving destinations per operation it holds. */
    const pushRedis = (l: Layout, key: string, unit: string, cpuS: number[], perDestination: number) => {
      push(`${l.name}.${key}`, `${unit}, all shards`, (sum(cpuS) / (perDestination * dests.length)) * 1e6);
      if (l.shards.length === 1) return;
      l.shards.forEach((_, i) => {
        if (l.destinationsOn[i]! > 0) push(`${l.name}.${key}.shard${i}`, unit, (cpuS[i]! / (perDestination * l.destinationsOn[i]!)) * 1e6);
      });
    };

    /** What Redis did for `ops` operations since `io0` and the last RESETSTAT, summed over the shards: script time, read events, bytes in and out. */
    const pushServer = async (l: Layout, key: string, per: string, ops: number, io0: { reads: number; inBytes: number; outBytes: number }) => {
      const io = await layoutIo(l);
      const stats = await layoutCommandStats(l);
      commands[`${l.name}.${key}Per${per}`] = perOperation(stats, ops, 8);
      // Wall-clock time (Redis times commands by the clock): a server preempted mid-script counts the wait too.
      push(`${l.name}.${key}RedisScriptUsPer${per}`, `µs/${per.toLowerCase()} running scripts, wall clock (INFO commandstats), all shards`, scriptUsec(stats) / ops);
      push(`${l.name}.${key}RedisReadsPer${per}`, `read events/${per.toLowerCase()} (INFO stats), all shards`, (io.reads - io0.reads) / ops);
      push(`${l.name}.${key}RedisBytesInPer${per}`, `bytes/${per.toLowerCase()} from clients, all shards`, (io.inBytes - io0.inBytes) / ops);
      push(`${l.name}.${key}RedisBytesOutPer${per}`, `bytes/${per.toLowerCase()} to clients, all shards`, (io.outBytes - io0.outBytes) / ops);
    };

    const ingestRound = async (l: Layout) => {
      await l.reset(dests);
      const ingest = await startIngest(l.herald, 'sut', `ingest-${l.name}`);
      try {
        for (const [kind, script, connections, perRequest] of [['batch', batch, 10, 100], ['single', single, 50, 1]] as const) {
          const url = `${ingest.url}/ingest${kind === 'batch' ? '/batch' : ''}`;
          await wrk(url, script, { connections, durationS: warmupS });
          await l.reset(dests);
          await Promise.all(l.shards.map((s) => s.client.config('RESETSTAT')));
          const io0 = await layoutIo(l);
          const cpu0 = ingest.cpuSeconds();
          const shard0 = l.shards.map((s) => s.proc.cpuSeconds());
          const r = await wrk(url, script, { connections, durationS });
          errors += r.errors.status + r.errors.timeout + r.errors.connect + r.errors.read;
          const events = r.okPerS * perRequest * r.durationS;
          push(`${l.name}.${kind}EventsPerS`, 'events/s', r.okPerS * perRequest);
          push(`${l.name}.${kind}IngestCpuUsPerEvent`, 'µs CPU/event', ((ingest.cpuSeconds() - cpu0) / events) * 1e6);
          // Every event is one job per destination.
          pushRedis(l, `${kind}RedisCpuUsPerJob`, 'µs Redis CPU/job', l.shards.map((s, i) => s.proc.cpuSeconds() - shard0[i]!), events);
          await pushServer(l, kind, 'Job', events * dests.length, io0);
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
      const io0 = await layoutIo(l);
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
        push(`${l.name}.deliveriesPerS`, 'deliveries/s', names.reduce((total, n) => total + rateBetween(st[n]!.series, drainEvents), 0));
        const cpuS = l.shards.map((s, i) => s.proc.cpuSeconds() - shard0[i]!);
        pushRedis(l, 'deliveryRedisCpuUsPerDelivery', 'µs Redis CPU/delivery', cpuS, drainEvents);
        const netS = sum(cpuS) - sum(l.shards.map((s) => idleCpuPerS.get(s.port)! * windowS));
        push(`${l.name}.deliveryRedisCpuNetUsPerDelivery`, 'µs Redis CPU/delivery, all shards, idle CPU subtracted', (netS / deliveries) * 1e6);
        await pushServer(l, 'delivery', 'Delivery', deliveries, io0);
      } finally {
        await worker.stop();
      }
    };

    const bareRound = async (l: Layout) => {
      const s = l.shards[0]!;
      await flush(s.client);
      for (const b of BARE) {
        const cpu0 = s.proc.cpuSeconds();
        await run('infra', 'redis-benchmark', ['-h', '127.0.0.1', '-p', String(s.port), '-c', '50', '-P', '16', '-r', '1000000', '-n', String(b.requests), '-q', ...b.command], { timeoutMs: 120_000 });
        push(`${l.name}.bare${b.name}RedisCpuUsPerCommand`, 'µs Redis CPU/command (redis-benchmark, no Herald)', ((s.proc.cpuSeconds() - cpu0) / b.requests) * 1e6);
      }
    };

    for (let round = 0; round < ctx.opts.runs; round++) {
      for (const l of round % 2 === 0 ? layouts : [...layouts].reverse()) {
        const load = machineLoad();
        ctx.log(`cluster: round ${round + 1}/${ctx.opts.runs}, ${l.name} (cpu pressure ${load.cpuPressure}%)`);
        push('cpuPressureByLayoutRound', '% (PSI some avg10, at the start of each layout in each round)', load.cpuPressure);
        await ingestRound(l);
        await deliveryRound(l);
        if (hasOne && (l.name === 'single' || l.name === 'cluster1')) await bareRound(l);
      }
    }

    const figures: ScenarioResult['figures'] = {};
    for (const [k, v] of Object.entries(values)) figures[k] = figure(v, units[k]!);
    // cluster1 ÷ single: cluster mode's cost; clusterN ÷ cluster1: the shards' (and clusterN ÷ single,
    // the two together); each size ÷ the next smaller one past 1, e.g. 6 ÷ 3, where an event touches as many servers.
    const sizes = clusters.map((c) => c.primaries.length);
    const pairs = sizes.flatMap((n, i): Array<[string, string]> => {
      const prev = sizes[i - 1];
      return [
        ...(hasOne && n !== 1 ? [[`cluster${n}`, 'cluster1'] as [string, string]] : []),
        [`cluster${n}`, 'single'],
        ...(prev !== undefined && prev !== 1 ? [[`cluster${n}`, `cluster${prev}`] as [string, string]] : []),
      ];
    });
    for (const [a, b] of pairs) {
      for (const k of RATIO_FIGURES) {
        const va = values[`${a}.${k}`];
        const vb = values[`${b}.${k}`];
        if (va && vb) figures[`ratio.${a}/${b}.${k}`] = figure(va.map((v, i) => v / vb[i]!), `× (${a} ÷ ${b}, paired by round)`);
      }
    }
    for (const l of layouts) {
      const serving = l.shards.map((_, i) => i).filter((i) => l.destinationsOn[i]! > 0);
      if (serving.length < 2) continue;
      for (const k of ['batchRedisCpuUsPerJob', 'singleRedisCpuUsPerJob', 'deliveryRedisCpuUsPerDelivery']) {
        const perShard = serving.map((i) => values[`${l.name}.${k}.shard${i}`]!);
        figures[`spread.${l.name}.${k}`] = figure(perShard[0]!.map((_, r) => Math.max(...perShard.map((s) => s[r]!)) / Math.min(...perShard.map((s) => s[r]!))), '× (largest ÷ smallest shard serving a destination)');
      }
    }
    const idleCpuPct = Object.fromEntries(all.map(({ label, s }) => [label, Number((idleCpuPerS.get(s.port)! * 100).toFixed(2))]));
    return { figures, details: { errors, destinations: chosen, placement, idleCpuPct, redisCommandsSummedOverShards: commands } };
  } finally {
    for (const c of clusters) await c.close();
  }
}
