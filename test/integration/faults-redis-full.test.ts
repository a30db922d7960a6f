/**
 * Fault injection on Redis: full (maxmemory with noeviction) under load. Ingest and workers run as
 * real `herald` processes; nothing is restarted. Restarts and evicting policies are in
 * faults-redis.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { startRedis } from '../support/redis.js';
import { startHerald } from '../support/herald.js';
import { startReceiver } from '../support/receiver.js';
import { processEnv, startIngestProcess, startWorkerProcess } from '../support/fleet.js';
import { deliveredIds, pending, useProcessFixture } from '../support/process-fixture.js';
import { sendEvent, startLoad } from '../support/load.js';
import { waitFor } from '../support/wait.js';
import { openDeliveryQueue } from '../../src/queue/delivery-queue.js';

const fx = useProcessFixture();
const { ingestProcess, workerProcess, receiver, receivers, procs } = fx;

describe('Redis full (maxmemory, noeviction)', () => {
  const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await fx.control.redis.info('memory'))![1]);

  it('answers 503 (never 500) once Redis is full, loses nothing it acknowledged, and accepts again once Redis has room, without a restart', async ({ annotate }) => {
    let delayMs = 20;
    const r = await startReceiver(() => ({ status: 200, delayMs }));
    receivers.push(r);
    await fx.control.publish('full', { url: r.url, concurrency: 2, retry: { initialDelay: '200ms', maxDelay: '1s' } });
    const ingest = await ingestProcess();
    const worker = await workerProcess('full');
    await fx.control.redis.config('SET', 'maxmemory', String((await usedMemory()) + 1_500_000));
    try {
      // 2 KB events, faster than the receiver takes them: the backlog fills the 1.5 MB of headroom.
      const load = startLoad({ url: ingest.url, concurrency: 8, payload: (seq) => ({ seq, pad: 'x'.repeat(2_000) }) });
      await waitFor(() => load.results.filter((x) => x.status === 503).length >= 100, { what: '100 refusals from a full Redis', timeoutMs: 30_000 });
      load.stop();
      await load.done;
      delayMs = 0;
      const statuses = load.byStatus();
      const refused = load.results.filter((x) => x.status !== 202);
      expect(Object.keys(statuses).sort()).toEqual(['202', '503']);
      expect(refused.every((x) => x.code === 'store_unavailable' && x.retryAfter === '1')).toBe(true);

      // The operator gives Redis room (or the backlog drains): same processes, no other step.
      await fx.control.redis.config('SET', 'maxmemory', '0');
      const after = await waitFor(async () => {
        const res = await sendEvent(ingest.url, -1, { userID: 'u', payload: { seq: -1 } });
        return res.status === 202 ? res : undefined;
      }, { what: 'ingest to accept again', timeoutMs: 10_000 });
      const accepted = [...load.accepted(), after];
      await waitFor(() => accepted.every((a) => deliveredIds(r).has(a.id!)), { what: 'every acknowledged event delivered', timeoutMs: 45_000 });
      const q = openDeliveryQueue(fx.control.redis, fx.control.rt.keys, 'full');
      await waitFor(async () => {
        const c = await q.getJobCounts('waiting', 'active', 'delayed');
        return pending(c) === 0;
      }, { what: 'the backlog to drain', timeoutMs: 30_000 });
      const failed = (await q.getJobCounts('failed')).failed;
      await q.close();
      const orphans = (await fx.control.redis.keys(`${fx.control.config.HERALD_REDIS_PREFIX}:{e:*`)).length;
      const deliveries = r.delivered().length;
      const summary = `full: ${JSON.stringify(statuses)} answers, ${accepted.length} acknowledged, ${deliveries} deliveries (${deliveries - deliveredIds(r).size} duplicates), ${orphans} event bodies left behind by refused requests`;
      console.log(summary);
      await annotate(summary);
      expect(failed).toBe(0);
      expect(worker.dead()).toBe(false);
      expect(ingest.dead()).toBe(false);
    } finally {
      await fx.control.redis.config('SET', 'maxmemory', '0');
      await fx.control.unpublish('full');
    }
  });

  // Regression (was: orphaned bodies): ingest stores the body (MULTI) before queueing the delivery; when the
  // body write is what fills Redis, queueing fails with OOM, ingest answers 503 ("nothing was stored")
  // and the body stays in Redis for ever: no job references it and it has no TTL, so a full Redis gets
  // fuller with every refused event.
  it('an event refused with 503 leaves nothing behind in Redis, however full Redis is', async () => {
    const r = await receiver();
    await fx.control.publish('orphan', { url: r.url, paused: true });
    const bodies = async () => (await fx.control.redis.keys(`${fx.control.config.HERALD_REDIS_PREFIX}:{e:*`)).length;
    let refused = 0;
    let leftBehind = 0;
    try {
      // From "no room at all" up to "room for the event": somewhere in between the body fits and the delivery job does not.
      for (let gap = 0; gap <= 200_000; gap += 1_000) {
        const before = await bodies();
        await fx.control.redis.config('SET', 'maxmemory', String((await usedMemory()) + gap));
        const res = await fx.control.post({ userID: 'u', payload: 'x'.repeat(20_000) });
        await fx.control.redis.config('SET', 'maxmemory', '0');
        if (res.status === 202) break;
        expect(res.status).toBe(503);
        expect(res.body.error.message).toContain('nothing was stored');
        refused++;
        if ((await bodies()) > before) leftBehind++;
      }
    } finally {
      await fx.control.redis.config('SET', 'maxmemory', '0');
      await fx.control.unpublish('orphan');
    }
    expect(refused).toBeGreaterThan(0);
    expect(leftBehind).toBe(0);
  });

  // Regression (was: full Redis never drains): once Redis is at maxmemory, a successful delivery's bookkeeping
  // (stats MULTI with HINCRBY, the body release script, BullMQ's moveToFinished) is refused with OOM,
  // so the worker turns every 2xx into a failed attempt and sends the same event again ~1 s later. The
  // backlog never shrinks, Redis never gets room back by itself, ingest answers 503 until an operator
  // raises maxmemory, and receivers get a storm of duplicates.
  // Runs in `make test-chaos` only: with another test file hammering the second core, this
  // 1 MB-headroom scenario sometimes stays above the 90 % high-water mark after the drain (under
  // investigation; the failure message reports what fills Redis).
  it.runIf(process.env.HERALD_SUITE === 'chaos')('a full Redis drains by itself: workers keep delivering (once each) and ingest accepts again, with no manual step', async () => {
    // A Redis of its own, so what earlier tests left behind does not change how full it gets.
    const own = await startRedis();
    const ctl = await startHerald({ redisUrl: own.url, withWorkers: false });
    const ownEnv = processEnv(own.url, ctl.config.HERALD_REDIS_PREFIX);
    const r = await startReceiver(() => ({ status: 200 }));
    receivers.push(r);
    try {
      await ctl.publish('drain', { url: r.url, concurrency: 2, retry: { initialDelay: '200ms', maxDelay: '1s' } });
      const ingest = await startIngestProcess(ownEnv);
      procs.push(ingest);
      procs.push(await startWorkerProcess('drain', ownEnv));
      const used = Number(/used_memory:(\d+)/.exec(await ctl.redis.info('memory'))![1]);
      await ctl.redis.config('SET', 'maxmemory', String(used + 1_000_000));
      const load = startLoad({ url: ingest.url, concurrency: 8, payload: (seq) => ({ seq, pad: 'x'.repeat(2_000) }) });
      await waitFor(() => load.results.filter((x) => x.status === 503).length >= 100, { what: 'Redis to fill up', timeoutMs: 30_000 });
      load.stop();
      await load.done;
      const accepted = load.accepted();
      // No CONFIG SET, no restart: delivering the backlog frees its memory.
      await waitFor(() => accepted.every((a) => deliveredIds(r).has(a.id!)), { what: 'the backlog to be delivered', timeoutMs: 20_000 });
      const q = openDeliveryQueue(ctl.redis, ctl.rt.keys, 'drain');
      await waitFor(async () => {
        const c = await q.getJobCounts('waiting', 'active', 'delayed');
        return pending(c) === 0;
      }, { what: 'the queue to drain', timeoutMs: 8_000 });
      await q.close();
      await waitFor(async () => (await sendEvent(ingest.url, -1, { userID: 'u', payload: { seq: -1 } })).status === 202, { what: `ingest to accept again (${await memoryReport(ctl)})`, timeoutMs: 15_000 });
      expect(r.delivered().length - deliveredIds(r).size).toBeLessThanOrEqual(2);
    } finally {
      await ctl.close();
      await own.close();
    }
  });
});

/** What fills Redis, for the failure message: memory against maxmemory, and the keys that remain. */
async function memoryReport(h: { redis: import('ioredis').Redis }): Promise<string> {
  const info = await h.redis.info('memory');
  const pick = (k: string) => new RegExp(`\\b${k}:(\\d+)`).exec(info)?.[1];
  const keys = await h.redis.keys('*');
  const kinds = new Map<string, number>();
  for (const k of keys) {
    const kind = k.replace(/evt_[0-9a-f]+/, 'evt_*').replace(/:\d+$/, ':N');
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  return `used_memory ${pick('used_memory')} of maxmemory ${pick('maxmemory')}; keys: ${[...kinds].map(([k, n]) => `${k}×${n}`).join(', ')}`;
}
