import type { DeliveryState } from '../api/event-log.js';
import type { AttemptRecord } from '../api/event-log.js';

/** The states a worker writes; the others are derived when the log is read. */
export type RecordedState = 'retrying' | 'delivered' | 'dead';

/** What the log holds for one event at one destination once an attempt finished. */
export interface DeliveryRecord {
  state: RecordedState;
  /** ms since the epoch; `retrying` only. */
  nextAttemptAt?: number;
  /** Oldest first. */
  attempts: AttemptRecord[];
}

/**
 * The record's hash fields: `s` the state, `n` the next attempt (ms, or empty), and one field per
 * attempt, named by its number, holding the attempt as JSON. A field per attempt makes a redelivered
 * write of the same attempt idempotent, and appending needs no read.
 */
export const STATE_FIELD = 's';
export const NEXT_FIELD = 'n';

const RECORDED: ReadonlySet<string> = new Set<RecordedState>(['retrying', 'delivered', 'dead']);

/** Reads a record hash (HGETALL); undefined when there is none yet or it is not one. */
export function parseDeliveryRecord(hash: Record<string, string> | null | undefined): DeliveryRecord | undefined {
  const state = hash?.[STATE_FIELD];
  if (!hash || state === undefined || !RECORDED.has(state)) return undefined;
  const attempts: AttemptRecord[] = [];
  for (const [field, value] of Object.entries(hash)) {
    if (!/^[0-9]+$/.test(field)) continue;
    try {
      attempts.push(JSON.parse(value) as AttemptRecord);
    } catch {
      // Not an attempt: skip it rather than fail the whole event.
    }
  }
  attempts.sort((a, b) => a.attempt - b.attempt);
  const next = Number(hash[NEXT_FIELD]);
  return { state: state as RecordedState, ...(state === 'retrying' && next > 0 ? { nextAttemptAt: next } : {}), attempts };
}

/**
 * Where an event stands at a destination, from what the log holds and what the destination is now:
 * skipped by its filter at ingest → `filtered`; a finished delivery (`delivered`, `dead`) stays so;
 * not finished while the destination is paused → `paused`; else the recorded `retrying`, or `queued`
 * when no attempt has been recorded (waiting, in flight, or finished less than a log flush ago).
 */
export function deliveryState(input: { filtered: boolean; record: DeliveryRecord | undefined; paused: boolean }): DeliveryState {
  if (input.filtered) return 'filtered';
  const recorded = input.record?.state;
  if (recorded === 'delivered' || recorded === 'dead') return recorded;
  if (input.paused) return 'paused';
  return recorded ?? 'queued';
}
