/**
 * Shared set-up of the cluster tests: a real kube-apiserver (+ etcd, optionally
 * kube-controller-manager), the committed CRD and RBAC manifests installed as a user would, and
 * controllers that run with a token of the herald-controller ServiceAccount, so a missing RBAC verb
 * fails these tests.
 */
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { Registry } from 'prom-client';
import { loadControllerConfig } from '../../src/config/controller.js';
import { startController, type Controller } from '../../src/controller/controller.js';
import { CRD_PATH } from '../../src/controller/crd.js';
import type { DestinationResource } from '../../src/controller/destination-resource.js';
import { KubeRest, PATCH, isNotFound } from '../../src/controller/kube-rest.js';
import { workerDeploymentName } from '../../src/controller/names.js';
import { createLogger, type Logger } from '../../src/log/logger.js';
import { createRedis } from '../../src/redis/connection.js';
import type { RedisTarget } from '../../src/redis/redis-target.js';
import { parseHostPorts } from '../../src/config/config.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { startKubeApiServer, type KubeEnv } from '../support/kube.js';
import { waitFor } from '../support/wait.js';

export const SA = 'herald-controller';
export const WORKER_IMAGE = 'ghcr.io/example/herald:test';

/** Parses a multi-document YAML manifest, replacing the manifests' `herald` namespace. */
export function loadManifests(path: string, namespace: string): Record<string, any>[] {
  const text = readFileSync(path, 'utf8').replace(/namespace: herald$/gm, `namespace: ${namespace}`);
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Record<string, any> | null)
    .filter((d): d is Record<string, any> => d !== null);
}

/** REST path of an object's collection. */
export function collectionPath(obj: { apiVersion: string; kind: string; metadata?: { namespace?: string } }): string {
  const plural: Record<string, string> = {
    CustomResourceDefinition: 'customresourcedefinitions',
    Namespace: 'namespaces',
    ServiceAccount: 'serviceaccounts',
    Role: 'roles',
    RoleBinding: 'rolebindings',
    Destination: 'destinations',
    Deployment: 'deployments',
    Secret: 'secrets',
    ScaledObject: 'scaledobjects',
    HorizontalPodAutoscaler: 'horizontalpodautoscalers',
  };
  const base = obj.apiVersion.includes('/') ? `/apis/${obj.apiVersion}` : `/api/${obj.apiVersion}`;
  const ns = obj.metadata?.namespace ? `/namespaces/${obj.metadata.namespace}` : '';
  return `${base}${ns}/${plural[obj.kind]}`;
}

export interface Cluster {
  env: KubeEnv;
  /** Admin client (system:masters). */
  admin: KubeRest;
  namespace: string;
  /** A kubeconfig (YAML) that authenticates as the herald-controller ServiceAccount. */
  controllerKubeconfig: string;
  dest: DestinationApi;
  stop(): Promise<void>;
}

/** Starts the control plane, installs CRD, namespace and RBAC, and mints a ServiceAccount token. */
export async function startCluster(opts: { namespace?: string; withControllerManager?: boolean } = {}): Promise<Cluster> {
  const namespace = opts.namespace ?? 'herald-test';
  const env = await startKubeApiServer({ withControllerManager: opts.withControllerManager });
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(env.kubeconfigPath);
    const admin = new KubeRest(kc);
    await installCrd(admin);
    await admin.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } } });
    for (const file of ['service-account.yaml', 'role.yaml', 'role-binding.yaml']) {
      for (const obj of loadManifests(`manifests/rbac/${file}`, namespace)) await admin.request('POST', collectionPath(obj as any), { body: obj });
    }
    const controllerKubeconfig = await serviceAccountKubeconfig(admin, env, namespace, SA);
    return { env, admin, namespace, controllerKubeconfig, dest: new DestinationApi(admin, namespace), stop: () => env.stop() };
  } catch (err) {
    await env.stop();
    throw err;
  }
}

/** Creates the committed CRD and waits until it is Established (served). */
export async function installCrd(admin: KubeRest): Promise<void> {
  await installCrdFile(admin, CRD_PATH, '/apis/herald.dev/v1alpha1/namespaces/default/destinations');
}

/** KEDA's ScaledObject CRD as test/cluster/crds/keda-scaledobject.yaml gives it; for clusters that "have KEDA". */
export async function installKedaCrd(admin: KubeRest): Promise<void> {
  await installCrdFile(admin, 'test/cluster/crds/keda-scaledobject.yaml', '/apis/keda.sh/v1alpha1/namespaces/default/scaledobjects');
}

/** Creates a CRD from a file and waits until `probePath` (a collection of it) answers. */
async function installCrdFile(admin: KubeRest, file: string, probePath: string): Promise<void> {
  const [crd] = loadManifests(file, 'unused');
  await admin.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: crd });
  await waitFor(
    async () => {
      const got = await admin.request<{ status?: { conditions?: Array<{ type: string; status: string }> } }>('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd!.metadata.name}`);
      return got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
    },
    { timeoutMs: 30_000, what: 'CRD Established' },
  );
  // Established is set before discovery and the storage handler are ready everywhere; probe the endpoint itself.
  await waitFor(async () => (await admin.request('GET', probePath), true), { timeoutMs: 30_000, what: `${probePath} served` });
}

