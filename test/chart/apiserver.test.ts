/**
 * Cluster tier: the chart's renderings applied to a real kube-apiserver (test/support/kube.ts) with
 * server-side apply and strict field validation, so the API server's own validation, the CRD's
 * schema and Pod Security admission judge every object, not a linter's idea of them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKubeApiServer, type KubeEnv } from '../support/kube.js';
import { DestinationSpec } from '../../src/api/destination.js';
import { loadControllerConfig } from '../../src/config/controller.js';
import { desiredDeployment } from '../../src/controller/desired-deployment.js';
import { ROOT, VALUES_ALL, find, parseManifests, podTemplates, render, type KubeObject } from './helm.js';
import { apply, applyAll, applyCrds, call, canI, ensureNamespace, type ApplyResult } from './kube-apply.js';

const RESTRICTED = {
  'pod-security.kubernetes.io/enforce': 'restricted',
  'pod-security.kubernetes.io/warn': 'restricted',
};

let kube: KubeEnv;

beforeAll(async () => {
  kube = await startKubeApiServer();
});

afterAll(async () => {
  await kube?.stop();
});

function failures(results: ApplyResult[]): string[] {
  return results.filter((r) => !r.ok).map((r) => `${r.ref}: ${r.status} ${r.message}`);
}

function warnings(results: ApplyResult[]): string[] {
  return results.flatMap((r) => r.warnings.map((w) => `${r.ref}: ${w}`));
}

/**
 * Creates (dry run) a Pod from every pod template: Pod Security `enforce` only judges Pods, so
 * this is what a restricted namespace would do to the pods the workloads create.
 */
async function admitPods(objects: KubeObject[], namespace: string): Promise<string[]> {
  const rejected: string[] = [];
  for (const { owner, template } of podTemplates(objects)) {
    // The StatefulSet controller adds a PVC volume per claim template; do the same.
    const claims = ((owner.spec.volumeClaimTemplates ?? []) as KubeObject[]).map((c) => ({
      name: c.metadata.name,
      persistentVolumeClaim: { claimName: `${c.metadata.name}-${owner.metadata.name}-0` },
    }));
    const spec = { ...template.spec, volumes: [...(template.spec.volumes ?? []), ...claims] };
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: `${owner.metadata.name}-dry-run`, namespace, labels: template.metadata.labels }, spec };
    const r = await call(kube, 'POST', `/api/v1/namespaces/${namespace}/pods?dryRun=All&fieldValidation=Strict`, JSON.stringify(pod));
    if (r.status !== 201) rejected.push(`${owner.kind}/${owner.metadata.name}: ${r.status} ${(r.body as { message?: string }).message}`);
  }
  return rejected;
}

