/**
 * Herald's connections on a real Redis Cluster (3 primaries, 3 replicas on loopback): the connection
 * factory gives a Cluster client that BullMQ accepts, each destination's queue lives in its own slot,
 * and the server-wide checks ask every primary.
 */
import { Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { isCluster, primariesOf, type RedisClient } from '../../src/redis/client.js';
import { assertNoEviction, createRedis, RedisPolicyError } from '../../src/redis/connection.js';
import { QUEUE_NAME, RedisKeys } from '../../src/redis/keys.js';
import { redisTarget } from '../../src/redis/redis-target.js';
import { keySlot } from '../../src/redis/key-slot.js';
import { openDeliveryQueue } from '../../src/queue/delivery-queue.js';
import { startRedisCluster, type RedisClusterUnderTest } from '../support/redis-cluster.js';
import { waitFor } from '../support/wait.js';
import { runHerald } from '../support/cli.js';
import { assertRedisReachable, RedisUnreachableError } from '../../src/redis/reachable.js';

describe('Redis Cluster connections', () => {
  let cluster: RedisClusterUnderTest;
  const opened: RedisClient[] = [];
  const open = (forBullmqWorker = false) => {
    const c = createRedis(redisTarget(loadConfig({ HERALD_REDIS_CLUSTER_NODES: cluster.nodesEnv })), { name: 'test', forBullmqWorker });
    c.on('error', () => undefined);
    opened.push(c);
    return c;
  };

  beforeAll(async () => {
    cluster = await startRedisCluster();
  });
  afterAll(async () => {
    for (const c of opened) c.disconnect();
    await cluster?.close();
  });

  it('opens a Cluster client from HERALD_REDIS_CLUSTER_NODES that reaches every primary', async () => {
    const redis = open();
    await waitFor(() => redis.status === 'ready', { what: 'the cluster client to be ready' });
    expect(isCluster(redis)).toBe(true);
    await redis.set('{a}x', '1');
    expect(await redis.get('{a}x')).toBe('1');
    await waitFor(() => primariesOf(redis).length === 3, { what: 'three primaries known to the client' });
    await assertNoEviction(redis);
  });

  it('tells a command-line tool whether the cluster answers, naming its nodes when it does not', async () => {
    await assertRedisReachable(redisTarget(loadConfig({ HERALD_REDIS_CLUSTER_NODES: cluster.nodesEnv })));
    const dead = redisTarget(loadConfig({ HERALD_REDIS_CLUSTER_NODES: '127.0.0.1:1' }));
    await expect(assertRedisReachable(dead, 2_000)).rejects.toThrow(RedisUnreachableError);
    await expect(assertRedisReachable(dead, 2_000)).rejects.toThrow(/Redis Cluster via 127\.0\.0\.1:1 \(connection refused\)/);
  });

  it('computes the slot of a key as the cluster does', async () => {
    const node = cluster.servers[0]!.client();
    for (const key of ['foo', 'herald:{d:orders}:stats', 'a{}b', 'x{y}z{w}', 'émoji-✓', `k${Math.random()}`]) {
      expect(keySlot(key)).toBe(Number(await node.call('CLUSTER', 'KEYSLOT', key)));
    }
  });

  it('refuses a cluster where any one primary may evict keys', async () => {
    const redis = open();
    await waitFor(() => redis.status === 'ready' && primariesOf(redis).length === 3, { what: 'the cluster client to be ready' });
    const [, second] = await cluster.primaries();
    const node = second!.server.client();
    await node.config('SET', 'maxmemory-policy', 'allkeys-lru');
    try {
      await expect(assertNoEviction(redis)).rejects.toThrow(RedisPolicyError);
      await expect(assertNoEviction(redis)).rejects.toThrow(new RegExp(`on 127\\.0\\.0\\.1:${second!.server.port}`));
    } finally {
      await node.config('SET', 'maxmemory-policy', 'noeviction');
    }
  });

  it('runs a destination queue through BullMQ on the cluster, all its keys in the destination slot', async () => {
    const keys = new RedisKeys(`c${Math.random().toString(36).slice(2, 8)}`);
    const queue = openDeliveryQueue(open(), keys, 'orders');
    const done: string[] = [];
    const worker = new Worker(QUEUE_NAME, async (job) => void done.push(job.id!), { connection: open(true), prefix: keys.queuePrefix('orders') });
    try {
      await queue.add('deliver', { e: 'ev1', b: '{}' }, { jobId: 'ev1' });
      await waitFor(() => done.includes('ev1'), { what: 'the job to run' });
      const owner = await cluster.primaryOf(`${keys.queuePrefix('orders')}:${QUEUE_NAME}:meta`);
      const onOwner = await owner.client().keys(`${keys.prefix}:*`);
      expect(onOwner.length).toBeGreaterThan(0);
      expect(onOwner.every((k) => k.startsWith(`${keys.prefix}:{d:orders}:`))).toBe(true);
      // A command-line tool reaches the same queue through the cluster's nodes.
      const listed = await runHerald(['dlq', 'list', '--destination', 'orders'], { HERALD_REDIS_CLUSTER_NODES: cluster.nodesEnv, HERALD_REDIS_PREFIX: keys.prefix });
      expect({ code: listed.code, out: listed.out }).toMatchObject({ code: 0 });
    } finally {
      await worker.close();
      await queue.close();
    }
  });
});
