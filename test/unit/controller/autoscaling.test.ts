import type { V1Deployment } from '@kubernetes/client-node';
import { beforeEach, describe, expect, it } from 'vitest';
import { DestinationSpec, type DestinationSpecInput } from '../../../src/api/destination.js';
import type { AutoscalerProvider } from '../../../src/config/controller.js';
import { appliesReplicas, convergeScaler, removeScaler, scalerChanged, sweepScalers, type AutoscalingDeps } from '../../../src/controller/autoscaling.js';
import type { DestinationResource } from '../../../src/controller/destination-resource.js';
import type { Scaler, ScalerKind } from '../../../src/controller/desired-scaler.js';
import { KubeApiError } from '../../../src/controller/kube-rest.js';
import type { ScalerKube } from '../../../src/controller/scaler-client.js';
import { createLogger } from '../../../src/log/logger.js';

const KEY = 'shop/herald-worker-orders';

/** Scalers as the API server keeps them; `served: false` plays a cluster without the KEDA CRD. */
class FakeScalers implements ScalerKube {
  objects = new Map<string, Scaler>();
  writes: string[] = [];
  served = true;
  refuse?: Error;

  async apply(s: Scaler) {
    if (!this.served) throw new KubeApiError('the server could not find the requested resource', 404, 'NotFound');
    if (this.refuse) throw this.refuse;
    this.writes.push(`apply ${s.kind}`);
    const stored = structuredClone(s);
    stored.metadata.uid = this.objects.get(KEY)?.metadata.uid ?? 'scaler-uid';
    this.objects.set(KEY, stored);
    return stored;
  }
  async delete(kind: ScalerKind, _ns: string, name: string) {
    this.writes.push(`delete ${kind}/${name}`);
    this.objects.delete(`shop/${name}`);
  }
  async list(kind: ScalerKind) {
    return [...this.objects.values()].filter((o) => o.kind === kind);
  }
  async handOffReplicas(_ns: string, name: string, replicas: number) {
    this.writes.push(`handoff ${name}=${replicas}`);
    return {} as V1Deployment;
  }
  get(key: string) {
    return this.objects.get(key);
  }
}

let scalers: FakeScalers;
let events: string[];
let guarded: number;
const log = createLogger({ level: 'silent' });

beforeEach(() => {
  scalers = new FakeScalers();
  events = [];
  guarded = 0;
});

const destination: DestinationResource = { apiVersion: 'herald.dev/v1alpha1', kind: 'Destination', metadata: { name: 'orders', namespace: 'shop', uid: 'uid-1', generation: 1 } };
const spec = (input: Partial<DestinationSpecInput> = {}) => DestinationSpec.parse({ url: 'https://example.com/hook', ...input });
const deps = (provider: AutoscalerProvider): AutoscalingDeps => ({
  settings: { provider, prometheusUrl: 'http://prometheus:9090', queryLabels: {}, instance: 'herald' },
  kube: scalers,
  scalers,
});
const converge = (provider: AutoscalerProvider, s: DestinationSpec, deployment?: V1Deployment) =>
  convergeScaler(
    {
      deps: deps(provider),
      events: { normal: (_o, r) => events.push(`Normal/${r}`), warning: (_o, r) => events.push(`Warning/${r}`) },
      log,
      guard: () => guarded++,
    },
    destination,
    s,
    deployment,
  );

/** A Deployment whose replicas the controller's applied configuration includes (it ran with fixed replicas). */
const appliedWithReplicas = (replicas: number): V1Deployment => ({
  metadata: { name: 'herald-worker-orders', managedFields: [{ manager: 'herald-controller', operation: 'Apply', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { 'f:replicas': {}, 'f:template': {} } } }] },
  spec: { replicas, selector: {}, template: {} },
});

