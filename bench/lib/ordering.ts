import type { Ctx, ScenarioResult } from './context.js';
import { authHeader, batchJson, eventJson, prefill, startIngest, startWorker } from './herald.js';
import { commandStats, perOperation } from './redis.js';
import { dest, resetWith } from './scenarios.js';
import { figure, rateBetween } from './stats.js';
import { countingPostScript, postScript, wrk } from './wrk.js';

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
 * What the ingest scenario sends: batches whose keys are `busy` (events pending) or `idle` (none), or
 * `single` events one a request, each a new key, as most producers send.
 */
type Keying = 'busy' | 'idle' | 'single';

/** Placeholder for an idle key, replaced per event by wrk (countingPostScript). */
const NEW_KEY = 'KKKKKKKK';

/** How each keying is sent: where, how many connections, and events per request. */
const SENDS: Record<Keying, { path: string; connections: number; perRequest: number }> = {
  busy: { path: '/ingest/batch', connections: 10, perRequest: 100 },
  idle: { path: '/ingest/batch', connections: 10, perRequest: 100 },
  single: { path: '/ingest', connections: 50, perRequest: 1 },
};

/**
 * Ingest at one destination (no workers), keyed events, with and without `spec.ordering`: what
 * ordering costs ingest, for the two cases of the append and the usual way of sending.
 * - **busy keys** (batches of 100, 10 connections): every request carries the same 100 keys
 *   (`o0`…`o99`), so after the first request each event waits behind its key's head (one `RPUSH`);
 * - **idle keys** (batches of 100): every event a key never seen before (wrk numbers them), so each
 *   one is its key's head (`RPUSH` of a new list, its `since` entry and the `LPUSH` to `wait`). Batches
 *   at this rate keep Redis busy, so this is Redis' cost per new key;
 * - **single events** (50 connections, one event a request), each a new key: what a producer that
 *   sends events one by one sees, where ingest's own CPU, not Redis, sets the pace.
 * The six measurements alternate within a round, so load that comes and goes hits them alike, and
 * the on/off ratios are paired per round.
 */
export async function orderingIngestScenario(ctx: Ctx): Promise<ScenarioResult> {
  const auth = authHeader(ctx.herald.apiKey);
  const scripts: Record<Keying, string> = {
    busy: await postScript(ctx.tmpDir, 'ingest-batch-keyed', batchJson(ctx.opts.payloadBytes, 100, { count: 1000, first: 0 }), auth),
    idle: await countingPostScript(ctx.tmpDir, 'ingest-batch-new-keys', `[${Array.from({ length: 100 }, () => eventJson(ctx.opts.payloadBytes, NEW_KEY)).join(',')}]`, NEW_KEY, auth),
    single: await countingPostScript(ctx.tmpDir, 'ingest-single-new-keys', eventJson(ctx.opts.payloadBytes, NEW_KEY), NEW_KEY, auth),
  };
  type Series = Record<Keying, Record<'off' | 'on', number[]>>;
  const series = (): Series => ({ busy: { off: [], on: [] }, idle: { off: [], on: [] }, single: { off: [], on: [] } });
  const rates = series();
  const cpu = series();
  const redisCpu = series();
  for (let i = 0; i < ctx.opts.runs; i++) {
    for (const keying of ['busy', 'idle', 'single'] as const) {
      const send = SENDS[keying];
      for (const mode of ['off', 'on'] as const) {
        const dests = [dest(ctx, 'ordi', 0, mode === 'on' ? { ordering: { key: '/k' } } : {})];
        await resetWith(ctx, dests);
        const ingest = await startIngest(ctx.herald, 'sut', `ingest-ordering-${keying}-${mode}`);
        try {
          await wrk(`${ingest.url}${send.path}`, scripts[keying], { connections: send.connections, durationS: ctx.opts.warmupS });
          await resetWith(ctx, dests);
          const cpu0 = ingest.cpuSeconds();
          const rcpu0 = ctx.redis.proc.cpuSeconds();
          const r = await wrk(`${ingest.url}${send.path}`, scripts[keying], { connections: send.connections, durationS: ctx.opts.durationS });
          const events = Math.max(1, r.okPerS * send.perRequest * r.durationS);
          rates[keying][mode].push(r.okPerS * send.perRequest);
          cpu[keying][mode].push(((ingest.cpuSeconds() - cpu0) / events) * 1e6);
          redisCpu[keying][mode].push(((ctx.redis.proc.cpuSeconds() - rcpu0) / events) * 1e6);
        } finally {
          await ingest.stop();
        }
      }
    }
  }
  const onOff = (k: Keying) => rates[k].on.map((on, i) => on / rates[k].off[i]!);
  return {
    figures: {
      batchEventsPerSOff: figure(rates.busy.off, 'events/s'),
      batchEventsPerSOn: figure(rates.busy.on, 'events/s'),
      busyKeysOnOffRatio: figure(onOff('busy'), 'on ÷ off, events/s, same round'),
      cpuUsPerEventOff: figure(cpu.busy.off, 'µs CPU/event'),
      cpuUsPerEventOn: figure(cpu.busy.on, 'µs CPU/event'),
      redisCpuUsPerEventOff: figure(redisCpu.busy.off, 'µs Redis CPU/event'),
      redisCpuUsPerEventOn: figure(redisCpu.busy.on, 'µs Redis CPU/event'),
      idleKeysEventsPerSOff: figure(rates.idle.off, 'events/s'),
      idleKeysEventsPerSOn: figure(rates.idle.on, 'events/s'),
      idleKeysOnOffRatio: figure(onOff('idle'), 'on ÷ off, events/s, same round'),
      idleKeysCpuUsPerEventOff: figure(cpu.idle.off, 'µs CPU/event'),
      idleKeysCpuUsPerEventOn: figure(cpu.idle.on, 'µs CPU/event'),
      idleKeysRedisCpuUsPerEventOff: figure(redisCpu.idle.off, 'µs Redis CPU/event'),
      idleKeysRedisCpuUsPerEventOn: figure(redisCpu.idle.on, 'µs Redis CPU/event'),
      singleEventsPerSOff: figure(rates.single.off, 'events/s'),
      singleEventsPerSOn: figure(rates.single.on, 'events/s'),
      singleOnOffRatio: figure(onOff('single'), 'on ÷ off, events/s, same round'),
      singleCpuUsPerEventOff: figure(cpu.single.off, 'µs CPU/event'),
      singleCpuUsPerEventOn: figure(cpu.single.on, 'µs CPU/event'),
      singleRedisCpuUsPerEventOff: figure(redisCpu.single.off, 'µs Redis CPU/event'),
      singleRedisCpuUsPerEventOn: figure(redisCpu.single.on, 'µs Redis CPU/event'),
    },
  };
}
