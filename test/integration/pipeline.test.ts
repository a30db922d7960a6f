import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onCluster, startTestRedis, type TestRedis } from '../support/test-redis.js';
import type { RedisClient } from '../../src/redis/client.js';
import { always, failTimes, ok, startReceiver, type Receiver } from '../support/receiver.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp.js';
import { startHerald, type HeraldUnderTest } from '../support/herald.js';
import { waitFor } from '../support/wait.js';
import { DeadLetters } from '../../src/dead-letters/dead-letters.js';
import { EventStore } from '../../src/event-store/event-store.js';
import { openDeliveryQueue } from '../../src/queue/delivery-queue.js';
import { QUEUE_NAME } from '../../src/redis/keys.js';
import type { DeliveryJobData } from '../../src/queue/delivery-queue.js';

let redis: TestRedis;
let smtp: SmtpSink;
let herald: HeraldUnderTest<RedisClient>;
const receivers: Receiver[] = [];

async function receiver(b = ok): Promise<Receiver> {
  const r = await startReceiver(b);
  receivers.push(r);
  return r;
}

/** A retry policy measured in milliseconds, so failure paths finish quickly. */
const fast = { initialDelay: '50ms', maxDelay: '200ms', maxAttempts: 4 };

beforeAll(async () => {
  redis = await startTestRedis();
  smtp = await startSmtpSink();
  herald = await startHerald({ ...redis.target, smtpUrl: smtp.url });
});

afterAll(async () => {
  await herald?.close();
  await Promise.all(receivers.map((r) => r.close()));
  await smtp?.close();
  await redis?.close();
});

