import { Cluster, type Redis } from 'ioredis';

/**
 * A connection to Herald's Redis: one server (a URL or a Sentinel primary), or a Redis Cluster
 * (ioredis routes each command or script to the primary of its keys' hash slot). Code that sends
 * commands whose keys share one slot takes this as it is; code that reads server-wide state (INFO,
 * CONFIG, SCAN, WAIT) must ask each primary of a Cluster ({@link primariesOf}).
 */
export type RedisClient = Redis | Cluster;

/** The servers a client's server-wide questions go to: itself, or each primary a Cluster knows. */
export function primariesOf(redis: RedisClient): Redis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}

/** Whether `redis` is a Redis Cluster client. */
export function isCluster(redis: RedisClient): redis is Cluster {
  return redis instanceof Cluster;
}
