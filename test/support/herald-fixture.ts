import { afterAll, beforeAll } from 'vitest';
import type { Redis } from 'ioredis';
import type { RedisClient } from '../../src/redis/client.js';
import { startRedis, type RedisServer } from './redis.js';
import { startHerald, type HeraldUnderTest } from './herald.js';
import { startReceiver, type Behaviour, type Receiver } from './receiver.js';
import { startTestRedis, type TestRedis } from './test-redis.js';

/** A test file's Redis and Herald (ingest and workers in this process), and what to close after it. */
export interface HeraldFixture<R = RedisServer, C extends RedisClient = Redis> {
  readonly redis: R;
  readonly herald: HeraldUnderTest<C>;
  /** Run after the file's tests, newest first, before Herald and Redis close; failures are ignored. */
  readonly closers: Array<() => Promise<unknown>>;
  /** A receiver closed after the file's tests. */
  receiver(behaviour: Behaviour): Promise<Receiver>;
}

/**
 * One private redis-server and one Herald for the tests of a file, started before them and closed
 * after them. The fields are set once its beforeAll has run, so read them inside tests or hooks.
 */
export function useHerald(): HeraldFixture {
  return useFixture(startRedis, (redis) => startHerald({ redisUrl: redis.url }));
}

/**
 * {@link useHerald} for a file that runs on one Redis and on a Redis Cluster alike: its Redis is
 * {@link startTestRedis}'s (a cluster when `HERALD_TEST_REDIS=cluster`).
 */
export function useTestHerald(): HeraldFixture<TestRedis, RedisClient> {
  return useFixture(startTestRedis, (redis) => startHerald(redis.target));
}

function useFixture<R extends { close(): Promise<void> }, C extends RedisClient>(startRedisOf: () => Promise<R>, startHeraldOn: (redis: R) => Promise<HeraldUnderTest<C>>): HeraldFixture<R, C> {
  let redis: R | undefined;
  let herald: HeraldUnderTest<C> | undefined;
  const closers: Array<() => Promise<unknown>> = [];
  beforeAll(async () => {
    redis = await startRedisOf();
    herald = await startHeraldOn(redis);
  });
  afterAll(async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    await herald?.close();
    await redis?.close();
  });
  return {
    get redis() {
      if (!redis) throw new Error('useHerald: redis is read before its beforeAll ran');
      return redis;
    },
    get herald() {
      if (!herald) throw new Error('useHerald: herald is read before its beforeAll ran');
      return herald;
    },
    closers,
    async receiver(behaviour) {
      const r = await startReceiver(behaviour);
      closers.push(() => r.close());
      return r;
    },
  };
}