describe('ingest → delivery', () => {
  it('delivers a seed-format event to three destinations with the documented body and headers', async () => {
    const [a, b, c] = await Promise.all([receiver(), receiver(), receiver()]);
    await herald.publish('seed-a', { url: `${a.url}/hook` });
    await herald.publish('seed-b', { url: `${b.url}/hook`, headers: { 'x-team': 'billing' } });
    await herald.publish('seed-c', { url: `${c.url}/hook` });

    const res = await herald.post({ userID: 'sampleUser', payload: 'samplePayload' });
    expect(res.status).toBe(202);
    expect(res.body.id).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(res.body.destinations).toBeGreaterThanOrEqual(3);

    for (const r of [a, b, c]) {
      const got = await waitFor(() => r.received.find((x) => x.json?.id === res.body.id), { what: `delivery to ${r.url}` });
      expect(got.path).toBe('/hook');
      expect(got.json).toEqual({ id: res.body.id, type: 'event', timestamp: expect.any(String), userID: 'sampleUser', payload: 'samplePayload' });
      expect(Date.parse(got.json.timestamp)).not.toBeNaN();
      expect(got.headers['content-type']).toBe('application/json');
      expect(got.headers['webhook-id']).toBe(res.body.id);
      expect(Number(got.headers['webhook-timestamp'])).toBeGreaterThan(1_700_000_000);
      expect(got.headers['user-agent']).toBe('Herald/0.0.0-test');
    }
    expect(b.received[0]!.headers['x-team']).toBe('billing');
    await Promise.all(['seed-a', 'seed-b', 'seed-c'].map((n) => herald.unpublish(n)));
  });

  it('routes by event type with glob filters', async () => {
    const orders = await receiver();
    const all = await receiver();
    await herald.publish('route-orders', { url: orders.url, filter: { types: ['order.*'] } });
    await herald.publish('route-all', { url: all.url });

    const order = await herald.post({ userID: 'u1', payload: { n: 1 }, type: 'order.created' });
    const user = await herald.post({ userID: 'u1', payload: { n: 2 }, type: 'user.signup' });
    expect(order.status).toBe(202);
    expect(user.status).toBe(202);

    await waitFor(() => all.delivered().length === 2, { what: 'both events at the catch-all destination' });
    await waitFor(() => orders.delivered().length === 1, { what: 'the order event' });
    expect(orders.received.map((r) => r.json.type)).toEqual(['order.created']);
    await herald.unpublish('route-orders');
    await herald.unpublish('route-all');
  });

  it('retries a 503 and delivers on a later attempt with the same webhook-id', async () => {
    const r = await receiver(failTimes(2, 503));
    await herald.publish('flaky', { url: r.url, retry: fast });
    const res = await herald.post({ userID: 'u', payload: 1 });
    await waitFor(() => r.delivered().length === 1, { what: 'delivery after two failures' });
    expect(r.received).toHaveLength(3);
    expect(new Set(r.received.map((x) => x.headers['webhook-id']))).toEqual(new Set([res.body.id]));
    await herald.unpublish('flaky');
  });

  it('honours Retry-After from a 429 instead of retrying sooner', async () => {
    const r = await receiver((n) => (n === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 }));
    await herald.publish('throttled', { url: r.url, retry: { initialDelay: '10ms', maxDelay: '5s', maxAttempts: 3 } });
    await herald.post({ userID: 'u', payload: 1 });
    await waitFor(() => r.delivered().length === 1, { what: 'delivery after Retry-After' });
    const gap = r.received[1]!.at - r.received[0]!.at;
    // The schedule alone would retry within 10 ms; Retry-After: 1 holds it back about a second.
    expect(gap).toBeGreaterThanOrEqual(900);
    await herald.unpublish('throttled');
  });

  it('dead-letters a permanent 4xx at once, mails one digest, and replays it on demand', async () => {
    const r = await receiver(always(400));
    await herald.publish('partner', { url: r.url, retry: fast });
    const res = await herald.post({ userID: 'u', payload: { order: 42 } });

    const queue = openDeliveryQueue(herald.redis, herald.rt.keys, 'partner');
    const dlq = new DeadLetters(queue, new EventStore(herald.redis, herald.rt.keys));
    await waitFor(async () => (await dlq.count()) === 1, { what: 'the dead letter' });
    expect(r.received).toHaveLength(1); // a 400 is not retried
    const detail = await dlq.show(res.body.id);
    expect(detail?.history).toEqual([expect.objectContaining({ attempt: 1, status: 400, error: 'HTTP 400' })]);
    expect(detail?.body).toMatchObject({ id: res.body.id, payload: { order: 42 } });

    const mail = await waitFor(() => smtp.mails.find((m) => m.subject.includes('partner')), { what: 'the digest email' });
    expect(mail.to).toEqual(['ops@example.test']);
    expect(mail.subject).toBe('[Herald] partner: 1 event dead-lettered');
    expect(mail.text).toContain(res.body.id);
    expect(mail.text).toContain('First error: HTTP 400');
    expect(mail.text).toContain('herald dlq replay --destination partner');

    r.setBehaviour(ok);
    expect((await dlq.replay({}, { dryRun: true })).done).toBe(1);
    expect(await dlq.replay({}, { rate: 100 })).toEqual({ done: 1, total: 1, interrupted: false });
    await waitFor(() => r.delivered().length === 1, { what: 'the replayed delivery' });
    expect(r.delivered()[0]!.headers['webhook-id']).toBe(res.body.id);
    expect(await dlq.count()).toBe(0);
    const recovered = await waitFor(() => smtp.mails.find((m) => m.subject === '[Herald] partner: deliveries recovered'), { what: 'the recovery email' });
    expect(recovered.text).toContain('succeed again');
    expect(smtp.mails.filter((m) => m.subject.includes('partner: 1 event'))).toHaveLength(1);
    await queue.close();
    await herald.unpublish('partner');
  });

  it('dead-letters after maxAttempts with every attempt recorded; the job carries the body of an event for one destination', async () => {
    const r = await receiver(always(500));
    await herald.publish('down', { url: r.url, retry: { ...fast, maxAttempts: 3 } });
    const queue = openDeliveryQueue(herald.redis, herald.rt.keys, 'down');
    try {
      const res = await herald.post({ userID: 'u', payload: 'x' });
      expect(res.body.destinations).toBe(1);
      const dlq = new DeadLetters(queue, new EventStore(herald.redis, herald.rt.keys));
      await waitFor(async () => (await dlq.count()) === 1, { what: 'the dead letter' });
      expect(r.received).toHaveLength(3);
      expect(r.received.map((x) => x.json)).toEqual(Array(3).fill(expect.objectContaining({ id: res.body.id, payload: 'x' })));
      const detail = await dlq.show(res.body.id);
      expect(detail?.history.map((h) => h.attempt)).toEqual([1, 2, 3]);
      expect(detail?.reason).toContain('gave up after 3 attempts');
      expect(detail?.body).toMatchObject({ id: res.body.id, payload: 'x' });
      // Stored once, in the job: no body of its own to release.
      expect(await herald.redis.exists(herald.rt.keys.event(res.body.id))).toBe(0);
      expect((await dlq.purge({ id: res.body.id })).done).toBe(1);
      expect(await queue.getJob(res.body.id)).toBeUndefined();
    } finally {
      await queue.close();
      await herald.unpublish('down');
    }
  });

  // A Redis Cluster stores no shared body: every job carries its own (ADR 0015).
  it.skipIf(onCluster)('frees a shared body when one destination delivered and the other\'s dead letter is purged', async () => {
    const [good, bad] = await Promise.all([receiver(), receiver(always(400))]);
    await herald.publish('half-ok', { url: good.url });
    await herald.publish('half-down', { url: bad.url, retry: fast });
    const queue = openDeliveryQueue(herald.redis, herald.rt.keys, 'half-down');
    try {
      const res = await herald.post({ userID: 'u', payload: 'shared' });
      expect(res.body.destinations).toBe(2);
      const dlq = new DeadLetters(queue, new EventStore(herald.redis, herald.rt.keys));
      await waitFor(async () => good.delivered().length === 1 && (await dlq.count()) === 1, { what: 'one delivery and one dead letter' });
      expect(await herald.redis.exists(herald.rt.keys.event(res.body.id))).toBe(1);
      expect((await dlq.show(res.body.id))?.body).toMatchObject({ id: res.body.id, payload: 'shared' });
      expect((await dlq.purge({ id: res.body.id })).done).toBe(1);
      expect(await herald.redis.exists(herald.rt.keys.event(res.body.id))).toBe(0);
    } finally {
      await queue.close();
      await herald.unpublish('half-ok');
      await herald.unpublish('half-down');
    }
  });

  it.skipIf(onCluster)('stores one body per event and deletes it once every destination delivered', async () => {
    const [a, b] = await Promise.all([receiver(), receiver()]);
    // Paused, so the stored layout can be read before any delivery releases it.
    await herald.publish('share-a', { url: a.url, paused: true });
    await herald.publish('share-b', { url: b.url, paused: true });
    const res = await herald.post({ userID: 'u', payload: 'x'.repeat(10_000) });
    expect(res.status).toBe(202);
    expect(res.body.destinations).toBe(2);
    const id = res.body.id as string;
    // One copy of the body, under the event; each destination's job holds only a reference to it.
    expect(await herald.redis.hget(herald.rt.keys.event(id), 'b')).toContain('x'.repeat(10_000));
    for (const d of ['share-a', 'share-b']) {
      const data = JSON.parse((await herald.redis.hget(`${herald.rt.keys.queuePrefix(d)}:${QUEUE_NAME}:${id}`, 'data'))!) as DeliveryJobData;
      expect(data).toMatchObject({ e: id });
      expect(data.b).toBeUndefined();
    }
    await herald.publish('share-a', { url: a.url });
    await herald.publish('share-b', { url: b.url });
    await waitFor(() => a.delivered().length === 1 && b.delivered().length === 1, { what: 'both deliveries' });
    expect(a.delivered()[0]!.body).toBe(b.delivered()[0]!.body);
    await waitFor(async () => (await herald.redis.exists(herald.rt.keys.event(res.body.id))) === 0, { what: 'the body to be released' });
    await herald.unpublish('share-a');
    await herald.unpublish('share-b');
  });
});

