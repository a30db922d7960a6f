/**
 * Ordered delivery per key (spec.ordering, ADR 0013) on a real Redis with real receivers: order per
 * key under failures and slow answers with two worker pools, dead letters that continue or block,
 * keys that do not wait for each other, the concurrency bound, and events without a key. Runs on a
 * Redis Cluster too (`HERALD_TEST_REDIS=cluster`), where ingest appends to a key in its destination's
 * slot script (ADR 0015).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '../../src/redis/client.js';
import { startHerald, type HeraldUnderTest } from '../support/herald.js';
import { useTestHerald } from '../support/herald-fixture.js';
import { keysMatching, onCluster, type TestRedis } from '../support/test-redis.js';
import { startReceiver, type Behaviour, type Received, type Receiver } from '../support/receiver.js';
import { waitFor } from '../support/wait.js';
import { openDeliveryQueue } from '../../src/queue/delivery-queue.js';
import { DeadLetters } from '../../src/dead-letters/dead-letters.js';
import { EventStore } from '../../src/event-store/event-store.js';
import { OrderedKeys } from '../../src/ordering/ordered-keys.js';
import { purgeDestination } from '../../src/queue/purge.js';
import { seededRandom } from '../support/seeded-random.js';

const fx = useTestHerald();
const { closers, receiver } = fx;
let redis: TestRedis;
let herald: HeraldUnderTest<RedisClient>;
beforeAll(() => {
  ({ redis, herald } = fx);
});

const fast = { initialDelay: '10ms', maxDelay: '50ms' };

async function postBatch(h: HeraldUnderTest<RedisClient>, events: unknown[], headers: Record<string, string> = {}): Promise<string[]> {
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
    const random = seededRandom(22);
    const r = await receiver(() => (random() < 0.2 ? { status: 500 } : { status: 200, delayMs: Math.floor(random() * 20) }));
    // A second Herald on the same Redis and prefix: two worker pools share the keys.
    const second = await startHerald({ ...redis.target, prefix: herald.config.HERALD_REDIS_PREFIX });
    let secondOpen = true;
    closers.push(async () => secondOpen && second.close());
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
    // spec.concurrency is per worker pool; the tests below count against one.
    secondOpen = false;
    await second.close();
  }, 900_000);

  function seqOf(d: Received): number {
    return (d.json as { payload: { seq: number } }).payload.seq;
  }
  function keyOf(d: Received): string {
    return (d.json as { payload: { k: string } }).payload.k;
  }
  const ev = (k: string, seq: number, type: string) => ({ userID: 'u', type, payload: { k, seq } });

  function deadLetters(name: string): DeadLetters {
    const queue = openDeliveryQueue(herald.redis, herald.rt.keys, name);
    closers.push(() => queue.close());
    return new DeadLetters(queue, new EventStore(herald.redis, herald.rt.keys), { ordered: new OrderedKeys(herald.redis, herald.rt.keys, name) });
  }

  it('keeps keys independent: a key whose head keeps failing delays only itself', async () => {
    const r = await receiver((_n, req) => (keyOf(req) === 'stuck' ? { status: 503 } : { status: 200 }));
    await herald.publish('ord-indep', { url: r.url, filter: { types: ['indep'] }, concurrency: 5, retry: { ...fast, maxAttempts: 100 }, ordering: { key: '/k' } });
    const stuck = await postBatch(herald, [0, 1, 2].map((i) => ev('stuck', i, 'indep')));
    const others = await postBatch(herald, Array.from({ length: 60 }, (_, i) => ev(`k${i % 20}`, Math.floor(i / 20), 'indep')));
    await waitFor(() => r.delivered().length === others.length, { what: 'every other key delivered', timeoutMs: 60_000 });
    for (let k = 0; k < 20; k++) expect(r.delivered().filter((d) => keyOf(d) === `k${k}`).map(seqOf)).toEqual([0, 1, 2]);
    // The stuck key's head was tried again and again; nothing behind it was sent.
    await waitFor(() => r.received.filter((d) => keyOf(d) === 'stuck').length >= 3, { what: 'the stuck head retried' });
    expect(new Set(r.received.filter((d) => keyOf(d) === 'stuck').map((d) => d.headers['webhook-id']))).toEqual(new Set([stuck[0]]));
    r.setBehaviour(() => ({ status: 200 }));
    await waitFor(() => r.delivered().filter((d) => keyOf(d) === 'stuck').length === 3, { what: 'the stuck key once its receiver recovers', timeoutMs: 30_000 });
    expect(r.delivered().filter((d) => keyOf(d) === 'stuck').map(seqOf)).toEqual([0, 1, 2]);
  });

  it('onDeadLetter continue (the default): the next event goes once the head is dead-lettered', async () => {
    const r = await receiver((_n, req) => (seqOf(req) === 0 ? { status: 400 } : { status: 200 }));
    await herald.publish('ord-cont', { url: r.url, filter: { types: ['cont'] }, retry: { ...fast, maxAttempts: 2 }, ordering: { key: '/k' } });
    const ids = await postBatch(herald, [0, 1, 2].map((i) => ev('a', i, 'cont')));
    await waitFor(() => r.delivered().length === 2, { what: 'the events behind the dead letter' });
    expect(r.delivered().map((d) => d.headers['webhook-id'])).toEqual([ids[1], ids[2]]);
    expect((await deadLetters('ord-cont').list()).map((d) => d.id)).toEqual([ids[0]]);
    await waitFor(async () => (await new OrderedKeys(herald.redis, herald.rt.keys, 'ord-cont').status()).keys === 0, { what: 'the key idle' });
  });

  it('onDeadLetter block: the key waits for its dead letter; replay sends it, then the rest, in order', async () => {
    let failing = true;
    const r = await receiver((_n, req) => (failing && keyOf(req) === 'a' && seqOf(req) === 0 ? { status: 400 } : { status: 200 }));
    await herald.publish('ord-block', { url: r.url, filter: { types: ['block'] }, retry: { ...fast, maxAttempts: 2 }, ordering: { key: '/k', onDeadLetter: 'block' } });
    const ids = await postBatch(herald, [ev('a', 0, 'block'), ev('b', 0, 'block'), ev('a', 1, 'block'), ev('b', 1, 'block'), ev('a', 2, 'block')]);
    const ordered = new OrderedKeys(herald.redis, herald.rt.keys, 'ord-block');
    await waitFor(async () => (await ordered.status()).blocked === 1, { what: 'key a blocked' });
    await waitFor(() => r.delivered().length === 2, { what: 'key b delivered' });
    expect(await ordered.blockedKeys()).toEqual([{ key: 'a', eventId: ids[0] }]);
    const status = await ordered.status();
    expect(status.keys).toBe(1);
    expect(status.oldestWaitingSince).toBeGreaterThan(0);
    await herald.exporter.refresh();
    const gauges = await herald.registry.metrics();
    expect(gauges).toContain('herald_ordering_blocked_keys{destination="ord-block"} 1');
    expect(gauges).toContain('herald_ordering_keys{destination="ord-block"} 1');
    expect(gauges).toContain('herald_ordering_waiting_events{destination="ord-block"} 2');
    // Nothing of key a got past its dead letter.
    expect(r.received.filter((d) => keyOf(d) === 'a').map((d) => d.headers['webhook-id'])).toEqual([ids[0]]);
    failing = false;
    const replayed = await deadLetters('ord-block').replay({ id: ids[0]! });
    expect(replayed.done).toBe(1);
    await waitFor(() => r.delivered().filter((d) => keyOf(d) === 'a').length === 3, { what: 'key a after the replay' });
    expect(r.delivered().filter((d) => keyOf(d) === 'a').map((d) => d.headers['webhook-id'])).toEqual([ids[0], ids[2], ids[4]]);
    await waitFor(async () => (await ordered.status()).keys === 0, { what: 'every key idle' });
    expect((await ordered.status()).blocked).toBe(0);
  });

  it('onDeadLetter block: skip deletes the dead letter and lets the rest of its key go', async () => {
    const r = await receiver((_n, req) => (seqOf(req) === 0 ? { status: 400 } : { status: 200 }));
    await herald.publish('ord-skip', { url: r.url, filter: { types: ['skip'] }, retry: { ...fast, maxAttempts: 1 }, ordering: { key: '/k', onDeadLetter: 'block' } });
    const ids = await postBatch(herald, [0, 1, 2].map((i) => ev('a', i, 'skip')));
    const ordered = new OrderedKeys(herald.redis, herald.rt.keys, 'ord-skip');
    await waitFor(async () => (await ordered.status()).blocked === 1, { what: 'key a blocked' });
    expect((await deadLetters('ord-skip').skip({ id: ids[0]! })).done).toBe(1);
    await waitFor(() => r.delivered().length === 2, { what: 'the rest of key a' });
    expect(r.delivered().map((d) => d.headers['webhook-id'])).toEqual([ids[1], ids[2]]);
    expect(await deadLetters('ord-skip').count()).toBe(0);
    await waitFor(async () => (await ordered.status()).keys === 0, { what: 'the key idle' });
  });

  it('sends one event per key at a time and no more than spec.concurrency at once', async () => {
    const inFlight = new Map<string, number>();
    let now = 0;
    let maxNow = 0;
    let maxPerKey = 0;
    const r = await receiver((_n, req) => {
      const k = keyOf(req);
      const n = (inFlight.get(k) ?? 0) + 1;
      inFlight.set(k, n);
      maxPerKey = Math.max(maxPerKey, n);
      maxNow = Math.max(maxNow, ++now);
      setTimeout(() => {
        inFlight.set(k, inFlight.get(k)! - 1);
        now--;
      }, 15);
      return { status: 200, delayMs: 15 };
    });
    await herald.publish('ord-conc', { url: r.url, filter: { types: ['conc'] }, concurrency: 4, retry: fast, ordering: { key: '/k' } });
    await postBatch(herald, Array.from({ length: 100 }, (_, i) => ev(`k${i % 10}`, Math.floor(i / 10), 'conc')));
    await waitFor(() => r.delivered().length === 100, { what: 'every event delivered', timeoutMs: 60_000 });
    expect(maxPerKey).toBe(1);
    expect(maxNow).toBeLessThanOrEqual(4);
    expect(maxNow).toBeGreaterThan(1);
    for (let k = 0; k < 10; k++) expect(r.delivered().filter((d) => keyOf(d) === `k${k}`).map(seqOf)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('delivers events without a key unordered, beside the ordered ones', async () => {
    const r = await receiver(() => ({ status: 200 }));
    await herald.publish('ord-nokey', { url: r.url, filter: { types: ['nokey'] }, ordering: { key: '/k' } });
    const ids = await postBatch(herald, [
      { userID: 'u', type: 'nokey', payload: { seq: 0 } },
      { userID: 'u', type: 'nokey', payload: { k: { nested: true }, seq: 1 } },
      { userID: 'u', type: 'nokey', payload: 'not an object' },
      ev('a', 3, 'nokey'),
    ]);
    await waitFor(() => r.delivered().length === 4, { what: 'all four delivered' });
    expect(new Set(r.delivered().map((d) => d.headers['webhook-id']))).toEqual(new Set(ids));
    const data = await herald.redis.hget(`${herald.rt.keys.queuePrefix('ord-nokey')}:deliveries:${ids[0]}`, 'data');
    expect(data).toBeNull(); // delivered and removed, like any unordered job
  });

  it('takes the key from a request header when the destination says so', async () => {
    const r = await receiver((n) => (n === 0 ? { status: 503 } : { status: 200 }));
    await herald.publish('ord-header', { url: r.url, filter: { types: ['hdr'] }, retry: { ...fast, maxAttempts: 10 }, ordering: { key: 'header:ordering-key' } });
    const first = await herald.post({ userID: 'u', type: 'hdr', payload: 1 }, { 'ordering-key': 'cart-7' });
    const second = await herald.post({ userID: 'u', type: 'hdr', payload: 2 }, { 'ordering-key': 'cart-7' });
    await waitFor(() => r.delivered().length === 2, { what: 'both delivered' });
    // The first attempt of the first event failed; the second event still waited for it.
    expect(r.received.map((d) => d.headers['webhook-id'])).toEqual([first.body.id, first.body.id, second.body.id]);
  });

  it('releases every waiting event when ordering is switched off', async () => {
    const r = await receiver((_n, req) => (keyOf(req) === 'a' && seqOf(req) === 0 ? { status: 503 } : { status: 200 }));
    await herald.publish('ord-off', { url: r.url, filter: { types: ['off'] }, retry: { ...fast, maxAttempts: 100 }, ordering: { key: '/k' } });
    const ids = await postBatch(herald, [0, 1, 2].map((i) => ev('a', i, 'off')));
    await waitFor(() => r.received.length >= 2, { what: 'the head retried' });
    await herald.publish('ord-off', { url: r.url, filter: { types: ['off'] }, retry: { ...fast, maxAttempts: 100 } });
    await waitFor(() => r.delivered().length === 2, { what: 'the events behind the head, released by the sweep', timeoutMs: 30_000 });
    expect(new Set(r.delivered().map((d) => d.headers['webhook-id']))).toEqual(new Set([ids[1], ids[2]]));
    await waitFor(async () => (await new OrderedKeys(herald.redis, herald.rt.keys, 'ord-off').status()).keys === 0, { what: 'no key left' });
  });

  it('purging the destination removes the events waiting behind their keys too', async () => {
    const r = await receiver(() => ({ status: 503 }));
    await herald.publish('ord-purge', { url: r.url, filter: { types: ['purge'] }, retry: { ...fast, maxAttempts: 100 }, ordering: { key: '/k' } });
    await postBatch(herald, [0, 1, 2].map((i) => ev('a', i, 'purge')));
    await waitFor(() => r.received.length >= 1, { what: 'the head tried' });
    await herald.unpublish('ord-purge');
    // Purging needs the destination's workers stopped (a locked job cannot be removed): the pool logs it once its worker closed.
    await waitFor(() => herald.logs.some((l) => l.msg === 'Stopped delivery worker' && l.destination === 'ord-purge'), { what: 'its worker stopped' });
    const queue = openDeliveryQueue(herald.redis, herald.rt.keys, 'ord-purge');
    closers.push(() => queue.close());
    expect(await purgeDestination(queue, new EventStore(herald.redis, herald.rt.keys), herald.redis, herald.rt.keys, 'ord-purge')).toBe(3);
    // Only the delivery log is left, the record of what happened; it expires with its retention. On a
    // cluster, so is the ingest process's write journal for the destination's slot (ADR 0015), which
    // a live ingest still needs to settle a write in doubt; it expires with its TTL.
    const left = await keysMatching(herald.redis, `${herald.rt.keys.queuePrefix('ord-purge')}*`);
    const journals = left.filter((k) => k.startsWith(herald.rt.keys.ingestSlotWrites('ord-purge', '')));
    expect(journals).toHaveLength(onCluster ? 1 : 0);
    expect(left.filter((k) => !k.startsWith(herald.rt.keys.deliveryLogIndex('ord-purge')) && !journals.includes(k))).toEqual([]);
    for (const k of left) expect(await herald.redis.pttl(k)).toBeGreaterThan(0);
  });
});
