import { DestinationSpec } from '../api/destination.js';
import type { Logger } from '../log/logger.js';
import { removeScaler } from './autoscaling.js';
import { nextDeletionStep, type DeletionPolicy } from './deletion.js';
import { controllerOf, specUrl, type DeliveryHealth, type DestinationResource } from './destination-resource.js';
import { isNotFound } from './kube-rest.js';
import { FINALIZER, objectKey, workerDeploymentName } from './names.js';
import { errorMessage } from './errors.js';
import type { ReconcileResult, ReconcilerDeps } from './reconcile-deps.js';
import { DRAINING_FILTER, registryState } from './registry-entry.js';
import { summarizeDeployment, type StatusInput } from './status.js';

export interface FinalizeContext {
  deps: ReconcilerDeps;
  /** When each draining Destination stopped routing, by key. In memory: losing it only restarts the settle wait. */
  drainingSince: Map<string, number>;
  log: Logger;
  writeStatus: (dest: DestinationResource, input: Partial<StatusInput>) => Promise<void>;
}

/** The deletion policy even of a spec that no longer validates: deletion must never be blocked by a bad spec. */
export function deletionPolicyOf(spec: unknown): DeletionPolicy {
  const p = (spec as { deletionPolicy?: unknown } | undefined)?.deletionPolicy;
  return p === 'drain' || p === 'purge' || p === 'keep' ? p : 'keep';
}

/**
 * Runs the finalizer of a deleted Destination per its `spec.deletionPolicy`: executes the steps
 * `nextDeletionStep` decides until one has to wait (then reports it in status and asks to be requeued)
 * or the finalizer is removed. Every step is idempotent and re-derived from observed state on each
 * call, so it is safe to run again after a crash or by a new leader.
 */
export async function finalize(ctx: FinalizeContext, dest: DestinationResource, guard: () => void): Promise<ReconcileResult> {
  const { deps, drainingSince, log } = ctx;
  const { kube, clock } = deps;
  const namespace = dest.metadata.namespace ?? '';
  const name = dest.metadata.name;
  const key = objectKey(namespace, name);
  const finalizers = dest.metadata.finalizers ?? [];
  // Not ours (already removed, or never added): the API server deletes it once others are done.
  if (!finalizers.includes(FINALIZER)) return { result: 'success', requeueAfterMs: 0 };

  const policy = deletionPolicyOf(dest.spec);
  const deploymentName = workerDeploymentName(name);
  const observed = deps.deployments.get(objectKey(namespace, deploymentName));
  const owner = controllerOf(observed);
  let deployment = observed && (!owner || owner.uid === dest.metadata.uid) ? observed : undefined;
  let registry = await registryState(deps.registry, name);
  if (registry === 'draining' && !drainingSince.has(key)) drainingSince.set(key, clock.now());

  let health: DeliveryHealth | undefined;
  if (policy === 'drain') {
    try {
      health = await deps.deliveries.health(name, specUrl(dest.spec), clock.now());
    } catch (err) {
      log.warn({ err: errorMessage(err) }, 'Cannot read backlog for drain');
    }
  }
  const parsed = DestinationSpec.safeParse(dest.spec);
  const paused = parsed.success ? parsed.data.paused : false;
  let purged = false;

  for (;;) {
    const state = deployment ? summarizeDeployment(deployment) : undefined;
    const podReplicas = deployment ? (deployment.status?.replicas ?? 0) + ((deployment.status as { terminatingReplicas?: number } | undefined)?.terminatingReplicas ?? 0) : 0;
    const step = nextDeletionStep({
      policy,
      now: clock.now(),
      registry,
      deployment: deployment && state ? { specReplicas: state.wantReplicas, podReplicas } : undefined,
      workersCanDeliver: !paused && !!state && (state.wantReplicas > 0 || (parsed.success && !!parsed.data.scaling)),
      backlog: health?.backlog,
      drainingSince: drainingSince.get(key),
      settleMs: deps.drainSettleMs ?? 10_000,
      purged,
    });
    switch (step.do) {
      case 'stopRouting': {
        guard();
        const entry = await deps.registry.get(name);
        if (entry) await deps.registry.put({ name, spec: { ...entry.spec, filter: DRAINING_FILTER } });
        registry = entry ? 'draining' : 'absent';
        drainingSince.set(key, clock.now());
        log.info('Stopped routing events; draining');
        deps.events.normal(dest, 'Draining', 'Stopped routing new events; delivering the backlog before deleting');
        break;
      }
      case 'unpublish':
        guard();
        await deps.registry.remove(name);
        registry = 'absent';
        log.info('Removed destination from the registry');
        break;
      case 'scaleDown':
        // A live scaler would scale the workers right back up.
        await removeScaler(deps.autoscaling, dest, guard);
        guard();
        deployment = await kube.scaleDeployment(namespace, deploymentName, 0);
        log.info({ deployment: deploymentName }, 'Scaled workers to zero before purging');
        break;
      case 'deleteDeployment':
        await removeScaler(deps.autoscaling, dest, guard);
        guard();
        await kube.deleteDeployment(namespace, deploymentName, deployment?.metadata?.uid);
        deployment = undefined;
        log.info({ deployment: deploymentName }, 'Deleted Deployment');
        break;
      case 'purgeQueue': {
        guard();
        const n = await deps.deliveries.purge(name);
        purged = true;
        log.info({ purged: n }, 'Purged queue');
        deps.events.normal(dest, 'PurgedQueue', `Deleted ${n} queued and dead-lettered deliveries`);
        break;
      }
      case 'removeFinalizer':
        guard();
        try {
          await kube.setFinalizers(namespace, name, finalizers.filter((f) => f !== FINALIZER), dest.metadata.resourceVersion ?? '');
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
        drainingSince.delete(key);
        await deps.deliveries.forget(name);
        log.info({ policy }, 'Removed finalizer');
        return { result: 'success', requeueAfterMs: 0 };
      case 'wait': {
        await ctx.writeStatus(dest, { health, deleting: { reason: step.reason, message: step.message }, deployment: state, spec: parsed.success ? parsed.data : undefined });
        return { result: 'requeue', requeueAfterMs: step.afterMs };
      }
    }
  }
}