describe('idempotency', () => {
  it('returns the same id for the same Idempotency-Key and delivers once', async () => {
    const r = await receiver();
    await herald.publish('idem', { url: r.url });
    const body = { userID: 'u', payload: { amount: 10 } };
    const first = await herald.post(body, { 'idempotency-key': 'order-1' });
    const second = await herald.post(body, { 'idempotency-key': 'order-1' });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body.id).toBe(first.body.id);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    await waitFor(() => r.delivered().length === 1, { what: 'the delivery' });
    // A third copy still lands nowhere new, even after the first was delivered and its job removed.
    await herald.post(body, { 'idempotency-key': 'order-1' });
    const other = await herald.post(body, { 'idempotency-key': 'order-2' });
    await waitFor(() => r.delivered().length === 2, { what: 'the second key' });
    expect(r.delivered().map((x) => x.json.id)).toEqual([first.body.id, other.body.id]);
    await herald.unpublish('idem');
  });

  it('refuses the same key with a different body (422)', async () => {
    const a = await herald.post({ userID: 'u', payload: 1 }, { 'idempotency-key': 'k-conflict' });
    const b = await herald.post({ userID: 'u', payload: 2 }, { 'idempotency-key': 'k-conflict' });
    expect(a.status).toBe(202);
    expect(b.status).toBe(422);
    expect(b.body.error.code).toBe('idempotency_key_reused');
  });

  it('turns concurrent duplicates into a single event', async () => {
    const r = await receiver();
    await herald.publish('idem-race', { url: r.url });
    const results = await Promise.all(Array.from({ length: 10 }, () => herald.post({ userID: 'u', payload: 'race' }, { 'idempotency-key': 'race-1' })));
    expect(results.every((x) => x.status === 202)).toBe(true);
    expect(new Set(results.map((x) => x.body.id)).size).toBe(1);
    await waitFor(() => r.delivered().length >= 1, { what: 'the delivery' });
    // Give any duplicate a chance to show up, bounded by a second quiet period on the queue.
    await waitFor(async () => (await herald.redis.exists(`${herald.rt.keys.queuePrefix('idem-race')}:deliveries:wait`)) === 0, { what: 'an empty queue' });
    expect(r.delivered()).toHaveLength(1);
    await herald.unpublish('idem-race');
  });
});

describe('batch ingest', () => {
  it('accepts a JSON array and NDJSON, answering per event', async () => {
    const r = await receiver();
    await herald.publish('batch', { url: r.url });
    const arr = await herald.postRaw(JSON.stringify([{ userID: 'a', payload: 1 }, { userID: 'b', payload: 2 }]), {}, '/ingest/batch');
    expect(arr.status).toBe(202);
    expect(arr.body.accepted).toBe(2);
    expect(arr.body.results.map((x: { status: number }) => x.status)).toEqual([202, 202]);
    const nd = await herald.postRaw('{"userID":"c","payload":3}\n{"userID":5}\n', { 'content-type': 'application/x-ndjson' }, '/ingest/batch');
    expect(nd.status).toBe(207);
    expect(nd.body.results[0].status).toBe(202);
    expect(nd.body.results[1]).toMatchObject({ index: 1, status: 400, error: { code: 'invalid_event' } });
    await waitFor(() => r.delivered().length === 3, { what: 'three deliveries' });
    expect(r.delivered().map((x) => x.json.userID).sort()).toEqual(['a', 'b', 'c']);
    await herald.unpublish('batch');
  });
});