describe('chart on a real kube-apiserver', () => {
  it('accepts every object of manifests/install.yaml (default values), without warnings', async () => {
    const objects = parseManifests(readFileSync(join(ROOT, 'manifests/install.yaml'), 'utf8'));
    const ns = objects.find((o) => o.kind === 'Namespace');
    expect(ns?.metadata.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'restricted' });
    const results = await applyAll(kube, objects);
    expect(failures(results)).toEqual([]);
    expect(warnings(results)).toEqual([]);
    expect(results.map((r) => r.ref)).toContain('CustomResourceDefinition/destinations.herald.dev');
  });

  it('accepts every object with every optional feature on, monitoring and Gateway API CRDs included', async () => {
    for (const file of ['monitoring.coreos.com.yaml', 'gateway.networking.k8s.io.yaml']) {
      const crds = parseManifests(readFileSync(join(ROOT, 'test/chart/crds', file), 'utf8'));
      expect(failures(await applyCrds(kube, crds)), file).toEqual([]);
    }
    await ensureNamespace(kube, 'herald-all', RESTRICTED);
    const objects = render({ namespace: 'herald-all', values: [VALUES_ALL], includeCrds: true });
    const kinds = new Set(objects.map((o) => o.kind));
    for (const k of ['Ingress', 'HTTPRoute', 'HorizontalPodAutoscaler', 'NetworkPolicy', 'PodDisruptionBudget', 'ServiceMonitor', 'PodMonitor', 'PrometheusRule', 'StatefulSet']) {
      expect(kinds, k).toContain(k);
    }
    const results = await applyAll(kube, objects);
    expect(failures(results)).toEqual([]);
    expect(warnings(results)).toEqual([]);
    expect(results).toHaveLength(objects.length);
  });

  it('accepts the `helm test` Pod in a restricted namespace, with and without an API key', async () => {
    await ensureNamespace(kube, 'herald-test-pod', RESTRICTED);
    for (const values of [[], [VALUES_ALL]]) {
      const objects = render({ namespace: 'herald-test-pod', values });
      const pod = objects.find((o) => o.kind === 'Pod' && o.metadata.annotations?.['helm.sh/hook'] === 'test');
      expect(pod, 'the helm test Pod').toBeDefined();
      // What it refers to: the PriorityClass and the API key Secret of values-all.yaml (extraObjects).
      const needs = objects.filter((o) => o.kind === 'PriorityClass' || o.metadata.name === 'herald-test-key');
      const results = await applyAll(kube, [...needs, pod!]);
      expect(failures(results)).toEqual([]);
      expect(warnings(results)).toEqual([]);
      await call(kube, 'DELETE', `/api/v1/namespaces/herald-test-pod/pods/${pod!.metadata.name}`);
    }
  });

  it('accepts the worker Deployment the controller builds from the chart\'s worker defaults and a Destination\'s own scheduling', async () => {
    await ensureNamespace(kube, 'herald-workers', RESTRICTED);
    const objects = render({ namespace: 'herald-workers', values: [VALUES_ALL] });
    const env = Object.fromEntries((find(objects, 'Deployment', 'herald-controller').spec.template.spec.containers[0].env as Array<{ name: string; value?: string }>).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
    const config = loadControllerConfig({ ...env, POD_NAMESPACE: 'herald-workers' });
    const spec = DestinationSpec.parse({ url: 'https://example.com/hook', workers: { tolerations: [{ key: 'gpu', operator: 'Exists', effect: 'NoSchedule' }], affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 10, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { 'app.kubernetes.io/component': 'worker' } } } }] } } } });
    const deployment = desiredDeployment({ metadata: { name: 'orders', namespace: 'herald-workers', uid: '6b1e2a7c-0000-4000-8000-000000000001' } }, spec, config.worker) as unknown as KubeObject;
    // The owner (a Destination) does not exist here; the API server would accept the reference anyway.
    const needs = objects.filter((o) => o.kind === 'PriorityClass');
    const results = await applyAll(kube, [...needs, deployment]);
    expect(failures(results)).toEqual([]);
    expect(warnings(results)).toEqual([]);
    expect(await admitPods([deployment], 'herald-workers')).toEqual([]);
  });

  it('admits every pod the chart creates under Pod Security "restricted"', async () => {
    await ensureNamespace(kube, 'herald-pods', RESTRICTED);
    expect(await admitPods(render({ namespace: 'herald-pods', values: [VALUES_ALL] }), 'herald-pods')).toEqual([]);
    expect(await admitPods(render({ namespace: 'herald-pods' }), 'herald-pods')).toEqual([]);
  });

  it('grants the controller what it needs in its own namespace and nothing else', async () => {
    // Applied by the first test (release "herald" in namespace "herald"); applied again so this test stands alone.
    await ensureNamespace(kube, 'herald');
    expect(failures(await applyAll(kube, render({ includeCrds: true })))).toEqual([]);
    const controller = { namespace: 'herald', name: 'herald-controller' };
    const allowed: Parameters<typeof canI>[2][] = [
      { verb: 'watch', group: 'herald.dev', resource: 'destinations', namespace: 'herald' },
      { verb: 'patch', group: 'herald.dev', resource: 'destinations', subresource: 'status', namespace: 'herald' },
      { verb: 'update', group: 'herald.dev', resource: 'destinations', subresource: 'finalizers', namespace: 'herald' },
      { verb: 'create', group: 'apps', resource: 'deployments', namespace: 'herald' },
      { verb: 'delete', group: 'apps', resource: 'deployments', namespace: 'herald' },
      { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: 'herald', name: 'herald-controller' },
      { verb: 'create', resource: 'events', namespace: 'herald' },
      { verb: 'patch', group: 'keda.sh', resource: 'scaledobjects', namespace: 'herald' },
      { verb: 'delete', group: 'keda.sh', resource: 'scaledobjects', namespace: 'herald' },
      { verb: 'watch', group: 'autoscaling', resource: 'horizontalpodautoscalers', namespace: 'herald' },
      { verb: 'create', group: 'autoscaling', resource: 'horizontalpodautoscalers', namespace: 'herald' },
    ];
    for (const a of allowed) expect(await canI(kube, controller, a), JSON.stringify(a)).toBe(true);
    const denied: Parameters<typeof canI>[2][] = [
      { verb: 'get', resource: 'secrets', namespace: 'herald' },
      { verb: 'list', group: 'herald.dev', resource: 'destinations', namespace: 'default' },
      { verb: 'list', group: 'herald.dev', resource: 'destinations' },
      { verb: 'create', group: 'apps', resource: 'deployments', namespace: 'kube-system' },
      { verb: 'create', resource: 'pods', namespace: 'herald' },
      { verb: 'patch', group: 'keda.sh', resource: 'scaledobjects', namespace: 'default' },
      { verb: 'patch', group: 'keda.sh', resource: 'scaledjobs', namespace: 'herald' },
      { verb: 'escalate', group: 'rbac.authorization.k8s.io', resource: 'roles', namespace: 'herald' },
      { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: 'herald', name: 'someone-elses-lease' },
    ];
    for (const a of denied) expect(await canI(kube, controller, a), JSON.stringify(a)).toBe(false);
    // Ingest and the workers share a ServiceAccount with no permissions at all.
    for (const a of [...allowed, { verb: 'get', resource: 'configmaps', namespace: 'herald' }]) {
      expect(await canI(kube, { namespace: 'herald', name: 'herald-worker' }, a), JSON.stringify(a)).toBe(false);
    }
  });

  it('accepts the e2e manifests: receiver, SMTP sink and Destinations (validated by the CRD)', async () => {
    const dir = join(ROOT, 'test/e2e/manifests');
    const objects = readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .flatMap((f) => parseManifests(readFileSync(join(dir, f), 'utf8')));
    expect(objects.filter((o) => o.kind === 'Destination').length).toBeGreaterThanOrEqual(2);
    await ensureNamespace(kube, 'herald-e2e', RESTRICTED);
    const results: ApplyResult[] = [];
    for (const o of objects) results.push(await apply(kube, { ...o, metadata: { ...o.metadata, namespace: o.metadata.namespace ?? 'herald-e2e' } }));
    expect(failures(results)).toEqual([]);
    expect(warnings(results)).toEqual([]);
  });
});
