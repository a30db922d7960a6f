import type { V1Deployment } from '@kubernetes/client-node';
import { SCALER_TYPES, type Scaler, type ScalerKind } from './desired-scaler.js';
import { listAll, source, withKind } from './kube-client.js';
import { isConflict, isNotFound, PATCH, type KubeRest } from './kube-rest.js';
import { FIELD_MANAGER } from './names.js';
import type { ListWatchSource } from './reflector.js';

/**
 * Field manager that holds a Deployment's `spec.replicas` between the controller letting go of it
 * and the autoscaler's first change (which takes it over). Without it, dropping replicas from the
 * controller's applied configuration would reset a running Deployment to 1 replica.
 */
export const HANDOFF_FIELD_MANAGER = 'herald-scaler-handoff';

/** The API writes of autoscaling: the port its unit tests fake. */
export interface ScalerKube {
  /** Server-side applies a ScaledObject or HPA (field manager `herald-controller`, forced). 404 when the API is not served. */
  apply(scaler: Scaler): Promise<Scaler>;
  /** Deletes a scaler if it still is the one with `uid`; already gone (or never served) counts as done. */
  delete(kind: ScalerKind, namespace: string, name: string, uid?: string): Promise<void>;
  /** Scalers of a kind matching a label selector; none when the API is not served (KEDA not installed). */
  list(kind: ScalerKind, namespace: string, labelSelector: string): Promise<Scaler[]>;
  /** Applies only `spec.replicas` of a Deployment as {@link HANDOFF_FIELD_MANAGER}. */
  handOffReplicas(namespace: string, name: string, replicas: number): Promise<V1Deployment>;
}

/** Collection path of a scaler kind in a namespace. */
export function scalerPath(kind: ScalerKind, namespace: string): string {
  const t = SCALER_TYPES[kind];
  return `/apis/${t.group}/${t.version}/namespaces/${namespace}/${t.plural}`;
}

/** The ScalerKube of a real API server. */
export function createScalerKube(rest: KubeRest): ScalerKube {
  return {
    apply(scaler) {
      const { name, namespace } = scaler.metadata;
      if (!namespace) throw new Error('apply scaler: metadata.namespace is required');
      return rest.request<Scaler>('PATCH', `${scalerPath(scaler.kind, namespace)}/${name}`, {
        contentType: PATCH.apply,
        query: { fieldManager: FIELD_MANAGER, force: true },
        body: scaler,
      });
    },
    async delete(kind, namespace, name, uid) {
      try {
        await rest.request('DELETE', `${scalerPath(kind, namespace)}/${name}`, {
          body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background', ...(uid ? { preconditions: { uid } } : {}) },
        });
      } catch (err) {
        // 404: gone, or the kind is not served. 409: another object of that name, not ours.
        if (!isNotFound(err) && !isConflict(err)) throw err;
      }
    },
    async list(kind, namespace, labelSelector) {
      try {
        return (await listAll<Scaler>(rest, scalerPath(kind, namespace), { labelSelector })).items;
      } catch (err) {
        if (isNotFound(err)) return [];
        throw err;
      }
    },
    handOffReplicas(namespace, name, replicas) {
      return rest.request<V1Deployment>('PATCH', `/apis/apps/v1/namespaces/${namespace}/deployments/${name}`, {
        contentType: PATCH.apply,
        query: { fieldManager: HANDOFF_FIELD_MANAGER, force: true },
        body: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace }, spec: { replicas } },
      });
    },
  };
}

/** Scalers of one kind in a namespace, narrowed by label selector to this installation's workers. */
export function scalerSource(rest: KubeRest, kind: ScalerKind, namespace: string, labelSelector: string, random: () => number): ListWatchSource<Scaler> {
  return source(rest, scalerPath(kind, namespace), labelSelector, withKind<Scaler>(SCALER_TYPES[kind].apiVersion, kind), random);
}
