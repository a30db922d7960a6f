import { Cluster, Redis } from 'ioredis';
import { primariesOf, type RedisClient } from '../../src/redis/client.js';
import { startRedis } from './redis.js';
import { startRedisCluster } from './redis-cluster.js';

/**
 * Whether the integration files that run on both run on a Redis Cluster this time:
 * `HERALD_TEST_REDIS=cluster` (make test-redis-cluster) starts a 3-primary, 3-replica cluster where
 * they would start one redis-server. Tests of what only one Redis has (shared event bodies) skip
 * themselves on the cluster with `it.skipIf(onCluster)`.
 */
export const onCluster = process.env.HERALD_TEST_REDIS === 'cluster';

/** A test file's Redis: one server, or a cluster, as {@link onCluster} says. */
export interface TestRedis {
  /** What startHerald needs to run on it. */
  target: { redisUrl: string; clusterNodes?: string };
  /** A client of the test's own (closed with it). */
  client(): RedisClient;
  /** A connection a BullMQ Worker accepts (`maxRetriesPerRequest: null`); the caller closes it. */
  workerConnection(): RedisClient;
  close(): Promise<void>;
}

/** Starts the Redis of a test file that runs on one Redis and on a cluster alike. */
export async function startTestRedis(): Promise<TestRedis> {
  if (!onCluster) {
    const server = await startRedis();
    return { target: { redisUrl: server.url }, client: () => server.client(), workerConnection: () => new Redis(server.url, { maxRetriesPerRequest: null }), close: () => server.close() };
  }
  const cluster = await startRedisCluster();
  const nodes = cluster.servers.map((s) => ({ host: '127.0.0.1', port: s.port }));
  return {
    target: { redisUrl: '', clusterNodes: cluster.nodesEnv },
    client: () => cluster.client(),
    workerConnection: () => new Cluster(nodes, { scaleReads: 'master', redisOptions: { maxRetriesPerRequest: null } }),
    close: () => cluster.close(),
  };
}

/** The environment that points a Herald process at `target`: REDIS_URL, or the cluster's nodes. */
export function targetEnv(target: TestRedis['target']): Record<string, string> {
  return target.clusterNodes ? { HERALD_REDIS_CLUSTER_NODES: target.clusterNodes } : { REDIS_URL: target.redisUrl };
}

/** The keys matching `pattern` on every primary (`KEYS` on a Cluster client asks one node only). */
export async function keysMatching(redis: RedisClient, pattern: string): Promise<string[]> {
  return (await Promise.all(primariesOf(redis).map((server) => server.keys(pattern)))).flat();
}
