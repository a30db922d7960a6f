import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DestinationSpec } from '../../src/api/destination.js';
import { KubeApiError } from '../../src/controller/kube-rest.js';
import { collectionPath, loadManifests, startCluster, type Cluster } from './harness.js';

/** The CRD as the API server enforces it, checked against what zod accepts: the two must agree. */
let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ namespace: 'crd-test' });
});
afterAll(async () => {
  await cluster?.stop();
});

let n = 0;
/** Creates a Destination as `kubectl apply` does (strict field validation); resolves the stored object or the error. */
async function apply(spec: unknown, name = `d${n++}`): Promise<{ spec?: unknown; error?: KubeApiError }> {
  try {
    const created = await cluster.admin.request<{ spec: unknown }>('POST', `/apis/herald.dev/v1alpha1/namespaces/${cluster.namespace}/destinations`, {
      query: { fieldValidation: 'Strict' },
      body: { apiVersion: 'herald.dev/v1alpha1', kind: 'Destination', metadata: { name }, spec },
    });
    return { spec: created.spec };
  } catch (err) {
    if (err instanceof KubeApiError) return { error: err };
    throw err;
  }
}

const url = 'https://example.com/hook';

describe('Destination CRD on a real API server', () => {
  it('is served, with the short name dest and the status subresource', async () => {
    const resources = await cluster.admin.request<{ resources: Array<{ name: string; shortNames?: string[] }> }>('GET', '/apis/herald.dev/v1alpha1');
    expect(resources.resources.map((r) => r.name).sort()).toEqual(['destinations', 'destinations/status']);
    expect(resources.resources.find((r) => r.name === 'destinations')?.shortNames).toEqual(['dest']);
  });

  it('stores a minimal Destination with exactly the defaults zod applies', async () => {
    const { spec, error } = await apply({ url });
    expect(error).toBeUndefined();
    expect(spec).toEqual(DestinationSpec.parse({ url }));
  });

  it('accepts what zod accepts', async () => {
    const valid = [
      { url, retry: { schedule: ['1s', '30s', '5m'], maxRetryWindow: '2d' }, headersFrom: { secretRef: { name: 'hook-auth' } } },
      { url, retry: { initialDelay: '500ms', maxDelay: '1h30m' }, headers: { 'X-Tenant': 'acme' } },
      { url, retry: { initialDelay: '1d', maxDelay: '2d' } },
      { url, scaling: { minReplicas: 0, maxReplicas: 5 }, workers: { resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } } } },
      { url: 'http://receiver.internal:8080/events', deletionPolicy: 'drain', paused: true, filter: { types: ['order.*'] } },
    ];
    for (const spec of valid) {
      expect(DestinationSpec.safeParse(spec).success, JSON.stringify(spec)).toBe(true);
      const { error } = await apply(spec);
      expect(error?.message, JSON.stringify(spec)).toBeUndefined();
    }
  });

  // Each row: a spec zod rejects, and what the API server must say about it.
  const invalid: Array<[string, unknown, RegExp]> = [
    ['url missing', {}, /spec\.url: Required value/],
    ['url not http(s)', { url: 'ftp://example.com/x' }, /url must be an absolute http:\/\/ or https:\/\/ URL/],
    ['url not a URL', { url: 'not a url' }, /spec\.url/],
    ['initialDelay above maxDelay (CEL)', { url, retry: { initialDelay: '3h', maxDelay: '2h' } }, /spec\.retry\.initialDelay: Invalid value.*initialDelay must not exceed maxDelay/],
    ['minReplicas above maxReplicas (CEL)', { url, scaling: { minReplicas: 5, maxReplicas: 2 } }, /spec\.scaling\.minReplicas.*minReplicas must not exceed maxReplicas/],
    ['inline credential header (CEL)', { url, headers: { Authorization: 'Bearer s3cret' } }, /credential headers .* must come from headersFrom\.secretRef, not inline/],
    ['reserved header (CEL)', { url, headers: { 'Webhook-Signature': 'x' } }, /headers must not override/],
    ['header name not a token (CEL)', { url, headers: { 'bad name': 'x' } }, /header names must be HTTP tokens/],
    ['maxAttempts below 1', { url, retry: { maxAttempts: 0 } }, /spec\.retry\.maxAttempts: Invalid value: 0: .*greater than or equal to 1/],
    ['unknown backoff', { url, retry: { backoff: 'random' } }, /spec\.retry\.backoff: Unsupported value: "random"/],
    ['duration without unit', { url, timeout: '10' }, /spec\.timeout/],
    ['deletionPolicy typo', { url, deletionPolicy: 'delete' }, /spec\.deletionPolicy: Unsupported value/],
    ['too many replicas', { url, workers: { replicas: 101 } }, /spec\.workers\.replicas/],
    ['unknown field', { url, retries: 3 }, /unknown field "spec\.retries"/],
  ];
  for (const [what, spec, message] of invalid) {
    it(`rejects ${what}, as zod does, with a clear message`, async () => {
      expect(DestinationSpec.safeParse(spec).success).toBe(false);
      const { error } = await apply(spec);
      expect(error?.status).toBe(what === 'unknown field' ? 400 : 422);
      expect(error?.message).toMatch(message);
    });
  }

  it('rejects a resource quantity Kubernetes cannot parse (a CRD-only check: zod leaves quantities to the API server)', async () => {
    const { error } = await apply({ url, workers: { resources: { requests: { cpu: 'lots' } } } });
    expect(error?.message).toMatch(/spec\.workers\.resources\.requests: Invalid value.*requests must be quantities/);
  });

  it('accepts the example manifests as `kubectl apply` sends them', async () => {
    for (const file of readdirSync('manifests/examples')) {
      for (const obj of loadManifests(`manifests/examples/${file}`, cluster.namespace)) {
        obj.metadata.namespace = cluster.namespace;
        await cluster.admin.request('POST', collectionPath(obj as never), { query: { fieldValidation: 'Strict' }, body: obj });
      }
    }
    const list = await cluster.admin.request<{ items: unknown[] }>('GET', `/apis/herald.dev/v1alpha1/namespaces/${cluster.namespace}/destinations`, { query: { labelSelector: '' } });
    expect(list.items.length).toBeGreaterThanOrEqual(3);
  });

  it('rejects names that cannot become worker Deployment names', async () => {
    const long = await apply({ url }, `a${'b'.repeat(48)}`);
    expect(long.error?.message).toMatch(/name must be at most 48 characters/);
    const dotted = await apply({ url }, 'orders.v2');
    expect(dotted.error?.message).toMatch(/DNS-1123 label/);
  });
});
