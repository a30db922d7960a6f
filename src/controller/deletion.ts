import type { DestinationSpec } from '../api/destination.js';

/**
 * The finalizer's decisions, as a pure function of what the controller observes. Every step is
 * idempotent and derived from observed state, never from memory of earlier steps, so a controller
 * that dies midway simply recomputes where it was: that is what makes the finalizer crash-safe.
 *
 * - keep:  stop routing (remove from the registry), delete the workers, remove the finalizer. The
 *          queue and dead letters stay in Redis; a Destination re-created with the same name resumes them.
 * - purge: stop routing, scale the workers to zero and wait for their pods to go (a running worker
 *          could re-queue a retry after the purge), delete them, purge queue, dead letters and stats.
 * - drain: stop routing new events but keep the workers, wait until the backlog (waiting, delayed,
 *          in flight) is empty, then as keep. Dead letters are kept. Waits as long as it takes; the
 *          status says how to stop waiting (switch the policy to keep or purge).
 */
export type DeletionPolicy = DestinationSpec['deletionPolicy'];

export interface DeletionState {
  policy: DeletionPolicy;
  now: number;
  /** The Destination's registry entry: absent, routing events, or published with the draining filter. */
  registry: 'absent' | 'routing' | 'draining';
  /** The worker Deployment, if it still exists. */
  deployment?: { specReplicas: number; podReplicas: number };
  /** Whether workers can deliver at all (not paused; replicas > 0 or autoscaled). */
  workersCanDeliver: boolean;
  /** Backlog from Redis; undefined when unreadable. Needed by drain only. */
  backlog?: number;
  /** When routing was switched off for the drain (ms); undefined if not yet known. */
  drainingSince?: number;
  /** How long ingest may keep routing after the registry changed (its pub/sub plus safety refresh). */
  settleMs: number;
  /** Purge already ran in this reconcile. */
  purged?: boolean;
}

export type DeletionStep =
  | { do: 'stopRouting' }
  | { do: 'unpublish' }
  | { do: 'scaleDown' }
  | { do: 'deleteDeployment' }
  | { do: 'purgeQueue' }
  | { do: 'removeFinalizer' }
  | { do: 'wait'; reason: string; message: string; afterMs: number };

const pending = (n: number) => `${n} ${n === 1 ? 'event' : 'events'} pending`;

/** The next thing the finalizer should do. */
export function nextDeletionStep(s: DeletionState): DeletionStep {
  if (s.policy === 'drain' && s.registry !== 'absent') {
    if (s.registry === 'routing') return { do: 'stopRouting' };
    if (s.backlog === undefined) {
      return { do: 'wait', reason: 'Draining', message: 'Draining: cannot read the backlog from Redis; deletion continues once Redis answers.', afterMs: 5_000 };
    }
    const since = s.drainingSince ?? s.now;
    if (s.now - since < s.settleMs) {
      return { do: 'wait', reason: 'Draining', message: `Draining: stopped routing new events; ${pending(s.backlog)}.`, afterMs: since + s.settleMs - s.now };
    }
    if (s.backlog > 0 && !s.workersCanDeliver) {
      return {
        do: 'wait',
        reason: 'DrainStalled',
        message: `Draining is stalled: ${pending(s.backlog)} but the workers are paused or scaled to zero. Resume them, or set spec.deletionPolicy to keep or purge to finish deleting.`,
        afterMs: 10_000,
      };
    }
    if (s.backlog > 0) {
      return { do: 'wait', reason: 'Draining', message: `Draining: ${pending(s.backlog)}. Set spec.deletionPolicy to keep or purge to stop waiting.`, afterMs: 5_000 };
    }
    return { do: 'unpublish' };
  }
  if (s.registry !== 'absent') return { do: 'unpublish' };
  if (s.policy === 'purge' && !s.purged) {
    if (s.deployment && s.deployment.specReplicas !== 0) return { do: 'scaleDown' };
    if (s.deployment && s.deployment.podReplicas > 0) {
      return { do: 'wait', reason: 'Purging', message: `Purging: waiting for ${s.deployment.podReplicas} worker pods to stop before deleting queued events.`, afterMs: 2_000 };
    }
    if (s.deployment) return { do: 'deleteDeployment' };
    return { do: 'purgeQueue' };
  }
  if (s.deployment) return { do: 'deleteDeployment' };
  return { do: 'removeFinalizer' };
}
