import type { z } from 'zod';
import { DestinationSpec } from '../api/destination.js';
import type { Logger } from '../log/logger.js';
import { convergeScaler } from './autoscaling.js';
import { controllerOf, specUrl, type DestinationResource, type DestinationStatus } from './destination-resource.js';
import { desiredDeployment } from './desired-deployment.js';
import { workerReplicas } from './desired-scaler.js';
import { errorMessage, LeadershipLostError, RedisUnavailableError } from './errors.js';
import { finalize } from './finalizer.js';
import type { ReconcileResult, ReconcilerDeps } from './reconcile-deps.js';
import { isNotFound } from './kube-rest.js';
import { FINALIZER, objectKey, splitKey, workerDeploymentName } from './names.js';
import { publishSpec } from './registry-entry.js';
import { desiredStatus, statusEqual, summarizeDeployment, type StatusInput } from './status.js';
import { isSubset } from './subset.js';

/**
 * Level-triggered reconcile of one Destination (by `namespace/name`): reads the cached Destination
 * and Deployment, converges the registry entry, worker Deployment and status, and reports what it
 * saw as conditions. Running it again on unchanged input sends no write: the Deployment is applied
 * only when the desired object is not contained in the observed one, status only when it differs.
 * Every write is preceded by a leadership check on `signal`.
 */
export class Reconciler {
  private readonly drainingSince = new Map<string, number>();

  constructor(private readonly deps: ReconcilerDeps) {}

  async reconcile(key: string, signal: AbortSignal): Promise<ReconcileResult> {
    const guard = () => {
      if (signal.aborted) throw new LeadershipLostError();
    };
    const dest = this.deps.destinations.get(key);
    if (!dest) {
      await this.gone(key, guard);
      return { result: 'success', requeueAfterMs: 0 };
    }
    if (dest.metadata.deletionTimestamp) {
      return finalize({ deps: this.deps, drainingSince: this.drainingSince, log: this.log(dest), writeStatus: (d, input) => this.writeStatus(d, input, guard) }, dest, guard);
    }
    return this.converge(dest, guard);
  }

  private log(dest: DestinationResource): Logger {
    return this.deps.logger.child({ destination: dest.metadata.name, namespace: dest.metadata.namespace });
  }

  private async converge(dest: DestinationResource, guard: () => void): Promise<ReconcileResult> {
    const { settings, kube, clock } = this.deps;
    const namespace = dest.metadata.namespace ?? '';
    const name = dest.metadata.name;
    const log = this.log(dest);
    const finalizers = dest.metadata.finalizers ?? [];
    let current = dest;
    if (!finalizers.includes(FINALIZER)) {
      guard();
      current = await kube.setFinalizers(namespace, name, [...finalizers, FINALIZER], dest.metadata.resourceVersion ?? '');
      log.info({ finalizer: FINALIZER }, 'Added finalizer');
    }

    const deploymentName = workerDeploymentName(name);
    let deployment = this.deps.deployments.get(objectKey(namespace, deploymentName));
    const input: Partial<StatusInput> = {};
    let redisError: string | undefined;
    let applyError: unknown;

    const parsed = DestinationSpec.safeParse(current.spec);
    if (!parsed.success) {
      input.invalidSpec = formatIssues(parsed.error);
      this.deps.events.warning(current, 'InvalidSpec', input.invalidSpec);
    } else {
      const spec = parsed.data;
      input.spec = spec;
      // Publish before the workers exist: ingest starts queueing at once and the workers find the backlog.
      try {
        if (await publishSpec(this.deps.registry, name, spec, guard)) log.info('Published destination to the registry');
      } catch (err) {
        if (err instanceof LeadershipLostError) throw err;
        redisError = errorMessage(err);
      }
      const owner = controllerOf(deployment);
      if (deployment && owner && owner.uid !== current.metadata.uid) {
        input.conflict = `Deployment ${deploymentName} already exists and is controlled by ${owner.kind} ${owner.name}; delete it or rename this Destination.`;
        this.deps.events.warning(current, 'DeploymentConflict', input.conflict);
      } else {
        const scaling = this.deps.autoscaling
          ? await convergeScaler({ deps: this.deps.autoscaling, events: this.deps.events, log, guard }, current, spec, deployment)
          : { replicas: workerReplicas(spec, false), status: {}, error: undefined };
        if (spec.scaling) input.autoscaling = scaling.status;
        applyError = scaling.error;
        const desired = desiredDeployment(current, spec, settings, scaling.replicas);
        if (!deployment || !isSubset(desired, deployment)) {
          guard();
          const verb = deployment ? 'Updated' : 'Created';
          try {
            deployment = await kube.applyDeployment(desired);
            log.info({ deployment: deploymentName }, `${verb} Deployment`);
            this.deps.events.normal(current, `${verb}Deployment`, `${verb} worker Deployment ${deploymentName} for generation ${current.metadata.generation ?? 0}`);
          } catch (err) {
            applyError = err;
            input.applyError = errorMessage(err);
            this.deps.events.warning(current, 'ApplyFailed', input.applyError);
          }
        }
      }
    }

    if (input.spec && this.deps.checkUrl) input.blockedUrl = await this.deps.checkUrl(input.spec.url).catch(() => undefined);
    try {
      input.health = await this.deps.deliveries.health(name, input.spec?.url ?? specUrl(current.spec), clock.now());
    } catch (err) {
      redisError ??= errorMessage(err);
    }
    input.redisError = redisError;

    await this.writeStatus(current, { ...input, deployment: deployment ? summarizeDeployment(deployment) : undefined }, guard);
    if (applyError) throw applyError;
    if (redisError) throw new RedisUnavailableError(`Redis unavailable for destination ${name}: ${redisError}`);
    return { result: 'success', requeueAfterMs: this.deps.statusRefreshMs };
  }

  /** The Destination is gone from the API: make sure ingest no longer routes to it. */
  private async gone(key: string, guard: () => void): Promise<void> {
    const { name } = splitKey(key);
    this.drainingSince.delete(key);
    guard();
    await this.deps.registry.remove(name);
    await this.deps.deliveries.forget(name);
  }

  /** Writes the status these observations imply, unless the Destination already shows exactly that. */
  private async writeStatus(dest: DestinationResource, input: Partial<StatusInput>, guard: () => void): Promise<void> {
    const name = dest.metadata.name;
    const status: DestinationStatus = desiredStatus({
      now: this.deps.clock.now(),
      generation: dest.metadata.generation ?? 0,
      namespace: dest.metadata.namespace ?? '',
      deploymentName: workerDeploymentName(name),
      previous: dest.status,
      ...input,
    });
    if (statusEqual(status, dest.status)) return;
    guard();
    try {
      await this.deps.kube.applyStatus(dest.metadata.namespace ?? '', name, status);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

/** zod issues as one line: `spec.retry.initialDelay: initialDelay must not exceed maxDelay; ...`. */
export function formatIssues(err: z.ZodError): string {
  type Issue = { path: PropertyKey[]; message: string; issues?: Issue[] };
  // Record-key issues wrap the real message ("Invalid key in record" → "header names must be HTTP tokens").
  const flat = (issues: Issue[], prefix: PropertyKey[]): Array<[PropertyKey[], string]> =>
    issues.flatMap((i) => (i.issues?.length ? flat(i.issues, [...prefix, ...i.path]) : [[[...prefix, ...i.path], i.message] as [PropertyKey[], string]]));
  return flat(err.issues as unknown as Issue[], [])
    .map(([path, msg]) => (path.length > 0 ? `spec.${path.map(String).join('.')}: ${msg}` : msg))
    .join('; ');
}


