import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseHostPorts } from '../../src/config/config.js';
import { clusterOptions, describeTarget, redisTarget, sentinelOptions } from '../../src/redis/redis-target.js';
import { replicationPlan, replicationWarning } from '../../src/ingest/durability.js';

function issuesOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  return [];
}

describe('Redis through Sentinel: configuration', () => {
  it('reads a sentinel list into addresses, IPv6 in brackets', () => {
    expect(parseHostPorts('a:26379, 10.0.0.2:26380,[::1]:26381')).toEqual([
      { host: 'a', port: 26379 },
      { host: '10.0.0.2', port: 26380 },
      { host: '::1', port: 26381 },
    ]);
  });

  it('builds a Sentinel target with credentials and TLS, and prints it without the password', () => {
    const config = loadConfig({ HERALD_REDIS_SENTINELS: 's0:26379,s1:26379', HERALD_REDIS_SENTINEL_NAME: 'herald', HERALD_REDIS_PASSWORD: 'p', HERALD_REDIS_SENTINEL_PASSWORD: 'sp', HERALD_REDIS_TLS: 'true' });
    const target = redisTarget(config);
    expect(target).toEqual({ kind: 'sentinel', sentinels: [{ host: 's0', port: 26379 }, { host: 's1', port: 26379 }], name: 'herald', password: 'p', sentinelPassword: 'sp', tls: true });
    expect(sentinelOptions(target)).toMatchObject({ name: 'herald', role: 'master', password: 'p', sentinelPassword: 'sp', tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true, failoverDetector: true });
    expect(describeTarget(target)).toBe('Sentinel master "herald" via s0:26379,s1:26379');
  });

  it('keeps REDIS_URL as the target when no sentinels are named', () => {
    const target = redisTarget(loadConfig({ REDIS_URL: 'redis://:secret@r:6379' }));
    expect(target).toEqual({ kind: 'url', url: 'redis://:secret@r:6379' });
    expect(sentinelOptions(target)).toEqual({});
    expect(describeTarget(target)).toBe('redis://:***@r:6379');
  });

  it('lists every bad Sentinel variable at once, beside the other bad fields', () => {
    const issues = issuesOf({ REDIS_URL: 'redis://r:6379', HERALD_REDIS_SENTINELS: 's0:26379', HERALD_HTTP_PORT: 'eighty' });
    expect(issues).toEqual(expect.arrayContaining([expect.stringMatching(/^HERALD_HTTP_PORT/), expect.stringMatching(/^REDIS_URL: set either/), expect.stringMatching(/^HERALD_REDIS_SENTINEL_NAME: required/)]));
    expect(issuesOf({ HERALD_REDIS_SENTINELS: 's0', HERALD_REDIS_SENTINEL_NAME: 'herald' })).toEqual([expect.stringMatching(/^HERALD_REDIS_SENTINELS: must be a comma-separated list of host:port/)]);
  });

  it('refuses Sentinel-only settings beside REDIS_URL, where they would be ignored', () => {
    expect(issuesOf({ HERALD_REDIS_PASSWORD: 'p', HERALD_REDIS_TLS: 'true' })).toEqual([expect.stringMatching(/^HERALD_REDIS_PASSWORD: only used with/), expect.stringMatching(/^HERALD_REDIS_TLS: only used with/)]);
  });
});

describe('Redis Cluster: configuration', () => {
  it('builds a cluster target from seed nodes, with the password and TLS of its nodes', () => {
    const target = redisTarget(loadConfig({ HERALD_REDIS_CLUSTER_NODES: 'r0:6379, r1:6380', HERALD_REDIS_PASSWORD: 'p', HERALD_REDIS_TLS: 'true' }));
    expect(target).toEqual({ kind: 'cluster', nodes: [{ host: 'r0', port: 6379 }, { host: 'r1', port: 6380 }], password: 'p', tls: true });
    if (target.kind !== 'cluster') throw new Error('not a cluster target');
    expect(clusterOptions(target, { connectionName: 'x' }, { enableOfflineQueue: false })).toMatchObject({ scaleReads: 'master', enableOfflineQueue: false, redisOptions: { connectionName: 'x', password: 'p', tls: {} } });
    expect(describeTarget(target)).toBe('Redis Cluster via r0:6379,r1:6380');
    expect(sentinelOptions(target)).toEqual({});
  });

  it('refuses a cluster beside REDIS_URL or Sentinel, and Sentinel-only settings beside a cluster', () => {
    expect(issuesOf({ HERALD_REDIS_CLUSTER_NODES: 'r0:6379', REDIS_URL: 'redis://r:6379' })).toEqual([expect.stringMatching(/^REDIS_URL: set either REDIS_URL or HERALD_REDIS_CLUSTER_NODES/)]);
    expect(issuesOf({ HERALD_REDIS_CLUSTER_NODES: 'r0:6379', HERALD_REDIS_SENTINELS: 's0:26379', HERALD_REDIS_SENTINEL_NAME: 'herald' })).toEqual([
      expect.stringMatching(/^HERALD_REDIS_CLUSTER_NODES: set either HERALD_REDIS_CLUSTER_NODES .* or HERALD_REDIS_SENTINELS/),
    ]);
    expect(issuesOf({ HERALD_REDIS_CLUSTER_NODES: 'r0:6379', HERALD_REDIS_SENTINEL_PASSWORD: 'sp' })).toEqual([expect.stringMatching(/^HERALD_REDIS_SENTINEL_PASSWORD: only used with HERALD_REDIS_SENTINELS/)]);
    expect(issuesOf({ HERALD_REDIS_CLUSTER_NODES: 'r0' })).toEqual([expect.stringMatching(/^HERALD_REDIS_CLUSTER_NODES: must be a comma-separated list of host:port/)]);
  });
});

describe('acknowledge after replication', () => {
  it('waits for replicas only when asked, and never forever', () => {
    expect(loadConfig({}).HERALD_ACK_REPLICAS).toBe(0);
    expect(replicationPlan(0, 1000)).toBeUndefined();
    expect(replicationPlan(1, 250)).toEqual({ replicas: 1, timeoutMs: 250 });
    expect(issuesOf({ HERALD_ACK_REPLICAS: '1', HERALD_ACK_REPLICAS_TIMEOUT: '0ms' })).toEqual([expect.stringMatching(/^HERALD_ACK_REPLICAS_TIMEOUT: must be at least 1ms/)]);
  });

  it('warns when the primary has fewer replicas than every write will wait for', () => {
    expect(replicationWarning({ replicas: 1, timeoutMs: 1000 }, 0)).toMatch(/HERALD_ACK_REPLICAS=1 .* 0 replica\(s\) connected.*503 replication_unconfirmed after 1000 ms/);
    expect(replicationWarning({ replicas: 1, timeoutMs: 1000 }, 1)).toBeUndefined();
    expect(replicationWarning(undefined, 0)).toBeUndefined();
  });
});
