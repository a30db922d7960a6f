import { Counter, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BodySweeper } from '../../src/event-store/body-sweeper.js';
import { RedisKeys, QUEUE_NAME } from '../../src/redis/keys.js';
import { memoryLogger } from '../support/herald.js';
import { startRedis, type RedisServer } from '../support/redis.js';

let redis: RedisServer;
const keys = new RedisKeys('sweep');
const jobKey = (dest: string, id: string) => `${keys.queuePrefix(dest)}:${QUEUE_NAME}:${id}`;

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await redis?.close();
});

describe('the body sweeper', () => {
  it('removes bodies no job references and holders whose job is gone, keeps the rest, and counts what it removed', async () => {
    const c = redis.client();
    const old = String(Date.now() - 3_600_000);
    // Orphan: its only holder's job is gone.
    await c.hset(keys.event('evt_orphan'), 'b', '{}', 't', old, 'h:a', '1');
    // Half: a's job is there (say, dead-lettered), b's is gone.
    await c.hset(keys.event('evt_half'), 'b', '{}', 't', old, 'h:a', '1', 'h:b', '1');
    await c.hset(jobKey('a', 'evt_half'), 'data', '{"e":"evt_half"}');
    // Young: written a moment ago; its jobs could still be on their way.
    await c.hset(keys.event('evt_young'), 'b', '{}', 't', String(Date.now()), 'h:a', '1');
    const registry = new Registry();
    const swept = new Counter({ name: 'herald_event_bodies_swept_total', help: 'x', registers: [registry] });
    const sweeper = new BodySweeper({ redis: c, keys, swept, logger: memoryLogger().logger, graceMs: 60_000 });

    expect(await sweeper.sweep()).toEqual({ scanned: 3, removed: 1 });
    expect(await c.exists(keys.event('evt_orphan'))).toBe(0);
    expect((await c.hkeys(keys.event('evt_half'))).sort()).toEqual(['b', 'h:a', 't']);
    expect(await c.exists(keys.event('evt_young'))).toBe(1);
    expect((await registry.getSingleMetric('herald_event_bodies_swept_total')!.get()).values[0]!.value).toBe(1);
  });
});
