import { paceAttempt } from './adaptive-concurrency.js';

/** Time as the pacer sees it; injected so the pacing decisions are tested on a fake clock. */
export interface PacerTime {
  /** Milliseconds since the epoch. */
  now: () => number;
  /** Resolves after `ms`. */
  sleep: (ms: number) => Promise<void>;
}

/** One paced attempt: how long it waited and when (on the injected clock) it was due to start. */
export interface PacedStart {
  waitMs: number;
  startsAt: number;
}

/**
 * Spaces a throttled destination's attempt starts `intervalMs` apart (see `paceAttempt`), on an
 * injected clock and sleep. Attempts that arrive together queue up one interval apart.
 */
export class AttemptPacer {
  /** When the next attempt may start (ms on `time.now()`). */
  private freeAt = 0;

  constructor(private readonly time: PacerTime) {}

  /** Waits for this attempt's turn; resolves with the decision it followed. */
  async wait(intervalMs: number): Promise<PacedStart> {
    const now = this.time.now();
    const { waitMs, freeAt } = paceAttempt(this.freeAt, now, intervalMs);
    this.freeAt = freeAt;
    if (waitMs > 0) await this.time.sleep(waitMs);
    return { waitMs, startsAt: now + waitMs };
  }
}
