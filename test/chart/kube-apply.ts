/**
 * Server-side apply of rendered objects to the throwaway kube-apiserver of test/support/kube.ts,
 * over plain HTTPS with the admin token (no kubectl needed). Every request uses
 * `fieldValidation=Strict`, so the API server rejects unknown or duplicated fields instead of
 * dropping them, and the `Warning` headers it returns (Pod Security, deprecated APIs) are collected.
 */
import { request } from 'node:https';
import type { KubeEnv } from '../support/kube.js';
import { waitFor } from '../support/wait.js';
import type { KubeObject } from './helm.js';

export interface ApiResponse {
  status: number;
  body: unknown;
  warnings: string[];
}

export type ApiClient = Pick<KubeEnv, 'server' | 'token' | 'caCert'>;

export function call(env: ApiClient, method: string, path: string, body?: string, contentType = 'application/json'): Promise<ApiResponse> {
  return new Promise((resolveP, reject) => {
    const req = request(
      `${env.server}${path}`,
      {
        method,
        ca: env.caCert,
        headers: {
          authorization: `Bearer ${env.token}`,
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': contentType, 'content-length': Buffer.byteLength(body) } : {}),
        },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // keep the text
          }
          const w = res.headers.warning;
          const warnings = (Array.isArray(w) ? w : w ? [w] : []).map((s) => s.replace(/^299 - "?/, '').replace(/"$/, '').replace(/\\"/g, '"'));
          resolveP({ status: res.statusCode ?? 0, body: parsed, warnings });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

interface ApiResource {
  name: string;
  kind: string;
  namespaced: boolean;
}

/** Maps apiVersion + kind to the REST path segment, through discovery (fresh each call: CRDs come and go). */
async function resourceFor(env: ApiClient, apiVersion: string, kind: string): Promise<ApiResource | undefined> {
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const r = await call(env, 'GET', base);
  if (r.status !== 200) return undefined;
  return (r.body as { resources: ApiResource[] }).resources.find((x) => x.kind === kind && !x.name.includes('/'));
}

/** REST path of one object. */
export async function objectPath(env: ApiClient, obj: KubeObject, defaultNamespace?: string): Promise<string> {
  const res = await waitFor(() => resourceFor(env, obj.apiVersion, obj.kind), {
    timeoutMs: 20_000,
    intervalMs: 200,
    what: `discovery of ${obj.apiVersion} ${obj.kind}`,
  });
  const base = obj.apiVersion.includes('/') ? `/apis/${obj.apiVersion}` : `/api/${obj.apiVersion}`;
  const ns = obj.metadata.namespace ?? defaultNamespace;
  if (res.namespaced && !ns) throw new Error(`${obj.kind}/${obj.metadata.name} is namespaced but has no namespace`);
  return res.namespaced ? `${base}/namespaces/${ns}/${res.name}/${obj.metadata.name}` : `${base}/${res.name}/${obj.metadata.name}`;
}

export interface ApplyResult {
  ref: string;
  ok: boolean;
  status: number;
  message?: string;
  warnings: string[];
}

/** Server-side apply of one object with strict field validation. */
export async function apply(env: ApiClient, obj: KubeObject, fieldManager = 'herald-chart-test'): Promise<ApplyResult> {
  const ref = `${obj.kind}/${obj.metadata.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata.name}`;
  const path = await objectPath(env, obj);
  const q = `?fieldManager=${encodeURIComponent(fieldManager)}&force=true&fieldValidation=Strict`;
  const r = await call(env, 'PATCH', `${path}${q}`, JSON.stringify(obj), 'application/apply-patch+yaml');
  const ok = r.status === 200 || r.status === 201;
  return { ref, ok, status: r.status, warnings: r.warnings, ...(ok ? {} : { message: (r.body as { message?: string }).message ?? JSON.stringify(r.body) }) };
}

/** Applies CRDs and waits until each is Established, so objects of their kinds can follow. */
export async function applyCrds(env: ApiClient, crds: KubeObject[]): Promise<ApplyResult[]> {
  const results: ApplyResult[] = [];
  for (const crd of crds) {
    const r = await apply(env, crd);
    results.push(r);
    if (!r.ok) continue;
    await waitFor(
      async () => {
        const got = await call(env, 'GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`);
        const conds = ((got.body as { status?: { conditions?: { type: string; status: string }[] } }).status?.conditions ?? []);
        return conds.some((c) => c.type === 'Established' && c.status === 'True');
      },
      { timeoutMs: 30_000, intervalMs: 100, what: `CRD ${crd.metadata.name} Established` },
    );
  }
  return results;
}

/** Creates a namespace (idempotently). */
export async function ensureNamespace(env: ApiClient, name: string, labels: Record<string, string> = {}): Promise<void> {
  const r = await apply(env, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
  if (!r.ok) throw new Error(`could not create namespace ${name}: ${r.message}`);
}

/**
 * Applies objects in dependency order (CRDs, namespaces, then the rest in the given order) and
 * reports every object's outcome, so one failure does not hide the next.
 */
export async function applyAll(env: ApiClient, objects: KubeObject[]): Promise<ApplyResult[]> {
  const crds = objects.filter((o) => o.kind === 'CustomResourceDefinition');
  const namespaces = objects.filter((o) => o.kind === 'Namespace');
  const rest = objects.filter((o) => o.kind !== 'CustomResourceDefinition' && o.kind !== 'Namespace');
  const results = await applyCrds(env, crds);
  for (const ns of namespaces) results.push(await apply(env, ns));
  for (const o of rest) results.push(await apply(env, o));
  return results;
}

/** Asks the authorizer whether a ServiceAccount may do something (SubjectAccessReview). */
export async function canI(
  env: ApiClient,
  serviceAccount: { namespace: string; name: string },
  attrs: { verb: string; group?: string; resource: string; subresource?: string; namespace?: string; name?: string },
): Promise<boolean> {
  const review = {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: {
      user: `system:serviceaccount:${serviceAccount.namespace}:${serviceAccount.name}`,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${serviceAccount.namespace}`, 'system:authenticated'],
      resourceAttributes: { group: attrs.group ?? '', ...attrs },
    },
  };
  const r = await call(env, 'POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', JSON.stringify(review));
  if (r.status !== 201) throw new Error(`SubjectAccessReview failed (${r.status}): ${JSON.stringify(r.body)}`);
  return (r.body as { status: { allowed: boolean } }).status.allowed === true;
}
