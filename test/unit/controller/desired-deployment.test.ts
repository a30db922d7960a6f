import { describe, expect, it } from 'vitest';
import { DestinationSpec, type DestinationSpecInput } from '../../../src/api/destination.js';
import type { WorkerSettings } from '../../../src/config/controller.js';
import { configChecksum, DEFAULT_RESOURCES, desiredDeployment } from '../../../src/controller/desired-deployment.js';
import { stableStringify } from '../../../src/api/stable-stringify.js';
import { DRAINING_FILTER } from '../../../src/controller/registry-entry.js';
import { APPLIED_HASH_ANNOTATION, CHECKSUM_ANNOTATION } from '../../../src/controller/names.js';

const settings: WorkerSettings = {
  image: 'ghcr.io/acme/herald:1.2.3',
  imagePullPolicy: 'IfNotPresent',
  instance: 'prod',
  configMapName: 'herald-worker',
  secretName: 'herald-worker-secrets',
  port: 8080,
  secretsDir: '/var/run/herald/secrets',
};
const dest = { metadata: { name: 'orders', namespace: 'shop', uid: 'uid-1' } };
const build = (spec: DestinationSpecInput, s: WorkerSettings = settings) => desiredDeployment(dest, DestinationSpec.parse(spec), s);
const container = (d: ReturnType<typeof build>) => d.spec!.template.spec!.containers[0]!;

