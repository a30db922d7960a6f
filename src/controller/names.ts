import { API_GROUP, API_VERSION, KIND } from '../api/destination.js';

/**
 * Names, labels and annotations the controller stamps on what it manages. They are part of the
 * contract with operators (label selectors, `kubectl get -l`) and with the Helm chart, so they live
 * in one place.
 */

/** Field manager of every server-side apply and patch the controller sends. */
export const FIELD_MANAGER = 'herald-controller';

/** Finalizer that keeps a deleted Destination around until its queue is handled per `spec.deletionPolicy`. */
export const FINALIZER = 'herald.dev/queue-cleanup';

/** Plural resource name of Destinations, as in the CRD and in API paths. */
export const PLURAL = 'destinations';

/** `apiVersion` of Destination objects. */
export const DESTINATION_API_VERSION = `${API_GROUP}/${API_VERSION}`;
export { API_GROUP, API_VERSION, KIND };

/** Label naming the Destination a worker Deployment (and its pods) belongs to. */
export const DESTINATION_LABEL = 'herald.dev/destination';

/** Pod-template annotation whose change rolls the workers when their configuration changes. */
export const CHECKSUM_ANNOTATION = 'herald.dev/config-checksum';

/** Deployment annotation: hash of the desired Deployment last applied, so any change to it is noticed. */
export const APPLIED_HASH_ANNOTATION = 'herald.dev/applied-hash';

/** `app.kubernetes.io/managed-by` value; the controller only watches Deployments carrying it. */
export const MANAGED_BY = 'herald-controller';

/** Name of the worker Deployment of a Destination (NAME_MAX keeps it within 63 characters). */
export function workerDeploymentName(destination: string): string {
  return `herald-worker-${destination}`;
}

/** The standard labels of a worker Deployment and its pods. */
export function workerLabels(instance: string, destination: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'herald',
    'app.kubernetes.io/instance': instance,
    'app.kubernetes.io/component': 'worker',
    'app.kubernetes.io/managed-by': MANAGED_BY,
    [DESTINATION_LABEL]: destination,
  };
}

/** The immutable subset of `workerLabels` used as the Deployment's selector. */
export function workerSelector(instance: string, destination: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'herald',
    'app.kubernetes.io/instance': instance,
    'app.kubernetes.io/component': 'worker',
    [DESTINATION_LABEL]: destination,
  };
}

/** Label selector (string form) matching every worker Deployment of one Herald installation. */
export function workerListSelector(instance: string): string {
  return `app.kubernetes.io/managed-by=${MANAGED_BY},app.kubernetes.io/instance=${instance},app.kubernetes.io/component=worker`;
}

/** Work-queue key of an object: `namespace/name`, as in client-go. */
export function objectKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** Splits a `namespace/name` key. */
export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
