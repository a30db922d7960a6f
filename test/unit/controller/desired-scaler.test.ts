import { describe, expect, it } from 'vitest';
import { DestinationSpec, type DestinationSpecInput } from '../../../src/api/destination.js';
import type { AutoscalerProvider } from '../../../src/config/controller.js';
import {
  backlogQuery,
  canonicalQuantity,
  desiredScaler,
  scalerKindOf,
  scalingNotice,
  workerReplicas,
  type HorizontalPodAutoscaler,
  type ScaledObject,
  type ScalerSettings,
} from '../../../src/controller/desired-scaler.js';
import { APPLIED_HASH_ANNOTATION } from '../../../src/controller/names.js';

const dest = { metadata: { name: 'orders', namespace: 'shop', uid: 'uid-1' } };
const settings = (provider: AutoscalerProvider, extra: Partial<ScalerSettings> = {}): ScalerSettings => ({
  provider,
  prometheusUrl: 'http://prometheus-operated.monitoring:9090',
  queryLabels: {},
  instance: 'prod',
  ...extra,
});
const spec = (input: Partial<DestinationSpecInput> = {}) => DestinationSpec.parse({ url: 'https://example.com/hook', ...input });
const scaled = spec({ scaling: { minReplicas: 2, maxReplicas: 8, targetBacklog: 500 } });
const keda = (s = scaled, extra: Partial<ScalerSettings> = {}) => desiredScaler(dest, s, settings('keda', extra)) as ScaledObject;
const hpa = (s = scaled, extra: Partial<ScalerSettings> = {}) => desiredScaler(dest, s, settings('hpa', extra)) as HorizontalPodAutoscaler;

const owner = [{ apiVersion: 'herald.dev/v1alpha1', kind: 'Destination', name: 'orders', uid: 'uid-1', controller: true, blockOwnerDeletion: true }];
const labels = {
  'app.kubernetes.io/name': 'herald',
  'app.kubernetes.io/instance': 'prod',
  'app.kubernetes.io/component': 'worker',
  'app.kubernetes.io/managed-by': 'herald-controller',
  'herald.dev/destination': 'orders',
};

describe('desiredScaler with KEDA', () => {
  it('builds a ScaledObject named after the worker Deployment, scaling it on the destination’s backlog', () => {
    const so = keda();
    expect(so.apiVersion).toBe('keda.sh/v1alpha1');
    expect(so.kind).toBe('ScaledObject');
    expect(so.metadata).toMatchObject({ name: 'herald-worker-orders', namespace: 'shop', labels, ownerReferences: owner });
    expect(so.spec).toEqual({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'herald-worker-orders' },
      pollingInterval: 15,
      cooldownPeriod: 300,
      minReplicaCount: 2,
      maxReplicaCount: 8,
      triggers: [
        {
          type: 'prometheus',
          name: 'backlog',
          metricType: 'AverageValue',
          metadata: {
            serverAddress: 'http://prometheus-operated.monitoring:9090',
            query: 'max(herald_queue_backlog{destination="orders"})',
            threshold: '500',
            activationThreshold: '0',
            ignoreNullValues: 'false',
          },
        },
      ],
    });
  });

  it('keeps minReplicas 0, so KEDA scales an idle destination to zero and back up once one delivery waits', () => {
    const so = keda(spec({ scaling: { minReplicas: 0, maxReplicas: 3 } }));
    expect(so.spec.minReplicaCount).toBe(0);
    expect(so.spec.triggers[0]!.metadata).toMatchObject({ threshold: '100', activationThreshold: '0' });
    expect(scalingNotice(spec({ scaling: { minReplicas: 0 } }), 'keda')).toBeUndefined();
  });

  it('adds the query labels as matchers, escaped for PromQL', () => {
    expect(keda(scaled, { queryLabels: { namespace: 'herald', job: 'a"b\\c' } }).spec.triggers[0]!.metadata.query).toBe(
      'max(herald_queue_backlog{destination="orders",namespace="herald",job="a\\"b\\\\c"})',
    );
    expect(backlogQuery('x')).toBe('max(herald_queue_backlog{destination="x"})');
  });

  it('refuses to build without a Prometheus URL or a uid', () => {
    expect(() => keda(scaled, { prometheusUrl: undefined })).toThrow(/HERALD_PROMETHEUS_URL/);
    expect(() => desiredScaler({ metadata: { name: 'x', namespace: 'y' } }, scaled, settings('keda'))).toThrow(/no uid/);
  });
});