describe('desiredDeployment', () => {
  it('runs one worker per Destination with the image, args and env sources of the controller settings', () => {
    const d = build({ url: 'https://example.com/hook' });
    expect(d.metadata!.name).toBe('herald-worker-orders');
    expect(d.metadata!.namespace).toBe('shop');
    const c = container(d);
    expect(c.image).toBe('ghcr.io/acme/herald:1.2.3');
    expect(c.imagePullPolicy).toBe('IfNotPresent');
    expect(c.args).toEqual(['worker', '--destination', 'orders']);
    expect(c.envFrom).toEqual([{ configMapRef: { name: 'herald-worker' } }, { secretRef: { name: 'herald-worker-secrets' } }]);
    expect(c.env).toContainEqual({ name: 'HERALD_HTTP_PORT', value: '8080' });
    expect(c.env).toContainEqual({ name: 'HERALD_SECRETS_DIR', value: '/var/run/herald/secrets' });
  });

  it('omits envFrom when the controller was given no ConfigMap or Secret', () => {
    const c = container(build({ url: 'https://example.com/hook' }, { ...settings, configMapName: undefined, secretName: undefined }));
    expect(c.envFrom).toBeUndefined();
  });

  it('is owned by the Destination, so deleting it garbage-collects the workers', () => {
    expect(build({ url: 'https://example.com/hook' }).metadata!.ownerReferences).toEqual([
      { apiVersion: 'herald.dev/v1alpha1', kind: 'Destination', name: 'orders', uid: 'uid-1', controller: true, blockOwnerDeletion: true },
    ]);
  });

  it('refuses to build for a Destination without a uid (it was not read from the API server)', () => {
    expect(() => desiredDeployment({ metadata: { name: 'x', namespace: 'y' } }, DestinationSpec.parse({ url: 'https://e.test' }), settings)).toThrow(/no uid/);
  });

  it('carries the standard labels on the Deployment and pods, and selects on the immutable subset', () => {
    const d = build({ url: 'https://example.com/hook' });
    const labels = {
      'app.kubernetes.io/name': 'herald',
      'app.kubernetes.io/instance': 'prod',
      'app.kubernetes.io/component': 'worker',
      'app.kubernetes.io/managed-by': 'herald-controller',
      'herald.dev/destination': 'orders',
    };
    expect(d.metadata!.labels).toEqual(labels);
    expect(d.spec!.template.metadata!.labels).toEqual(labels);
    const { 'app.kubernetes.io/managed-by': _m, ...selector } = labels;
    expect(d.spec!.selector.matchLabels).toEqual(selector);
  });

  it('meets the restricted Pod Security Standard', () => {
    const d = build({ url: 'https://example.com/hook' });
    const pod = d.spec!.template.spec!;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container(d).securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.terminationGracePeriodSeconds).toBe(30);
  });

  it('probes /healthz and /readyz on the worker port', () => {
    const c = container(build({ url: 'https://example.com/hook' }));
    expect(c.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    expect(c.livenessProbe!.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.readinessProbe!.httpGet).toEqual({ path: '/readyz', port: 'http' });
  });

  it('takes replicas from spec.workers and leaves them to the autoscaler when spec.scaling is set', () => {
    expect(build({ url: 'https://example.com/hook', workers: { replicas: 3 } }).spec!.replicas).toBe(3);
    expect(build({ url: 'https://example.com/hook', workers: { replicas: 0 } }).spec!.replicas).toBe(0);
    expect('replicas' in build({ url: 'https://example.com/hook', scaling: { minReplicas: 1, maxReplicas: 5 } }).spec!).toBe(false);
  });

  it('uses the spec resources as given, and defaults only when the spec sets none', () => {
    expect(container(build({ url: 'https://example.com/hook' })).resources).toEqual(DEFAULT_RESOURCES);
    // A raised memory request must not end up above a default memory limit.
    const r = container(build({ url: 'https://example.com/hook', workers: { resources: { requests: { memory: '1Gi' } } } })).resources;
    expect(r).toEqual({ requests: { memory: '1Gi' } });
  });

  it('mounts the headersFrom and signing Secrets read-only where the worker reads them, each once', () => {
    const d = build({ url: 'https://example.com/hook', headersFrom: { secretRef: { name: 'orders-auth' } }, signing: { secretRef: { name: 'orders-auth' } } });
    expect(d.spec!.template.spec!.volumes).toContainEqual({ name: 'secret-0', secret: { secretName: 'orders-auth', defaultMode: 0o440 } });
    expect(container(d).volumeMounts).toContainEqual({ name: 'secret-0', mountPath: '/var/run/herald/secrets/orders-auth', readOnly: true });
    expect(d.spec!.template.spec!.volumes!.filter((v) => v.secret)).toHaveLength(1);
    const two = build({ url: 'https://example.com/hook', headersFrom: { secretRef: { name: 'b-auth' } }, signing: { secretRef: { name: 'a-sign' } } });
    expect(container(two).volumeMounts!.filter((m) => m.readOnly).map((m) => m.mountPath)).toEqual(['/var/run/herald/secrets/a-sign', '/var/run/herald/secrets/b-auth']);
  });

  it('never puts a credential into the Deployment: Secrets are mounted, not copied', () => {
    const d = build({ url: 'https://example.com/hook', headersFrom: { secretRef: { name: 'orders-auth' } } });
    expect(JSON.stringify(d)).not.toMatch(/authorization/i);
  });

  it('changes the checksum, rolling the workers, when what they read only at start changes', () => {
    const base = { url: 'https://example.com/hook' };
    const sum = (spec: DestinationSpecInput, s = settings) => build(spec, s).spec!.template.metadata!.annotations![CHECKSUM_ANNOTATION];
    expect(sum(base)).toMatch(/^[0-9a-f]{64}$/);
    expect(sum(base)).toBe(sum({ ...base }));
    expect(sum({ ...base, rateLimit: { perSecond: 5 } })).not.toBe(sum(base));
    expect(sum({ ...base, signing: { secretRef: { name: 'orders-signing' } } })).not.toBe(sum(base));
    expect(sum({ ...base, headersFrom: { secretRef: { name: 'orders-auth' } } })).not.toBe(sum(base));
    expect(sum(base, { ...settings, secretName: 'other' })).not.toBe(sum(base));
    // The chart's hash of the ConfigMap/Secret contents, which the controller cannot read itself.
    expect(sum(base, { ...settings, configChecksum: 'v2' })).not.toBe(sum(base, { ...settings, configChecksum: 'v1' }));
  });

  it('does not roll the workers for changes they apply live or never read (the drain stand-in filter among them)', () => {
    const base = DestinationSpec.parse({ url: 'https://example.com/hook' });
    const changed = DestinationSpec.parse({
      url: 'https://example.com/other',
      headers: { 'x-tenant': 'a' },
      concurrency: 50,
      paused: true,
      timeout: '3s',
      retry: { maxAttempts: 3 },
      circuitBreaker: {},
      filter: DRAINING_FILTER,
      workers: { replicas: 5 },
      scaling: { maxReplicas: 9 },
      deletionPolicy: 'purge',
    });
    expect(configChecksum(changed, settings)).toBe(configChecksum(base, settings));
  });

  it('stamps a hash of itself, which changes when a field is dropped (replicas once scaling is on)', () => {
    const hash = (spec: DestinationSpecInput) => build(spec).metadata!.annotations![APPLIED_HASH_ANNOTATION];
    expect(hash({ url: 'https://example.com/hook' })).toBe(hash({ url: 'https://example.com/hook' }));
    expect(hash({ url: 'https://example.com/hook', scaling: {} })).not.toBe(hash({ url: 'https://example.com/hook' }));
  });
});

describe('stableStringify', () => {
  it('ignores key order and undefined fields', () => {
    expect(stableStringify({ b: 1, a: [{ d: 1, c: undefined }] })).toBe(stableStringify({ a: [{ d: 1 }], b: 1 }));
  });
});
