import type { Ctx, ScenarioResult } from './context.js';
import { authHeader, batchJson, eventJson, prefill, publish, startIngest, startWorker, type BenchDestination, type HeraldProc } from './herald.js';
import { machineBusySeconds, onAllCpus, sleep, waitUntil, writeCallsOf } from './procs.js';
import { commandStats, flush, perOperation, queueDepth } from './redis.js';
import { figure, rateBetween } from './stats.js';
import { pacedScript, postScript, wrk, type WrkResult } from './wrk.js';

/** A destination delivering to the receiver, failing `failPct` % of the time. */
export function dest(ctx: Ctx, name: string, failPct = 0, extra: Record<string, unknown> = {}, latency = false): BenchDestination {
  return { name, spec: { url: ctx.receiver.url(name, failPct, latency), concurrency: ctx.opts.concurrency, timeout: '10s', ...extra } };
}

/** Empties Redis and publishes `dests` (Herald processes are started afterwards, so they route from the first request). */
export async function resetWith(ctx: Ctx, dests: BenchDestination[]): Promise<void> {
  await flush(ctx.redis.client);
  await publish(ctx.redis.client, dests);
}

const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

/**
 * Ingest throughput with `fanout` destinations (no workers running, so ingest has its core alone):
 * single events with 50 connections, then batches of 100 with 10 connections. Redis is emptied
 * before every run so the backlog does not grow across runs.
 */
export async function ingestScenario(ctx: Ctx, fanout: number, kinds: Array<'single' | 'batch'> = ['single', 'batch']): Promise<ScenarioResult> {
  const dests = names('f', fanout).map((n) => dest(ctx, n));
  await resetWith(ctx, dests);
  const ingest = await startIngest(ctx.herald, 'sut', `ingest-fanout${fanout}-${kinds.join('+')}`);
  const url = `${ingest.url}/ingest`;
  const single = await postScript(ctx.tmpDir, 'ingest-single', eventJson(ctx.opts.payloadBytes), authHeader(ctx.herald.apiKey));
  const batch = await postScript(ctx.tmpDir, 'ingest-batch', batchJson(ctx.opts.payloadBytes, 100), authHeader(ctx.herald.apiKey));
  let lastStats: Awaited<ReturnType<typeof commandStats>> = {};
  const measure = async (u: string, script: string, connections: number): Promise<Array<WrkResult & { cpuS: number; redisCpuS: number }>> => {
    await wrk(u, script, { connections, durationS: ctx.opts.warmupS });
    const rs = [];
    for (let i = 0; i < ctx.opts.runs; i++) {
      await resetWith(ctx, dests);
      await ctx.redis.client.config('RESETSTAT');
      const cpu0 = ingest.cpuSeconds();
      const rcpu0 = ctx.redis.proc.cpuSeconds();
      const r = await wrk(u, script, { connections, durationS: ctx.opts.durationS });
      rs.push({ ...r, cpuS: ingest.cpuSeconds() - cpu0, redisCpuS: ctx.redis.proc.cpuSeconds() - rcpu0 });
      lastStats = await commandStats(ctx.redis.client);
    }
    return rs;
  };
  try {
    const figures: ScenarioResult['figures'] = {};
    const redisPerEvent: Record<string, unknown> = {};
    let errors = 0;
    const count = (rs: WrkResult[]) => (errors += rs.reduce((n, r) => n + r.errors.status + r.errors.timeout + r.errors.connect + r.errors.read, 0));
    if (kinds.includes('single')) {
      const s = await measure(url, single, 50);
      count(s);
      const last = s[s.length - 1]!;
      redisPerEvent.single = perOperation(lastStats, Math.max(1, last.requests - last.errors.status));
      Object.assign(figures, {
        singleEventsPerS: figure(s.map((r) => r.okPerS), 'events/s'),
        singleJobsPerS: figure(s.map((r) => r.okPerS * fanout), 'jobs/s'),
        singleP50Ms: figure(s.map((r) => r.latencyMs.p50), 'ms'),
        singleP99Ms: figure(s.map((r) => r.latencyMs.p99), 'ms'),
        singleCpuUsPerEvent: figure(s.map((r) => (r.cpuS / (r.okPerS * r.durationS)) * 1e6), 'µs CPU/event'),
        singleRedisCpuUsPerEvent: figure(s.map((r) => (r.redisCpuS / (r.okPerS * r.durationS)) * 1e6), 'µs Redis CPU/event'),
      });
    }
    if (kinds.includes('batch')) {
      const b = await measure(`${url}/batch`, batch, 10);
      count(b);
      const last = b[b.length - 1]!;
      redisPerEvent.batch = perOperation(lastStats, Math.max(1, (last.requests - last.errors.status) * 100));
      Object.assign(figures, {
        batchEventsPerS: figure(b.map((r) => r.okPerS * 100), 'events/s'),
        batchJobsPerS: figure(b.map((r) => r.okPerS * 100 * fanout), 'jobs/s'),
        batchP99Ms: figure(b.map((r) => r.latencyMs.p99), 'ms'),
        batchCpuUsPerEvent: figure(b.map((r) => (r.cpuS / (r.okPerS * 100 * r.durationS)) * 1e6), 'µs CPU/event'),
        batchRedisCpuUsPerJob: figure(b.map((r) => (r.redisCpuS / (r.okPerS * 100 * fanout * r.durationS)) * 1e6), 'µs Redis CPU/job'),
      });
    }
    return { figures, details: { errors, [`redisCommandsPerEvent`]: [redisPerEvent] } };
  } finally {
    await ingest.stop();
  }
}

