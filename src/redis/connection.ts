import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { primariesOf, type RedisClient } from './client.js';
import { clusterOptions, sentinelOptions, type RedisTarget } from './redis-target.js';

/** The single-server targets, for which {@link createRedis} gives a plain `Redis`. */
export type ServerTarget = Exclude<RedisTarget, { kind: 'cluster' }>;

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
export function createRedis(target: ServerTarget, opts?: ConnectionOptions): Redis;
export function createRedis(target: RedisTarget, opts?: ConnectionOptions): RedisClient;
export function createRedis(target: RedisTarget, opts: ConnectionOptions = {}): RedisClient {
  const node = {
    connectionName: opts.name,
    maxRetriesPerRequest: opts.forBullmqWorker ? null : 1,
    // Only a failover (the old primary turned replica) warrants a reconnect; OOM and script errors do not.
    reconnectOnError: (err: Error) => err.message.startsWith('READONLY'),
  } satisfies RedisOptions;
  const enableOfflineQueue = opts.forBullmqWorker ? true : false;
  const enableAutoPipelining = opts.autoPipelining ?? true;
  if (target.kind === 'cluster') return new Cluster([...target.nodes], clusterOptions(target, node, { enableOfflineQueue, enableAutoPipelining }));
  const options: RedisOptions = {
    ...node,
    lazyConnect: false,
    enableAutoPipelining,
    enableOfflineQueue,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
  };
  return target.kind === 'url' ? new Redis(target.url, options) : new Redis({ ...sentinelOptions(target), ...options });
}

/** How {@link createRedis} opens a connection. */
export interface ConnectionOptions {
  forBullmqWorker?: boolean;
  name?: string;
  autoPipelining?: boolean;
}

/**
 * Refuses to run against a Redis that may evict keys: an evicted queue entry or event body is a lost
 * event that nobody notices. Run once at start-up and by readiness checks.
 */
export async function assertNoEviction(redis: RedisClient): Promise<void> {
  // On a Cluster every primary holds queues, so every primary must refuse to evict.
  for (const server of primariesOf(redis)) {
    const reply = (await server.config('GET', 'maxmemory-policy')) as string[];
    const policy = reply[1];
    if (policy !== undefined && policy !== 'noeviction') {
      const where = server === redis ? '' : ` on ${server.options.host}:${server.options.port}`;
      throw new RedisPolicyError(
        `Redis maxmemory-policy is "${policy}"${where}; Herald requires "noeviction" so queued events are never silently evicted. ` +
          'Set `maxmemory-policy noeviction` in redis.conf or run `CONFIG SET maxmemory-policy noeviction`.',
      );
    }
  }
}
