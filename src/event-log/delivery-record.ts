import type { AttemptRecord, DeliveryState } from '../api/event-log.js';

/** The states a worker writes; the others are derived when the log is read. */
export type RecordedState = 'retrying' | 'delivered' | 'dead';

/**
 * What the log holds for one event at one destination once an attempt finished, stored as the JSON of
 * `{s: state, k: attempts, n?: next attempt ms, t: type, p?: producer, l?: last attempt}` in the
 * field named by the event id of its time bucket (see {@link bucketOf}). Earlier attempts of an event
 * that was retried are fields `<id>:<n>` beside it (attemptField); the last is in the record itself,
 * so a delivery that succeeded at once is one field.
 */
export interface DeliveryRecord {
  state: RecordedState;
  /** Attempts made (the number of the last one). */
  attempts: number;
  /** ms since the epoch; `retrying` only. */
  nextAttemptAt?: number;
  type: string;
  producer?: string;
  lastAttempt?: AttemptRecord;
}

/** Width of a time bucket of the log (ms): a bucket is one hash per destination, expiring as a whole. */
export const BUCKET_MS = 1_000;

/** The start of the bucket of an event accepted at `at` (ms). */
export function bucketOf(at: number): number {
  return at - (at % BUCKET_MS);
}

/** When the bucket of an event accepted at `at` expires: its last event's retention after acceptance. */
export function bucketExpiry(at: number, retentionMs: number): number {
  return bucketOf(at) + BUCKET_MS + retentionMs;
}

/** The field holding attempt `n` of event `id` when a later attempt followed it. */
export function attemptField(id: string, n: number): string {
  return `${id}:${n}`;
}

const RECORDED: ReadonlySet<string> = new Set<RecordedState>(['retrying', 'delivered', 'dead']);

/** The stored form of a record: JSON written once per entry, read by {@link parseDeliveryRecord}. */
export function deliveryRecordJson(r: DeliveryRecord): string {
  return JSON.stringify({ s: r.state, k: r.attempts, ...(r.nextAttemptAt !== undefined ? { n: r.nextAttemptAt } : {}), t: r.type, ...(r.producer !== undefined ? { p: r.producer } : {}), ...(r.lastAttempt ? { l: r.lastAttempt } : {}) });
}

/** Reads a stored record; undefined when there is none yet or it is not one. */
export function parseDeliveryRecord(text: string | null | undefined): DeliveryRecord | undefined {
  if (!text) return undefined;
  let v: { s?: unknown; k?: unknown; n?: unknown; t?: unknown; p?: unknown; l?: unknown };
  try {
    v = JSON.parse(text) as typeof v;
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || typeof v.s !== 'string' || !RECORDED.has(v.s) || typeof v.k !== 'number' || typeof v.t !== 'string') return undefined;
  return {
    state: v.s as RecordedState,
    attempts: v.k,
    ...(v.s === 'retrying' && typeof v.n === 'number' ? { nextAttemptAt: v.n } : {}),
    type: v.t,
    ...(typeof v.p === 'string' ? { producer: v.p } : {}),
    ...(typeof v.l === 'object' && v.l !== null ? { lastAttempt: v.l as AttemptRecord } : {}),
  };
}

/**
 * Every attempt of a record, oldest first: the earlier ones read from their fields (`earlier[i]` is
 * attempt i + 1, null where a field was lost), then the last.
 */
export function attemptHistory(record: DeliveryRecord, earlier: ReadonlyArray<string | null>): AttemptRecord[] {
  const out: AttemptRecord[] = [];
  for (const text of earlier) {
    if (!text) continue;
    try {
      const a = JSON.parse(text) as AttemptRecord;
      if (!record.lastAttempt || a.attempt < record.lastAttempt.attempt) out.push(a);
    } catch {
      // Not an attempt: skip it rather than fail the whole event.
    }
  }
  if (record.lastAttempt) out.push(record.lastAttempt);
  return out;
}

/**
 * Where an event stands at a destination, from what the log holds and what the destination is now:
 * a finished delivery (`delivered`, `dead`) stays so; not finished while the destination is paused →
 * `paused`; else the recorded `retrying`, or `queued` when no attempt has been recorded (waiting, in
 * flight, or finished less than a log flush ago).
 */
export function deliveryState(input: { record: DeliveryRecord | undefined; paused: boolean }): DeliveryState {
  const recorded = input.record?.state;
  if (recorded === 'delivered' || recorded === 'dead') return recorded;
  if (input.paused) return 'paused';
  return recorded ?? 'queued';
}