/**
 * Drains a prefilled backlog of `drainEvents` through `herald worker` to the no-op receiver and
 * measures deliveries/s between 10 % and 90 % of the backlog, as seen by the receiver.
 */
export async function deliveryScenario(ctx: Ctx): Promise<ScenarioResult> {
  const N = ctx.opts.drainEvents;
  const rates: number[] = [];
  const cpu: number[] = [];
  const redisCpu: number[] = [];
  const perDelivery: unknown[] = [];
  for (let i = 0; i < ctx.opts.runs; i++) {
    await resetWith(ctx, [dest(ctx, 'sat')]);
    const ingest = await startIngest(ctx.herald, 'infra', 'ingest-prefill');
    await prefill(ingest.url, N, ctx.opts.payloadBytes, ctx.herald.apiKey);
    await ingest.stop();
    await ctx.receiver.reset();
    await ctx.redis.client.config('RESETSTAT');
    const rcpu0 = ctx.redis.proc.cpuSeconds();
    const worker = await startWorker(ctx.herald, ['sat'], 'sut', 'worker-saturation');
    // From /healthz on: the start-up before it (about half a second of CPU) is not delivery work, and
    // over a short drain it would add ~100 µs to every delivery.
    const cpu0 = worker.cpuSeconds();
    try {
      await ctx.receiver.waitFor('sat', N, 600_000);
      const cpuS = worker.cpuSeconds() - cpu0;
      redisCpu.push(((ctx.redis.proc.cpuSeconds() - rcpu0) / N) * 1e6);
      perDelivery.push(perOperation(await commandStats(ctx.redis.client), N, 12));
      const st = (await ctx.receiver.stats()).sat!;
      rates.push(rateBetween(st.series, N));
      cpu.push((cpuS / N) * 1e6);
      await waitUntil('empty queue', async () => (await queueDepth(ctx.redis.client, 'bench', 'sat')) === 0, 10_000);
    } finally {
      await worker.stop();
    }
  }
  return { figures: { deliveriesPerS: figure(rates, 'deliveries/s'), cpuUsPerDelivery: figure(cpu, 'µs CPU/delivery'), redisCpuUsPerDelivery: figure(redisCpu, 'µs Redis CPU/delivery') }, details: { redisCommandsPerDelivery: perDelivery } };
}

/**
 * End-to-end latency at a fixed fraction of delivery saturation: ingest and the worker both run, wrk
 * sends single events at about `rate`/s with Poisson spacing over 100 connections, and the receiver
 * measures producer send → delivery for every event.
 *
 * Every process may use both cores here. The rate is half of what one worker process delivers with a
 * core to itself, but end to end each event also costs single-event ingest, Redis, the receiver and
 * wrk: about 1.7 of the machine's 2 cores at `f8c6760`'s figures. Pinned as the other scenarios are,
 * ingest shared CPU 1 with all of the infrastructure, which then saturated while CPU 0 had room, and
 * the latency measured was that one core's queue (docs/performance.md).
 */
