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

/** A command as a pipeline takes it: its name, then its arguments. */
export type CommandArgs = [name: string, ...args: Array<string | number>];

/**
 * Runs `commands` and gives their replies as a pipeline does (`[error, value]` each, in order): one
 * pipeline on one Redis; on a Cluster each command on its own, routed by its key and auto-pipelined
 * per node, since a Cluster pipeline must keep to one node and these may name keys of many slots.
 */
export async function execCommands(redis: RedisClient, commands: readonly CommandArgs[]): Promise<Array<[Error | null, unknown]>> {
  if (!isCluster(redis)) return (await redis.pipeline(commands as CommandArgs[]).exec()) ?? [];
  return Promise.all(commands.map(([name, ...args]) => redis.call(name, ...args).then((v): [null, unknown] => [null, v], (err: Error): [Error, null] => [err, null])));
}
