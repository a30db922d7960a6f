import { Redis, type RedisOptions } from 'ioredis';
import { sentinelOptions, type RedisTarget } from './redis-target.js';

export class RedisPolicyError extends Error {
  readonly code = 'HERALD_REDIS_POLICY';
}

/**
 * Opens an ioredis client suited to Herald, the one place every Herald connection is made (ingest,
 * workers, BullMQ's connections, the controller, the CLI), so all of them reach the same Redis and
 * follow a Sentinel failover alike. It retries forever with capped backoff (a Redis restart or a
 * failover must not kill the process), and fails commands fast while disconnected so ingest can
 * answer 503 instead of holding requests. BullMQ workers need `maxRetriesPerRequest: null` (and an
 * offline queue, so their blocking commands wait for the new primary); pass `forBullmqWorker`.
 */
export function createRedis(target: RedisTarget, opts: { forBullmqWorker?: boolean; name?: string; autoPipelining?: boolean } = {}): Redis {
  const options: RedisOptions = {
    connectionName: opts.name,
    lazyConnect: false,
    enableAutoPipelining: opts.autoPipelining ?? true,
    maxRetriesPerRequest: opts.forBullmqWorker ? null : 1,
    enableOfflineQueue: opts.forBullmqWorker ? true : false,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    // Only a failover (the old primary turned replica) warrants a reconnect; OOM and script errors do not.
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
  };
  return target.kind === 'url' ? new Redis(target.url, options) : new Redis({ ...sentinelOptions(target), ...options });
}

/**
 * Refuses to run against a Redis that may evict keys: an evicted queue entry or event body is a lost
 * event that nobody notices. Run once at start-up and by readiness checks.
 */
export async function assertNoEviction(redis: Redis): Promise<void> {
  const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
  const policy = reply[1];
  if (policy !== undefined && policy !== 'noeviction') {
    throw new RedisPolicyError(
      `Redis maxmemory-policy is "${policy}"; Herald requires "noeviction" so queued events are never silently evicted. ` +
        'Set `maxmemory-policy noeviction` in redis.conf or run `CONFIG SET maxmemory-policy noeviction`.',
    );
  }
}
