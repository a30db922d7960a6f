import type { V1Deployment } from '@kubernetes/client-node';
import { z } from 'zod';
import { DestinationSpec } from '../api/destination.js';
import type { WorkerSettings } from '../config/controller.js';
import type { DestinationRegistry } from '../destinations/registry.js';
import type { Logger } from '../log/logger.js';
import type { QueueHealth } from '../queue/queue-health.js';
import type { Clock } from './clock.js';
import { nextDeletionStep, type DeletionPolicy } from './deletion.js';
import type { DeliveryHealth, DestinationResource, DestinationStatus, OwnerReference } from './destination-resource.js';
import { desiredDeployment, stableStringify } from './desired-deployment.js';
import { LeadershipLostError, RedisUnavailableError } from './errors.js';
import type { EventRecorder } from './events.js';
import type { ControllerKube } from './kube-client.js';
import { isNotFound } from './kube-rest.js';
import { FINALIZER, objectKey, splitKey, workerDeploymentName } from './names.js';
import { desiredStatus, statusEqual, summarizeDeployment, type StatusInput } from './status.js';
import { isSubset } from './subset.js';

/**
 * Registry filter of a draining destination: ingest routes it nothing (event types cannot contain
 * spaces, see EVENT_TYPE_PATTERN) while its workers still read the rest of the spec and deliver the
 * backlog. A stand-in until the registry has a first-class "draining" state (ADR 0003).
 */
export const DRAINING_FILTER = { types: ['herald.dev/draining: matches no event type'] };

/** Delivery-side operations on Redis, per destination. */
export interface DeliveryPort {
  health(name: string, now: number): Promise<{ health: DeliveryHealth; queue: QueueHealth }>;
  /** Deletes queue, dead letters and stats; idempotent. Returns the number of deliveries removed. */
  purge(name: string): Promise<number>;
  /** Drops per-destination resources (queue handles, gauges) once it is gone. */
  forget(name: string): Promise<void>;
}

export interface ReconcilerDeps {
  kube: ControllerKube;
  /** Informer caches, keyed `namespace/name`. */
  destinations: { get(key: string): DestinationResource | undefined };
  deployments: { get(key: string): V1Deployment | undefined };
  registry: Pick<DestinationRegistry, 'get' | 'put' | 'remove'>;
  deliveries: DeliveryPort;
  /** Called with fresh queue health, for the per-destination queue gauges. */
  onQueueHealth?: (name: string, q: QueueHealth) => void;
  settings: WorkerSettings;
  clock: Clock;
  logger: Logger;
  events: EventRecorder;
  /** Requeue delay of a healthy Destination, to refresh its delivery status. */
  statusRefreshMs: number;
  /** How long ingest may keep routing after a registry change; drain waits this long. Default 10 s. */
  drainSettleMs?: number;
}