/** A kubeconfig with a TokenRequest token of a ServiceAccount: a real SA identity, RBAC and all. */
export async function serviceAccountKubeconfig(admin: KubeRest, env: KubeEnv, namespace: string, sa: string): Promise<string> {
  const tr = await admin.request<{ status: { token: string } }>('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${sa}/token`, {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
  });
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: test',
    '  cluster:',
    `    server: ${env.server}`,
    `    certificate-authority-data: ${Buffer.from(env.caCert).toString('base64')}`,
    'users:',
    `- name: ${sa}`,
    '  user:',
    `    token: ${tr.status.token}`,
    'contexts:',
    '- name: test',
    '  context:',
    '    cluster: test',
    `    user: ${sa}`,
    `    namespace: ${namespace}`,
    'current-context: test',
    '',
  ].join('\n');
}

/** Admin-side helpers on Destinations and their Deployments, as a test (or kubectl) would use them. */
export class DestinationApi {
  constructor(private readonly admin: KubeRest, readonly namespace: string) {}

  private path(name = ''): string {
    return `/apis/herald.dev/v1alpha1/namespaces/${this.namespace}/destinations${name ? `/${name}` : ''}`;
  }

  create(name: string, spec: unknown): Promise<DestinationResource> {
    return this.admin.request('POST', this.path(), { body: { apiVersion: 'herald.dev/v1alpha1', kind: 'Destination', metadata: { name }, spec } });
  }

  async get(name: string): Promise<DestinationResource | undefined> {
    try {
      return await this.admin.request<DestinationResource>('GET', this.path(name));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  patchSpec(name: string, spec: Record<string, unknown>): Promise<DestinationResource> {
    return this.admin.request('PATCH', this.path(name), { contentType: PATCH.merge, body: { spec } });
  }

  delete(name: string): Promise<unknown> {
    return this.admin.request('DELETE', this.path(name));
  }

  /** `kubectl get dest` as a table (the server renders printer columns for this Accept header). */
  table(): Promise<{ columnDefinitions: Array<{ name: string }>; rows: Array<{ cells: unknown[] }> }> {
    return this.admin.request('GET', this.path(), { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' });
  }

  async deployment(name: string): Promise<V1Deployment | undefined> {
    try {
      return await this.admin.request<V1Deployment>('GET', `/apis/apps/v1/namespaces/${this.namespace}/deployments/${workerDeploymentName(name)}`);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Plays the Deployment controller (there is no kubelet): reports all replicas updated, ready and available. */
  async markDeploymentAvailable(name: string): Promise<void> {
    const dep = await this.deployment(name);
    if (!dep) throw new Error(`no Deployment for ${name}`);
    const n = dep.spec?.replicas ?? 1;
    await this.admin.request('PATCH', `/apis/apps/v1/namespaces/${this.namespace}/deployments/${workerDeploymentName(name)}/status`, {
      contentType: PATCH.merge,
      body: { status: { observedGeneration: dep.metadata?.generation, replicas: n, updatedReplicas: n, readyReplicas: n, availableReplicas: n } },
    });
  }

  /** The scaler (ScaledObject or HPA) of a Destination, if any. */
  async scaler<T = Record<string, any>>(kind: 'ScaledObject' | 'HorizontalPodAutoscaler', name: string): Promise<T | undefined> {
    const base = kind === 'ScaledObject' ? '/apis/keda.sh/v1alpha1' : '/apis/autoscaling/v2';
    const plural = kind === 'ScaledObject' ? 'scaledobjects' : 'horizontalpodautoscalers';
    try {
      return await this.admin.request<T>('GET', `${base}/namespaces/${this.namespace}/${plural}/${workerDeploymentName(name)}`);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  condition(d: DestinationResource | undefined, type: string) {
    return d?.status?.conditions?.find((c) => c.type === type);
  }
}

/** Log lines of a test controller, kept in memory so tests can assert on them. */
export class LogSink extends Writable {
  readonly lines: Array<Record<string, unknown>> = [];
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    for (const line of chunk.toString().split('\n')) if (line) this.lines.push(JSON.parse(line) as Record<string, unknown>);
    cb();
  }
  has(msg: string): boolean {
    return this.lines.some((l) => l.msg === msg);
  }
}

export interface TestController {
  controller: Controller;
  registry: Registry;
  logs: LogSink;
  logger: Logger;
  close(): Promise<void>;
}

/** Runs a controller in this process against `cluster`, as `herald controller` would in a pod. */
export function runController(cluster: Cluster, opts: { redisUrl: string; clusterNodes?: string; prefix: string; identity: string; env?: Record<string, string>; kubeconfig?: string }): TestController {
  const config = loadControllerConfig({
    HERALD_WORKER_IMAGE: WORKER_IMAGE,
    HERALD_WORKER_CONFIGMAP: 'herald-worker',
    HERALD_WORKER_SECRET: 'herald-worker',
    POD_NAMESPACE: cluster.namespace,
    POD_NAME: opts.identity,
    HERALD_STATUS_REFRESH: '2s',
    // Nothing queries it here (no KEDA operator runs); KEDA is the default provider and needs one.
    HERALD_PROMETHEUS_URL: 'http://prometheus.test:9090',
    ...opts.env,
  });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(opts.kubeconfig ?? cluster.controllerKubeconfig);
  const logs = new LogSink();
  const logger = createLogger({ level: 'debug', name: opts.identity }, logs);
  const target: RedisTarget = opts.clusterNodes ? { kind: 'cluster', nodes: parseHostPorts(opts.clusterNodes), tls: false } : { kind: 'url', url: opts.redisUrl };
  const redis = createRedis(target, { name: opts.identity });
  const registry = new Registry();
  const controller = startController({ kubeConfig, redis, keys: new RedisKeys(opts.prefix), logger, registry, config });
  return {
    controller,
    registry,
    logs,
    logger,
    async close() {
      await controller.close();
      redis.disconnect();
    },
  };
}
