/**
 * The per-destination stats hash (delivered, deadLettered, lastError…) is counted in memory and
 * written in batches; these tests pin down that the batches add up, that the newest error wins even
 * when replicas flush out of order, and that a graceful shutdown writes what is left.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryStatsStore } from '../../src/delivery/delivery-stats.js';
import { createRegistry } from '../../src/metrics/metrics.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { WorkerPool } from '../../src/worker/worker-pool.js';
import { memoryLogger, startHerald, type HeraldUnderTest } from '../support/herald.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { startTestRedis, type TestRedis } from '../support/test-redis.js';
import type { RedisClient } from '../../src/redis/client.js';
import { waitFor } from '../support/wait.js';

let redis: TestRedis;
let client: RedisClient;
const closers: Array<() => Promise<unknown>> = [];
const keys = new RedisKeys('stats-test');
const HOUR = 3_600_000;

beforeAll(async () => {
  redis = await startTestRedis();
  client = redis.client();
});

afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => undefined);
  client?.disconnect();
  await redis?.close();
});

function store(flushIntervalMs = HOUR): DeliveryStatsStore {
  const s = new DeliveryStatsStore(client, keys, { flushIntervalMs });
  closers.push(() => s.close());
  return s;
}

describe('DeliveryStatsStore', () => {
  it('counts deliveries in memory and adds each batch to the hash: 1,500 deliveries in two flushes', async () => {
    const s = store();
    for (let i = 0; i < 1_000; i++) s.delivered('many', 1_000 + (i % 7));
    s.deadLettered('many');
    s.deadLettered('many', 2);
    // Nothing was written per delivery.
    expect(await client.exists(keys.stats('many'))).toBe(0);
    await s.flush();
    expect(await client.hgetall(keys.stats('many'))).toEqual({ delivered: '1000', deadLettered: '3', lastSuccessAt: '1006' });

    for (let i = 0; i < 500; i++) s.delivered('many', 2_000);
    await s.flush();
    expect(await client.hgetall(keys.stats('many'))).toMatchObject({ delivered: '1500', deadLettered: '3', lastSuccessAt: '2000' });
  });

  it('writes by itself after flushIntervalMs', async () => {
    const s = store(50);
    for (let i = 0; i < 20; i++) s.delivered('timed', 5_000 + i);
    const written = await waitFor(async () => (await client.hget(keys.stats('timed'), 'delivered')) === '20', { what: 'the timed flush' });
    expect(written).toBe(true);
    expect(await client.hget(keys.stats('timed'), 'lastSuccessAt')).toBe('5019');
  });

  it('keeps the newest error, within a batch and when replicas flush out of order', async () => {
    const a = store();
    const b = store();
    a.failedAttempt('errs', 'HTTP 503', 300);
    a.failedAttempt('errs', 'HTTP 500 (older)', 200);
    b.failedAttempt('errs', 'HTTP 502 (older replica)', 250);
    b.delivered('errs', 100);
    a.delivered('errs', 400);
    await a.flush();
    await b.flush();
    expect(await client.hgetall(keys.stats('errs'))).toEqual({ delivered: '2', lastError: 'HTTP 503', lastErrorAt: '300', lastSuccessAt: '400' });

    b.failedAttempt('errs', 'timeout: no complete response within 1000 ms', 500);
    await b.flush();
    expect(await client.hgetall(keys.stats('errs'))).toMatchObject({ lastError: 'timeout: no complete response within 1000 ms', lastErrorAt: '500' });
  });

  it('keeps the counts of a failed write for the next flush', async () => {
    const s = store();
    // A key of the wrong type makes the write fail the way a refused command would.
    await client.set(keys.stats('broken'), 'not a hash');
    s.delivered('broken', 10);
    s.failedAttempt('broken', 'HTTP 500', 11);
    await expect(s.flush()).rejects.toThrow(/WRONGTYPE/);
    s.delivered('broken', 12);
    await client.del(keys.stats('broken'));
    await s.flush();
    expect(await client.hgetall(keys.stats('broken'))).toEqual({ delivered: '2', lastSuccessAt: '12', lastError: 'HTTP 500', lastErrorAt: '11' });
  });

  it('read() includes what this process has not written yet', async () => {
    const s = store();
    await client.hset(keys.stats('mixed'), { delivered: '5', lastSuccessAt: '100', lastError: 'HTTP 500', lastErrorAt: '90' });
    s.delivered('mixed', 200);
    s.failedAttempt('mixed', 'HTTP 502', 150);
    expect(await s.read('mixed')).toEqual({ delivered: 6, deadLettered: 0, lastSuccessAt: 200, lastError: 'HTTP 502', lastErrorAt: 150 });
  });
});

describe('a worker pool that shuts down gracefully', () => {
  let herald: HeraldUnderTest<RedisClient>;
  let receiver: Receiver;

  beforeAll(async () => {
    herald = await startHerald({ ...redis.target, withWorkers: false });
    closers.push(() => herald.close());
    receiver = await startReceiver(() => ({ status: 200 }));
    closers.push(() => receiver.close());
  });

  it('writes every delivery it counted when closed, with no flush before', async () => {
    const { logger } = memoryLogger();
    // A flush interval no test outlives: whatever reaches Redis was written by close().
    const pool = new WorkerPool({ config: herald.config, logger, registry: createRegistry('worker', 'test'), rt: herald.rt, version: 'test', statsFlushIntervalMs: HOUR });
    let closed = false;
    closers.push(async () => closed || pool.close(2_000));
    await herald.publish('drained', { url: receiver.url, concurrency: 20 });
    await pool.start();
    const events = Array.from({ length: 300 }, (_, i) => ({ userID: 'u', payload: i }));
    expect((await herald.postRaw(JSON.stringify(events), {}, '/ingest/batch')).status).toBeLessThan(300);
    await waitFor(() => receiver.delivered().length === 300, { what: '300 deliveries' });
    expect(await herald.redis.hget(herald.rt.keys.stats('drained'), 'delivered')).toBeNull();

    await pool.close(2_000);
    closed = true;
    const stats = await herald.redis.hgetall(herald.rt.keys.stats('drained'));
    expect(stats.delivered).toBe('300');
    expect(Number(stats.lastSuccessAt)).toBeGreaterThanOrEqual(receiver.received[0]!.at);
  });
});
