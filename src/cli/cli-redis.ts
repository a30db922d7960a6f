import { loadConfig, type Config } from '../config/config.js';
import type { RedisClient } from '../redis/client.js';
import { createRedis } from '../redis/connection.js';
import { RedisKeys } from '../redis/keys.js';
import { describeTarget, redisTarget } from '../redis/redis-target.js';
import { QUEUE_NAME } from '../redis/keys.js';
import { assertRedisReachable, RedisUnreachableError } from '../redis/reachable.js';
import { NotFoundError, type Env } from './common.js';

/** A short command's Redis connection, opened only after Redis answered, for one existing destination. */
export interface CliRedis {
  config: Config;
  redis: RedisClient;
  keys: RedisKeys;
  close(): Promise<void>;
}

/**
 * Connects a one-shot command (`dlq`, `resume`) to Redis: one bounded attempt first, so an absent
 * Redis is one line naming the URL, then a normal client. Checks that `destination` exists, when given (declared
 * in the registry, or has a queue left behind) before anything opens a queue handle, which would
 * write the queue's meta and make a typo look like an empty destination.
 * @throws RedisUnreachableError, NotFoundError
 */
export async function openCliRedis(env: Env, name: string, destination: string | undefined): Promise<CliRedis> {
  const config = loadConfig(env);
  const target = redisTarget(config);
  await assertRedisReachable(target);
  const redis = createRedis(target, { name });
  redis.on('error', () => undefined); // the probe above said it is up; a later failure fails the command
  await ready(redis, describeTarget(target));
  const keys = new RedisKeys(config.HERALD_REDIS_PREFIX);
  const close = async () => {
    await redis.quit().catch(() => redis.disconnect());
  };
  if (destination === undefined) return { config, redis, keys, close };
  try {
    const [declared, queued] = await Promise.all([
      redis.hexists(keys.destinations(), destination),
      redis.exists(`${keys.queuePrefix(destination)}:${QUEUE_NAME}:meta`, keys.stats(destination)),
    ]);
    if (!declared && !queued) {
      const known = (await redis.hkeys(keys.destinations())).sort();
      throw new NotFoundError(`no destination "${destination}" in Redis (prefix ${config.HERALD_REDIS_PREFIX}); known: ${known.length ? known.join(', ') : 'none'}`);
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { config, redis, keys, close };
}

/** Waits for a new client's connection (it fails commands fast until then), a bounded time. */
async function ready(redis: RedisClient, url: string, timeoutMs = 5_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => {
      redis.disconnect();
      reject(new RedisUnreachableError(url, `no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    redis.once('ready', () => {
      clearTimeout(t);
      resolve();
    });
  });
}
