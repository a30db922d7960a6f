/**
 * Worker autoscaling against a real kube-apiserver: the ScaledObjects (KEDA's CRD, from
 * test/cluster/crds/keda-scaledobject.yaml) and HPAs the controller writes are validated by the API
 * server, and the controller runs with the herald-controller ServiceAccount's RBAC. No KEDA operator
 * or HPA controller runs: what is checked is what the controller writes, not how they scale.
 * The steps build on each other (one cluster, one Redis), in order.
 */
import type { V1Deployment } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIELD_MANAGER } from '../../src/controller/names.js';
import { HANDOFF_FIELD_MANAGER } from '../../src/controller/scaler-client.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { waitFor } from '../support/wait.js';
import { installKedaCrd, runController, startCluster, type Cluster, type TestController } from './harness.js';
import { startTogether } from '../support/start-together.js';

const PREFIX = 'scale';
const url = 'https://example.com/hook';
let cluster: Cluster;
let redisServer: RedisServer;
let ctl: TestController;

beforeAll(async () => {
  [cluster, redisServer] = await startTogether(startCluster({ namespace: 'herald' }), startRedis(), { a: (c) => c.stop(), b: (r) => r.close() });
  ctl = start('controller-keda', {});
});
afterAll(async () => {
  await ctl?.close();
  await redisServer?.close();
  await cluster?.stop();
});

function start(identity: string, env: Record<string, string>): TestController {
  return runController(cluster, { redisUrl: redisServer.url, prefix: PREFIX, identity, env: { HERALD_AUTOSCALER_QUERY_LABELS: 'namespace=herald', ...env } });
}

const dest = () => cluster.dest;

type ScaledObject = { metadata: Record<string, any>; spec: Record<string, any> };
type Hpa = ScaledObject;

/** Fields of the Deployment's spec that a manager's applied or updated configuration includes. */
function ownedSpecFields(dep: V1Deployment, manager: string): string[] {
  const entry = dep.metadata!.managedFields!.find((f) => f.manager === manager);
  return Object.keys(((entry?.fieldsV1 as Record<string, Record<string, unknown>> | undefined)?.['f:spec']) ?? {});
}

async function waitForReason(name: string, type: string, reason: string, timeoutMs = 15_000) {
  return waitFor(
    async () => {
      const d = await dest().get(name);
      return dest().condition(d, type)?.reason === reason ? d : undefined;
    },
    { timeoutMs, what: `${name} ${type} reason ${reason}` },
  );
}

async function reconciles(c: TestController): Promise<number> {
  const m = await c.registry.getSingleMetric('herald_controller_reconcile_total')?.get();
  return (m?.values ?? []).reduce((sum, v) => sum + v.value, 0);
}

async function events(name: string): Promise<string[]> {
  const list = await cluster.admin.request<{ items: Array<{ reason: string; message: string }> }>('GET', `/api/v1/namespaces/${cluster.namespace}/events`, {
    query: { fieldSelector: `involvedObject.name=${name}` },
  });
  return list.items.map((e) => e.reason);
}

