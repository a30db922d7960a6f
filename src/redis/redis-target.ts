import type { ClusterOptions, RedisOptions } from 'ioredis';
import type { Config } from '../config/config.js';

/**
 * Where a process finds its Redis primary: one URL, or a set of sentinels that name the current
 * primary of a master group (and name another after a failover), or the seed nodes of a Redis
 * Cluster, whose primaries each hold a share of the hash slots.
 */
export type RedisTarget =
  | { kind: 'url'; url: string }
  | {
      kind: 'cluster';
      nodes: ReadonlyArray<{ host: string; port: number }>;
      username?: string;
      password?: string;
      tls: boolean;
    }
  | {
      kind: 'sentinel';
      sentinels: ReadonlyArray<{ host: string; port: number }>;
      name: string;
      username?: string;
      password?: string;
      sentinelUsername?: string;
      sentinelPassword?: string;
      tls: boolean;
    };

/** The target a configuration names (config validation guarantees the Sentinel fields go together). */
export function redisTarget(config: Config): RedisTarget {
  if (config.HERALD_REDIS_CLUSTER_NODES) {
    return {
      kind: 'cluster',
      nodes: config.HERALD_REDIS_CLUSTER_NODES,
      ...(config.HERALD_REDIS_USERNAME !== undefined ? { username: config.HERALD_REDIS_USERNAME } : {}),
      ...(config.HERALD_REDIS_PASSWORD !== undefined ? { password: config.HERALD_REDIS_PASSWORD } : {}),
      tls: config.HERALD_REDIS_TLS,
    };
  }
  if (!config.HERALD_REDIS_SENTINELS) return { kind: 'url', url: config.REDIS_URL };
  return {
    kind: 'sentinel',
    sentinels: config.HERALD_REDIS_SENTINELS,
    name: config.HERALD_REDIS_SENTINEL_NAME!,
    ...(config.HERALD_REDIS_USERNAME !== undefined ? { username: config.HERALD_REDIS_USERNAME } : {}),
    ...(config.HERALD_REDIS_PASSWORD !== undefined ? { password: config.HERALD_REDIS_PASSWORD } : {}),
    ...(config.HERALD_REDIS_SENTINEL_USERNAME !== undefined ? { sentinelUsername: config.HERALD_REDIS_SENTINEL_USERNAME } : {}),
    ...(config.HERALD_REDIS_SENTINEL_PASSWORD !== undefined ? { sentinelPassword: config.HERALD_REDIS_SENTINEL_PASSWORD } : {}),
    tls: config.HERALD_REDIS_TLS,
  };
}

/** The target as it may be printed: no password. */
export function describeTarget(target: RedisTarget): string {
  if (target.kind === 'url') return withoutCredentials(target.url);
  if (target.kind === 'cluster') return `Redis Cluster via ${target.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  return `Sentinel master "${target.name}" via ${target.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`;
}

/**
 * The ioredis options that reach a Sentinel target's primary. ioredis asks the sentinels in turn for
 * the primary's address, checks with ROLE that the server it reached is a primary, and on every
 * reconnect asks again, so a client follows a failover. `failoverDetector` also subscribes to the
 * sentinels' `+switch-master`, so a client drops a primary demoted while still reachable at once,
 * rather than when its next write meets READONLY. Empty for a URL target (the URL says it all).
 */
export function sentinelOptions(target: RedisTarget): RedisOptions {
  if (target.kind !== 'sentinel') return {};
  return {
    sentinels: target.sentinels.map((s) => ({ host: s.host, port: s.port })),
    name: target.name,
    role: 'master',
    failoverDetector: true,
    ...(target.username !== undefined ? { username: target.username } : {}),
    ...(target.password !== undefined ? { password: target.password } : {}),
    ...(target.sentinelUsername !== undefined ? { sentinelUsername: target.sentinelUsername } : {}),
    ...(target.sentinelPassword !== undefined ? { sentinelPassword: target.sentinelPassword } : {}),
    ...(target.tls ? { tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true } : {}),
    // While no sentinel answers, ask again at the same capped pace as a lost connection is retried.
    sentinelRetryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
  };
}

/**
 * The ioredis Cluster options of a cluster target, around `node`: the options of each node
 * connection (credentials, TLS, Herald's connection policy). Herald reads and writes primaries only
 * (`scaleReads: 'master'`): a read from a replica could miss a job just queued. On a failover
 * (MOVED/CLUSTERDOWN replies) ioredis refreshes the slot map and retries, at most a few times, so a
 * write to a slot without a primary fails rather than waits (ingest answers 503).
 */
export function clusterOptions(target: Extract<RedisTarget, { kind: 'cluster' }>, node: RedisOptions, cluster: Pick<ClusterOptions, 'enableOfflineQueue' | 'enableAutoPipelining'>): ClusterOptions {
  return {
    ...cluster,
    scaleReads: 'master',
    redisOptions: {
      ...node,
      ...(target.username !== undefined ? { username: target.username } : {}),
      ...(target.password !== undefined ? { password: target.password } : {}),
      ...(target.tls ? { tls: {} } : {}),
    },
    // Same capped pace as a lost single connection; never gives up (a whole-cluster outage must not kill the process).
    clusterRetryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: 2000,
  };
}

/** The URL as it may be printed: any password replaced. */
export function withoutCredentials(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, (_, auth: string) => (auth.includes(':') ? `//${auth.split(':')[0]}:***@` : '//***@'));
}
