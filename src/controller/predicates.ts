import type { DestinationResource } from './destination-resource.js';
import { stableStringify } from '../api/stable-stringify.js';

/**
 * Whether a Destination change needs a reconcile: anything but a status-only update. Status is
 * written by the reconciler itself; reacting to it would turn every status write into another
 * reconcile, and with a growing backlog (its age changes every second) into a write per second.
 * Delivery health is refreshed on the status-refresh timer instead (controller-runtime's
 * GenerationChangedPredicate, plus the metadata the finalizer depends on).
 */
export function needsReconcile(previous: DestinationResource | undefined, next: DestinationResource): boolean {
  if (!previous) return true;
  const a = previous.metadata;
  const b = next.metadata;
  return (
    a.generation !== b.generation ||
    a.uid !== b.uid ||
    a.deletionTimestamp !== b.deletionTimestamp ||
    stableStringify(a.finalizers ?? []) !== stableStringify(b.finalizers ?? [])
  );
}
