import type { Ctx, ScenarioResult } from './context.js';
import { prefill, PREFIX, startIngest, startWorker } from './herald.js';
import { sleep, waitUntil } from './procs.js';
import { keyCensus, memory, queueDepth, type MemoryInfo } from './redis.js';
import { dest, resetWith } from './scenarios.js';
import { figure } from './stats.js';

const DESTS = ['b1', 'b2', 'b3', 'b4', 'b5'];

/** MEMORY USAGE of one job hash and one event body, with their fields, to show where the bytes go. */
async function sampleSizes(ctx: Ctx): Promise<Record<string, unknown>> {
  const r = ctx.redis.client;
  const [, jobKeys] = await r.scan('0', 'MATCH', `${PREFIX}:{d:b1}:deliveries:evt_*`, 'COUNT', 1000);
  const [, bodyKeys] = await r.scan('0', 'MATCH', `${PREFIX}:{e:*`, 'COUNT', 1000);
  const job = jobKeys[0];
  const body = bodyKeys[0];
  const waitLen = await r.llen(`${PREFIX}:{d:b1}:deliveries:wait`);
  return {
    jobKey: job,
    jobBytes: job ? await r.call('MEMORY', 'USAGE', job, 'SAMPLES', '0') : undefined,
    jobFields: job ? await r.hgetall(job) : undefined,
    bodyKey: body,
    bodyBytes: body ? await r.call('MEMORY', 'USAGE', body, 'SAMPLES', '0') : undefined,
    bodyLength: body ? await r.hstrlen(body, 'b') : undefined,
    waitListBytesPerEntry: waitLen ? Number(await r.call('MEMORY', 'USAGE', `${PREFIX}:{d:b1}:deliveries:wait`, 'SAMPLES', '0')) / waitLen : undefined,
  };
}

async function settled(ctx: Ctx): Promise<MemoryInfo> {
  await sleep(1_000);
  return memory(ctx.redis.client);
}

/**
 * A backlog of `backlogEvents` events queued for 5 destinations (no worker running): Redis memory
 * per queued event per destination, then the drain rate of one worker process serving all 5, and
 * whether memory and keys return to the baseline afterwards.
 */
export async function backlogScenario(ctx: Ctx): Promise<ScenarioResult> {
  const N = ctx.opts.backlogEvents;
  const perEventDest: number[] = [];
  const perEventDestDataset: number[] = [];
  const fill: number[] = [];
  const drain: number[] = [];
  const residual: number[] = [];
  const streams: number[] = [];
  const runs: Array<Record<string, unknown>> = [];
  for (let i = 0; i < ctx.opts.backlogRuns; i++) {
    await resetWith(ctx, DESTS.map((d) => dest(ctx, d)));
    await ctx.receiver.reset();
    const ingest = await startIngest(ctx.herald, 'sut', 'ingest-backlog');
    const base = await settled(ctx);
    const baseKeys = await keyCensus(ctx.redis.client, PREFIX);
    ctx.log(`  backlog: ingesting ${N} events × ${DESTS.length} destinations`);
    const f = await prefill(ingest.url, N, ctx.opts.payloadBytes, ctx.herald.apiKey);
    await ingest.stop();
    const full = await settled(ctx);
    const fullKeys = await keyCensus(ctx.redis.client, PREFIX);
    const sample = await sampleSizes(ctx);
    ctx.log(`  backlog: ${((full.usedMemory - base.usedMemory) / 2 ** 20).toFixed(0)} MiB for ${N * DESTS.length} deliveries; draining`);
    const worker = await startWorker(ctx.herald, DESTS, 'sut', 'worker-backlog');
    let drainRate = NaN;
    try {
      for (const d of DESTS) await ctx.receiver.waitFor(d, N, Math.max(120_000, ((N * DESTS.length) / 300) * 1000));
      const st = await ctx.receiver.stats();
      const first = Math.min(...DESTS.map((d) => st[d]!.series[0]![0]));
      const last = Math.max(...DESTS.map((d) => st[d]!.series.find(([, c]) => c >= N)![0]));
      drainRate = (N * DESTS.length) / ((last - first) / 1000);
      await waitUntil('empty queues', async () => (await Promise.all(DESTS.map((d) => queueDepth(ctx.redis.client, PREFIX, d)))).every((n) => n === 0), 30_000);
    } finally {
      await worker.stop();
    }
    const after = await settled(ctx);
    const afterKeys = await keyCensus(ctx.redis.client, PREFIX);
    const eventStreamLengths = await Promise.all(DESTS.map((d) => ctx.redis.client.xlen(`${PREFIX}:{d:${d}}:deliveries:events`)));
    // BullMQ's per-queue event streams are capped (opts.maxLenEvents), so they are accounted apart from leaks.
    const streamBytes = (await Promise.all(DESTS.map((d) => ctx.redis.client.call('MEMORY', 'USAGE', `${PREFIX}:{d:${d}}:deliveries:events`, 'SAMPLES', '0')))).reduce((s: number, v) => s + Number(v ?? 0), 0);
    const maxLenEvents = await ctx.redis.client.hget(`${PREFIX}:{d:b1}:deliveries:meta`, 'opts.maxLenEvents');
    const delta = full.usedMemory - base.usedMemory;
    perEventDest.push(delta / (N * DESTS.length));
    perEventDestDataset.push((full.usedMemoryDataset - base.usedMemoryDataset) / (N * DESTS.length));
    fill.push(f.eventsPerS);
    drain.push(drainRate);
    residual.push(after.usedMemory - base.usedMemory);
    streams.push(streamBytes);
    runs.push({ base, full, after, baseKeys, fullKeys, afterKeys, sample, eventStreamLengths, maxLenEvents });
  }
  const last = runs[runs.length - 1] as { afterKeys: Record<string, number> } | undefined;
  const leaked = Object.entries(last?.afterKeys ?? {})
    .filter(([k]) => k === 'event-body' || k.startsWith('job'))
    .reduce((n, [, v]) => n + v, 0);
  return {
    figures: {
      bytesPerEventDestination: figure(perEventDest, 'bytes'),
      datasetBytesPerEventDestination: figure(perEventDestDataset, 'bytes'),
      fillEventsPerS: figure(fill, 'events/s'),
      drainDeliveriesPerS: figure(drain, 'deliveries/s'),
      residualBytes: figure(residual, 'bytes'),
      residualStreamBytes: figure(streams, 'bytes'),
      residualExStreamsBytes: figure(residual.map((r, i) => r - streams[i]!), 'bytes'),
      leakedKeys: figure([leaked], 'keys'),
    },
    details: { events: N, destinations: DESTS.length, payloadBytes: ctx.opts.payloadBytes, runs },
  };
}
