import type { AttemptRecord, DeliveryState } from '../api/event-log.js';

/** The states a worker writes; the others are derived when the log is read. */
export type RecordedState = 'retrying' | 'delivered' | 'dead';

/**
 * What the log holds for one event at one destination once an attempt finished, in the field named
 * by the event id of its time bucket (see {@link bucketOf}), in one of two stored forms
 * ({@link storedRecord}). Earlier attempts of an event that was retried are fields `<id>:<n>` beside
 * it (attemptField); the last is in the record itself, so a delivery that succeeded at once is one
 * field.
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

/** An attempt as a worker notes it: `at` is when it finished, in ms (readers get it as ISO time). */
export type FinishedAttempt = Omit<AttemptRecord, 'at'> & { at: number };

/** A record as a worker notes it: the attempt that finished last (if any), its time in ms. */
export interface NotedRecord extends Omit<DeliveryRecord, 'lastAttempt'> {
  attempt?: FinishedAttempt;
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

/** Marks the stored form of a delivery that succeeded; the other form is JSON, which starts with `{`. */
const DELIVERED_MARK = 'D';
const SEP = '|';

/**
 * The stored form of a record, written once per entry and read by {@link parseDeliveryRecord}. A
 * delivery that succeeded, nearly every entry, is one line of `|`-separated fields:
 * `D|attempts|finished (ms)|duration (ms)|status|type|producer|response`, an absent value empty and
 * the response last since it may hold `|` (types and API key names cannot). About a third of the
 * JSON's bytes, and written without building an object: measured, the JSON record made the log cost
 * more than its 10 % of delivery throughput (docs/performance.md). Anything else, and records written
 * before this form, is the JSON of `{s: state, k: attempts, n?: next attempt ms, t: type, p?:
 * producer, l?: last attempt}`.
 */
export function storedRecord(r: NotedRecord): string {
  const a = r.attempt;
  if (r.state === 'delivered' && a !== undefined && a.error === undefined && a.attempt === r.attempts && !r.type.includes(SEP) && (r.producer === undefined || (r.producer !== '' && !r.producer.includes(SEP)))) {
    return `${DELIVERED_MARK}|${r.attempts}|${a.at}|${a.durationMs}|${a.status ?? ''}|${r.type}|${r.producer ?? ''}|${a.response ?? ''}`;
  }
  return JSON.stringify({ s: r.state, k: r.attempts, ...(r.nextAttemptAt !== undefined ? { n: r.nextAttemptAt } : {}), t: r.type, ...(r.producer !== undefined ? { p: r.producer } : {}), ...(a ? { l: attemptRecordOf(a) } : {}) });
}

/** The stored form of an earlier attempt (field `<id>:<n>`): the attempt's JSON, its time in ISO. */
export function storedAttempt(a: FinishedAttempt): string {
  return JSON.stringify(attemptRecordOf(a));
}

function attemptRecordOf(a: FinishedAttempt): AttemptRecord {
  return { ...a, at: new Date(a.at).toISOString() };
}

/** Reads a stored record, either form; undefined when there is none yet or it is not one. */
export function parseDeliveryRecord(text: string | null | undefined): DeliveryRecord | undefined {
  if (!text) return undefined;
  if (text.startsWith(DELIVERED_MARK + SEP)) return parseDelivered(text);
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

function parseDelivered(text: string): DeliveryRecord | undefined {
  // Seven separators end the fixed fields; the response is the rest, separators and all.
  const f: string[] = [];
  let from = DELIVERED_MARK.length + 1;
  for (let i = 0; i < 6; i++) {
    const to = text.indexOf(SEP, from);
    if (to < 0) return undefined;
    f.push(text.slice(from, to));
    from = to + 1;
  }
  const [attempts, at, durationMs, status, type, producer] = [Number(f[0]), Number(f[1]), Number(f[2]), f[3]!, f[4]!, f[5]!];
  const response = text.slice(from);
  if (!Number.isSafeInteger(attempts) || attempts < 1 || !Number.isFinite(at) || !Number.isFinite(durationMs) || type === '') return undefined;
  const lastAttempt: AttemptRecord = { attempt: attempts, at: new Date(at).toISOString(), durationMs };
  if (status !== '') lastAttempt.status = Number(status);
  if (response !== '') lastAttempt.response = response;
  return { state: 'delivered', attempts, type, ...(producer !== '' ? { producer } : {}), lastAttempt };
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
