import { UnrecoverableError, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DestinationSpec, typeMatcher } from '../../src/api/destination.js';
import { DestinationRegistry } from '../../src/redis/destination-registry.js';
import { CHECKSUM_ANNOTATION, FINALIZER } from '../../src/controller/names.js';
import { DRAINING_FILTER } from '../../src/controller/registry-entry.js';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeApiError, KubeRest } from '../../src/controller/kube-rest.js';
import { openDeliveryQueue } from '../../src/queue/delivery-queue.js';
import { QUEUE_NAME, RedisKeys } from '../../src/redis/keys.js';
import { startTestRedis, type TestRedis } from '../support/test-redis.js';
import type { RedisClient } from '../../src/redis/client.js';
import { waitFor } from '../support/wait.js';
import { runController, startCluster, WORKER_IMAGE, type Cluster, type TestController } from './harness.js';
import { startTogether } from '../support/start-together.js';

const PREFIX = 'ctl';
const keys = new RedisKeys(PREFIX);
let cluster: Cluster;
let redisServer: TestRedis;
let redis: RedisClient;
let registry: DestinationRegistry;
let ctl: TestController;

beforeAll(async () => {
  [cluster, redisServer] = await startTogether(startCluster({ namespace: 'herald' }), startTestRedis(), { a: (c) => c.stop(), b: (r) => r.close() });
  redis = redisServer.client();
  registry = new DestinationRegistry(redis, keys);
  ctl = runController(cluster, { ...redisServer.target, prefix: PREFIX, identity: 'controller-0', env: { HERALD_DRAIN_SETTLE: '1s' } });
  await waitFor(() => ctl.controller.isLeader(), { what: 'controller to lead' });
});
afterAll(async () => {
  await ctl?.close();
  await redisServer?.close();
  await cluster?.stop();
});

const dest = () => cluster.dest;
const url = 'https://example.com/hook';

async function reconciles(): Promise<number> {
  const m = await ctl.registry.getSingleMetric('herald_controller_reconcile_total')?.get();
  return (m?.values ?? []).reduce((sum, v) => sum + v.value, 0);
}

async function waitForCondition(name: string, type: string, reason: string, timeoutMs = 15_000) {
  return waitFor(
    async () => {
      const d = await dest().get(name);
      return dest().condition(d, type)?.reason === reason ? d : undefined;
    },
    { timeoutMs, what: `${name} ${type} reason ${reason}` },
  );
}

async function addJob(name: string, id: string) {
  const q = openDeliveryQueue(redis, keys, name);
  await q.add('deliver', { e: id }, { jobId: id });
  await q.close();
}

/** Dead-letters one event the way a worker does: a delivery that fails for good. */
async function addDeadLetter(name: string, id: string) {
  await addJob(name, id);
  const connection = redisServer.workerConnection();
  const worker = new Worker(QUEUE_NAME, async () => {
    throw new UnrecoverableError('HTTP 410 Gone');
  }, { connection, prefix: keys.queuePrefix(name) });
  const q = openDeliveryQueue(redis, keys, name);
  await waitFor(async () => (await q.getFailedCount()) === 1, { what: 'dead letter' });
  await worker.close();
  await q.close();
  connection.disconnect();
}

