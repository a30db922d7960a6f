import type { DestinationSpec } from './destination.js';
import { stableStringify } from './stable-stringify.js';

/**
 * How a change to one Destination spec field reaches the workers that deliver it:
 * - `none`: workers never read it (ingest routes by `filter`; the controller owns replicas, scaling
 *   and the deletion policy);
 * - `live`: a running worker applies it from the registry without stopping (see DeliveryWorker.update);
 * - `restart`: a worker reads it only when it starts, so it must be restarted (in a cluster: the
 *   worker pods roll).
 */
export type ChangeEffect = 'none' | 'live' | 'restart';

/** The one table both the controller (pod template checksum) and the worker pool (in-process restart) follow. */
export const SPEC_FIELD_EFFECTS: { readonly [K in keyof DestinationSpec]-?: ChangeEffect } = {
  url: 'live', // read per delivery; the connection pool is per origin
  timeout: 'live',
  retry: 'live',
  // Routing only. Starting a drain publishes a stand-in filter that matches nothing: it must not
  // restart the workers that are about to deliver the backlog.
  filter: 'none',
  concurrency: 'live', // BullMQ concurrency and the HTTP pool are resized, in-flight deliveries kept
  headers: 'live',
  headersFrom: 'restart', // the Secret is read when the worker starts
  signing: 'restart', // likewise
  circuitBreaker: 'live',
  rateLimit: 'restart', // BullMQ fixes its limiter when the Worker is made
  paused: 'live', // pauses the queue in Redis
  eventLog: 'live', // read per delivery and by ingest's routing
  // Ingest reads it per event; the worker's completion path and its sweep read it from the registry.
  ordering: 'live',
  deletionPolicy: 'none',
  workers: 'none', // replicas are the Deployment's; resources are in the pod template itself
  scaling: 'none',
};

/** The fields of `spec` a worker only reads at start, in a fixed order; equal values mean no restart is needed. */
export function restartSpec(spec: DestinationSpec): Partial<DestinationSpec> {
  const out: Record<string, unknown> = {};
  for (const [field, effect] of Object.entries(SPEC_FIELD_EFFECTS)) {
    if (effect === 'restart') out[field] = spec[field as keyof DestinationSpec];
  }
  return out as Partial<DestinationSpec>;
}

/** The fields whose change between `previous` and `next` has `effect`, in the table's order. */
export function changedFields(previous: DestinationSpec, next: DestinationSpec, effect?: ChangeEffect): Array<keyof DestinationSpec> {
  return (Object.keys(SPEC_FIELD_EFFECTS) as Array<keyof DestinationSpec>).filter(
    (field) => (effect === undefined || SPEC_FIELD_EFFECTS[field] === effect) && stableStringify(previous[field] ?? null) !== stableStringify(next[field] ?? null),
  );
}

/** Whether a worker running with `previous` must restart to run with `next`. */
export function needsRestart(previous: DestinationSpec, next: DestinationSpec): boolean {
  return changedFields(previous, next, 'restart').length > 0;
}
