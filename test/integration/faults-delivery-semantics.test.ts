/**
 * What at-least-once delivery means for a receiver, pinned down: no ordering, and the window in
 * which an Idempotency-Key turns a client's retry into the same event. docs/guarantees.md cites these.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { RedisServer } from '../support/redis.js';
import { startHerald, type HeraldUnderTest } from '../support/herald.js';
import { useHerald } from '../support/herald-fixture.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { waitFor } from '../support/wait.js';

const fx = useHerald();
const { closers, receiver } = fx;
let redis: RedisServer;
let herald: HeraldUnderTest;
beforeAll(() => {
  ({ redis, herald } = fx);
});

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

describe('an Idempotency-Key on a batch', () => {
  const batch = (items: unknown[], key: string) => herald.postRaw(JSON.stringify(items), { 'idempotency-key': key }, '/ingest/batch');

  it('is scoped to the batch: the same batch again gets the same ids and answers, and is delivered once', async () => {
    const r = await receiver(() => ({ status: 200 }));
    // Two destinations for "b.fan" (a shared body) and one for "b.one" (a job that carries it).
    await herald.publish('batch-a', { url: r.url, filter: { types: ['b.*'] } });
    await herald.publish('batch-b', { url: r.url, filter: { types: ['b.fan'] } });
    const items = [{ userID: 'u', payload: 1, type: 'b.fan' }, { userID: 42 }, { userID: 'u', payload: 3, type: 'b.one' }];
    const first = await batch(items, 'batch-key-1');
    expect(first.status).toBe(207);
    expect(first.body.results.map((x: { status: number }) => x.status)).toEqual([202, 400, 202]);
    const again = await batch(items, 'batch-key-1');
    expect(again.status).toBe(207);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const ids = [first.body.results[0].id, first.body.results[2].id];
    await waitFor(() => r.delivered().length >= 3, { what: 'three deliveries' });
    // A sentinel behind them at the same destinations: once it is in, a second copy would have been too.
    const sentinel = await herald.post({ userID: 'u', payload: 'sentinel', type: 'b.fan' });
    await waitFor(() => r.delivered().filter((x) => x.headers['webhook-id'] === sentinel.body.id).length === 2, { what: 'the sentinel' });
    const delivered = r.delivered().map((x) => x.headers['webhook-id']).filter((id) => ids.includes(id!));
    expect(delivered.sort()).toEqual([ids[0], ids[0], ids[1]].sort());
    await herald.unpublish('batch-a');
    await herald.unpublish('batch-b');
  });

  it('refuses the same key with another batch (422), and is apart from single events with that key', async () => {
    const first = await batch([{ userID: 'u', payload: 'a' }], 'batch-key-2');
    expect(first.status).toBe(202);
    const other = await batch([{ userID: 'u', payload: 'a' }, { userID: 'u', payload: 'b' }], 'batch-key-2');
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('idempotency_key_reused');
    const single = await herald.post({ userID: 'u', payload: 'a' }, { 'idempotency-key': 'batch-key-2' });
    expect(single.status).toBe(202);
    expect(single.body.id).not.toBe(first.body.results[0].id);
    const ttl = await herald.redis.pttl(herald.rt.keys.batchIdempotency('anonymous', 'batch-key-2'));
    expect(ttl).toBeGreaterThan(24 * 3600_000 - 60_000);
  });
});

describe('an event whose type no destination matches', () => {
  it('is answered 202 with destinations 0, stored nowhere, and counted in herald_ingest_events_unrouted_total', async () => {
    const unrouted = async () => Number(/^herald_ingest_events_unrouted_total (\d+)/m.exec(await (await fetch(`${herald.url}/metrics`)).text())?.[1] ?? NaN);
    const before = await unrouted();
    const single = await herald.post({ userID: 'u', payload: 1, type: 'nobody.listens' });
    expect(single.status).toBe(202);
    expect(single.body.destinations).toBe(0);
    const batch = await herald.postRaw(JSON.stringify([{ userID: 'u', payload: 2, type: 'nobody.listens' }, { userID: 'u', payload: 3, type: 'nobody.either' }]), {}, '/ingest/batch');
    expect(batch.status).toBe(202);
    expect(await herald.storedBody(single.body.id)).toBeUndefined();
    expect((await unrouted()) - before).toBe(3);
  });
});
