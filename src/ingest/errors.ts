import type { ErrorCode, ErrorStatus, StatusAndCode } from '../api/error-answer.js';

/**
 * Errors ingest maps to HTTP answers in one place (app.ts). Each has a stable `code` clients can
 * branch on, one of those the OpenAPI document lists for its status (ERROR_CODES).
 */
export class IngestError extends Error {
  readonly status: ErrorStatus;
  readonly code: ErrorCode;
  readonly details: unknown;
  readonly headers: Record<string, string>;

  constructor(...[status, code, message, details, headers = {}]: [...StatusAndCode, message: string, details?: unknown, headers?: Record<string, string>]) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.headers = headers;
  }
}

/** Redis could not store the event: nothing was accepted, the client should retry. */
export class StoreUnavailableError extends IngestError {
  constructor(cause: unknown) {
    super(503, 'store_unavailable', 'the event store is unavailable; nothing was stored, retry later', undefined, { 'retry-after': '1' });
    this.cause = cause;
  }
}

export class IdempotencyConflictError extends IngestError {
  constructor() {
    super(422, 'idempotency_key_reused', 'this Idempotency-Key was already used with a different body');
  }
}

/**
 * The connection to Redis was lost while the event was being written and did not come back in time
 * to tell whether the write was applied: it may have been stored (and will then be delivered).
 */
export class StoreOutcomeUnknownError extends IngestError {
  constructor(cause: unknown) {
    super(503, 'store_outcome_unknown', 'the event store went away while the event was being written; it may have been stored (and then will be delivered); retry with the same Idempotency-Key', undefined, { 'retry-after': '1' });
    this.cause = cause;
  }
}

/**
 * HERALD_ACK_REPLICAS: the event is stored on the primary, but fewer replicas than asked confirmed it
 * within HERALD_ACK_REPLICAS_TIMEOUT. It will be delivered unless the primary is lost before its
 * replicas catch up, so this is not a 202; a retry with the same Idempotency-Key cannot duplicate it.
 */
export class ReplicationUnconfirmedError extends IngestError {
  constructor(wanted: number, got: number, timeoutMs: number) {
    super(
      503,
      'replication_unconfirmed',
      `the event is stored on the Redis primary but ${got} of the ${wanted} replicas required confirmed it within ${timeoutMs} ms; it will probably be delivered; retry with the same Idempotency-Key`,
      undefined,
      { 'retry-after': '1' },
    );
  }
}

/** A write the writer's journal fenced (its script returned -1, see WriteTracker): Redis refused it whole, so nothing of it is stored. */
export function fencedWriteError(): StoreUnavailableError {
  return new StoreUnavailableError(new Error('the write was fenced after a lost connection'));
}
