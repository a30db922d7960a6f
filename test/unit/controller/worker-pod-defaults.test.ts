import { describe, expect, it } from 'vitest';
import { DestinationSpec, type DestinationSpecInput } from '../../../src/api/destination.js';
import { loadControllerConfig, type WorkerSettings } from '../../../src/config/controller.js';
import { desiredDeployment } from '../../../src/controller/desired-deployment.js';

const base: WorkerSettings = { image: 'herald:1', imagePullPolicy: 'IfNotPresent', instance: 'prod', port: 8080, secretsDir: '/s' };
const dest = { metadata: { name: 'orders', namespace: 'shop', uid: 'uid-1' } };
const podOf = (spec: DestinationSpecInput, s: WorkerSettings) => desiredDeployment(dest, DestinationSpec.parse(spec), s).spec!.template;

const defaults = {
  nodeSelector: { pool: 'workers' },
  tolerations: [{ key: 'dedicated', operator: 'Equal' as const, value: 'herald', effect: 'NoSchedule' as const }],
  affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }] } } },
  topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway' }],
  podLabels: { team: 'payments', 'app.kubernetes.io/instance': 'not-this' },
  podAnnotations: { 'example.com/scrape': 'true' },
  priorityClassName: 'herald-high',
  podSecurityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
  containerSecurityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
};

describe('worker pods from the chart defaults and the Destination', () => {
  it('take the chart\'s scheduling, labels, annotations, priority class and security contexts', () => {
    const pod = podOf({ url: 'https://example.com/hook' }, { ...base, podDefaults: defaults });
    expect(pod.spec).toMatchObject({ nodeSelector: defaults.nodeSelector, tolerations: defaults.tolerations, affinity: defaults.affinity, topologySpreadConstraints: defaults.topologySpreadConstraints, priorityClassName: 'herald-high' });
    expect(pod.spec!.securityContext).toEqual(defaults.podSecurityContext);
    expect(pod.spec!.containers[0]!.securityContext).toEqual(defaults.containerSecurityContext);
    expect(pod.metadata!.annotations).toMatchObject({ 'example.com/scrape': 'true' });
    // A chart label never replaces Herald's own: the Deployment's selector depends on them.
    expect(pod.metadata!.labels).toMatchObject({ team: 'payments', 'app.kubernetes.io/instance': 'prod' });
  });

  it('a Destination\'s spec.workers field replaces the chart default of that field only', () => {
    const pod = podOf({ url: 'https://example.com/hook', workers: { nodeSelector: { pool: 'gpu' }, tolerations: [] } }, { ...base, podDefaults: defaults });
    expect(pod.spec!.nodeSelector).toEqual({ pool: 'gpu' });
    expect(pod.spec!.tolerations).toEqual([]);
    expect(pod.spec!.affinity).toEqual(defaults.affinity);
  });

  it('without defaults keeps the restricted security contexts and sets no scheduling', () => {
    const pod = podOf({ url: 'https://example.com/hook' }, base);
    expect(pod.spec!.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532 });
    expect(pod.spec!.nodeSelector).toBeUndefined();
    expect(pod.spec!.priorityClassName).toBeUndefined();
  });

  it('are read from HERALD_WORKER_POD_DEFAULTS, and a malformed value names the variable', () => {
    const env = { HERALD_WORKER_IMAGE: 'herald:1', POD_NAMESPACE: 'herald', HERALD_AUTOSCALER: 'none' };
    expect(loadControllerConfig({ ...env, HERALD_WORKER_POD_DEFAULTS: JSON.stringify(defaults) }).worker.podDefaults).toEqual(defaults);
    expect(() => loadControllerConfig({ ...env, HERALD_WORKER_POD_DEFAULTS: '{"nodeSelector": ' })).toThrow('HERALD_WORKER_POD_DEFAULTS: must be JSON');
    expect(() => loadControllerConfig({ ...env, HERALD_WORKER_POD_DEFAULTS: '{"nodeSelectr": {}}' })).toThrow('HERALD_WORKER_POD_DEFAULTS');
  });

  it('a Destination\'s scheduling is validated like the rest of its spec', () => {
    expect(DestinationSpec.safeParse({ url: 'https://example.com/hook', workers: { tolerations: [{ effect: 'Sometimes' }] } }).success).toBe(false);
    expect(DestinationSpec.safeParse({ url: 'https://example.com/hook', workers: { nodeSelector: { a: 1 } } }).success).toBe(false);
  });
});
