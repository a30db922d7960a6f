import type { V1Deployment } from '@kubernetes/client-node';
import type { DestinationResource, DestinationStatus, ObjectMeta } from './destination-resource.js';
import { isConflict, isNotFound, PATCH, type KubeRest, type WatchCallbacks } from './kube-rest.js';
import type { LeaseClient, LeaseRecord, StoredLease } from './leader-election.js';
import { API_GROUP, API_VERSION, DESTINATION_API_VERSION, FIELD_MANAGER, KIND, PLURAL } from './names.js';
import type { ListResult, ListWatchSource } from './reflector.js';

/** Every write the reconciler makes to the API server: the port its unit tests fake. */
export interface ControllerKube {
  /** Replaces the finalizer list, failing with 409 if the object changed since `resourceVersion`. */
  setFinalizers(namespace: string, name: string, finalizers: string[], resourceVersion: string): Promise<DestinationResource>;
  /** Server-side applies the whole status subresource. */
  applyStatus(namespace: string, name: string, status: DestinationStatus): Promise<DestinationResource>;
  /** Server-side applies a Deployment (field manager `herald-controller`, forced). */
  applyDeployment(deployment: V1Deployment): Promise<V1Deployment>;
  /**
   * Sets a Deployment's replicas with a merge patch. Not server-side apply: applying a partial object
   * would drop every other field this manager owns.
   */
  scaleDeployment(namespace: string, name: string, replicas: number): Promise<V1Deployment>;
  /** Deletes a Deployment if it still is the one with `uid`; already gone counts as done. */
  deleteDeployment(namespace: string, name: string, uid?: string): Promise<void>;
  /** Creates a core/v1 Event; failures are the caller's to ignore. */
  createEvent(namespace: string, event: Record<string, unknown>): Promise<void>;
}

const destinationsPath = (ns: string) => `/apis/${API_GROUP}/${API_VERSION}/namespaces/${ns}/${PLURAL}`;
const deploymentsPath = (ns: string) => `/apis/apps/v1/namespaces/${ns}/deployments`;
const leasesPath = (ns: string) => `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`;

const apply = { fieldManager: FIELD_MANAGER, force: true };

/** The ControllerKube of a real API server. */
export function createControllerKube(rest: KubeRest): ControllerKube {
  return {
    setFinalizers(namespace, name, finalizers, resourceVersion) {
      // A merge patch carrying resourceVersion is a compare-and-swap: concurrent edits of the
      // finalizer list by other controllers are never overwritten.
      return rest.request<DestinationResource>('PATCH', `${destinationsPath(namespace)}/${name}`, {
        contentType: PATCH.merge,
        query: { fieldManager: FIELD_MANAGER },
        body: { metadata: { finalizers: finalizers.length > 0 ? finalizers : null, resourceVersion } },
      });
    },
    applyStatus(namespace, name, status) {
      return rest.request<DestinationResource>('PATCH', `${destinationsPath(namespace)}/${name}/status`, {
        contentType: PATCH.apply,
        query: apply,
        body: { apiVersion: DESTINATION_API_VERSION, kind: KIND, metadata: { name, namespace }, status },
      });
    },
    applyDeployment(deployment) {
      const { name, namespace } = deployment.metadata ?? {};
      if (!name || !namespace) throw new Error('applyDeployment: metadata.name and metadata.namespace are required');
      return rest.request<V1Deployment>('PATCH', `${deploymentsPath(namespace)}/${name}`, { contentType: PATCH.apply, query: apply, body: deployment });
    },
    scaleDeployment(namespace, name, replicas) {
      return rest.request<V1Deployment>('PATCH', `${deploymentsPath(namespace)}/${name}`, {
        contentType: PATCH.merge,
        query: { fieldManager: FIELD_MANAGER },
        body: { spec: { replicas } },
      });
    },
    async deleteDeployment(namespace, name, uid) {
      try {
        await rest.request('DELETE', `${deploymentsPath(namespace)}/${name}`, {
          body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background', ...(uid ? { preconditions: { uid } } : {}) },
        });
      } catch (err) {
        // 404: already gone. 409: a different Deployment of that name (precondition failed), not ours to delete.
        if (!isNotFound(err) && !isConflict(err)) throw err;
      }
    },
    async createEvent(namespace, event) {
      await rest.request('POST', `/api/v1/namespaces/${namespace}/events`, { body: event });
    },
  };
}