describe('desiredScaler with an HPA', () => {
  it('builds an autoscaling/v2 HPA on the External metric herald_queue_backlog selected by destination', () => {
    const h = hpa(scaled, { queryLabels: { namespace: 'herald' } });
    expect(h.apiVersion).toBe('autoscaling/v2');
    expect(h.kind).toBe('HorizontalPodAutoscaler');
    expect(h.metadata).toMatchObject({ name: 'herald-worker-orders', namespace: 'shop', labels, ownerReferences: owner });
    expect(h.spec).toEqual({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'herald-worker-orders' },
      minReplicas: 2,
      maxReplicas: 8,
      metrics: [
        {
          type: 'External',
          external: {
            metric: { name: 'herald_queue_backlog', selector: { matchLabels: { destination: 'orders', namespace: 'herald' } } },
            target: { type: 'AverageValue', averageValue: '500' },
          },
        },
      ],
    });
  });

  it('raises minReplicas 0 to 1 and says why: HPAs cannot scale to zero', () => {
    const zero = spec({ scaling: { minReplicas: 0, maxReplicas: 4 } });
    expect(hpa(zero).spec.minReplicas).toBe(1);
    expect(scalingNotice(zero, 'hpa')).toMatch(/cannot scale to zero.*applied as 1.*provider=keda/);
    expect(scalingNotice(scaled, 'hpa')).toBeUndefined();
  });

  it('writes the target as the API server’s canonical quantity, so a no-op reconcile compares equal', () => {
    expect(hpa(spec({ scaling: { targetBacklog: 1000 } })).spec.metrics![0]!.external!.target.averageValue).toBe('1k');
    expect([1, 100, 999, 1000, 1500, 2000, 1_000_000, 1_500_000].map(canonicalQuantity)).toEqual(['1', '100', '999', '1k', '1500', '2k', '1M', '1500k']);
  });
});

describe('no scaler', () => {
  it('is wanted without spec.scaling, whatever the provider', () => {
    for (const p of ['keda', 'hpa', 'none'] as const) expect(desiredScaler(dest, spec(), settings(p))).toBeNull();
  });

  it('is wanted with the none provider, which pins the workers at minReplicas (at least 1) and says so', () => {
    expect(desiredScaler(dest, scaled, settings('none'))).toBeNull();
    expect(scalingNotice(scaled, 'none')).toContain('run at 2 replicas');
    const zero = spec({ scaling: { minReplicas: 0 } });
    expect(desiredScaler(dest, zero, settings('none'))).toBeNull();
    expect(scalingNotice(zero, 'none')).toContain('run at 1 replica.');
  });

  it('follows removing spec.scaling: the same Destination then wants none', () => {
    expect(keda()).not.toBeNull();
    const { scaling: _s, ...without } = scaled;
    expect(desiredScaler(dest, DestinationSpec.parse(without), settings('keda'))).toBeNull();
  });
});

describe('workerReplicas', () => {
  it('states spec.workers.replicas without scaling, nothing while a scaler manages them, minReplicas (≥ 1) otherwise', () => {
    expect(workerReplicas(spec({ workers: { replicas: 3 } }), false)).toBe(3);
    expect(workerReplicas(spec({ workers: { replicas: 0 } }), true)).toBe(0);
    expect(workerReplicas(scaled, true)).toBeUndefined();
    expect(workerReplicas(scaled, false)).toBe(2);
    expect(workerReplicas(spec({ scaling: { minReplicas: 0 } }), false)).toBe(1);
  });
});

describe('the applied-hash annotation', () => {
  it('changes with anything the scaler says, and is stable otherwise', () => {
    const hash = (s: ReturnType<typeof keda>) => s.metadata.annotations![APPLIED_HASH_ANNOTATION];
    expect(hash(keda())).toMatch(/^[0-9a-f]{16}$/);
    expect(hash(keda())).toBe(hash(keda()));
    expect(hash(keda(spec({ scaling: { minReplicas: 2, maxReplicas: 9, targetBacklog: 500 } })))).not.toBe(hash(keda()));
  });
});

describe('scalerKindOf', () => {
  it('maps providers to kinds', () => {
    expect([scalerKindOf('keda'), scalerKindOf('hpa'), scalerKindOf('none')]).toEqual(['ScaledObject', 'HorizontalPodAutoscaler', undefined]);
  });
});