export interface ReconcileResult {
  /** success: converged; requeue: waiting on something (a drain, pods stopping). */
  result: 'success' | 'requeue';
  requeueAfterMs: number;
}

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
      await this.gone(key);
      return { result: 'success', requeueAfterMs: 0 };
    }
    if (dest.metadata.deletionTimestamp) return this.finalize(dest, guard);
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
        if (await this.publish(name, spec)) log.info('Published destination to the registry');
      } catch (err) {
        redisError = message(err);
      }
      const owner = controllerOf(deployment);
      if (deployment && owner && owner.uid !== current.metadata.uid) {
        input.conflict = `Deployment ${deploymentName} already exists and is controlled by ${owner.kind} ${owner.name}; delete it or rename this Destination.`;
        this.deps.events.warning(current, 'DeploymentConflict', input.conflict);
      } else {
        const desired = desiredDeployment(current, spec, settings);
        if (!deployment || !isSubset(desired, deployment)) {
          guard();
          const verb = deployment ? 'Updated' : 'Created';
          try {
            deployment = await kube.applyDeployment(desired);
            log.info({ deployment: deploymentName }, `${verb} Deployment`);
            this.deps.events.normal(current, `${verb}Deployment`, `${verb} worker Deployment ${deploymentName}`);
          } catch (err) {
            applyError = err;
            input.applyError = message(err);
            this.deps.events.warning(current, 'ApplyFailed', input.applyError);
          }
        }
      }
    }

    try {
      const { health, queue } = await this.deps.deliveries.health(name, clock.now());
      input.health = health;
      this.deps.onQueueHealth?.(name, queue);
    } catch (err) {
      redisError ??= message(err);
    }
    input.redisError = redisError;

    await this.writeStatus(current, { ...input, deployment: deployment ? summarizeDeployment(deployment) : undefined }, guard);
    if (applyError) throw applyError;
    if (redisError) throw new RedisUnavailableError(`Redis unavailable for destination ${name}: ${redisError}`);
    return { result: 'success', requeueAfterMs: this.deps.statusRefreshMs };
  }

  private async finalize(dest: DestinationResource, guard: () => void): Promise<ReconcileResult> {
    const { kube, clock } = this.deps;
    const namespace = dest.metadata.namespace ?? '';
    const name = dest.metadata.name;
    const key = objectKey(namespace, name);
    const log = this.log(dest);
    const finalizers = dest.metadata.finalizers ?? [];
    // Not ours (already removed, or never added): the API server deletes it once others are done.
    if (!finalizers.includes(FINALIZER)) return { result: 'success', requeueAfterMs: 0 };

    const policy = deletionPolicyOf(dest.spec);
    const deploymentName = workerDeploymentName(name);
    const observed = this.deps.deployments.get(objectKey(namespace, deploymentName));
    const owner = controllerOf(observed);
    let deployment = observed && (!owner || owner.uid === dest.metadata.uid) ? observed : undefined;
    let registry = await this.registryState(name);
    if (registry === 'draining' && !this.drainingSince.has(key)) this.drainingSince.set(key, clock.now());

    let health: DeliveryHealth | undefined;
    if (policy === 'drain') {
      try {
        const r = await this.deps.deliveries.health(name, clock.now());
        health = r.health;
        this.deps.onQueueHealth?.(name, r.queue);
      } catch (err) {
        log.warn({ err: message(err) }, 'Cannot read backlog for drain');
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
        drainingSince: this.drainingSince.get(key),
        settleMs: this.deps.drainSettleMs ?? 10_000,
        purged,
      });
      switch (step.do) {
        case 'stopRouting': {
          guard();
          const entry = await this.deps.registry.get(name);
          if (entry) await this.deps.registry.put({ name, spec: { ...entry.spec, filter: DRAINING_FILTER } });
          registry = entry ? 'draining' : 'absent';
          this.drainingSince.set(key, clock.now());
          log.info('Stopped routing events; draining');
          this.deps.events.normal(dest, 'Draining', 'Stopped routing new events; delivering the backlog before deleting');
          break;
        }
        case 'unpublish':
          guard();
          await this.deps.registry.remove(name);
          registry = 'absent';
          log.info('Removed destination from the registry');
          break;
        case 'scaleDown':
          guard();
          deployment = await kube.scaleDeployment(namespace, deploymentName, 0);
          log.info({ deployment: deploymentName }, 'Scaled workers to zero before purging');
          break;
        case 'deleteDeployment':
          guard();
          await kube.deleteDeployment(namespace, deploymentName, deployment?.metadata?.uid);
          deployment = undefined;
          log.info({ deployment: deploymentName }, 'Deleted Deployment');
          break;
        case 'purgeQueue': {
          guard();
          const n = await this.deps.deliveries.purge(name);
          purged = true;
          log.info({ purged: n }, 'Purged queue');
          this.deps.events.normal(dest, 'PurgedQueue', `Deleted ${n} queued and dead-lettered deliveries`);
          break;
        }
        case 'removeFinalizer':
          guard();
          try {
            await kube.setFinalizers(namespace, name, finalizers.filter((f) => f !== FINALIZER), dest.metadata.resourceVersion ?? '');
          } catch (err) {
            if (!isNotFound(err)) throw err;
          }
          this.drainingSince.delete(key);
          await this.deps.deliveries.forget(name);
          log.info({ policy }, 'Removed finalizer');
          return { result: 'success', requeueAfterMs: 0 };
        case 'wait': {
          await this.writeStatus(dest, { health, deleting: { reason: step.reason, message: step.message }, deployment: state, spec: parsed.success ? parsed.data : undefined }, guard);
          return { result: 'requeue', requeueAfterMs: step.afterMs };
        }
      }
    }
  }

  /** The Destination is gone from the API: make sure ingest no longer routes to it. */
  private async gone(key: string): Promise<void> {
    const { name } = splitKey(key);
    this.drainingSince.delete(key);
    await this.deps.registry.remove(name);
    await this.deps.deliveries.forget(name);
  }

  /** Puts the spec in the registry unless it is there already (a put announces a change to every ingest). */
  private async publish(name: string, spec: DestinationSpec): Promise<boolean> {
    const entry = await this.deps.registry.get(name).catch((err: unknown) => {
      if (err instanceof z.ZodError) return undefined; // unreadable entry: overwrite it
      throw err;
    });
    if (entry && stableStringify(entry.spec) === stableStringify(spec)) return false;
    await this.deps.registry.put({ name, spec });
    return true;
  }

  private async registryState(name: string): Promise<'absent' | 'routing' | 'draining'> {
    try {
      const entry = await this.deps.registry.get(name);
      if (!entry) return 'absent';
      return stableStringify(entry.spec.filter) === stableStringify(DRAINING_FILTER) ? 'draining' : 'routing';
    } catch (err) {
      if (err instanceof z.ZodError) return 'routing';
      throw new RedisUnavailableError(`cannot read the registry: ${message(err)}`, { cause: err });
    }
  }

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

/** The controlling owner of an object, if any. */
export function controllerOf(obj: { metadata?: { ownerReferences?: OwnerReference[] } } | undefined): OwnerReference | undefined {
  return obj?.metadata?.ownerReferences?.find((r) => r.controller);
}

/** The deletion policy even of a spec that no longer validates: deletion must never be blocked by a bad spec. */
export function deletionPolicyOf(spec: unknown): DeletionPolicy {
  const p = (spec as { deletionPolicy?: unknown } | undefined)?.deletionPolicy;
  return p === 'drain' || p === 'purge' || p === 'keep' ? p : 'keep';
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

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

