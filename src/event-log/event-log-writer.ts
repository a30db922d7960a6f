import type { RedisClient } from '../redis/client.js';
import type { AttemptRecord } from '../api/event-log.js';
import type { RedisKeys } from '../redis/keys.js';
import { defineScript, type KeyedScriptCall } from '../redis/scripts.js';
import { attemptField, bucketExpiry, bucketOf, deliveryRecordJson, type RecordedState } from './delivery-record.js';

/** One finished attempt (or a dead-lettering without one) of an event at a destination. */
export interface LogEntry {
  id: string;
  /** When the event was accepted, as its id carries it (timeOfEventId), ms. */
  at: number;
  /** The destination's log retention (ms). */
  retentionMs: number;
  state: RecordedState;
  /** Attempts made so far. */
  attempts: number;
  /** `retrying` only: when the next attempt is due (ms). */
  nextAttemptAt?: number;
  type: string;
  producer?: string;
  attempt?: AttemptRecord;
}

export interface EventLogWriterOptions {
  /** How long an entry waits for others to share its write; default 25 ms. */
  flushIntervalMs?: number;
  /** Entries of one destination that are written at once rather than after the interval; default 256. */
  maxPending?: number;
  /** Told when a write fails; its entries are dropped (the log is a record, not a guarantee). */
  onFlushError?: (err: Error, dropped: number) => void;
  clock?: () => number;
}

/**
 * Writes one flush of one destination: each entry's record into its time bucket (and, for an attempt
 * that will be followed by another, the attempt into its own field), then each bucket's expiry, in
 * the same call. A bucket already past its expiry is not written. Every key shares the destination's
 * hash tag: one slot on a Cluster.
 * KEYS: the buckets. ARGV: now, then each bucket's expiry (ms), then (bucket index, id, record JSON,
 * attempt field or '', attempt JSON or '') per entry.
 */
const FLUSH_LUA = `
local now = tonumber(ARGV[1])
local nb = #KEYS
for a = 2 + nb, #ARGV, 5 do
  local b = tonumber(ARGV[a])
  if tonumber(ARGV[1 + b]) > now then
    if ARGV[a + 3] ~= '' then
      redis.call('HSET', KEYS[b], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4])
    else
      redis.call('HSET', KEYS[b], ARGV[a + 1], ARGV[a + 2])
    end
  end
end
for b = 1, nb do
  if tonumber(ARGV[1 + b]) > now then redis.call('PEXPIREAT', KEYS[b], ARGV[1 + b]) end
end
return nb`;

interface Pending {
  /** Bucket key → its index in `keys` (1-based, as the script reads it). */
  buckets: Map<string, number>;
  keys: string[];
  expiries: number[];
  entries: string[];
  count: number;
  /** Resolves the promises `note` handed out for these entries. */
  done: Array<() => void>;
}

/**
 * The workers' side of the delivery log: the entries of the deliveries that finish within
 * `flushIntervalMs` of each other (or `maxPending` of them) share one script call per destination.
 * Deliveries do not wait for it: waiting for the write before BullMQ completes the job cost a quarter
 * of delivery throughput (a round trip per delivery; docs/performance.md). So for up to one interval
 * after a delivery finished, its event may be neither in a queue nor in the log, and a crash loses up
 * to one interval of entries. Records go into one hash per destination and second of acceptance
 * rather than a key per event: a key with its own expiry per event cost Redis more than the 10 % the
 * log may take. `close()` writes what is left.
 */
export class EventLogWriter {
  private pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly flushIntervalMs: number;
  private readonly maxPending: number;
  private readonly flushScript: KeyedScriptCall<number>;

  constructor(redis: RedisClient, private readonly keys: RedisKeys, private readonly opts: EventLogWriterOptions = {}) {
    this.flushIntervalMs = opts.flushIntervalMs ?? 25;
    this.maxPending = opts.maxPending ?? 256;
    this.flushScript = defineScript(redis, { name: 'heraldEventLogFlush', keys: 'varying', lua: FLUSH_LUA });
  }

  /**
   * Notes an entry of `destination`'s log; resolves once it is written (or its write failed, which
   * `onFlushError` is told: a delivery never fails for its log).
   */
  note(destination: string, e: LogEntry): Promise<void> {
    let p = this.pending.get(destination);
    if (!p) this.pending.set(destination, (p = { buckets: new Map(), keys: [], expiries: [], entries: [], count: 0, done: [] }));
    const key = this.keys.deliveryLog(destination, bucketOf(e.at));
    const expiry = bucketExpiry(e.at, e.retentionMs);
    let b = p.buckets.get(key);
    if (b === undefined) {
      p.keys.push(key);
      p.expiries.push(expiry);
      p.buckets.set(key, (b = p.keys.length));
    } else if (expiry > p.expiries[b - 1]!) p.expiries[b - 1] = expiry;
    const record = deliveryRecordJson({
      state: e.state,
      attempts: e.attempts,
      ...(e.nextAttemptAt !== undefined ? { nextAttemptAt: e.nextAttemptAt } : {}),
      type: e.type,
      ...(e.producer !== undefined ? { producer: e.producer } : {}),
      ...(e.attempt ? { lastAttempt: e.attempt } : {}),
    });
    // An attempt another will follow keeps a field of its own; the last one lives in the record.
    const keep = e.state === 'retrying' && e.attempt !== undefined;
    p.entries.push(String(b), e.id, record, keep ? attemptField(e.id, e.attempt!.attempt) : '', keep ? JSON.stringify(e.attempt) : '');
    const written = new Promise<void>((resolve) => p.done.push(resolve));
    if (++p.count >= this.maxPending) this.flush().catch(() => undefined);
    else this.schedule();
    return written;
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush().catch(() => undefined);
    }, this.flushIntervalMs);
    this.timer.unref();
  }

  /**
   * Writes everything noted so far, one call per destination, without waiting for an earlier flush
   * (entries of one delivery are never in two flushes at once, so order within a record holds). A
   * failed destination's entries are dropped and reported.
   */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = [...this.pending.values()];
    if (batch.length === 0) return;
    this.pending = new Map();
    const now = String((this.opts.clock ?? Date.now)());
    const results = await Promise.allSettled(batch.map((p) => this.flushScript(p.keys, now, p.expiries.map(String), p.entries)));
    results.forEach((r, i) => {
      if (r.status === 'rejected') this.opts.onFlushError?.(r.reason as Error, batch[i]!.count);
      for (const done of batch[i]!.done) done();
    });
  }

  /** Writes what is left and stops the timer; call after the workers finished their deliveries. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
