import { afterAll, beforeAll } from 'vitest';
import { startRedis, type RedisServer } from './redis.js';
import { startHerald, type HeraldUnderTest } from './herald.js';
import { startReceiver, type Behaviour, type Receiver } from './receiver.js';

/** A test file's Redis and Herald (ingest and workers in this process), and what to close after it. */
export interface HeraldFixture {
  readonly redis: RedisServer;
  readonly herald: HeraldUnderTest;
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
  let redis: RedisServer | undefined;
  let herald: HeraldUnderTest | undefined;
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
