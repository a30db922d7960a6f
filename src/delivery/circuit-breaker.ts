import { parseDuration } from '../api/duration.js';
import type { DestinationSpec } from '../api/destination.js';

export interface BreakerConfig {
  failureThreshold: number;
  probeIntervalMs: number;
  maxProbeIntervalMs: number;
  maxOpenMs: number;
}

export function resolveBreakerConfig(spec: NonNullable<DestinationSpec['circuitBreaker']>): BreakerConfig {
  return {
    failureThreshold: spec.failureThreshold,
    probeIntervalMs: parseDuration(spec.probeInterval),
    maxProbeIntervalMs: parseDuration(spec.maxProbeInterval),
    maxOpenMs: parseDuration(spec.maxOpenDuration),
  };
}

/** A destination's breaker, shared by all its worker replicas (stored in Redis). */
export interface BreakerState {
  open: boolean;
  /** Failures in a row while closed. */
  failures: number;
  openedAt?: number;
  probeIntervalMs?: number;
  nextProbeAt?: number;
}

export const CLOSED: BreakerState = { open: false, failures: 0 };

export type Admission =
  | { action: 'send' }
  /** Send this one delivery as the probe; only one replica may (the caller takes a lock). */
  | { action: 'probe' }
  /** Stop the whole queue for `delayMs`; the delivery goes back to waiting with its attempts intact. */
  | { action: 'hold'; delayMs: number }
  /** Open longer than allowed: dead-letter as the retry policy would. */
  | { action: 'expire' };

/** Whether a delivery may go out now. */
export function admit(state: BreakerState, cfg: BreakerConfig, now: number): Admission {
  if (!state.open) return { action: 'send' };
  const next = state.nextProbeAt ?? now;
  // Probing goes on after maxOpen too: expiry dead-letters what waits, it must not keep the circuit open forever.
  if (now >= next) return { action: 'probe' };
  if (state.openedAt !== undefined && now - state.openedAt >= cfg.maxOpenMs) return { action: 'expire' };
  return { action: 'hold', delayMs: next - now };
}

/**
 * The breaker after one delivery's outcome: a success closes it; `failureThreshold` failures in a row
 * open it; a failed probe keeps it open and doubles the probe interval up to its cap.
 */
export function record(state: BreakerState, success: boolean, cfg: BreakerConfig, now: number): BreakerState {
  if (success) return CLOSED;
  if (state.open) {
    const interval = Math.min((state.probeIntervalMs ?? cfg.probeIntervalMs) * 2, cfg.maxProbeIntervalMs);
    return { ...state, probeIntervalMs: interval, nextProbeAt: now + interval };
  }
  const failures = state.failures + 1;
  if (failures < cfg.failureThreshold) return { ...state, failures };
  return { open: true, failures, openedAt: now, probeIntervalMs: cfg.probeIntervalMs, nextProbeAt: now + cfg.probeIntervalMs };
}
