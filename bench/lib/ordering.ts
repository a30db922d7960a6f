import type { Ctx, ScenarioResult } from './context.js';
import { authHeader, batchJson, prefill, startIngest, startWorker } from './herald.js';
import { commandStats, perOperation } from './redis.js';
import { dest, resetWith } from './scenarios.js';
import { figure, rateBetween } from './stats.js';
import { postScript, wrk } from './wrk.js';

/** Events of the hot-key drain: one key is one delivery per round trip, so fewer suffice. */
const HOT_KEY_EVENTS = 1_000;

type Variant = 'unordered' | 'keys1000' | 'hotKey';

/**
 * Ordered delivery (spec.ordering, ADR 0013) against unordered, same run: a keyed backlog of
 * `drainEvents` (payload.k cycling over 1,000 keys, accepted in order) drained by one `herald worker`
 * to the no-op receiver, once without `spec.ordering`, once with `ordering.key: /k`; then one hot key
 * (every event the same key), whose rate is one delivery per receiver round trip plus the advance.
 */
export async function orderingDeliveryScenario(ctx: Ctx): Promise<ScenarioResult> {
  const rates: Record<Variant, number[]> = { unordered: [], keys1000: [], hotKey: [] };
  const cpu: Record<Variant, number[]> = { unordered: [], keys1000: [], hotKey: [] };
  let perDelivery: unknown;
  for (let i = 0; i < ctx.opts.runs; i++) {
    for (const variant of ['unordered', 'keys1000', 'hotKey'] as const) {
      const N = variant === 'hotKey' ? Math.min(HOT_KEY_EVENTS, ctx.opts.drainEvents) : ctx.opts.drainEvents;
      await resetWith(ctx, [dest(ctx, 'ord', 0, variant === 'unordered' ? {} : { ordering: { key: '/k' } })]);
      const ingest = await startIngest(ctx.herald, 'infra', 'ingest-prefill');
      await prefill(ingest.url, N, ctx.opts.payloadBytes, ctx.herald.apiKey, variant === 'hotKey' ? 1 : 1000);
      await ingest.stop();
      await ctx.receiver.reset();
      await ctx.redis.client.config('RESETSTAT');
      const worker = await startWorker(ctx.herald, ['ord'], 'sut', `worker-ordering-${variant}`);
      const cpu0 = worker.cpuSeconds();
      try {
        await ctx.receiver.waitFor('ord', N, 600_000);
        cpu[variant].push(((worker.cpuSeconds() - cpu0) / N) * 1e6);
        rates[variant].push(rateBetween((await ctx.receiver.stats()).ord!.series, N));
        if (variant === 'keys1000') perDelivery = perOperation(await commandStats(ctx.redis.client), N, 12);
      } finally {
        await worker.stop();
      }
    }
  }
  return {
    figures: {
      unorderedPerS: figure(rates.unordered, 'deliveries/s'),
      keys1000PerS: figure(rates.keys1000, 'deliveries/s'),
      hotKeyPerS: figure(rates.hotKey, 'deliveries/s'),
      unorderedCpuUsPerDelivery: figure(cpu.unordered, 'µs CPU/delivery'),
      keys1000CpuUsPerDelivery: figure(cpu.keys1000, 'µs CPU/delivery'),
      hotKeyCpuUsPerDelivery: figure(cpu.hotKey, 'µs CPU/delivery'),
    },
    details: { redisCommandsPerOrderedDelivery: [perDelivery] },
  };
}

/**
 * Batch ingest (100 events a request, 10 connections, no workers) at one destination, keyed events
 * (100 keys per batch), with and without `spec.ordering`: what ordering costs ingest.
 */
export async function orderingIngestScenario(ctx: Ctx): Promise<ScenarioResult> {
  const body = await postScript(ctx.tmpDir, 'ingest-batch-keyed', batchJson(ctx.opts.payloadBytes, 100, { count: 1000, first: 0 }), authHeader(ctx.herald.apiKey));
  const rates: Record<'off' | 'on', number[]> = { off: [], on: [] };
  const cpu: Record<'off' | 'on', number[]> = { off: [], on: [] };
  const redisCpu: Record<'off' | 'on', number[]> = { off: [], on: [] };
  for (let i = 0; i < ctx.opts.runs; i++) {
    // Alternated, so load that comes and goes on the machine hits both alike.
    for (const mode of ['off', 'on'] as const) {
      const dests = [dest(ctx, 'ordi', 0, mode === 'on' ? { ordering: { key: '/k' } } : {})];
      await resetWith(ctx, dests);
      const ingest = await startIngest(ctx.herald, 'sut', `ingest-ordering-${mode}`);
      try {
        await wrk(`${ingest.url}/ingest/batch`, body, { connections: 10, durationS: ctx.opts.warmupS });
        await resetWith(ctx, dests);
        const cpu0 = ingest.cpuSeconds();
        const rcpu0 = ctx.redis.proc.cpuSeconds();
        const r = await wrk(`${ingest.url}/ingest/batch`, body, { connections: 10, durationS: ctx.opts.durationS });
        const events = Math.max(1, r.okPerS * 100 * r.durationS);
        rates[mode].push(r.okPerS * 100);
        cpu[mode].push(((ingest.cpuSeconds() - cpu0) / events) * 1e6);
        redisCpu[mode].push(((ctx.redis.proc.cpuSeconds() - rcpu0) / events) * 1e6);
      } finally {
        await ingest.stop();
      }
    }
  }
  return {
    figures: {
      batchEventsPerSOff: figure(rates.off, 'events/s'),
      batchEventsPerSOn: figure(rates.on, 'events/s'),
      cpuUsPerEventOff: figure(cpu.off, 'µs CPU/event'),
      cpuUsPerEventOn: figure(cpu.on, 'µs CPU/event'),
      redisCpuUsPerEventOff: figure(redisCpu.off, 'µs Redis CPU/event'),
      redisCpuUsPerEventOn: figure(redisCpu.on, 'µs Redis CPU/event'),
    },
  };
}
