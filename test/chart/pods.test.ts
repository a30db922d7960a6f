/**
 * What the chart lets an operator change about every pod (labels, annotations, priority, security
 * contexts, scheduling, the workers' defaults), the extra objects it carries, the controller's PDB,
 * and the `helm test` Pod.
 */
import { describe, expect, it } from 'vitest';
import { loadControllerConfig } from '../../src/config/controller.js';
import { VALUES_ALL, find, podTemplates, render, type KubeObject } from './helm.js';

const defaults = render();
const allOn = render({ values: [VALUES_ALL] });
const testPod = (objects: KubeObject[]) => objects.find((o) => o.kind === 'Pod' && o.metadata.annotations?.['helm.sh/hook'] === 'test');
const env = (c: KubeObject, name: string) => (c.env as Array<{ name: string; value?: string }>).find((e) => e.name === name);

describe('pods of the release', () => {
  it('carry podLabels, podAnnotations and priorityClassName, never losing their own labels', () => {
    for (const { owner, template } of podTemplates(allOn)) {
      expect(template.metadata.labels, owner.metadata.name).toMatchObject({ 'cost-center': 'payments', 'app.kubernetes.io/instance': 'herald' });
      expect(template.metadata.annotations, owner.metadata.name).toMatchObject({ 'example.com/owner': 'platform' });
      expect(template.spec.priorityClassName, owner.metadata.name).toBe('herald-test');
    }
  });

  it('take their security contexts from values (OpenShift sets its own UIDs)', () => {
    const ingest = find(allOn, 'Deployment', 'herald-ingest').spec.template.spec;
    expect(ingest.securityContext).toMatchObject({ runAsUser: 10001, fsGroup: 10001 });
    const openshift = render({ set: { 'podSecurityContext.runAsUser': 'null', 'podSecurityContext.runAsGroup': 'null', 'podSecurityContext.fsGroup': 'null' } });
    const sc = find(openshift, 'Deployment', 'herald-controller').spec.template.spec.securityContext;
    expect(sc).toEqual({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
  });

  it('give the controller what every worker pod gets: scheduling, labels, priority, security contexts', () => {
    const c = find(allOn, 'Deployment', 'herald-controller').spec.template.spec.containers[0];
    const podDefaults = JSON.parse(env(c, 'HERALD_WORKER_POD_DEFAULTS')!.value!) as Record<string, unknown>;
    expect(podDefaults).toMatchObject({
      nodeSelector: { pool: 'herald-workers' },
      tolerations: [{ key: 'dedicated', effect: 'NoSchedule' }],
      topologySpreadConstraints: [{ topologyKey: 'topology.kubernetes.io/zone' }],
      podLabels: { 'cost-center': 'payments' },
      priorityClassName: 'herald-test',
      podSecurityContext: { runAsUser: 10001 },
    });
    // The controller accepts what the chart writes.
    const config = loadControllerConfig({ HERALD_WORKER_IMAGE: 'x', POD_NAMESPACE: 'herald', HERALD_AUTOSCALER: 'none', HERALD_WORKER_POD_DEFAULTS: env(c, 'HERALD_WORKER_POD_DEFAULTS')!.value });
    expect(config.worker.podDefaults?.affinity).toBeDefined();
    const plain = JSON.parse(env(find(defaults, 'Deployment', 'herald-controller').spec.template.spec.containers[0], 'HERALD_WORKER_POD_DEFAULTS')!.value!) as Record<string, unknown>;
    expect(Object.keys(plain).sort()).toEqual(['containerSecurityContext', 'podSecurityContext']);
  });

  it('has a PodDisruptionBudget for the controller', () => {
    const pdb = find(defaults, 'PodDisruptionBudget', 'herald-controller');
    expect(pdb.spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: find(defaults, 'Deployment', 'herald-controller').spec.selector.matchLabels } });
  });

  it('renders extraObjects, strings through tpl', () => {
    expect(find(allOn, 'PriorityClass', 'herald-test').value).toBe(1000);
    expect(find(allOn, 'Secret', 'herald-test-key').metadata.namespace).toBe('herald');
  });
});

describe('helm test', () => {
  it('sends one event to the ingest Service and expects 202, with the API key from tests.apiKey', () => {
    const pod = testPod(allOn)!;
    expect(pod.metadata.annotations).toMatchObject({ 'helm.sh/hook': 'test' });
    expect(pod.spec.restartPolicy).toBe('Never');
    const c = pod.spec.containers[0];
    const service = find(allOn, 'Service', 'herald-ingest');
    expect(env(c, 'INGEST_URL')!.value).toBe(`http://herald-ingest.herald.svc:${service.spec.ports[0].port}/ingest`);
    expect(env(c, 'EXPECT')!.value).toBe('202');
    expect(c.env).toContainEqual({ name: 'API_KEY', valueFrom: { secretKeyRef: { name: 'herald-test-key', key: 'api-key' } } });
    expect(c.command.slice(0, 2)).toEqual(['node', '-e']);
  });

  it('expects 401 when ingest requires a key and the test has none, 202 when auth is off', () => {
    expect(env(testPod(defaults)!.spec.containers[0], 'EXPECT')!.value).toBe('401');
    expect(env(testPod(render({ set: { 'ingest.auth.enabled': false } }))!.spec.containers[0], 'EXPECT')!.value).toBe('202');
    expect(testPod(render({ set: { 'tests.enabled': false } }))).toBeUndefined();
  });
});
