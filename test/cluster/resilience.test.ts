import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DestinationRegistry } from '../../src/redis/destination-registry.js';
import { PATCH } from '../../src/controller/kube-rest.js';
import { openDeliveryQueue } from '../../src/queue/delivery-queue.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { waitFor } from '../support/wait.js';
import { runController, serviceAccountKubeconfig, SA, startCluster, type Cluster, type TestController } from './harness.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';
import { startTogether } from '../support/start-together.js';

/**
 * Two controller replicas and a misbehaving control plane: leader failover, a finalizer finished
 * by the replica that took over, an API server restart, and garbage collection (a real
 * kube-controller-manager runs here).
 */
const PREFIX = 'res';
const keys = new RedisKeys(PREFIX);
const url = 'https://example.com/hook';
let cluster: Cluster;
let redisServer: RedisServer;
let redis: Redis;
let registry: DestinationRegistry;
const running: TestController[] = [];
let proxy: TcpProxy | undefined;

beforeAll(async () => {
  [cluster, redisServer] = await startTogether(startCluster({ namespace: 'herald', withControllerManager: true }), startRedis(), { a: (c) => c.stop(), b: (r) => r.close() });
  redis = redisServer.client();
  registry = new DestinationRegistry(redis, keys);
});
afterAll(async () => {
  await proxy?.close();
  await Promise.all(running.map((c) => c.close()));
  await redisServer?.close();
  await cluster?.stop();
});

function start(identity: string, kubeconfig?: string): TestController {
  const c = runController(cluster, { redisUrl: redisServer.url, prefix: PREFIX, identity, kubeconfig, env: { HERALD_DRAIN_SETTLE: '1s' } });
  running.push(c);
  return c;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseTransitions?: number;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
}

async function lease(): Promise<LeaseSpec> {
  const l = await cluster.admin.request<{ spec: LeaseSpec }>('GET', `/apis/coordination.k8s.io/v1/namespaces/${cluster.namespace}/leases/herald-controller`);
  return l.spec;
}

/** Samples every replica's view of leadership until stopped; records any moment two claim it. */
function watchLeaders(replicas: TestController[]) {
  let overlaps = 0;
  const timer = setInterval(() => {
    if (replicas.filter((r) => r.controller.isLeader()).length > 1) overlaps++;
  }, 20);
  return { stop: () => (clearInterval(timer), overlaps) };
}