describe('worker autoscaling against a real API server', () => {
  it('without the KEDA CRD: reports Degraded/AutoscalerUnavailable and keeps the workers at minReplicas (at least 1)', async () => {
    await waitFor(() => ctl.controller.isLeader(), { what: 'controller to lead' });
    await dest().create('idle', { url, scaling: { minReplicas: 0, maxReplicas: 3 } });
    const d = await waitForReason('idle', 'Degraded', 'AutoscalerUnavailable');
    const message = dest().condition(d, 'Degraded')!.message;
    expect(message).toContain('KEDA is not installed');
    expect(message).toContain('autoscaling.workers.provider to hpa or none');
    const dep = await waitFor(() => dest().deployment('idle'), { what: 'Deployment' });
    expect(dep.spec!.replicas).toBe(1);
    expect(ownedSpecFields(dep, FIELD_MANAGER)).toContain('f:replicas');
  });

  it('once KEDA is installed: creates the ScaledObject and hands the replica count over without resetting it', async () => {
    await installKedaCrd(cluster.admin);
    const so = await waitFor(() => dest().scaler<ScaledObject>('ScaledObject', 'idle'), { timeoutMs: 20_000, what: 'ScaledObject for idle' });
    expect(so.spec.minReplicaCount).toBe(0);
    await waitFor(async () => dest().condition(await dest().get('idle'), 'Degraded')?.reason !== 'AutoscalerUnavailable', { what: 'Degraded cleared' });
    const dep = await waitFor(async () => {
      const d = await dest().deployment('idle');
      return d && !ownedSpecFields(d, FIELD_MANAGER).includes('f:replicas') ? d : undefined;
    }, { what: 'controller to let go of replicas' });
    expect(dep.spec!.replicas).toBe(1);
    expect(ownedSpecFields(dep, HANDOFF_FIELD_MANAGER)).toEqual(['f:replicas']);
  });

  it('creates a ScaledObject on the destination’s backlog, owned by the Destination, and leaves replicas to it', async () => {
    const created = await dest().create('orders', { url, scaling: { minReplicas: 2, maxReplicas: 8, targetBacklog: 1000 } });
    const so = await waitFor(() => dest().scaler<ScaledObject>('ScaledObject', 'orders'), { what: 'ScaledObject' });
    expect(so.metadata.ownerReferences).toEqual([{ apiVersion: 'herald.dev/v1alpha1', kind: 'Destination', name: 'orders', uid: created.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    expect(so.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'herald-controller', 'herald.dev/destination': 'orders' });
    expect(so.spec).toMatchObject({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'herald-worker-orders' },
      minReplicaCount: 2,
      maxReplicaCount: 8,
      triggers: [
        {
          type: 'prometheus',
          metricType: 'AverageValue',
          metadata: {
            serverAddress: 'http://prometheus.test:9090',
            query: 'max(herald_queue_backlog{destination="orders",namespace="herald"})',
            threshold: '1000',
            activationThreshold: '0',
          },
        },
      ],
    });
    const dep = await waitFor(() => dest().deployment('orders'), { what: 'Deployment' });
    expect(ownedSpecFields(dep, FIELD_MANAGER)).not.toContain('f:replicas');
    expect(ownedSpecFields(dep, FIELD_MANAGER)).toContain('f:template');
    expect(await events('orders')).toContain('CreatedScaledObject');
  });

  it('writes nothing when re-reconciling an unchanged scaled Destination', async () => {
    await dest().markDeploymentAvailable('orders');
    await waitForReason('orders', 'Ready', 'WorkersReady');
    const before = [(await dest().get('orders'))!.metadata.resourceVersion, (await dest().deployment('orders'))!.metadata!.resourceVersion, (await dest().scaler<ScaledObject>('ScaledObject', 'orders'))!.metadata.resourceVersion];
    const n = await reconciles(ctl);
    await waitFor(async () => (await reconciles(ctl)) >= n + 4, { timeoutMs: 15_000, what: 'several reconciles' });
    const after = [(await dest().get('orders'))!.metadata.resourceVersion, (await dest().deployment('orders'))!.metadata!.resourceVersion, (await dest().scaler<ScaledObject>('ScaledObject', 'orders'))!.metadata.resourceVersion];
    expect(after).toEqual(before);
  });

  it('puts back a ScaledObject someone deleted', async () => {
    const uid = (await dest().scaler<ScaledObject>('ScaledObject', 'orders'))!.metadata.uid;
    await cluster.admin.request('DELETE', `/apis/keda.sh/v1alpha1/namespaces/herald/scaledobjects/herald-worker-orders`);
    const recreated: ScaledObject = await waitFor(async () => {
      const so = await dest().scaler<ScaledObject>('ScaledObject', 'orders');
      return so && so.metadata.uid !== uid ? so : undefined;
    }, { what: 'ScaledObject re-created' });
    // The same desired object as before: it scales the worker Deployment on the backlog query.
    expect(recreated.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'herald-worker-orders' });
    expect(recreated.spec.triggers.map((t: { type: string }) => t.type)).toEqual(['prometheus']);
  });

  it('removing spec.scaling deletes the ScaledObject and gives the Deployment fixed replicas again', async () => {
    await dest().patchSpec('orders', { scaling: null, workers: { replicas: 3 } });
    await waitFor(async () => (await dest().scaler('ScaledObject', 'orders')) === undefined, { what: 'ScaledObject deleted' });
    const dep = await waitFor(async () => {
      const d = await dest().deployment('orders');
      return d?.spec?.replicas === 3 ? d : undefined;
    }, { what: 'fixed replicas' });
    expect(ownedSpecFields(dep, FIELD_MANAGER)).toContain('f:replicas');
    expect(await events('orders')).toContain('DeletedScaledObject');
  });

  it('enabling spec.scaling on running workers keeps their count, clamped to maxReplicas, instead of resetting it to 1', async () => {
    await dest().patchSpec('orders', { scaling: { minReplicas: 1, maxReplicas: 2 } });
    await waitFor(() => dest().scaler('ScaledObject', 'orders'), { what: 'ScaledObject again' });
    const dep = await waitFor(async () => {
      const d = await dest().deployment('orders');
      return d && !ownedSpecFields(d, FIELD_MANAGER).includes('f:replicas') ? d : undefined;
    }, { what: 'replicas handed over' });
    expect(dep.spec!.replicas).toBe(2);
  });

  it('with HERALD_AUTOSCALER=hpa: replaces the ScaledObjects with HPAs the API server accepts, minReplicas at least 1', async () => {
    await ctl.close();
    ctl = start('controller-hpa', { HERALD_AUTOSCALER: 'hpa' });
    await waitFor(() => ctl.controller.isLeader(), { timeoutMs: 30_000, what: 'hpa controller to lead' });
    const hpa = await waitFor(() => dest().scaler<Hpa>('HorizontalPodAutoscaler', 'idle'), { what: 'HPA for idle' });
    expect(hpa.spec).toEqual({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'herald-worker-idle' },
      minReplicas: 1,
      maxReplicas: 3,
      metrics: [
        {
          type: 'External',
          external: {
            metric: { name: 'herald_queue_backlog', selector: { matchLabels: { destination: 'idle', namespace: 'herald' } } },
            target: { type: 'AverageValue', averageValue: '100' },
          },
        },
      ],
    });
    await waitFor(async () => (await dest().scaler('ScaledObject', 'idle')) === undefined && (await dest().scaler('ScaledObject', 'orders')) === undefined, { what: 'ScaledObjects swept' });
    await waitFor(() => dest().scaler('HorizontalPodAutoscaler', 'orders'), { what: 'HPA for orders' });
    const idle = await waitFor(async () => {
      const d = await dest().get('idle');
      return dest().condition(d, 'Ready')?.message.includes('cannot scale to zero') ? d : undefined;
    }, { what: 'Ready explains the HPA minimum' });
    expect(dest().condition(idle, 'Degraded')?.reason).not.toBe('AutoscalerUnavailable');
    await waitFor(async () => (await events('idle')).includes('ScaleToZeroUnsupported'), { what: 'ScaleToZeroUnsupported event' });
  });

  it('keeps the HPA as is on no-op reconciles (canonical quantities), and deletes it with its Destination', async () => {
    await dest().patchSpec('orders', { scaling: { minReplicas: 1, maxReplicas: 2, targetBacklog: 2000 } });
    const hpa = await waitFor(async () => {
      const h = await dest().scaler<Hpa>('HorizontalPodAutoscaler', 'orders');
      return h?.spec.metrics[0].external.target.averageValue === '2k' ? h : undefined;
    }, { what: 'HPA target 2k' });
    const n = await reconciles(ctl);
    await waitFor(async () => (await reconciles(ctl)) >= n + 4, { timeoutMs: 15_000, what: 'several reconciles' });
    expect((await dest().scaler<Hpa>('HorizontalPodAutoscaler', 'orders'))!.metadata.resourceVersion).toBe(hpa.metadata.resourceVersion);

    // No garbage collector runs here: the finalizer itself removes the scaler before the workers.
    await dest().delete('orders');
    await waitFor(async () => (await dest().get('orders')) === undefined, { what: 'orders deleted' });
    expect(await dest().scaler('HorizontalPodAutoscaler', 'orders')).toBeUndefined();
    expect(ctl.logs.lines.filter((l) => String(l.err ?? '').includes('forbidden'))).toEqual([]);
  });
});
