/** What the digest loop knows about one destination at one tick. */
export interface DigestState {
  now: number;
  /** Dead letters not yet reported. */
  pending: number;
  /** When the oldest unreported dead letter happened. */
  oldestPendingAt?: number;
  /** When the last digest went out, if this destination is in an alerting episode. */
  lastDigestAt?: number;
  /** True from the first digest until the "recovered" email. */
  inEpisode: boolean;
  /** When the last dead letter happened and the last delivery succeeded. */
  lastDeadAt?: number;
  lastSuccessAt?: number;
  /** An earlier send failed; do not try again before this time. */
  retryAt?: number;
}

export interface DigestTiming {
  /** How long dead letters are gathered before the first digest (default 1 minute). */
  windowMs: number;
  /** How long repeat digests of an ongoing failure are held back (default 1 hour). */
  suppressMs: number;
}

export type DigestAction = 'none' | 'wait' | 'digest' | 'recovered';

/**
 * Decides whether to email now. One email per dead letter would bury an inbox during an outage, so:
 * gather for `windowMs`, send one digest, hold back repeats for `suppressMs` while the failure goes on
 * (then send one digest of everything since), and send a short "recovered" note once a delivery
 * succeeds after the last dead letter.
 */
export function decideDigest(s: DigestState, t: DigestTiming): DigestAction {
  if (s.retryAt !== undefined && s.now < s.retryAt) return 'wait';
  if (s.pending > 0) {
    if (s.inEpisode && s.lastDigestAt !== undefined && s.now - s.lastDigestAt < t.suppressMs) return 'wait';
    if (s.oldestPendingAt !== undefined && s.now - s.oldestPendingAt < t.windowMs) return 'wait';
    return 'digest';
  }
  if (s.inEpisode && s.lastSuccessAt !== undefined && (s.lastDeadAt === undefined || s.lastSuccessAt > s.lastDeadAt)) return 'recovered';
  return 'none';
}

/** Backoff for a failed SMTP send: 10 s doubling to 10 min, so an SMTP outage is retried but not hammered. */
export function smtpRetryDelay(failures: number): number {
  return Math.min(10_000 * 2 ** Math.max(0, failures - 1), 600_000);
}
