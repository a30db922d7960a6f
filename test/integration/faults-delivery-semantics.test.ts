/**
 * What at-least-once delivery means for a receiver, pinned down: no ordering, and the window in
 * which an Idempotency-Key turns a client's retry into the same event. docs/guarantees.md cites these.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startHerald, type HeraldUnderTest } from '../support/herald.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { waitFor } from '../support/wait.js';

let redis: RedisServer;
let herald: HeraldUnderTest;
const closers: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  redis = await startRedis();
  herald = await startHerald({ redisUrl: redis.url });
});

afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => undefined);
  await herald?.close();
  await redis?.close();
});

async function receiver(b: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const r = await startReceiver(b);
  closers.push(() => r.close());
  return r;
}

describe('ordering', () => {
  it('is not kept within a destination: an event whose first attempt failed arrives after one accepted later', async () => {
    const r = await receiver((n) => (n === 0 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200 }));
    await herald.publish('order', { url: r.url, filter: { types: ['order'] }, retry: { initialDelay: '10ms', maxDelay: '5s' } });
    const first = await herald.post({ userID: 'u', payload: 1, type: 'order' });
    await waitFor(() => r.received.length === 1, { what: 'the failed first attempt' });
    const second = await herald.post({ userID: 'u', payload: 2, type: 'order' });
    await waitFor(() => r.delivered().length === 2, { what: 'both events delivered' });
    expect(r.delivered().map((x) => x.headers['webhook-id'])).toEqual([second.body.id, first.body.id]);
  });
});

describe('the Idempotency-Key window', () => {
  it('is 24 hours by default (HERALD_IDEMPOTENCY_TTL)', async () => {
    const res = await herald.post({ userID: 'u', payload: 'window' }, { 'idempotency-key': 'window-default' });
    expect(res.status).toBe(202);
    const ttl = await herald.redis.pttl(herald.rt.keys.idempotency('anonymous', 'window-default'));
    expect(ttl).toBeGreaterThan(24 * 3600_000 - 60_000);
    expect(ttl).toBeLessThanOrEqual(24 * 3600_000);
  });

  it('ends: after it, the same key and body are a new event with a new id, delivered again', async () => {
    const short = await startHerald({ redisUrl: redis.url, env: { HERALD_IDEMPOTENCY_TTL: '1s' } });
    closers.push(() => short.close());
    const r = await receiver(() => ({ status: 200 }));
    await short.publish('window', { url: r.url });
    const body = { userID: 'u', payload: { amount: 10 } };
    const first = await short.post(body, { 'idempotency-key': 'pay-1' });
    const replay = await short.post(body, { 'idempotency-key': 'pay-1' });
    expect(replay.body.id).toBe(first.body.id);
    await waitFor(async () => (await short.redis.exists(short.rt.keys.idempotency('anonymous', 'pay-1'))) === 0, { what: 'the key to expire', timeoutMs: 5_000 });
    const after = await short.post(body, { 'idempotency-key': 'pay-1' });
    expect(after.status).toBe(202);
    expect(after.body.id).not.toBe(first.body.id);
    await waitFor(() => r.delivered().length === 2, { what: 'two deliveries' });
    expect(r.delivered().map((x) => x.headers['webhook-id']).sort()).toEqual([first.body.id, after.body.id].sort());
  });
});
