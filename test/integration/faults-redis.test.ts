/**
 * Fault injection on Redis: restarted under load, and configured to evict. Ingest and workers run as
 * real `herald` processes; nothing is restarted but Redis. Redis at maxmemory is in
 * faults-redis-full.test.ts; the SIGKILL (crash) variant, which measures what AOF `everysec` loses,
 * is in test/chaos/redis-crash.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { Receiver } from '../support/receiver.js';
import { deliveredIds, pending, useProcessFixture } from '../support/process-fixture.js';
import { startLoad, startOpenLoad } from '../support/load.js';
import { runHerald } from '../support/cli.js';
import { waitFor } from '../support/wait.js';
import { openDeliveryQueue } from '../../src/queue/delivery-queue.js';

const fx = useProcessFixture();
const { env, ingestProcess, workerProcess, receiver } = fx;
const seqOf = (r: Receiver) => new Set(r.delivered().map((x) => Number(x.json?.payload?.seq)));

describe('Redis restarted under load (SIGTERM: a clean shutdown that flushes the AOF)', () => {
  it('answers only 202 or 503 throughout, 503 while Redis is away, and delivers every acknowledged event; nothing restarts', async ({ annotate }) => {
    const r = await receiver(5);
    await fx.control.publish('restart', { url: r.url, concurrency: 8, retry: { initialDelay: '200ms', maxDelay: '1s' } });
    const ingest = await ingestProcess();
    const worker = await workerProcess('restart');

    const load = startLoad({ url: ingest.url, concurrency: 4, paceMs: 10 });
    await waitFor(() => load.accepted().length >= 200, { what: '200 events accepted before the restart' });
    const beforeStop = load.accepted().map((a) => a.id!);

    const stoppedAt = Date.now();
    await fx.redis.stop();
    const down = Date.now();
    // While Redis is away: 503s with Retry-After, readiness off, processes alive. Requests whose write
    // was in flight at the stop are answered only once Redis is back and says whether it was applied,
    // and they may hold every lane of `load`; the probe sends new requests whatever those wait for.
    const probe = startOpenLoad({ url: ingest.url, everyMs: 10, firstSeq: 1_000_000 });
    await waitFor(() => probe.results.filter((x) => x.sentAt > down).length >= 50, { what: '50 answers during the outage' });
    probe.stop();
    const readyDuring = await fetch(`${ingest.url}/readyz`);
    const workerReadyDuring = await fetch(`${worker.url}/readyz`);
    const startingAt = Date.now();
    await fx.redis.start();
    const up = Date.now();

    await waitFor(() => load.results.some((x) => x.sentAt > up && x.status === 202), { what: 'ingest to accept again', timeoutMs: 20_000 });
    await waitFor(() => load.results.filter((x) => x.sentAt > up && x.status === 202).length >= 100, { what: '100 events accepted after the restart' });
    load.stop();
    await Promise.all([load.done, probe.done]);

    const answers = [...load.results, ...probe.results];
    const accepted = answers.filter((x) => x.status === 202);
    await waitFor(() => accepted.every((a) => deliveredIds(r).has(a.id!)), { what: 'every acknowledged event delivered', timeoutMs: 30_000 });

    const statuses = { ...load.byStatus() };
    for (const [status, n] of Object.entries(probe.byStatus())) statuses[Number(status)] = (statuses[Number(status)] ?? 0) + n;
    const during = answers.filter((x) => x.sentAt > down && x.answeredAt < startingAt);
    const refusedButDelivered = answers.filter((x) => x.status === 503 && seqOf(r).has(x.seq)).length;
    const summary = `restart: ${JSON.stringify(statuses)} answers; ${during.length} during the outage; ${beforeStop.length} acknowledged before it, all delivered; ${refusedButDelivered} answered 503 yet delivered; redis stop took ${down - stoppedAt} ms`;
    console.log(summary);
    await annotate(summary);

    expect(Object.keys(statuses).sort()).toEqual(['202', '503']);
    expect(during.length).toBeGreaterThanOrEqual(50);
    expect(during.every((x) => x.status === 503 && x.code === 'store_unavailable' && x.retryAfter === '1')).toBe(true);
    expect(readyDuring.status).toBe(503);
    expect(workerReadyDuring.status).toBe(503);
    for (const id of beforeStop) expect(deliveredIds(r).has(id)).toBe(true);
    // Same processes as before the restart: they recovered on their own.
    expect(ingest.dead()).toBe(false);
    expect(worker.dead()).toBe(false);
    expect((await fetch(`${ingest.url}/readyz`)).status).toBe(200);
    expect((await fetch(`${worker.url}/readyz`)).status).toBe(200);
    const q = openDeliveryQueue(fx.control.redis, fx.control.rt.keys, 'restart');
    await waitFor(async () => {
      const c = await q.getJobCounts('waiting', 'active', 'delayed', 'failed');
      return pending(c) === 0;
    }, { what: 'the queue to drain' });
    expect((await q.getJobCounts('failed')).failed).toBe(0);
    await q.close();
    await fx.control.unpublish('restart');
  });
});

describe('Redis that may evict keys', () => {
  it('running ingest and workers turn unready (alive, not restarted) and ready again when noeviction is back', async () => {
    const r = await receiver();
    await fx.control.publish('evict', { url: r.url });
    const ingest = await ingestProcess();
    const worker = await workerProcess('evict');
    await fx.control.redis.config('SET', 'maxmemory-policy', 'allkeys-lru');
    try {
      for (const p of [ingest, worker]) {
        const res = await fetch(`${p.url}/readyz`);
        expect(res.status).toBe(503);
        expect(JSON.stringify(await res.json())).toContain('noeviction');
        expect((await fetch(`${p.url}/healthz`)).status).toBe(200);
      }
    } finally {
      await fx.control.redis.config('SET', 'maxmemory-policy', 'noeviction');
    }
    for (const p of [ingest, worker]) expect((await fetch(`${p.url}/readyz`)).status).toBe(200);
    expect(ingest.dead() || worker.dead()).toBe(false);
    await fx.control.unpublish('evict');
  });

  it('herald ingest refuses to start against an evicting Redis, saying how to fix it', async () => {
    await fx.control.redis.config('SET', 'maxmemory-policy', 'volatile-ttl');
    try {
      const { code, out } = await runHerald(['ingest'], { ...env({ HERALD_INGEST_AUTH: 'off' }), HERALD_HTTP_PORT: '0' });
      expect(code).toBe(1);
      expect(out).toContain('maxmemory-policy is "volatile-ttl"');
      expect(out).toContain('noeviction');
    } finally {
      await fx.control.redis.config('SET', 'maxmemory-policy', 'noeviction');
    }
  });
});
