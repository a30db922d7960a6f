/**
 * A write interrupted by Redis going away: a batch fanned out to three destinations is stored whole or
 * not at all, its answer says which, and no body outlives its jobs (a worker that delivers while Redis
 * is away may fail to release a body; the sweeper removes those). redis-server is SIGKILLed under
 * batch load (AOF with `appendfsync always`, so what Redis acknowledged survives the crash and every
 * count below is exact).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startHerald, type HeraldUnderTest } from '../support/herald.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { startBatchLoad } from '../support/batch-load.js';
import { startOpenLoad, type Load } from '../support/load.js';
import { waitFor } from '../support/wait.js';
import { memoryLogger } from '../support/herald.js';
import { pending } from '../support/process-fixture.js';
import { openDeliveryQueue } from '../../src/queue/delivery-queue.js';
import { BodySweeper } from '../../src/event-store/body-sweeper.js';
import { Counter } from 'prom-client';
import { startRedisProxy } from '../support/redis-proxy.js';

let redis: RedisServer;
let herald: HeraldUnderTest;
const receivers: Receiver[] = [];

beforeAll(async () => {
  redis = await startRedis(['--appendfsync', 'always']);
  herald = await startHerald({ redisUrl: redis.url });
  for (const name of ['w1', 'w2', 'w3']) {
    const r = await startReceiver(() => ({ status: 200 }));
    receivers.push(r);
    await herald.publish(name, { url: r.url, concurrency: 16, retry: { initialDelay: '200ms', maxDelay: '1s' } });
  }
});

afterAll(async () => {
  await herald?.close();
  await Promise.all(receivers.map((r) => r.close()));
  await redis?.close();
});

const seqsAt = (r: Receiver) => new Set(r.delivered().map((x) => Number(x.json?.payload?.seq)));

describe('redis-server SIGKILLed while batches fanned out to three destinations are written', () => {
  it('delivers every event of a 202 to every destination, none of a 503, and leaves no body behind', async ({ annotate }) => {
    const load = startBatchLoad({ url: herald.url, concurrency: 6, size: 50, paceMs: 20 });
    // Batches whose write was in flight at the kill are answered once Redis is back and says whether
    // it was applied, and they may hold every lane; a probe that does not wait for answers sends new
    // requests while Redis is away, which get a 503 at once.
    const probes: Load[] = [];
    for (let i = 0; i < 3; i++) {
      const target = load.accepted().length + 500;
      await waitFor(() => load.accepted().length >= target, { what: `500 more events accepted before kill ${i + 1}`, timeoutMs: 60_000 });
      await redis.stop({ kill: true });
      const probe = startOpenLoad({ url: herald.url, everyMs: 10, firstSeq: 1_000_000 * (i + 1) });
      probes.push(probe);
      await waitFor(() => probe.results.some((x) => x.status === 503), { what: 'a 503 while Redis is away' });
      probe.stop();
      await redis.start();
      const up = Date.now();
      await waitFor(() => load.results.some((b) => b.sentAt > up && b.status === 202), { what: `ingest to accept after kill ${i + 1}`, timeoutMs: 30_000 });
    }
    load.stop();
    await Promise.all([load.done, ...probes.map((p) => p.done)]);

    const accepted = [...load.accepted().map(([seq]) => seq), ...probes.flatMap((p) => p.accepted().map((x) => x.seq))];
    await waitFor(() => receivers.every((r) => accepted.every((seq) => seqsAt(r).has(seq))), { what: 'every accepted event at every destination', timeoutMs: 60_000, intervalMs: 250 }).catch(() => undefined);
    // Queues drained: every body still there is one a worker could not release while Redis was away.
    const queues = ['w1', 'w2', 'w3'].map((d) => openDeliveryQueue(herald.redis, herald.rt.keys, d));
    await waitFor(async () => (await Promise.all(queues.map((q) => q.getJobCounts('waiting', 'active', 'delayed')))).every((c) => pending(c) === 0), { what: 'the queues to drain', timeoutMs: 60_000 });
    await Promise.all(queues.map((q) => q.close()));
    const orphans = (await herald.redis.keys(`${herald.config.HERALD_REDIS_PREFIX}:{e:*`)).length;
    const swept = await new BodySweeper({ redis: herald.redis, keys: herald.rt.keys, swept: new Counter({ name: 'swept', help: 'x', registers: [] }), logger: memoryLogger().logger, graceMs: 0 }).sweep();
    const refused = [...load.refused(), ...probes.flatMap((p) => p.results.filter((x) => x.status === 503).map((x) => x.seq))];
    const missing = receivers.map((r) => accepted.filter((seq) => !seqsAt(r).has(seq)).length);
    const refusedDelivered = receivers.map((r) => refused.filter((seq) => seqsAt(r).has(seq)).length);
    const leftover = (await herald.redis.keys(`${herald.config.HERALD_REDIS_PREFIX}:{e:*`)).length;
    const codes = [...new Set(load.results.filter((b) => b.status !== 202).map((b) => `${b.status} ${b.code}`))];
    const summary = `3 × SIGKILL: ${JSON.stringify(load.byStatus())} batch answers (${codes.join(', ')}), ${accepted.length} events accepted, missing per destination ${missing.join('/')}, ${refused.length} refused of which delivered ${refusedDelivered.join('/')}, ${orphans} bodies left once the queues drained, ${swept.removed} swept, ${leftover} left after the sweep`;
    console.log(summary);
    await annotate(summary);

    expect(Object.keys(load.byStatus()).sort()).toEqual(['202', '503']);
    expect(refused.length).toBeGreaterThan(0);
    expect(missing).toEqual([0, 0, 0]);
    expect(refusedDelivered).toEqual([0, 0, 0]);
    expect(swept.removed).toBe(orphans);
    expect(leftover).toBe(0);
  }, 240_000);
});

describe.each([
  { cut: 'after Redis received the write of the third destination', verdict: 'forward' as const },
  { cut: 'before Redis received the write of the third destination', verdict: 'swallow' as const },
])('a write cut off with its connection $cut', ({ verdict }) => {
  it('is answered by what Redis applied: a 202 is delivered at every destination, a 503 nowhere, and no body is left', async () => {
    // Only this ingest goes through the proxy; the first Herald's workers deliver (same prefix).
    const proxy = await startRedisProxy(redis.port);
    const h = await startHerald({ redisUrl: proxy.url, prefix: herald.config.HERALD_REDIS_PREFIX, withWorkers: false });
    const rs = await Promise.all([0, 1, 2].map(() => startReceiver(() => ({ status: 200 }))));
    try {
      for (const [i, r] of rs.entries()) await h.publish(`lost${i}`, { url: r.url, filter: { types: ['lost'] } });
      await waitFor(async () => {
        await herald.ingest.watcher.refresh();
        return herald.ingest.watcher.destinations.filter((d) => d.name.startsWith('lost')).length === 3;
      }, { what: 'the workers to see the destinations' });
      const batch = (tag: string) => JSON.stringify(Array.from({ length: 20 }, (_, n) => ({ userID: 'u', type: 'lost', payload: { tag, n } })));
      // A first write loads the script, so the armed one is a single small EVALSHA.
      expect((await h.postRaw(batch('warm-up'), {}, '/ingest/batch')).status).toBe(202);
      let cuts = 0;
      proxy.setTap((chunk) => {
        // The chunk that carries the third destination's jobs of the tagged write.
        if (cuts > 0 || !chunk.includes('lost-reply') || !chunk.includes('{d:lost2}:deliveries:wait')) return undefined;
        cuts++;
        return {
          verdict,
          after: (cut) => {
            // Redis stays unreachable for a second, as after a crash: the client cannot just resend.
            proxy.refuseFor(1_000);
            cut();
          },
        };
      });
      const res = await h.postRaw(batch('lost-reply'), {}, '/ingest/batch');
      proxy.setTap(undefined);
      expect(cuts).toBe(1);
      expect([202, 503]).toContain(res.status);
      const tagged = (r: Receiver) => r.delivered().filter((x) => x.json?.payload?.tag === 'lost-reply').length;
      if (res.status === 202) {
        await waitFor(() => rs.every((r) => tagged(r) === 20), { what: 'the 20 events at every destination', timeoutMs: 60_000 }).catch(async (e) => {
          console.log('DEBUG', rs.map(tagged), JSON.stringify(res.body).slice(0, 300), await h.redis.keys('*'));
          throw e;
        });
      }
      const queues = [0, 1, 2].map((i) => openDeliveryQueue(h.redis, h.rt.keys, `lost${i}`));
      await waitFor(async () => (await Promise.all(queues.map((q) => q.getJobCounts('waiting', 'active', 'delayed')))).every((c) => pending(c) === 0), { what: 'the queues to drain' });
      await Promise.all(queues.map((q) => q.close()));
      const delivered = rs.map(tagged);
      console.log(`lost reply: answered ${res.status}, delivered ${delivered.join('/')}`);
      expect(delivered).toEqual(res.status === 202 ? [20, 20, 20] : [0, 0, 0]);
      expect(await h.redis.keys(`${h.config.HERALD_REDIS_PREFIX}:{e:*`)).toEqual([]);
    } finally {
      await h.close();
      await Promise.all(rs.map((r) => r.close()));
      await proxy.close();
    }
  });
});

describe('HERALD_DURABILITY=strict', () => {
  it('refuses a Redis that neither fsyncs every write nor has WAITAOF, runs on one that does, and turns unready if that changes', async () => {
    const lax = await startRedis(); // appendfsync everysec, and this Redis is 7.0: no WAITAOF
    try {
      await expect(startHerald({ redisUrl: lax.url, withWorkers: false, env: { HERALD_DURABILITY: 'strict' } })).rejects.toThrow(/appendfsync always/);
    } finally {
      await lax.close();
    }
    // The file's Redis runs appendfsync always.
    const strict = await startHerald({ redisUrl: redis.url, withWorkers: false, env: { HERALD_DURABILITY: 'strict' } });
    const c = redis.client();
    try {
      expect((await strict.post({ userID: 'u', payload: 'strict' })).status).toBe(202);
      expect((await fetch(`${strict.url}/readyz`)).status).toBe(200);
      await c.config('SET', 'appendfsync', 'everysec');
      const res = await fetch(`${strict.url}/readyz`);
      expect(res.status).toBe(503);
      expect(JSON.stringify(await res.json())).toContain('appendfsync always');
    } finally {
      await c.config('SET', 'appendfsync', 'always');
      await strict.close();
    }
  });
});
