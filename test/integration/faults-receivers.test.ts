/**
 * Fault injection at the receiving end: receivers that hang, trickle, redirect towards the cloud
 * metadata service, answer with huge bodies, or say 410 / 429 / Retry-After. Each is handled as
 * docs/delivery.md specifies, and none can hold a worker or its memory.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisServer } from '../support/redis.js';
import { startHerald, type HeraldUnderTest } from '../support/herald.js';
import { useHerald } from '../support/herald-fixture.js';
import { always, startReceiver, type Behaviour, type Receiver } from '../support/receiver.js';
import { startHostileReceiver, type HostileReceiver, type Hostility } from '../support/hostile-receiver.js';
import { metricValue, processEnv, rssBytes, startWorkerProcess, type RunningHerald } from '../support/fleet.js';
import { waitFor } from '../support/wait.js';
import { DeadLetters } from '../../src/dead-letters/dead-letters.js';
import { EventStore } from '../../src/event-store/event-store.js';
import { openDeliveryQueue } from '../../src/queue/delivery-queue.js';

const fx = useHerald();
const { closers, receiver } = fx;
let redis: RedisServer;
let herald: HeraldUnderTest;
beforeAll(() => {
  ({ redis, herald } = fx);
});

async function hostile(b: (n: number) => Hostility): Promise<HostileReceiver> {
  const r = await startHostileReceiver(b);
  closers.push(() => r.close());
  return r;
}

function deadLetters(destination: string): DeadLetters {
  const q = openDeliveryQueue(herald.redis, herald.rt.keys, destination);
  closers.push(() => q.close());
  return new DeadLetters(q, new EventStore(herald.redis, herald.rt.keys));
}

/** Each test routes by its own event type, so destinations of other tests never see its events. */
async function send(type: string, payload: unknown = 'x'): Promise<string> {
  const res = await herald.post({ userID: 'u', payload, type });
  expect(res.status).toBe(202);
  return res.body.id as string;
}

describe('receivers that do not answer in time', () => {
  it('a hanging receiver (spec.timeout 1s) is abandoned after 1 s and the event retried, without holding the only worker slot', async () => {
    const r = await receiver((n) => (n === 0 ? 'hang' : { status: 200 }));
    await herald.publish('hang', { url: r.url, timeout: '1s', concurrency: 1, filter: { types: ['hang'] }, retry: { initialDelay: '50ms', maxDelay: '200ms' } });
    const first = await send('hang', 1);
    const second = await send('hang', 2);
    await waitFor(() => r.delivered().length === 2, { what: 'both events delivered', timeoutMs: 10_000 });
    expect(new Set(r.delivered().map((x) => x.headers['webhook-id']))).toEqual(new Set([first, second]));
    // The hung attempt was given up as a timeout (the receiver would have held it for ever). No gap
    // between arrivals is asserted: on a loaded machine the first arrival is itself recorded late.
    expect(herald.logs.find((l) => l.msg === 'Delivery failed; will retry' && l.eventId === r.received[0]!.headers['webhook-id'])).toMatchObject({ destination: 'hang', attempt: 1, error: expect.stringMatching(/^timeout/) });
    expect(r.received).toHaveLength(3);
  });

  it.each([
    { name: 'trickle-body', what: 'a body trickled one byte every 100 ms', h: { kind: 'trickle-body', intervalMs: 100 } as Hostility },
    { name: 'trickle-headers', what: 'headers trickled one byte every 100 ms', h: { kind: 'trickle-headers', intervalMs: 100 } as Hostility },
  ])('$what cannot stretch an attempt past spec.timeout: each attempt ends as a timeout after ~1 s and is retried', async ({ name, h }) => {
    const r = await hostile(() => h);
    await herald.publish(name, { url: r.url, timeout: '1s', filter: { types: [name] }, retry: { maxAttempts: 2, initialDelay: '50ms', maxDelay: '100ms' } });
    const id = await send(name);
    const dlq = deadLetters(name);
    await waitFor(async () => (await dlq.count()) === 1, { what: 'the dead letter after two timed-out attempts', timeoutMs: 10_000 });
    const detail = await dlq.show(id);
    expect(detail?.history).toHaveLength(2);
    for (const attempt of detail!.history) {
      expect(attempt.error).toMatch(/^timeout/);
      expect(attempt.durationMs).toBeGreaterThanOrEqual(950);
    }
    expect(r.requests).toHaveLength(2);
    // The receiver's connection was dropped at the deadline, long before it could finish trickling
    // (the head is ~70 bytes, the body 100,000: at one byte per 100 ms, 7 s and hours).
    await waitFor(() => r.requests.every((q) => q.endedAt !== undefined), { what: 'both connections closed' });
    for (const q of r.requests) {
      expect(q.completed).toBe(false);
      expect(q.bytesWritten).toBeLessThan(60);
    }
  });
});

