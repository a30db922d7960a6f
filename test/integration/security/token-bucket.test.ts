import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { TokenBucket, TokenBucketLimitsError } from '../../../src/ingest/token-bucket.js';
import { startRedis, type RedisServer } from '../../support/redis.js';
import { waitFor } from '../../support/wait.js';

let redisServer: RedisServer;
let redis: Redis;

beforeAll(async () => {
  redisServer = await startRedis();
  redis = redisServer.client();
});

afterAll(async () => {
  await redisServer.close();
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** A bucket with a prefix of its own, so tests never share state. */
const freshBucket = (client: Redis = redis) => new TokenBucket({ redis: client, prefix: `t-${randomUUID()}` });

describe('TokenBucket', () => {
  it('allows a full burst, then denies with the time until the next token', async () => {
    const bucket = freshBucket();
    const limits = { ratePerSec: 10, burst: 5 };
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await bucket.take('api:billing', limits));
    expect(results.map((r) => [r.allowed, r.remaining, r.retryAfterMs])).toEqual([
      [true, 4, 0],
      [true, 3, 0],
      [true, 2, 0],
      [true, 1, 0],
      [true, 0, 0],
    ]);
    const denied = await bucket.take('api:billing', limits);
    expect(denied.allowed).toBe(false);
    expect(denied.remaining).toBe(0);
    // One token takes 100 ms at 10/s; a little of that may already have refilled.
    expect(denied.retryAfterMs).toBeGreaterThan(0);
    expect(denied.retryAfterMs).toBeLessThanOrEqual(100);
  });

  it('keeps independent keys independent', async () => {
    const bucket = freshBucket();
    const limits = { ratePerSec: 1, burst: 2 };
    await bucket.take('dest:a', limits);
    await bucket.take('dest:a', limits);
    expect((await bucket.take('dest:a', limits)).allowed).toBe(false);
    expect(await bucket.take('dest:b', limits)).toEqual({ allowed: true, remaining: 1, retryAfterMs: 0 });
  });

  it('refills over time and allows again once retryAfter has passed', async () => {
    const bucket = freshBucket();
    const limits = { ratePerSec: 20, burst: 2 };
    await bucket.take('k', limits);
    await bucket.take('k', limits);
    const started = performance.now();
    const denied = await bucket.take('k', limits);
    expect(denied.allowed).toBe(false);

    const allowed = await waitFor(async () => {
      const r = await bucket.take('k', limits);
      return r.allowed ? r : undefined;
    }, { timeoutMs: 5_000, intervalMs: 5, what: 'a refilled token' });
    // A loaded machine may stall a poll long enough for a second token to refill, never more than burst.
    expect(allowed.remaining).toBeLessThan(limits.burst);
    // Denied polls take nothing, so the token came from refill, no earlier than announced.
    expect(performance.now() - started).toBeGreaterThanOrEqual(denied.retryAfterMs - 5);
  });

  it('shares one bucket between replicas using separate connections', async () => {
    const prefix = `t-${randomUUID()}`;
    const replicaA = new TokenBucket({ redis: redisServer.client(), prefix });
    const replicaB = new TokenBucket({ redis: redisServer.client(), prefix });
    const limits = { ratePerSec: 0.1, burst: 3 };
    expect((await replicaA.take('dest:orders', limits)).remaining).toBe(2);
    expect((await replicaB.take('dest:orders', limits)).remaining).toBe(1);
    expect((await replicaA.take('dest:orders', limits)).remaining).toBe(0);
    expect((await replicaB.take('dest:orders', limits)).allowed).toBe(false);
  });

  it('takes its time from Redis, so a replica with a clock an hour ahead does not refill early', async () => {
    const bucket = freshBucket();
    const limits = { ratePerSec: 1, burst: 1 };
    expect((await bucket.take('k', limits)).allowed).toBe(true);
    const realNow = Date.now();
    vi.spyOn(Date, 'now').mockReturnValue(realNow + 3_600_000);
    const skewed = await bucket.take('k', limits);
    expect(skewed.allowed).toBe(false);
    expect(skewed.retryAfterMs).toBeGreaterThan(0);
  });

  it('charges a cost of several tokens and denies a cost it cannot cover yet, taking nothing', async () => {
    const bucket = freshBucket();
    const limits = { ratePerSec: 1, burst: 5 };
    expect(await bucket.take('k', { ...limits, cost: 3 })).toEqual({ allowed: true, remaining: 2, retryAfterMs: 0 });
    const denied = await bucket.take('k', { ...limits, cost: 3 });
    expect(denied.allowed).toBe(false);
    expect(denied.retryAfterMs).toBeGreaterThan(900);
    expect(denied.retryAfterMs).toBeLessThanOrEqual(1_000);
    expect(await bucket.take('k', { ...limits, cost: 2 })).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
  });

  it('stores one key per bucket with a hash tag and lets it expire once the bucket is full again', async () => {
    const bucket = freshBucket();
    const key = bucket.redisKey('api:billing');
    expect(key).toMatch(/^t-[0-9a-f-]+:\{rl:api:billing\}$/);
    await bucket.take('api:billing', { ratePerSec: 100, burst: 20, cost: 10 });
    const ttl = await redis.pttl(key);
    // 10 missing tokens at 100/s are back after 100 ms; the key lives no longer than that.
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(100);
    await waitFor(async () => (await redis.exists(key)) === 0, { timeoutMs: 5_000, what: 'the idle bucket key to expire' });
    expect(await bucket.take('api:billing', { ratePerSec: 100, burst: 20 })).toMatchObject({ allowed: true, remaining: 19 });
  });

  it('writes nothing for a peek (cost 0) at a full bucket', async () => {
    const bucket = freshBucket();
    expect(await bucket.take('k', { ratePerSec: 1, burst: 4, cost: 0 })).toEqual({ allowed: true, remaining: 4, retryAfterMs: 0 });
    expect(await redis.exists(bucket.redisKey('k'))).toBe(0);
  });

  it('reloads its script after the Redis script cache is flushed', async () => {
    const bucket = freshBucket();
    const limits = { ratePerSec: 1, burst: 3 };
    await bucket.take('k', limits);
    await redis.script('FLUSH');
    expect(await bucket.take('k', limits)).toMatchObject({ allowed: true, remaining: 1 });
  });

  it.each([
    [{ ratePerSec: 0, burst: 5 }, 'ratePerSec must be a positive number'],
    [{ ratePerSec: Number.NaN, burst: 5 }, 'ratePerSec must be a positive number'],
    [{ ratePerSec: 1, burst: 0 }, 'burst must be a whole number'],
    [{ ratePerSec: 1, burst: 2.5 }, 'burst must be a whole number'],
    [{ ratePerSec: 1, burst: 5, cost: -1 }, 'cost must be a whole number'],
    [{ ratePerSec: 1, burst: 5, cost: 6 }, 'cost 6 exceeds burst 5'],
  ])('rejects limits %j before touching Redis', async (limits, message) => {
    const bucket = freshBucket();
    const error = await bucket.take('k', limits).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TokenBucketLimitsError);
    expect((error as TokenBucketLimitsError).code).toBe('HERALD_RATELIMIT_LIMITS');
    expect((error as Error).message).toContain(message);
    expect(await redis.exists(bucket.redisKey('k'))).toBe(0);
  });
});
