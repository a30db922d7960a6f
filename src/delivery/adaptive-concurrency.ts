/**
 * How many deliveries a worker runs at once for a destination that keeps failing. Every failed
 * attempt costs nearly as much CPU as a delivery (the HTTP round, the attempt record, the move to
 * BullMQ's delayed set), so a receiver failing at full concurrency can take half of a worker
 * process's CPU away from the healthy destinations it also serves. After `failuresToThrottle`
 * failed attempts in a row the destination drops to `throttledConcurrency`; its first success
 * restores the configured concurrency. Retry delays and attempt counts are unchanged: only fewer
 * attempts run side by side.
 */
export interface AdaptiveConcurrencyPolicy {
  failuresToThrottle: number;
  throttledConcurrency: number;
}

export const DEFAULT_ADAPTIVE_CONCURRENCY: AdaptiveConcurrencyPolicy = { failuresToThrottle: 10, throttledConcurrency: 1 };

/** Failed attempts in a row, as this worker process saw them finish. */
export interface AdaptiveState {
  failuresInRow: number;
}

export const HEALTHY: AdaptiveState = { failuresInRow: 0 };

/** The state after one attempt finished. */
export function afterAttempt(state: AdaptiveState, success: boolean): AdaptiveState {
  return success ? HEALTHY : { failuresInRow: state.failuresInRow + 1 };
}

/** The concurrency to run with in `state`, given the destination's `spec.concurrency`. */
export function concurrencyFor(state: AdaptiveState, configured: number, policy: AdaptiveConcurrencyPolicy = DEFAULT_ADAPTIVE_CONCURRENCY): number {
  return state.failuresInRow >= policy.failuresToThrottle ? Math.min(configured, policy.throttledConcurrency) : configured;
}
