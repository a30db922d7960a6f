import type { V1Deployment } from '@kubernetes/client-node';
import type { DestinationSpec } from '../api/destination.js';
import { formatDuration } from '../api/duration.js';
import { CONDITION, type Condition, type DeliveryHealth, type DestinationStatus } from './destination-resource.js';
import { stableStringify } from '../api/stable-stringify.js';

/** What the status is computed from: one reconcile's observations. */
export interface StatusInput {
  now: number;
  /** metadata.generation of the Destination. */
  generation: number;
  namespace: string;
  deploymentName: string;
  previous?: DestinationStatus;
  /** The parsed spec; absent when it failed validation. */
  spec?: DestinationSpec;
  /** Why the spec could not be used (zod's messages). */
  invalidSpec?: string;
  /** The worker Deployment as last observed (after our apply, if any). */
  deployment?: DeploymentState;
  /** The Deployment exists but another controller owns it. */
  conflict?: string;
  /** The API server refused our Deployment (admission, quota, RBAC). */
  applyError?: string;
  /** Fresh delivery health; absent when Redis could not be read. */
  health?: DeliveryHealth;
  redisError?: string;
  /** Set while the finalizer works; `reason` becomes Ready's reason. */
  deleting?: { reason: string; message: string };
  /** How `spec.scaling` is being carried out; absent without it. */
  autoscaling?: AutoscalingStatus;
  /** Why the SSRF guard refuses spec.url (a private, loopback or metadata address); absent when allowed. */
  blockedUrl?: string;
}

/** What the autoscaling step of a reconcile saw. Each field is a complete sentence for the operator. */
export interface AutoscalingStatus {
  /** The scaler's API is not served (KEDA not installed): Degraded/AutoscalerUnavailable. */
  unavailable?: string;
  /** The scaler could not be written (refused, or another object holds its name): Degraded/AutoscalerFailed. */
  error?: string;
  /** How spec.scaling is applied differently from what it says (HPA minimum 1, provider none); appended to Ready's message. */
  note?: string;
}

/** The parts of a Deployment's state the conditions depend on. */
export interface DeploymentState {
  /** spec.replicas; undefined if not set yet (defaults to 1 server-side). */
  wantReplicas: number;
  generation: number;
  observedGeneration: number;
  replicas: number;
  updatedReplicas: number;
  readyReplicas: number;
  availableReplicas: number;
  progressDeadlineExceeded: boolean;
}

/** The Health column of a destination that is not Degraded. */
export const HEALTHY = 'Healthy';

/** A recent failure counts as "failing" for this long after it happened, unless a success followed. */
export const FAILING_WINDOW_MS = 15 * 60_000;
/** An event waiting longer than this marks the destination Degraded (BacklogStale). */
export const STALE_BACKLOG_SECONDS = 600;

export function summarizeDeployment(dep: V1Deployment): DeploymentState {
  const s = dep.status ?? {};
  return {
    wantReplicas: dep.spec?.replicas ?? 1,
    generation: dep.metadata?.generation ?? 0,
    observedGeneration: s.observedGeneration ?? 0,
    replicas: s.replicas ?? 0,
    updatedReplicas: s.updatedReplicas ?? 0,
    readyReplicas: s.readyReplicas ?? 0,
    availableReplicas: s.availableReplicas ?? 0,
    progressDeadlineExceeded: (s.conditions ?? []).some((c) => c.type === 'Progressing' && c.status === 'False' && c.reason === 'ProgressDeadlineExceeded'),
  };
}

/** Kubernetes timestamps have whole seconds; anything finer would differ after a round trip and cause endless writes. */
export function kubeTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * Sets a condition in `conditions` (in place), taking `lastTransitionTime` from `previous` when the
 * status did not change: a reason or message update is not a transition, and keeping the time
 * stable is what lets an unchanged Destination be reconciled without writing its status.
 */
export function setCondition(conditions: Condition[], next: Omit<Condition, 'lastTransitionTime'>, previous: Condition[] | undefined, now: number): void {
  const before = previous?.find((c) => c.type === next.type);
  const lastTransitionTime = before && before.status === next.status ? before.lastTransitionTime : kubeTime(now);
  const i = conditions.findIndex((c) => c.type === next.type);
  const cond: Condition = { ...next, lastTransitionTime };
  if (i >= 0) conditions[i] = cond;
  else conditions.push(cond);
}

