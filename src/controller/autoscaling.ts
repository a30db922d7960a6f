import type { V1Deployment } from '@kubernetes/client-node';
import type { DestinationSpec } from '../api/destination.js';
import type { Logger } from '../log/logger.js';
import { controllerOf, type DestinationResource } from './destination-resource.js';
import { stableStringify } from '../api/stable-stringify.js';
import { desiredScaler, scalerKindOf, scalerMinReplicas, scalerName, scalingNotice, SCALER_TYPES, workerReplicas, type Scaler, type ScalerKind, type ScalerSettings } from './desired-scaler.js';
import { errorMessage } from './errors.js';
import type { EventRecorder } from './events.js';
import { isNotFound } from './kube-rest.js';
import { FIELD_MANAGER, KIND, objectKey, workerDeploymentName, workerListSelector } from './names.js';
import type { ScalerKube } from './scaler-client.js';
import type { AutoscalingStatus } from './status.js';
import { isSubset } from './subset.js';

/** What the reconciler needs to converge scalers. */
export interface AutoscalingDeps {
  settings: ScalerSettings;
  kube: ScalerKube;
  /** Informer cache of the provider's scaler kind, keyed `namespace/name`; never holds anything for `none`. */
  scalers: { get(key: string): Scaler | undefined };
}

export interface AutoscalingContext {
  deps: AutoscalingDeps;
  events: EventRecorder;
  log: Logger;
  /** Throws once leadership is lost; called before every write. */
  guard: () => void;
}

export interface ScalingOutcome {
  /** Replicas the worker Deployment should state; undefined leaves them to the scaler. */
  replicas: number | undefined;
  status: AutoscalingStatus;
  /** A failed write other than "API not served", for the reconciler to rethrow (retry with backoff) after writing status. */
  error?: unknown;
}

/** Whether `herald-controller`'s applied configuration of the Deployment includes spec.replicas. */
export function appliesReplicas(deployment: V1Deployment | undefined): boolean {
  return (deployment?.metadata?.managedFields ?? []).some((f) => {
    const spec = (f.fieldsV1 as Record<string, Record<string, unknown> | undefined> | undefined)?.['f:spec'];
    return f.manager === FIELD_MANAGER && f.operation === 'Apply' && spec !== undefined && 'f:replicas' in spec;
  });
}

function unavailableMessage(kind: ScalerKind, spec: DestinationSpec): string {
  const n = workerReplicas(spec, false)!;
  const pinned = `The workers run at ${n} replica${n === 1 ? '' : 's'} (spec.scaling.minReplicas, at least 1) until it is.`;
  const t = SCALER_TYPES[kind];
  return kind === 'ScaledObject'
    ? `KEDA is not installed: the API server does not serve ${t.plural}.${t.group}/${t.version}. ${pinned} Install KEDA, or set autoscaling.workers.provider to hpa or none (HERALD_AUTOSCALER).`
    : `The API server does not serve ${t.plural}.${t.group}/${t.version} (Kubernetes 1.23 or later). ${pinned} Upgrade the cluster, or set autoscaling.workers.provider to keda or none (HERALD_AUTOSCALER).`;
}

/**
 * Converges a Destination's scaler and says how many replicas its Deployment should state. Runs
 * before the Deployment is applied: a scaler being removed is gone before fixed replicas return,
 * and one being added exists (or is known to be unavailable) before replicas are dropped.
 * - no desired scaler: deletes the one this Destination controls, if any;
 * - desired: server-side applies it unless the observed one already contains it; a 404 means the
 *   API is not served (KEDA missing): reported, and the workers are pinned at minReplicas (at
 *   least 1) instead of failing the reconcile;
 * - when replicas pass to the scaler while the controller still applies them, the current count is
 *   first handed to `HANDOFF_FIELD_MANAGER` (scaler-client.ts), so dropping the field does not reset it to 1.
 */