describe('convergeScaler', () => {
  it('creates the ScaledObject and leaves replicas to it; a second pass writes nothing', async () => {
    const scaled = spec({ scaling: { minReplicas: 1, maxReplicas: 5 } });
    expect(await converge('keda', scaled)).toEqual({ replicas: undefined, status: { note: undefined } });
    expect(scalers.writes).toEqual(['apply ScaledObject']);
    expect(events).toEqual(['Normal/CreatedScaledObject']);
    expect(guarded).toBe(1);
    expect(await converge('keda', scaled)).toMatchObject({ replicas: undefined });
    expect(scalers.writes).toHaveLength(1);
  });

  it('updates the scaler when spec.scaling changes', async () => {
    await converge('keda', spec({ scaling: { maxReplicas: 5 } }));
    await converge('keda', spec({ scaling: { maxReplicas: 7 } }));
    expect(scalers.writes).toEqual(['apply ScaledObject', 'apply ScaledObject']);
    expect((scalers.get(KEY) as { spec: { maxReplicaCount: number } }).spec.maxReplicaCount).toBe(7);
    expect(events).toContain('Normal/UpdatedScaledObject');
  });

  it('deletes the scaler once spec.scaling is removed, and gives the Deployment fixed replicas again', async () => {
    await converge('hpa', spec({ scaling: {} }));
    const r = await converge('hpa', spec({ workers: { replicas: 3 } }));
    expect(r.replicas).toBe(3);
    expect(scalers.writes).toEqual(['apply HorizontalPodAutoscaler', 'delete HorizontalPodAutoscaler/herald-worker-orders']);
    expect(events).toContain('Normal/DeletedHorizontalPodAutoscaler');
  });

  it('reports KEDA missing (404) as unavailable and pins the workers at minReplicas, at least 1, without failing', async () => {
    scalers.served = false;
    const r = await converge('keda', spec({ scaling: { minReplicas: 0, maxReplicas: 4 } }));
    expect(r.replicas).toBe(1);
    expect(r.error).toBeUndefined();
    expect(r.status.unavailable).toMatch(/KEDA is not installed.*scaledobjects\.keda\.sh\/v1alpha1.*run at 1 replica.*provider to hpa or none/);
    expect(events).toEqual(['Warning/AutoscalerUnavailable']);
    expect((await converge('keda', spec({ scaling: { minReplicas: 3 } }))).replicas).toBe(3);
  });

  it('returns other refusals as errors to retry, and keeps the workers at minReplicas meanwhile', async () => {
    scalers.refuse = new KubeApiError('admission webhook denied', 422, 'Invalid');
    const r = await converge('keda', spec({ scaling: { minReplicas: 2 } }));
    expect(r).toMatchObject({ replicas: 2, error: scalers.refuse });
    expect(r.status.error).toContain('The API server refused ScaledObject herald-worker-orders: admission webhook denied');
  });

  it('raises an HPA’s minReplicas 0 to 1 and explains it in status and an event', async () => {
    const r = await converge('hpa', spec({ scaling: { minReplicas: 0 } }));
    expect((scalers.get(KEY) as { spec: { minReplicas: number } }).spec.minReplicas).toBe(1);
    expect(r.status.note).toContain('cannot scale to zero');
    expect(events).toContain('Warning/ScaleToZeroUnsupported');
  });

  it('manages nothing with the none provider and pins the workers at minReplicas', async () => {
    const r = await converge('none', spec({ scaling: { minReplicas: 2 } }));
    expect(r.replicas).toBe(2);
    expect(r.status.note).toContain('HERALD_AUTOSCALER=none');
    expect(scalers.writes).toEqual([]);
  });

  it('does not take over a scaler another owner controls, nor fight it over replicas', async () => {
    await converge('keda', spec({ scaling: {} }));
    scalers.get(KEY)!.metadata.ownerReferences = [{ apiVersion: 'x/v1', kind: 'Other', name: 'o', uid: 'other', controller: true }];
    scalers.writes = [];
    const r = await converge('keda', spec({ scaling: {} }));
    expect(r.replicas).toBeUndefined();
    expect(r.status.error).toContain('is not controlled by this Destination');
    expect(scalers.writes).toEqual([]);
  });

  it('hands the current replica count to the autoscaler (clamped to its bounds) before the controller drops the field', async () => {
    const r = await converge('keda', spec({ scaling: { minReplicas: 1, maxReplicas: 4 } }), appliedWithReplicas(6));
    expect(r.replicas).toBeUndefined();
    expect(scalers.writes).toEqual(['apply ScaledObject', 'handoff herald-worker-orders=4']);
  });
});

describe('appliesReplicas', () => {
  it('reads the controller’s Apply entry in managedFields', () => {
    expect(appliesReplicas(appliedWithReplicas(2))).toBe(true);
    expect(appliesReplicas({ metadata: { managedFields: [{ manager: 'kube-controller-manager', operation: 'Update', fieldsV1: { 'f:spec': { 'f:replicas': {} } } }] } })).toBe(false);
    expect(appliesReplicas({ metadata: { managedFields: [{ manager: 'herald-controller', operation: 'Apply', fieldsV1: { 'f:spec': { 'f:template': {} } } }] } })).toBe(false);
    expect(appliesReplicas(undefined)).toBe(false);
  });
});

describe('removeScaler and sweepScalers', () => {
  it('removes a deleted Destination’s own scaler only', async () => {
    await converge('keda', spec({ scaling: {} }));
    await removeScaler(deps('keda'), { ...destination, metadata: { ...destination.metadata, uid: 'someone-else' } }, () => {});
    expect(scalers.objects.size).toBe(1);
    await removeScaler(deps('keda'), destination, () => {});
    expect(scalers.objects.size).toBe(0);
  });

  it('deletes scalers of the provider no longer configured that a Destination controls', async () => {
    await converge('keda', spec({ scaling: {} }));
    expect(await sweepScalers(deps('keda'), 'shop', () => {}, log)).toEqual([]);
    expect(await sweepScalers(deps('hpa'), 'shop', () => {}, log)).toEqual(['ScaledObject/herald-worker-orders']);
    expect(scalers.objects.size).toBe(0);
  });
});

describe('scalerChanged', () => {
  it('ignores status updates, which KEDA and the HPA controller write all the time', async () => {
    await converge('keda', spec({ scaling: {} }));
    const a = scalers.get(KEY)!;
    const b = { ...structuredClone(a), status: { conditions: [{ type: 'Active', status: 'True' }] } } as Scaler;
    expect(scalerChanged(a, b)).toBe(false);
    expect(scalerChanged(undefined, a)).toBe(true);
    const c = structuredClone(a) as { spec: { maxReplicaCount: number } } & Scaler;
    c.spec.maxReplicaCount = 99;
    expect(scalerChanged(a, c)).toBe(true);
  });
});
