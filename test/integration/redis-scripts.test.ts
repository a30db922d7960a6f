/**
 * Every Lua script is loaded one way (src/redis/scripts.ts): EVALSHA on each call, one EVAL after
 * NOSCRIPT. Checked on a real redis-server through its own command statistics.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryStatsStore } from '../../src/delivery/delivery-stats.js';
import { TokenBucket } from '../../src/ingest/token-bucket.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { defineScript } from '../../src/redis/scripts.js';
import { startRedis, type RedisServer } from '../support/redis.js';

let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
});
afterAll(async () => server?.close());

/** Calls of EVAL and EVALSHA so far, from INFO commandstats. */
async function evalCalls(): Promise<{ eval: number; evalsha: number }> {
  const info = await redis.info('commandstats');
  const calls = (cmd: string) => Number(new RegExp(`^cmdstat_${cmd}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0);
  return { eval: calls('eval'), evalsha: calls('evalsha') };
}

describe('Lua scripts', () => {
  it('run by SHA once loaded, and load again by one EVAL after SCRIPT FLUSH', async () => {
    const incr = defineScript<number>(redis, { name: 'heraldTestIncr', keys: 1, lua: "return redis.call('INCRBY', KEYS[1], ARGV[1])" });
    expect(await incr('t:n', 2)).toBe(2); // loads it
    const loaded = await evalCalls();
    expect(await incr('t:n', 3)).toBe(5);
    expect(await incr('t:n', 1)).toBe(6);
    const steady = await evalCalls();
    expect({ eval: steady.eval - loaded.eval, evalsha: steady.evalsha - loaded.evalsha }).toEqual({ eval: 0, evalsha: 2 });
    // After a flush (or a Redis restart) the next call loads it again with one full EVAL.
    await redis.script('FLUSH');
    expect(await incr('t:n', 3)).toBe(9);
    expect((await evalCalls()).eval - steady.eval).toBe(1);
  });

  it('defining a script twice on one connection keeps the first definition and runs it', async () => {
    const a = defineScript<string>(redis, { name: 'heraldTestEcho', keys: 0, lua: "return 'first'" });
    const b = defineScript<string>(redis, { name: 'heraldTestEcho', keys: 0, lua: "return 'second'" });
    expect([await a(), await b()]).toEqual(['first', 'first']);
  });

  it('the delivery stats flush sends the script by SHA, not in full on every flush', async () => {
    const stats = new DeliveryStatsStore(redis, new RedisKeys('scripts'), { flushIntervalMs: 60_000 });
    stats.delivered('orders', 1);
    await stats.flush();
    const before = await evalCalls();
    for (let i = 0; i < 5; i++) {
      stats.delivered('orders', 2 + i);
      await stats.flush();
    }
    const after = await evalCalls();
    expect({ eval: after.eval - before.eval, evalsha: after.evalsha - before.evalsha }).toEqual({ eval: 0, evalsha: 5 });
    expect((await stats.read('orders')).delivered).toBe(6);
    await stats.close();
  });

  it('the token bucket survives SCRIPT FLUSH', async () => {
    const bucket = new TokenBucket({ redis, prefix: 'scripts' });
    expect((await bucket.take('k', { ratePerSec: 1, burst: 2 })).allowed).toBe(true);
    await redis.script('FLUSH');
    expect(await bucket.take('k', { ratePerSec: 1, burst: 2 })).toMatchObject({ allowed: true, remaining: 0 });
    expect((await bucket.take('k', { ratePerSec: 1, burst: 2 })).allowed).toBe(false);
  });
});