export async function convergeScaler(ctx: AutoscalingContext, dest: DestinationResource, spec: DestinationSpec, deployment: V1Deployment | undefined): Promise<ScalingOutcome> {
  const { deps, events, log, guard } = ctx;
  const { settings, kube } = deps;
  const namespace = dest.metadata.namespace ?? '';
  const name = scalerName(dest.metadata.name);
  const kind = scalerKindOf(settings.provider);
  const observed = kind ? deps.scalers.get(objectKey(namespace, name)) : undefined;
  const owned = observed && controllerOf(observed)?.uid === dest.metadata.uid ? observed : undefined;
  const desired = desiredScaler(dest, spec, settings);
  const status: AutoscalingStatus = { note: scalingNotice(spec, settings.provider) };
  if (status.note && settings.provider === 'hpa') events.warning(dest, 'ScaleToZeroUnsupported', status.note);

  if (!desired || !kind) {
    if (owned && kind) {
      guard();
      await kube.delete(kind, namespace, name, owned.metadata.uid);
      log.info({ [kind]: name }, `Deleted ${kind}`);
      events.normal(dest, `Deleted${kind}`, `Deleted ${kind} ${name}: spec.scaling was removed`);
    }
    return { replicas: workerReplicas(spec, false), status };
  }
  if (observed && !owned) {
    status.error = `${kind} ${name} already exists and is not controlled by this Destination; delete it or rename the Destination.`;
    events.warning(dest, 'AutoscalerConflict', status.error);
    // Someone else scales these workers: do not fight them over replicas.
    return { replicas: undefined, status };
  }
  if (!owned || !isSubset(desired, owned)) {
    guard();
    const verb = owned ? 'Updated' : 'Created';
    try {
      await kube.apply(desired);
      log.info({ [kind]: name }, `${verb} ${kind}`);
      events.normal(dest, `${verb}${kind}`, `${verb} ${kind} ${name} for generation ${dest.metadata.generation ?? 0}`);
    } catch (err) {
      if (isNotFound(err)) {
        status.unavailable = unavailableMessage(kind, spec);
        // Once per outage, not once per status refresh: the condition and event carry it meanwhile.
        const known = dest.status?.conditions?.some((c) => c.type === 'Degraded' && c.reason === 'AutoscalerUnavailable');
        log[known ? 'debug' : 'warn']({ [kind]: name }, `Cannot create ${kind}: the API is not served`);
        events.warning(dest, 'AutoscalerUnavailable', status.unavailable);
        return { replicas: workerReplicas(spec, false), status };
      }
      status.error = `The API server refused ${kind} ${name}: ${errorMessage(err)}. The controller retries with backoff.`;
      events.warning(dest, 'AutoscalerFailed', status.error);
      return { replicas: owned ? undefined : workerReplicas(spec, false), status, error: err };
    }
  }
  if (deployment && appliesReplicas(deployment)) {
    const min = scalerMinReplicas(spec, settings.provider) ?? 1;
    const max = spec.scaling?.maxReplicas ?? min;
    const replicas = Math.min(max, Math.max(min, deployment.spec?.replicas ?? 1));
    guard();
    try {
      await kube.handOffReplicas(namespace, workerDeploymentName(dest.metadata.name), replicas);
      log.info({ replicas }, 'Handed worker replicas over to the autoscaler');
    } catch (err) {
      status.error = `Could not hand the replica count of Deployment ${workerDeploymentName(dest.metadata.name)} over to the autoscaler: ${errorMessage(err)}. The controller retries with backoff.`;
      // Keep stating the current count until the hand-over works, or it would drop to 1.
      return { replicas: deployment.spec?.replicas, status, error: err };
    }
  }
  return { replicas: undefined, status };
}

/**
 * Deletes the scaler a deleted Destination controls, before its workers are scaled down or deleted:
 * a live scaler would scale them right back up. Idempotent.
 */
export async function removeScaler(deps: AutoscalingDeps | undefined, dest: DestinationResource, guard: () => void): Promise<void> {
  const kind = deps && scalerKindOf(deps.settings.provider);
  if (!deps || !kind) return;
  const namespace = dest.metadata.namespace ?? '';
  const observed = deps.scalers.get(objectKey(namespace, scalerName(dest.metadata.name)));
  if (!observed || controllerOf(observed)?.uid !== dest.metadata.uid) return;
  guard();
  await deps.kube.delete(kind, namespace, observed.metadata.name, observed.metadata.uid);
}

/**
 * Deletes scalers of the kinds the current provider does not use (left from before the provider
 * changed) that a Destination controls. Run once per leadership term; the active kind is handled
 * per Destination by {@link convergeScaler}. Returns the names deleted.
 */
export async function sweepScalers(deps: Pick<AutoscalingDeps, 'settings' | 'kube'>, namespace: string, guard: () => void, log: Logger): Promise<string[]> {
  const active = scalerKindOf(deps.settings.provider);
  const deleted: string[] = [];
  for (const kind of Object.keys(SCALER_TYPES) as ScalerKind[]) {
    if (kind === active) continue;
    const found = await deps.kube.list(kind, namespace, workerListSelector(deps.settings.instance));
    for (const s of found) {
      if (controllerOf(s)?.kind !== KIND) continue;
      guard();
      await deps.kube.delete(kind, namespace, s.metadata.name, s.metadata.uid);
      deleted.push(`${kind}/${s.metadata.name}`);
      log.info({ [kind]: s.metadata.name, provider: deps.settings.provider }, `Deleted ${kind} of another autoscaler provider`);
    }
  }
  return deleted;
}

/** Whether a scaler change is worth a reconcile: not status updates (KEDA and the HPA controller write those often). */
export function scalerChanged(previous: Scaler | undefined, next: Scaler): boolean {
  if (!previous) return true;
  const view = (s: Scaler) => stableStringify([s.spec, s.metadata.labels, s.metadata.annotations, s.metadata.ownerReferences, s.metadata.deletionTimestamp]);
  return view(previous) !== view(next);
}