describe('herald controller against a real API server', () => {
  it('creates one worker Deployment per Destination with the right image, args, env, labels and owner', async () => {
    const created = await dest().create('orders', { url, headersFrom: { secretRef: { name: 'orders-auth' } } });
    const dep = await waitFor(() => dest().deployment('orders'), { what: 'worker Deployment' });

    expect(dep.metadata!.labels).toEqual({
      'app.kubernetes.io/name': 'herald',
      'app.kubernetes.io/instance': 'herald',
      'app.kubernetes.io/component': 'worker',
      'app.kubernetes.io/managed-by': 'herald-controller',
      'herald.dev/destination': 'orders',
    });
    expect(dep.metadata!.ownerReferences).toEqual([{ apiVersion: 'herald.dev/v1alpha1', kind: 'Destination', name: 'orders', uid: created.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    expect(dep.metadata!.managedFields!.map((f) => [f.manager, f.operation])).toEqual([['herald-controller', 'Apply']]);
    const pod = dep.spec!.template.spec!;
    const c = pod.containers[0]!;
    expect(c.image).toBe(WORKER_IMAGE);
    expect(c.args).toEqual(['worker', '--destination', 'orders']);
    expect(c.envFrom).toEqual([{ configMapRef: { name: 'herald-worker' } }, { secretRef: { name: 'herald-worker' } }]);
    expect(c.volumeMounts).toContainEqual({ name: 'secret-0', mountPath: '/var/run/herald/secrets/orders-auth', readOnly: true });
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.readinessProbe!.httpGet!.path).toBe('/readyz');

    const d = await dest().get('orders');
    expect(d!.metadata.finalizers).toEqual([FINALIZER]);
    // Published where ingest reads it, with zod's defaults.
    await waitFor(async () => (await registry.get('orders'))?.spec.url === url, { what: 'registry entry' });
    expect((await registry.get('orders'))!.spec).toEqual(DestinationSpec.parse({ url, headersFrom: { secretRef: { name: 'orders-auth' } } }));
    // And `kubectl describe dest orders` tells what happened.
    const events = await waitFor(async () => {
      const list = await cluster.admin.request<{ items: Array<{ reason: string }> }>('GET', `/api/v1/namespaces/${cluster.namespace}/events`, { query: { fieldSelector: 'involvedObject.name=orders' } });
      return list.items.length > 0 ? list.items : undefined;
    }, { what: 'events' });
    expect(events.map((e) => e.reason)).toContain('CreatedDeployment');
  });

  it('reports conditions, replicas and delivery health from Redis in status and in `kubectl get dest`', async () => {
    let d = await waitForCondition('orders', 'Ready', 'WorkersNotReady');
    expect(dest().condition(d, 'Progressing')).toMatchObject({ status: 'True', reason: 'RollingOut' });

    await dest().markDeploymentAvailable('orders');
    d = await waitForCondition('orders', 'Ready', 'WorkersReady');
    expect(dest().condition(d, 'Ready')).toMatchObject({ status: 'True', message: '1/1 workers ready.' });
    expect(dest().condition(d, 'Progressing')).toMatchObject({ status: 'False', reason: 'RolloutComplete' });
    expect(d).toMatchObject({ status: { replicas: 1, readyReplicas: 1, observedGeneration: 1 } });

    // Workers keep these; the controller reports them without a spec change.
    await redis.hset(keys.stats('orders'), { delivered: '42', deadLettered: '3', lastError: 'HTTP 500 from example.com', lastErrorAt: String(Date.now() - 5_000), lastSuccessAt: String(Date.now() - 60_000) });
    await addJob('orders', 'evt-1');
    await addJob('orders', 'evt-2');
    d = await waitForCondition('orders', 'Degraded', 'DeliveryFailing');
    expect(d.status!.delivery).toMatchObject({ backlog: 2, delivered: 42, deadLettered: 3, lastError: 'HTTP 500 from example.com' });
    expect(dest().condition(d, 'Degraded')!.message).toContain('HTTP 500 from example.com');

    const table = await dest().table();
    expect(table.columnDefinitions.map((c) => c.name)).toEqual(['Name', 'URL', 'Ready', 'Reason', 'Health', 'Workers', 'Backlog', 'Dead', 'Delivered', 'Failed', 'Blocked', 'Oldest-Ordered', 'Age']);
    const row = table.rows.find((r) => r.cells[0] === 'orders')!;
    // Ready (workers run) and Health (deliveries fail) side by side; Dead is what is stored now.
    expect(row.cells.slice(0, 10)).toEqual(['orders', url, 'True', 'WorkersReady', 'DeliveryFailing', 1, 2, 0, 42, 3]);

    // The leader exports the queue gauges for every destination.
    await waitFor(async () => (await ctl.registry.getSingleMetricAsString('herald_queue_backlog')).includes('herald_queue_backlog{destination="orders"} 2'), { what: 'queue gauge' });
    expect(await ctl.registry.getSingleMetricAsString('herald_circuit_open')).toContain('herald_circuit_open{destination="orders"} 0');
  });

  it('rewrites the status of a waiting backlog once per refresh period, not on every change of its age', async () => {
    const seen: Array<[string, number]> = [];
    await waitFor(async () => {
      const rv = (await dest().get('orders'))!.metadata.resourceVersion!;
      if (seen.at(-1)?.[0] !== rv) seen.push([rv, Date.now()]);
      return seen.length >= 4;
    }, { timeoutMs: 20_000, intervalMs: 50, what: 'three status writes' });
    // HERALD_STATUS_REFRESH is 2 s (±10 %) here, so three rewrites take at least 5.4 s; reacting to its
    // own writes would rewrite every second (about 3 s). The bound sits between the two, far enough from
    // both that the moment a poll sees a write (late by up to a loaded apiserver's answer) cannot flip it.
    expect(seen[3]![1] - seen[0]![1]).toBeGreaterThanOrEqual(4_200);
  });

  it('writes nothing when re-reconciling an unchanged Destination (resourceVersions stay put)', async () => {
    await dest().create('steady', { url });
    await waitFor(() => dest().deployment('steady'), { what: 'Deployment' });
    await dest().markDeploymentAvailable('steady');
    const settled = await waitForCondition('steady', 'Ready', 'WorkersReady');
    const depBefore = (await dest().deployment('steady'))!.metadata!.resourceVersion;
    const before = await reconciles();
    // Every Destination is re-reconciled every 2 s (status refresh): wait for several rounds.
    await waitFor(async () => (await reconciles()) >= before + 6, { timeoutMs: 20_000, what: 'several reconciles' });
    expect((await dest().get('steady'))!.metadata.resourceVersion).toBe(settled.metadata.resourceVersion);
    expect((await dest().deployment('steady'))!.metadata!.resourceVersion).toBe(depBefore);
  });

  it('rolls the workers for a change they read only at start, republishes every change, but rolls nothing for a replica or URL change', async () => {
    const before = (await dest().deployment('steady'))!;
    await dest().patchSpec('steady', { url: 'https://example.com/v2', rateLimit: { perSecond: 50 }, workers: { replicas: 2 } });
    const rolled = await waitFor(async () => {
      const dep = await dest().deployment('steady');
      return dep?.spec?.replicas === 2 ? dep : undefined;
    }, { what: 'Deployment updated' });
    expect(rolled.spec!.template.metadata!.annotations![CHECKSUM_ANNOTATION]).not.toBe(before.spec!.template.metadata!.annotations![CHECKSUM_ANNOTATION]);
    expect(rolled.metadata!.generation).toBeGreaterThan(before.metadata!.generation!);
    await waitFor(async () => (await registry.get('steady'))?.spec.url === 'https://example.com/v2', { what: 'registry updated' });
    await waitFor(async () => (await dest().get('steady'))?.status?.observedGeneration === 2, { what: 'observedGeneration 2' });

    // Running workers apply a new URL from the registry; the pods stay.
    await dest().patchSpec('steady', { url: 'https://example.com/v3', workers: { replicas: 3 } });
    const scaled = await waitFor(async () => {
      const dep = await dest().deployment('steady');
      return dep?.spec?.replicas === 3 ? dep : undefined;
    }, { what: 'scaled' });
    expect(scaled.spec!.template.metadata!.annotations![CHECKSUM_ANNOTATION]).toBe(rolled.spec!.template.metadata!.annotations![CHECKSUM_ANNOTATION]);
    await waitFor(async () => (await registry.get('steady'))?.spec.url === 'https://example.com/v3', { what: 'registry updated again' });
  });

  it('reports a spec only zod can reject (day-valued delays) and recovers once it is fixed', async () => {
    await dest().patchSpec('steady', { retry: { initialDelay: '2d', maxDelay: '1h' } });
    const d = await waitForCondition('steady', 'Ready', 'InvalidSpec');
    expect(dest().condition(d, 'Ready')!.message).toContain('spec.retry.initialDelay: initialDelay must not exceed maxDelay');
    // The workers keep the last valid configuration.
    expect((await registry.get('steady'))!.spec.retry.initialDelay).toBe('10s');
    await dest().patchSpec('steady', { retry: { initialDelay: '1h', maxDelay: '2d' } });
    await waitFor(async () => (await registry.get('steady'))?.spec.retry.initialDelay === '1h', { what: 'fixed spec published' });
    await waitFor(async () => dest().condition(await dest().get('steady'), 'Ready')?.reason !== 'InvalidSpec', { what: 'InvalidSpec cleared' });
  });

  it('tells how to recover a destination its receiver disabled with 410 Gone, until the URL changes', async () => {
    await dest().create('gone', { url: 'https://old.example.com/hook' });
    await waitFor(() => dest().deployment('gone'), { what: 'Deployment' });
    // What a worker records when the receiver answers 410 Gone.
    await redis.hset(keys.stats('gone'), { disabledUrl: 'https://old.example.com/hook', disabledReason: '410 Gone', disabledAt: String(Date.now()) });
    const d = await waitForCondition('gone', 'Ready', 'ReceiverGone');
    expect(dest().condition(d, 'Ready')!.message).toContain('herald resume --destination gone');
    expect(d.status!.delivery).toMatchObject({ disabledReason: '410 Gone' });
    await dest().patchSpec('gone', { url: 'https://new.example.com/hook' });
    await waitFor(async () => dest().condition(await dest().get('gone'), 'Ready')?.reason === 'WorkersNotReady', { what: 'no longer ReceiverGone' });
  });

  it('deletionPolicy keep: the finalizer stops routing and removes the workers, the queue stays', async () => {
    await dest().delete('orders');
    await waitFor(async () => (await dest().get('orders')) === undefined, { what: 'orders deleted' });
    expect(await dest().deployment('orders')).toBeUndefined();
    expect(await registry.get('orders')).toBeUndefined();
    const q = openDeliveryQueue(redis, keys, 'orders');
    expect(await q.getWaitingCount()).toBe(2);
    await q.close();
  });

  it('deletionPolicy purge: queued events and dead letters go with the Destination', async () => {
    await dest().create('purged', { url, deletionPolicy: 'purge' });
    await waitFor(() => dest().deployment('purged'), { what: 'Deployment' });
    await addDeadLetter('purged', 'evt-p0');
    await addJob('purged', 'evt-p1');
    await redis.hset(keys.stats('purged'), { delivered: '1' });
    await dest().delete('purged');
    await waitFor(async () => (await dest().get('purged')) === undefined, { what: 'purged deleted' });
    const q = openDeliveryQueue(redis, keys, 'purged');
    expect(await q.getJobCounts('waiting', 'failed')).toEqual({ waiting: 0, failed: 0 });
    await q.close();
    expect(await redis.exists(keys.stats('purged'))).toBe(0);
    expect(await dest().deployment('purged')).toBeUndefined();
  });

  it('deletionPolicy drain: stops routing new events, keeps the workers until the backlog is delivered', async () => {
    await dest().create('drained', { url, deletionPolicy: 'drain' });
    await waitFor(() => dest().deployment('drained'), { what: 'Deployment' });
    await addJob('drained', 'evt-d1');
    await dest().delete('drained');

    const d = await waitForCondition('drained', 'Ready', 'Draining');
    expect(dest().condition(d, 'Ready')!.message).toContain('1 event pending');
    const entry = (await registry.get('drained'))!;
    expect(entry.spec.filter).toEqual(DRAINING_FILTER);
    expect(typeMatcher(entry.spec)('order.created')).toBe(false);
    expect(await dest().deployment('drained')).toBeDefined();

    // A worker delivers the last event.
    const q = openDeliveryQueue(redis, keys, 'drained');
    await (await q.getJob('evt-d1'))!.remove();
    await q.close();
    await waitFor(async () => (await dest().get('drained')) === undefined, { timeoutMs: 20_000, what: 'drained deleted' });
    expect(await registry.get('drained')).toBeUndefined();
    expect(await dest().deployment('drained')).toBeUndefined();
  });

  it('needs no more than the RBAC in manifests/rbac: it ran as that ServiceAccount, which cannot read Secrets', async () => {
    const kc = new KubeConfig();
    kc.loadFromString(cluster.controllerKubeconfig);
    const asController = new KubeRest(kc);
    const err = await asController.request('GET', `/api/v1/namespaces/${cluster.namespace}/secrets`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).status).toBe(403);
    expect(ctl.logs.lines.filter((l) => String(l.err ?? '').includes('forbidden'))).toEqual([]);
    expect(await ctl.controller.isReady()).toBe(true);
  });
});