/** Ready, Progressing and Degraded plus the observed counts: the status the Destination should show. */
export function desiredStatus(input: StatusInput): DestinationStatus {
  const conditions: Condition[] = [];
  const prev = input.previous?.conditions;
  const set = (type: string, status: Condition['status'], reason: string, message: string) =>
    setCondition(conditions, { type, status, reason, message, observedGeneration: input.generation }, prev, input.now);

  const [readyStatus, readyReason, readyMessage] = ready(input);
  set(CONDITION.ready, readyStatus, readyReason, readyMessage);
  set(CONDITION.progressing, ...progressing(input));
  const [degradedStatus, degradedReason, degradedMessage] = degraded(input);
  set(CONDITION.degraded, degradedStatus, degradedReason, degradedMessage);

  // Ready says whether workers run; Health says whether deliveries succeed: a destination failing every
  // delivery is Ready=True and Health=DeliveryFailing, side by side in `kubectl get dest`.
  const status: DestinationStatus = { observedGeneration: input.generation, conditions, health: degradedStatus === 'True' ? degradedReason : HEALTHY };
  if (input.deployment) {
    status.replicas = input.deployment.replicas;
    status.readyReplicas = input.deployment.readyReplicas;
  }
  // Keep the last known delivery figures while Redis is away rather than reporting zeros.
  const delivery = input.health ?? input.previous?.delivery;
  if (delivery) status.delivery = delivery;
  return status;
}

type Verdict = [Condition['status'], string, string];

function wantReplicas(input: StatusInput): number {
  if (input.deployment) return input.deployment.wantReplicas;
  return input.spec?.scaling ? input.spec.scaling.minReplicas : (input.spec?.workers.replicas ?? 1);
}

function describeCmd(input: StatusInput): string {
  return `kubectl -n ${input.namespace} describe deployment ${input.deploymentName}`;
}

function receiverGone(input: StatusInput): string {
  const h = input.health!;
  const name = input.deploymentName.replace(/^herald-worker-/, '');
  return `The receiver answered ${h.disabledReason}${h.disabledTime ? ` at ${h.disabledTime}` : ''}: delivery is paused and events are kept. Change spec.url, or run \`herald resume --destination ${name}\` once the receiver is back.`;
}

function applyFailed(input: StatusInput): string {
  return `The API server refused Deployment ${input.deploymentName}: ${input.applyError}. The controller retries with backoff.`;
}

function ready(input: StatusInput): Verdict {
  const verdict = readyVerdict(input);
  const note = input.autoscaling?.note;
  return note && ['WorkersReady', 'WorkersNotReady', 'Idle'].includes(verdict[1]) ? [verdict[0], verdict[1], `${verdict[2]} ${note}`] : verdict;
}

function blocked(reason: string): string {
  return `Deliveries to spec.url are refused by the SSRF guard (${reason}); they are dead-lettered. Point the Destination at a public address, or allow the network with the chart's config.deliveryAllowCIDRs (HERALD_DELIVERY_ALLOW_CIDRS).`;
}

function readyVerdict(input: StatusInput): Verdict {
  if (input.deleting) return ['False', input.deleting.reason, input.deleting.message];
  if (input.invalidSpec) return ['False', 'InvalidSpec', `The spec is invalid: ${input.invalidSpec}. Fix the Destination; workers keep the last valid configuration meanwhile.`];
  if (input.conflict) return ['False', 'DeploymentConflict', input.conflict];
  if (input.applyError) return ['False', 'ApplyFailed', applyFailed(input)];
  const d = input.deployment;
  if (!d) return ['False', 'Creating', `Creating worker Deployment ${input.deploymentName}.`];
  if (input.spec?.paused) return ['False', 'Paused', 'spec.paused is true: events are queued but not delivered until it is set to false.'];
  if (input.health?.disabledReason) return ['False', 'ReceiverGone', receiverGone(input)];
  if (input.blockedUrl) return ['False', 'DestinationBlocked', blocked(input.blockedUrl)];
  const want = wantReplicas(input);
  if (want === 0) {
    return input.spec?.scaling
      ? ['True', 'Idle', 'Workers are scaled to zero; events queue until they scale up.']
      : ['False', 'ScaledToZero', 'spec.workers.replicas is 0: events are queued but not delivered; set it to 1 or more.'];
  }
  if (d.availableReplicas >= want) return ['True', 'WorkersReady', `${d.availableReplicas}/${want} workers ready.`];
  return ['False', 'WorkersNotReady', `${d.availableReplicas}/${want} workers ready; see \`${describeCmd(input)}\` and its pods' events.`];
}

