/** Thrown before a write once this replica is no longer leader; the reconcile is abandoned, not retried. */
export class LeadershipLostError extends Error {
  readonly code = 'HERALD_NOT_LEADER';
  constructor() {
    super('leadership lost; abandoning reconcile');
    this.name = 'LeadershipLostError';
  }
}

/**
 * Redis could not be read or written during a reconcile. The Destination's status says so
 * (Degraded/RedisUnavailable) and the key is retried with backoff.
 */
export class RedisUnavailableError extends Error {
  readonly code = 'HERALD_REDIS_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RedisUnavailableError';
  }
}

/** The message of anything thrown. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