describe('redirects', () => {
  it('a 302 to the cloud metadata address is a permanent failure and is not followed; nor is a 307 to another host', async () => {
    const canary = await receiver(() => ({ status: 200 }));
    const r = await receiver((n) =>
      n === 0
        ? { status: 302, headers: { location: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/' } }
        : { status: 307, headers: { location: `${canary.url}/stolen` } },
    );
    await herald.publish('redirect', { url: r.url, filter: { types: ['redirect'] }, retry: { initialDelay: '50ms', maxDelay: '100ms' } });
    const toMetadata = await send('redirect', 1);
    const dlq = deadLetters('redirect');
    await waitFor(async () => (await dlq.count()) === 1, { what: 'the first dead letter' });
    const toCanary = await send('redirect', 2);
    await waitFor(async () => (await dlq.count()) === 2, { what: 'the second dead letter' });

    for (const [id, status] of [[toMetadata, 302], [toCanary, 307]] as const) {
      const detail = await dlq.show(id);
      expect(detail?.history).toEqual([expect.objectContaining({ attempt: 1, status, error: expect.stringContaining('redirects are not followed') })]);
    }
    // One request each, no retry, and nothing reached the Location.
    expect(r.received).toHaveLength(2);
    expect(canary.received).toHaveLength(0);
    expect(herald.logs.some((l) => JSON.stringify(l).includes('169.254.169.254') && l.msg !== 'Delivery dead-lettered')).toBe(false);
  });
});

describe('status codes with a meaning', () => {
  it('410 Gone dead-letters at once and disables the destination: later events wait instead of being sent', async () => {
    const r = await receiver(always(410));
    await herald.publish('gone', { url: r.url, filter: { types: ['gone'] }, retry: { initialDelay: '50ms', maxDelay: '100ms' } });
    const id = await send('gone', 1);
    const dlq = deadLetters('gone');
    await waitFor(async () => (await dlq.count()) === 1, { what: 'the dead letter' });
    expect((await dlq.show(id))?.history).toEqual([expect.objectContaining({ status: 410 })]);
    const q = openDeliveryQueue(herald.redis, herald.rt.keys, 'gone');
    closers.push(() => q.close());
    await waitFor(() => q.isPaused(), { what: 'the destination to be paused' });
    // A second destination for the same events shows when workers have moved on to event 2.
    const witness = await receiver(() => ({ status: 200 }));
    await herald.publish('gone-witness', { url: witness.url, filter: { types: ['gone'] } });
    const later = await send('gone', 2);
    await waitFor(() => witness.delivered().some((x) => x.headers['webhook-id'] === later), { what: 'the witness to get event 2' });
    expect(['waiting', 'paused']).toContain(await q.getJobState(later));
    expect(r.received).toHaveLength(1);
  });

  it('429 without Retry-After, or with one that is nonsense, is retried on the schedule', async () => {
    const r = await receiver((n) => (n === 0 ? { status: 429 } : n === 1 ? { status: 429, headers: { 'retry-after': 'soon' } } : { status: 200 }));
    await herald.publish('throttle', { url: r.url, filter: { types: ['throttle'] }, retry: { initialDelay: '50ms', maxDelay: '100ms' } });
    const id = await send('throttle');
    await waitFor(() => r.delivered().length === 1, { what: 'delivery on the third attempt' });
    expect(r.received.map((x) => x.headers['webhook-id'])).toEqual([id, id, id]);
    // The worker's own decision: each retry on the schedule (at most maxDelay), no default 429 pause.
    const delays = herald.logs.filter((l) => l.msg === 'Delivery failed; will retry' && l.eventId === id).map((l) => l.retryInMs as number);
    expect(delays).toHaveLength(2);
    for (const d of delays) expect(d).toBeLessThanOrEqual(100);
  });

  it('503 with Retry-After as an HTTP date is honoured: the retry waits until then', async () => {
    let retryAt = 0;
    const r = await receiver((n) => {
      if (n > 0) return { status: 200 };
      retryAt = Math.ceil((Date.now() + 2_000) / 1000) * 1000;
      return { status: 503, headers: { 'retry-after': new Date(retryAt).toUTCString() } };
    });
    await herald.publish('retry-date', { url: r.url, filter: { types: ['retry-date'] }, retry: { initialDelay: '10ms', maxDelay: '10s' } });
    await send('retry-date');
    await waitFor(() => r.delivered().length === 1, { what: 'the retry after the date', timeoutMs: 10_000 });
    expect(r.received[1]!.at).toBeGreaterThanOrEqual(retryAt - 100);
    // The worker scheduled the retry for that date, decided after the first answer arrived.
    const [delay] = herald.logs.filter((l) => l.msg === 'Delivery failed; will retry' && l.destination === 'retry-date').map((l) => l.retryInMs as number);
    expect(delay).toBeGreaterThan(0);
    expect(delay).toBeLessThanOrEqual(retryAt - r.received[0]!.at);
  });

  it('a Retry-After beyond maxDelay is capped at maxDelay', async () => {
    const r = await receiver((n) => (n === 0 ? { status: 429, headers: { 'retry-after': '3600' } } : { status: 200 }));
    await herald.publish('retry-cap', { url: r.url, filter: { types: ['retry-cap'] }, retry: { initialDelay: '10ms', maxDelay: '1s' } });
    await send('retry-cap');
    await waitFor(() => r.delivered().length === 1, { what: 'the retry after maxDelay, not after an hour', timeoutMs: 10_000 });
    const gap = r.received[1]!.at - r.received[0]!.at;
    expect(gap).toBeGreaterThanOrEqual(900);
    // The worker's own decision: maxDelay (1 s), not the hour the receiver asked for.
    const [delay] = herald.logs.filter((l) => l.msg === 'Delivery failed; will retry' && l.destination === 'retry-cap').map((l) => l.retryInMs as number);
    expect(delay).toBe(1_000);
  });
});

describe('huge response bodies', () => {
  let worker: RunningHerald | undefined;
  afterAll(async () => worker?.kill());

  it('five concurrent 50 MB answers complete as deliveries without the worker buffering them (RSS stays bounded)', async ({ annotate }) => {
    const HUGE = 50 * 1024 * 1024;
    const r = await hostile((n) => (n === 0 ? { kind: 'ok' } : { kind: 'huge-body', bytes: HUGE }));
    // Its own key prefix and no in-process workers: only the worker process delivers, so its RSS tells.
    const solo = await startHerald({ redisUrl: redis.url, withWorkers: false });
    closers.push(() => solo.close());
    await solo.publish('huge', { url: r.url, concurrency: 5, retry: { initialDelay: '50ms', maxDelay: '100ms' } });
    worker = await startWorkerProcess('huge', processEnv(redis.url, solo.config.HERALD_REDIS_PREFIX));
    const send = async (payload: unknown) => expect((await solo.post({ userID: 'u', payload })).status).toBe(202);
    // Warm up (connection pool, JIT) with a plain delivery, then take the baseline.
    await send('warm-up');
    await waitFor(() => r.requests[0]?.completed, { what: 'the warm-up delivery' });
    const baseline = rssBytes(worker.pid);
    let peak = baseline;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, rssBytes(worker!.pid));
      } catch {
        // the process is gone; the assertions below will say so
      }
    }, 20);
    try {
      for (let i = 0; i < 5; i++) await send(i);
      await waitFor(() => r.requests.length === 6 && r.requests.every((q) => q.endedAt !== undefined), { what: 'five huge answers', timeoutMs: 30_000 });
      const metrics = await waitFor(async () => {
        const text = await (await fetch(`${worker!.url}/metrics`)).text();
        return metricValue(text, 'herald_deliveries_total', { destination: 'huge', outcome: 'success' }) >= 6 ? text : undefined;
      }, { what: 'six successful deliveries in the worker metrics' });
      expect(metricValue(metrics, 'herald_deliveries_total', { destination: 'huge', outcome: 'retry' })).toBe(0);
    } finally {
      clearInterval(sampler);
    }
    const growth = peak - baseline;
    const sent = r.requests.slice(1).map((q) => q.bytesWritten);
    const summary = `huge bodies: worker RSS ${Math.round(baseline / 2 ** 20)} MiB → peak ${Math.round(peak / 2 ** 20)} MiB; the receiver got to write at most ${Math.round(Math.max(...sent) / 2 ** 20)} of 50 MiB per answer`;
    console.log(summary);
    await annotate(summary);
    // Buffering even one answer would add 50 MiB, all five 250 MiB; what stays below is allocator and GC noise.
    expect(growth).toBeLessThan(45 * 2 ** 20);
    expect(r.requests.slice(1).every((q) => !q.completed)).toBe(true);
    expect(r.requests.slice(1).every((q) => q.bytesWritten < HUGE)).toBe(true);
    expect(worker.dead()).toBe(false);
  }, 180_000);
});