export async function latencyScenario(ctx: Ctx, rate: number): Promise<ScenarioResult> {
  // Open-loop at `rate`; the connections only bound how many requests can be outstanding at once.
  const connections = 100;
  const script = await pacedScript(ctx.tmpDir, 'paced', rate, 'x'.repeat(Math.max(0, ctx.opts.payloadBytes - 40)), authHeader(ctx.herald.apiKey));
  await resetWith(ctx, [dest(ctx, 'lat', 0, {}, true)]);
  let ingest: HeraldProc | undefined;
  let worker: HeraldProc | undefined;
  const p50: number[] = [];
  const p95: number[] = [];
  const p99: number[] = [];
  const max: number[] = [];
  const accept50: number[] = [];
  const accept99: number[] = [];
  const achieved: number[] = [];
  // CPU per delivered event of each process, and how busy the whole machine was (wrk included).
  const cpu: Record<'ingest' | 'worker' | 'redis' | 'receiver', number[]> = { ingest: [], worker: [], redis: [], receiver: [] };
  const machineBusy: number[] = [];
  const writes: Record<'ingest' | 'worker', number[]> = { ingest: [], worker: [] };
  let redisPerEvent: unknown;
  await onAllCpus([ctx.redis.proc, ctx.receiver.proc].map((p) => ({ pid: p.pid, placement: 'infra' as const })), async () => {
    try {
      ingest = await startIngest(ctx.herald, 'any', 'ingest-latency');
      worker = await startWorker(ctx.herald, ['lat'], 'any', 'worker-latency');
      const url = `${ingest.url}/ingest`;
      for (let i = -1; i < ctx.opts.runs; i++) {
        await ctx.receiver.reset();
        const procs = { ingest, worker, redis: ctx.redis.proc, receiver: ctx.receiver.proc };
        const cpu0 = Object.fromEntries(Object.entries(procs).map(([k, p]) => [k, p.cpuSeconds()]));
        const writes0 = { ingest: writeCallsOf(ingest.pid), worker: writeCallsOf(worker.pid) };
        await ctx.redis.client.config('RESETSTAT');
        const busy0 = machineBusySeconds();
        const t0 = performance.now();
        const r = await wrk(url, script, { connections, durationS: i < 0 ? Math.max(ctx.opts.warmupS, 2) : ctx.opts.durationS, placement: 'any' });
        const sent = r.requests - r.errors.status - r.errors.timeout;
        await ctx.receiver.waitFor('lat', sent, 60_000);
        const wallS = (performance.now() - t0) / 1000;
        const busyS = machineBusySeconds() - busy0;
        for (const [k, p] of Object.entries(procs)) cpu[k as keyof typeof cpu].push(((p.cpuSeconds() - cpu0[k]!) / Math.max(1, sent)) * 1e6);
        for (const k of ['ingest', 'worker'] as const) writes[k].push((writeCallsOf(procs[k].pid) - writes0[k]) / Math.max(1, sent));
        machineBusy.push((busyS / wallS) * 100);
        redisPerEvent = perOperation(await commandStats(ctx.redis.client), Math.max(1, sent), 12);
        await sleep(100);
        if (i < 0) continue;
        const st = (await ctx.receiver.stats()).lat!;
        p50.push(st.lat!.p50);
        p95.push(st.lat!.p95);
        p99.push(st.lat!.p99);
        max.push(st.lat!.max);
        accept50.push(st.acceptLat!.p50);
        accept99.push(st.acceptLat!.p99);
        achieved.push(sent / r.durationS);
      }
    } finally {
      await worker?.stop();
      await ingest?.stop();
    }
  });
  return {
    figures: {
      targetRate: figure([rate], 'events/s'),
      achievedRate: figure(achieved, 'events/s'),
      p50Ms: figure(p50, 'ms'),
      p95Ms: figure(p95, 'ms'),
      p99Ms: figure(p99, 'ms'),
      maxMs: figure(max, 'ms'),
      acceptToDeliveryP50Ms: figure(accept50, 'ms'),
      acceptToDeliveryP99Ms: figure(accept99, 'ms'),
      ingestCpuUsPerEvent: figure(cpu.ingest.slice(1), 'µs CPU/event'),
      workerCpuUsPerEvent: figure(cpu.worker.slice(1), 'µs CPU/event'),
      redisCpuUsPerEvent: figure(cpu.redis.slice(1), 'µs CPU/event'),
      receiverCpuUsPerEvent: figure(cpu.receiver.slice(1), 'µs CPU/event'),
      ingestWriteCallsPerEvent: figure(writes.ingest.slice(1), 'write syscalls/event'),
      workerWriteCallsPerEvent: figure(writes.worker.slice(1), 'write syscalls/event'),
      machineBusyPct: figure(machineBusy.slice(1), '% of one core (all cores: 100 × cores)'),
    },
    details: { redisCommandsPerDelivery: [redisPerEvent] },
  };
}