function progressing(input: StatusInput): Verdict {
  if (input.deleting) return ['True', input.deleting.reason, input.deleting.message];
  if (input.invalidSpec) return ['False', 'InvalidSpec', 'Nothing is rolled out until the spec is valid.'];
  if (input.conflict) return ['False', 'DeploymentConflict', input.conflict];
  if (input.applyError) return ['False', 'ApplyFailed', applyFailed(input)];
  const d = input.deployment;
  if (!d) return ['True', 'Creating', `Creating worker Deployment ${input.deploymentName}.`];
  if (d.progressDeadlineExceeded) {
    return ['False', 'ProgressDeadlineExceeded', `The rollout of ${input.deploymentName} stopped progressing; check its pods (image pull, crash loop, quota) with \`${describeCmd(input)}\`.`];
  }
  const want = d.wantReplicas;
  if (d.observedGeneration < d.generation || d.updatedReplicas < want || d.replicas > d.updatedReplicas || d.availableReplicas < want) {
    return ['True', 'RollingOut', `Rolling out workers: ${d.updatedReplicas}/${want} updated, ${d.availableReplicas}/${want} available.`];
  }
  return ['False', 'RolloutComplete', 'All workers run the current configuration.'];
}

function degraded(input: StatusInput): Verdict {
  if (input.invalidSpec) return ['True', 'InvalidSpec', `The spec is invalid: ${input.invalidSpec}.`];
  if (input.conflict) return ['True', 'DeploymentConflict', input.conflict];
  if (input.applyError) return ['True', 'ApplyFailed', applyFailed(input)];
  if (input.autoscaling?.unavailable) return ['True', 'AutoscalerUnavailable', input.autoscaling.unavailable];
  if (input.autoscaling?.error) return ['True', 'AutoscalerFailed', input.autoscaling.error];
  if (input.deployment?.progressDeadlineExceeded) return ['True', 'RolloutStuck', `The rollout of ${input.deploymentName} exceeded its progress deadline; see \`${describeCmd(input)}\`.`];
  if (input.health?.disabledReason) return ['True', 'ReceiverGone', receiverGone(input)];
  if (input.blockedUrl) return ['True', 'DestinationBlocked', blocked(input.blockedUrl)];
  if (input.redisError) return ['True', 'RedisUnavailable', `Cannot read delivery health from Redis (${input.redisError}); delivery figures are the last known ones.`];
  const h = input.health;
  if (h?.circuitOpen) {
    return ['True', 'CircuitOpen', 'The circuit breaker is open after repeated failures: deliveries are held and the receiver is probed; they resume by themselves when it answers again.'];
  }
  if (h?.lastErrorTime && h.lastError) {
    const errAt = Date.parse(h.lastErrorTime);
    const okAt = h.lastSuccessTime ? Date.parse(h.lastSuccessTime) : 0;
    if (errAt >= okAt && input.now - errAt <= FAILING_WINDOW_MS) {
      return ['True', 'DeliveryFailing', `Deliveries are failing (last error at ${h.lastErrorTime}: ${h.lastError}). They are retried per spec.retry and dead-lettered when retries run out; check the receiver.`];
    }
  }
  if (h && !input.spec?.paused && h.oldestPendingSeconds >= STALE_BACKLOG_SECONDS) {
    return ['True', 'BacklogStale', `The oldest pending event has waited more than ${formatDuration(STALE_BACKLOG_SECONDS * 1000)}; add workers (spec.workers.replicas) or check the receiver's latency.`];
  }
  return ['False', 'AsExpected', 'Deliveries are healthy.'];
}

/** Whether two statuses say the same thing (key order and undefined fields aside). */
export function statusEqual(a: DestinationStatus | undefined, b: DestinationStatus | undefined): boolean {
  return stableStringify(a ?? {}) === stableStringify(b ?? {});
}