interface ListBody<T> {
  items?: T[];
  metadata?: { resourceVersion?: string; continue?: string };
}

/** Lists a collection page by page; the resourceVersion of a paginated list is that of its first page's snapshot. */
export async function listAll<T>(rest: KubeRest, path: string, query: Record<string, string | undefined>): Promise<ListResult<T>> {
  const items: T[] = [];
  let cont: string | undefined;
  let resourceVersion = '';
  do {
    const page = await rest.request<ListBody<T>>('GET', path, { query: { ...query, limit: 500, continue: cont } });
    items.push(...(page.items ?? []));
    resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
    cont = page.metadata?.continue || undefined;
  } while (cont);
  return { items, resourceVersion };
}

/**
 * How long the API server keeps a watch open before it ends it and the reflector watches again, s:
 * like client-go, 5 to 10 minutes, spread by `random` (uniform in [0, 1)) so that many watchers do
 * not reconnect in lockstep.
 */
export function watchTimeoutSeconds(random: number): number {
  return 300 + Math.floor(random * 300);
}

/** List+watch of one collection path, narrowed by an optional label selector; `random` spreads the watch timeouts. */
export function source<T>(rest: KubeRest, path: string, labelSelector: string | undefined, fixup: (items: T[]) => T[], random: () => number): ListWatchSource<T> {
  return {
    async list() {
      const result = await listAll<T>(rest, path, { labelSelector });
      return { ...result, items: fixup(result.items) };
    },
    watch(resourceVersion, cb: WatchCallbacks<T>) {
      return rest.watch<T>(
        path,
        {
          resourceVersion,
          labelSelector,
          allowWatchBookmarks: true,
          timeoutSeconds: watchTimeoutSeconds(random()),
        },
        cb,
      );
    },
  };
}

/** List items omit apiVersion/kind; put them back so cached objects look like watched ones. */
export function withKind<T extends object>(apiVersion: string, kind: string) {
  return (items: T[]) => items.map((i) => ({ apiVersion, kind, ...i }));
}

/** Destinations of one namespace. */
export function destinationSource(rest: KubeRest, namespace: string, random: () => number): ListWatchSource<DestinationResource> {
  return source(rest, destinationsPath(namespace), undefined, withKind<DestinationResource>(DESTINATION_API_VERSION, KIND), random);
}

/** Worker Deployments of one namespace, narrowed by label selector to those this installation manages. */
export function deploymentSource(rest: KubeRest, namespace: string, labelSelector: string, random: () => number): ListWatchSource<V1Deployment> {
  return source(rest, deploymentsPath(namespace), labelSelector, withKind<V1Deployment>('apps/v1', 'Deployment'), random);
}

interface LeaseObject {
  metadata: ObjectMeta;
  spec?: LeaseRecord;
}

/** A LeaseClient for one coordination.k8s.io/v1 Lease. `timeoutMs` bounds each request (keep it under the renew deadline). */
export function createLeaseClient(rest: KubeRest, namespace: string, name: string, timeoutMs: number): LeaseClient {
  const path = `${leasesPath(namespace)}/${name}`;
  const stored = (l: LeaseObject): StoredLease => ({ record: l.spec ?? {}, resourceVersion: l.metadata.resourceVersion ?? '' });
  return {
    async get() {
      try {
        return stored(await rest.request<LeaseObject>('GET', path, { timeoutMs }));
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async create(record) {
      const body = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec: record };
      return stored(await rest.request<LeaseObject>('POST', leasesPath(namespace), { body, timeoutMs }));
    },
    async update(record, resourceVersion) {
      // PUT with resourceVersion: the API server refuses (409) if anyone wrote the Lease since we read it.
      const body = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace, resourceVersion }, spec: record };
      return stored(await rest.request<LeaseObject>('PUT', path, { body, timeoutMs }));
    },
  };
}
