/**
 * How many deliveries a worker runs at once for a destination that keeps failing. Every failed
 * attempt costs nearly as much CPU as a delivery (the HTTP round, the attempt record, the move to
 * BullMQ's delayed set), so a receiver failing at full concurrency can take half of a worker
 * process's CPU away from the healthy destinations it also serves. After `failuresToThrottle`
 * failed attempts in a row the destination drops to `throttledConcurrency`; its first success
 * restores the configured concurrency. Retry delays and attempt counts are unchanged: only fewer
 * attempts run side by side, and they start `throttledIntervalMs` apart (so a retry may go out later
 * than its schedule says, never earlier).
 */
export interface AdaptiveConcurrencyPolicy {
  failuresToThrottle: number;
  throttledConcurrency: number;
  /**
   * While throttled, attempts start at least this far apart. One at a time is not enough on its own:
   * a receiver that fails at once (a 500 in a millisecond) still draws hundreds of attempts a second,
   * each a BullMQ move to the delayed set and an attempt record in the Redis every destination shares.
   */
  throttledIntervalMs: number;
}

export const DEFAULT_ADAPTIVE_CONCURRENCY: AdaptiveConcurrencyPolicy = { failuresToThrottle: 10, throttledConcurrency: 1, throttledIntervalMs: 100 };

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
  return isThrottled(state, policy) ? Math.min(configured, policy.throttledConcurrency) : configured;
}

/** Whether `state` is throttled under `policy`. */
export function isThrottled(state: AdaptiveState, policy: AdaptiveConcurrencyPolicy = DEFAULT_ADAPTIVE_CONCURRENCY): boolean {
  return state.failuresInRow >= policy.failuresToThrottle;
}

/**
 * Spaces attempt starts `intervalMs` apart: given when the next attempt may start (`freeAt`) and the
 * time now, how long this attempt waits and when the one after it may start. Attempts already fetched
 * when the destination was throttled queue up behind each other rather than going out at once.
 */
export function paceAttempt(freeAt: number, now: number, intervalMs: number): { waitMs: number; freeAt: number } {
  const start = Math.max(freeAt, now);
  return { waitMs: start - now, freeAt: start + intervalMs };
}