// Deadlines, not bounds: on a loaded machine an API server restart or a lease expiry takes longer.
describe('controller resilience', { timeout: 240_000 }, () => {
  let a: TestController;
  let b: TestController;

  it('fails over to the other replica once the lease expires when the leader drops off the network, never with two leaders', async () => {
    // Replica a reaches the API server through a proxy the test can cut.
    proxy = await startTcpProxy(Number(new URL(cluster.env.server).port));
    const viaProxy = (await serviceAccountKubeconfig(cluster.admin, cluster.env, cluster.namespace, SA)).replace(cluster.env.server, `https://127.0.0.1:${proxy.port}`);
    a = start('replica-a', viaProxy);
    await waitFor(() => a.controller.isLeader(), { what: 'a to lead' });
    b = start('replica-b');
    await waitFor(() => b.controller.isReady(), { what: 'b ready (synced caches)' });
    expect(b.controller.isLeader()).toBe(false);
    const leaders = watchLeaders([a, b]);

    // a starts a drain: it stops routing, then waits for the backlog.
    await cluster.dest.create('failover', { url, deletionPolicy: 'drain' });
    await waitFor(() => cluster.dest.deployment('failover'), { what: 'Deployment' });
    const q = openDeliveryQueue(redis, keys, 'failover');
    await q.add('deliver', { e: 'evt-f1' }, { jobId: 'evt-f1' });
    await cluster.dest.delete('failover');
    await waitFor(async () => cluster.dest.condition(await cluster.dest.get('failover'), 'Ready')?.reason === 'Draining', { what: 'draining' });

    const lastRenewedByA = await lease();
    expect(lastRenewedByA.holderIdentity).toBe('replica-a');
    proxy.blackhole();
    // How long this takes depends on the machine's load; what must hold is the order: b takes the
    // Lease only after a's last renewal has expired, and a has stepped down by then.
    await waitFor(() => b.controller.isLeader(), { timeoutMs: 60_000, intervalMs: 50, what: 'b to take over' });
    expect(a.controller.isLeader()).toBe(false);
    expect(leaders.stop()).toBe(0);
    const taken = await lease();
    expect(taken).toMatchObject({ holderIdentity: 'replica-b', leaseTransitions: 1 });
    // Both times are written by the replicas themselves (microTime): the Lease was not taken early.
    const expiredAt = Date.parse(lastRenewedByA.renewTime!) + lastRenewedByA.leaseDurationSeconds! * 1000;
    expect(Date.parse(taken.acquireTime!)).toBeGreaterThanOrEqual(expiredAt);

    // b picks the half-done finalizer up from observed state and finishes it once the backlog is delivered.
    await (await q.getJob('evt-f1'))!.remove();
    await q.close();
    await waitFor(async () => (await cluster.dest.get('failover')) === undefined, { timeoutMs: 20_000, what: 'failover deleted by b' });
    expect(await registry.get('failover')).toBeUndefined();
    await proxy.close();
    proxy = undefined;
  });

  it('hands over at once when the leader shuts down gracefully (it releases the Lease)', async () => {
    const c = start('replica-c');
    await waitFor(() => c.controller.isReady(), { what: 'c ready' });
    const leaders = watchLeaders([b, c]);
    await b.close();
    // b released the Lease on its way out: it names no holder (or c already), rather than b until it expires.
    expect(['', 'replica-c']).toContain((await lease()).holderIdentity ?? '');
    await waitFor(() => c.controller.isLeader(), { timeoutMs: 30_000, intervalMs: 50, what: 'c to lead' });
    expect(leaders.stop()).toBe(0);
    expect((await lease()).holderIdentity).toBe('replica-c');
  });

  it('resumes after an API server restart without being restarted itself', async () => {
    const c = running.find((r) => r.logger.bindings().name === 'replica-c')!;
    await cluster.dest.create('before-restart', { url });
    await waitFor(() => cluster.dest.deployment('before-restart'), { timeoutMs: 60_000, what: 'Deployment before restart' });

    await cluster.env.restartApiServer();
    // New work after the restart proves the watches reconnected and reconciling goes on.
    await cluster.dest.create('after-restart', { url });
    await waitFor(() => cluster.dest.deployment('after-restart'), { timeoutMs: 90_000, what: 'Deployment after restart' });
    await cluster.dest.patchSpec('before-restart', { workers: { replicas: 2 } });
    await waitFor(async () => (await cluster.dest.deployment('before-restart'))?.spec?.replicas === 2, { timeoutMs: 60_000, what: 'update after restart' });
    await waitFor(() => c.controller.isLeader(), { timeoutMs: 60_000, what: 'c leads after the restart' });
    // Readiness checks the API server too; right after a restart one probe may still find it settling.
    await waitFor(() => c.controller.isReady(), { timeoutMs: 30_000, what: 'c ready after the restart' });
  });

  it('leaves nothing behind when a Destination is force-deleted while no controller runs', async () => {
    await cluster.dest.create('forced', { url });
    await waitFor(() => cluster.dest.deployment('forced'), { what: 'Deployment' });
    await waitFor(() => registry.get('forced'), { what: 'registry entry' });
    await Promise.all(running.splice(0).map((r) => r.close()));

    // An operator strips the finalizer: Kubernetes' garbage collector removes the owned Deployment.
    await cluster.admin.request('PATCH', `/apis/herald.dev/v1alpha1/namespaces/${cluster.namespace}/destinations/forced`, { contentType: PATCH.merge, body: { metadata: { finalizers: null } } });
    await cluster.dest.delete('forced');
    await waitFor(async () => (await cluster.dest.deployment('forced')) === undefined, { timeoutMs: 60_000, what: 'garbage collection of the Deployment' });
    expect(await registry.get('forced')).toBeDefined();

    // The next controller to lead removes the registry entry nobody owns, so ingest stops queueing for it.
    const d = start('replica-d');
    await waitFor(() => d.controller.isLeader(), { timeoutMs: 30_000, what: 'd to lead' });
    await waitFor(async () => (await registry.get('forced')) === undefined, { what: 'orphaned registry entry removed' });
    expect(await registry.get('after-restart')).toBeDefined();
  });
});
