import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_NAME } from '../../src/redis/keys.js';
import { compactHashWarning } from '../../src/redis/server-settings.js';
import { startHerald, type HeraldUnderTest } from '../support/herald.js';
import { startRedis, type RedisServer } from '../support/redis.js';

let redis: RedisServer;
let herald: HeraldUnderTest;

beforeAll(async () => {
  redis = await startRedis();
  // No workers: the event must stay queued so its hashes can be inspected.
  herald = await startHerald({ redisUrl: redis.url, withWorkers: false });
  await herald.publish('a', { url: 'https://a.example.com/hook' });
  await herald.publish('b', { url: 'https://b.example.com/hook' });
});

afterAll(async () => {
  await herald?.close();
  await redis?.close();
});

describe('Redis as Herald runs it', () => {
  it('keeps a queued delivery\'s job and body hashes compact (listpack), which is what makes a backlog cheap', async () => {
    const res = await herald.post({ userID: 'u', payload: { text: 'x'.repeat(300) } });
    expect(res.status).toBe(202);
    const id = res.body.id as string;
    const body = herald.rt.keys.event(id);
    expect(await herald.redis.object('ENCODING', body)).toBe('listpack');
    for (const dest of ['a', 'b']) {
      const job = `${herald.rt.keys.queuePrefix(dest)}:${QUEUE_NAME}:${id}`;
      expect(await herald.redis.exists(job), job).toBe(1);
      expect(await herald.redis.object('ENCODING', job), job).toBe('listpack');
    }
  });

  it('warns, saying how to fix it, when Redis would store them as hashtables', async () => {
    expect(await compactHashWarning(herald.redis)).toBeUndefined();
    const other = await startRedis(['--hash-max-ziplist-value', '64']);
    const c = new Redis(other.url);
    try {
      const warning = await compactHashWarning(c);
      expect(warning).toContain('hash-max-listpack-value is 64');
      expect(warning).toContain('CONFIG SET hash-max-listpack-value 512');
    } finally {
      c.disconnect();
      await other.close();
    }
  });
});
