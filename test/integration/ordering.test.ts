/**
 * Ordered delivery per key (spec.ordering, ADR 0013) on a real Redis with real receivers: order per
 * key under failures and slow answers with two worker pools, dead letters that continue or block,
 * keys that do not wait for each other, the concurrency bound, and events without a key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startHerald, type HeraldUnderTest } from '../support/herald.js';
import { startReceiver, type Behaviour, type Received, type Receiver } from '../support/receiver.js';
import { waitFor } from '../support/wait.js';
import { openDeliveryQueue } from '../../src/queue/delivery-queue.js';
import { DeadLetters } from '../../src/dlq/dead-letters.js';
import { EventStore } from '../../src/events/event-store.js';
import { OrderedKeys } from '../../src/ordering/ordered-keys.js';

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

async function receiver(b: Behaviour): Promise<Receiver> {
  const r = await startReceiver(b);
  closers.push(() => r.close());
  return r;
}

/** A small seeded PRNG (mulberry32), so a failing run can be repeated. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const fast = { initialDelay: '10ms', maxDelay: '50ms' };

async function postBatch(h: HeraldUnderTest, events: unknown[], headers: Record<string, string> = {}): Promise<string[]> {
  const res = await h.postRaw(JSON.stringify(events), headers, '/ingest/batch');
  expect(res.status).toBe(202);
  return (res.body.results as Array<{ id: string }>).map((r) => r.id);
}

/**
 * Checks one key's deliveries (2xx answers, in the order the receiver got them) against the ids in
 * the order they were accepted: after collapsing a delivery that directly repeats the one before it
 * (same webhook-id: a redelivery), they are exactly the accepted ids, in order.
 */
function expectInOrder(delivered: readonly Received[], accepted: readonly string[], key: string): void {
  const ids = delivered.map((d) => d.headers['webhook-id'] as string);
  const collapsed = ids.filter((id, i) => i === 0 || ids[i - 1] !== id);
  expect(collapsed, `key ${key}`).toEqual(accepted);
}

function byKey(received: readonly Received[], keyOf: (r: Received) => string): Map<string, Received[]> {
  const out = new Map<string, Received[]>();
  for (const r of received) {
    const k = keyOf(r);
    let l = out.get(k);
    if (!l) out.set(k, (l = []));
    l.push(r);
  }
  return out;
}

describe('ordered delivery per key', () => {
  // 1,000 keys × 20 events on a loaded 2-core machine; ORDERING_KEYS scales it (the chaos suite runs the full size under kills).
  const KEYS = Number(process.env.ORDERING_KEYS ?? 1000);
  const PER_KEY = 20;

  it(`delivers ${KEYS} keys × ${PER_KEY} interleaved events in ingest order per key, through 20 % failures and slow answers, with two worker pools`, async () => {
    const random = seeded(22);
    const r = await receiver(() => (random() < 0.2 ? { status: 500 } : { status: 200, delayMs: Math.floor(random() * 20) }));
    // A second Herald on the same Redis and prefix: two worker pools share the keys.
    const second = await startHerald({ redisUrl: redis.url, prefix: herald.config.HERALD_REDIS_PREFIX });
    closers.push(() => second.close());
    await herald.publish('ord-load', { url: r.url, filter: { types: ['load'] }, concurrency: 50, retry: { ...fast, maxAttempts: 100 }, ordering: { key: '/order/id' } });
    await waitFor(() => second.ingest.watcher.destinations.some((d) => d.name === 'ord-load' && d.spec.ordering !== undefined), { what: 'the second Herald to see the destination' });
    const accepted = new Map<string, string[]>();
    const events: Array<{ key: string; body: unknown }> = [];
    // Interleaved: event 0 of every key, then event 1 of every key, …
    for (let i = 0; i < PER_KEY; i++) for (let k = 0; k < KEYS; k++) events.push({ key: `o${k}`, body: { userID: 'u', type: 'load', payload: { order: { id: `o${k}` }, seq: i } } });
    for (let i = 0; i < events.length; i += 100) {
      const chunk = events.slice(i, i + 100);
      // Alternate the two ingest processes: the order is the order of the 202s, whichever answered.
      const ids = await postBatch((i / 100) % 2 === 0 ? herald : second, chunk.map((e) => e.body));
      chunk.forEach((e, j) => {
        let l = accepted.get(e.key);
        if (!l) accepted.set(e.key, (l = []));
        l.push(ids[j]!);
      });
    }
    const total = KEYS * PER_KEY;
    await waitFor(() => new Set(r.delivered().map((d) => d.headers['webhook-id'])).size === total, { what: `${total} events delivered`, timeoutMs: 600_000, intervalMs: 200 });
    const delivered = byKey(r.delivered(), (d) => (d.json as { payload: { order: { id: string } } }).payload.order.id);
    expect(delivered.size).toBe(KEYS);
    for (const [key, ids] of accepted) expectInOrder(delivered.get(key)!, ids, key);
    // Every attempt, failed ones included, kept its key's order: no attempt of n+1 before n's last.
    const attempts = byKey(r.received, (d) => (d.json as { payload: { order: { id: string } } }).payload.order.id);
    for (const [key, list] of attempts) {
      const seqs = list.map((d) => (d.json as { payload: { seq: number } }).payload.seq);
      expect(seqs.every((s, i) => i === 0 || s >= seqs[i - 1]!), `key ${key} attempts ${seqs.join(',')}`).toBe(true);
    }
    const ordered = new OrderedKeys(herald.redis, herald.rt.keys, 'ord-load');
    await waitFor(async () => (await ordered.status()).keys === 0, { what: 'every key idle' });
  }, 900_000);
});
