import { parseDuration } from '../api/duration.js';
import type { RetrySpec } from '../api/destination.js';

/** A destination's retry policy with durations resolved to milliseconds. */
export interface RetryPolicy {
  maxAttempts: number;
  backoff: 'exponential' | 'linear' | 'fixed';
  initialDelayMs: number;
  maxDelayMs: number;
  scheduleMs?: number[];
  maxRetryWindowMs: number;
}

export function resolveRetryPolicy(spec: RetrySpec): RetryPolicy {
  return {
    maxAttempts: spec.maxAttempts,
    backoff: spec.backoff,
    initialDelayMs: parseDuration(spec.initialDelay),
    maxDelayMs: parseDuration(spec.maxDelay),
    scheduleMs: spec.schedule?.map(parseDuration),
    maxRetryWindowMs: parseDuration(spec.maxRetryWindow),
  };
}

/**
 * The nominal delay before attempt `attempt + 1` after `attempt` attempts failed (attempt ≥ 1),
 * before jitter. An explicit schedule wins; its last entry repeats.
 */
export function nominalDelay(policy: RetryPolicy, attempt: number): number {
  let d: number;
  if (policy.scheduleMs && policy.scheduleMs.length > 0) {
    d = policy.scheduleMs[Math.min(attempt, policy.scheduleMs.length) - 1]!;
  } else if (policy.backoff === 'fixed') {
    d = policy.initialDelayMs;
  } else if (policy.backoff === 'linear') {
    d = policy.initialDelayMs * attempt;
  } else {
    // 2^(attempt-1) overflows to Infinity long before it matters; the cap below handles it.
    d = policy.initialDelayMs * 2 ** (attempt - 1);
  }
  return Math.min(d, policy.maxDelayMs);
}

export type RetryDecision =
  | { action: 'retry'; delayMs: number }
  | { action: 'dead'; reason: 'permanent' | 'exhausted'; detail: string };

export interface DecideInput {
  /** Attempts made so far, including the one that just failed (≥ 1). */
  attempt: number;
  /** Whether the failure may succeed if tried again. */
  retryable: boolean;
  /** The receiver's Retry-After, if it sent one. */
  retryAfterMs?: number;
  /** When the first attempt was queued (ms since epoch). */
  firstQueuedAt: number;
  now: number;
  /** Uniform random in [0, 1); injected so tests are exact. */
  random: number;
}

/**
 * Decides what happens after a failed attempt: full jitter over the nominal delay
 * (AWS "Exponential Backoff and Jitter"), so a recovering receiver is not hit by a synchronised wave;
 * Retry-After may push the retry later but never earlier than the jittered schedule, and never past
 * maxDelay; whichever of maxAttempts and maxRetryWindow ends first ends the retries.
 */
export function decideRetry(policy: RetryPolicy, input: DecideInput): RetryDecision {
  if (!input.retryable) return { action: 'dead', reason: 'permanent', detail: 'permanent failure, not retried' };
  if (input.attempt >= policy.maxAttempts) {
    return { action: 'dead', reason: 'exhausted', detail: `gave up after ${input.attempt} attempts (maxAttempts ${policy.maxAttempts})` };
  }
  const jittered = Math.floor(input.random * nominalDelay(policy, input.attempt));
  const delayMs = Math.min(Math.max(jittered, input.retryAfterMs ?? 0), policy.maxDelayMs);
  if (input.now + delayMs - input.firstQueuedAt > policy.maxRetryWindowMs) {
    return { action: 'dead', reason: 'exhausted', detail: `gave up after ${input.attempt} attempts: next retry would fall outside maxRetryWindow` };
  }
  return { action: 'retry', delayMs };
}

/** Upper bound of the time the whole schedule can take (no jitter), for docs and `herald --help`. */
export function scheduleSpan(policy: RetryPolicy): number {
  let total = 0;
  for (let a = 1; a < policy.maxAttempts; a++) total += nominalDelay(policy, a);
  return Math.min(total, policy.maxRetryWindowMs);
}
