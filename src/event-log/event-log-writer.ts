import type { RedisClient } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import { attemptField, bucketExpiry, bucketOf, storedAttempt, storedRecord, type NotedRecord } from './delivery-record.js';

/** One finished attempt (or a dead-lettering without one) of an event at a destination. */
export interface LogEntry extends NotedRecord {
  id: string;
  /** When the event was accepted, as its id carries it (timeOfEventId), ms. */
  at: number;
  /** The destination's log retention (ms). */
  retentionMs: number;
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

/** One time bucket's share of a flush: its key, its expiry, and the fields to set, as field/value pairs. */
interface BucketWrite {
  key: string;
  expiry: number;
  pairs: string[];
}

interface Pending {
  /** By bucket start (ms). */
  buckets: Map<number, BucketWrite>;
  count: number;
}

/**
 * The workers' side of the delivery log: the entries of the deliveries that finish within
 * `flushIntervalMs` of each other (or `maxPending` of them) share one transaction per destination:
 * per time bucket one HSET of all its fields and one PEXPIREAT, in MULTI/EXEC so a bucket never
 * stays without its expiry. Deliveries do not wait for it: waiting for the write before BullMQ
 * completes the job cost a quarter of delivery throughput (a round trip per delivery;
 * docs/performance.md). So for up to one interval after a delivery finished, its event may be
 * neither in a queue nor in the log, and a crash loses up to one interval of entries. Records go
 * into one hash per destination and second of acceptance rather than a key per event: a key with its
 * own expiry per event cost Redis more than the 10 % the log may take. A Lua script setting one field
 * per call, with five arguments per entry, cost Redis about three times as much per entry as these
 * commands (docs/performance.md). `close()` writes what is left.
 */
export class EventLogWriter {
  private pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly flushIntervalMs: number;
  private readonly maxPending: number;
  private readonly clock: () => number;

  constructor(private readonly redis: RedisClient, private readonly keys: RedisKeys, private readonly opts: EventLogWriterOptions = {}) {
    this.flushIntervalMs = opts.flushIntervalMs ?? 25;
    this.maxPending = opts.maxPending ?? 256;
    this.clock = opts.clock ?? Date.now;
  }

  /**
   * Notes an entry of `destination`'s log, written with the next flush; a failed write is told to
   * `onFlushError` (a delivery never fails for its log). `flush()` waits for what was noted so far.
   */
  note(destination: string, e: LogEntry): void {
    let p = this.pending.get(destination);
    if (!p) this.pending.set(destination, (p = { buckets: new Map(), count: 0 }));
    const start = bucketOf(e.at);
    const expiry = bucketExpiry(e.at, e.retentionMs);
    let b = p.buckets.get(start);
    if (!b) p.buckets.set(start, (b = { key: this.keys.deliveryLog(destination, start), expiry, pairs: [] }));
    else if (expiry > b.expiry) b.expiry = expiry;
    // An attempt another will follow keeps a field of its own; the last one lives in the record.
    // Fields are set in the order noted, so a later record of the same event wins.
    if (e.state === 'retrying' && e.attempt !== undefined) b.pairs.push(attemptField(e.id, e.attempt.attempt), storedAttempt(e.attempt));
    b.pairs.push(e.id, storedRecord(e));
    if (++p.count >= this.maxPending) this.flush().catch(() => undefined);
    else this.schedule();
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
   * Writes everything noted so far, one transaction per destination, without waiting for an earlier
   * flush (entries of one delivery are never in two flushes at once, so order within a record holds).
   * A bucket already past its expiry is not written. A failed destination's entries are dropped and
   * reported.
   */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    const now = this.clock();
    const results = await Promise.allSettled(batch.map((p) => this.write(p, now)));
    results.forEach((r, i) => {
      if (r.status === 'rejected') this.opts.onFlushError?.(r.reason as Error, batch[i]!.count);
    });
  }

  /** One destination's entries: every key shares the destination's hash tag, one slot on a Cluster. */
  private async write(p: Pending, now: number): Promise<void> {
    const commands: Array<Array<string | number | string[]>> = [];
    for (const b of p.buckets.values()) {
      if (b.expiry > now) commands.push(['hset', b.key, b.pairs], ['pexpireat', b.key, b.expiry]);
    }
    if (commands.length === 0) return;
    const replies = await this.redis.multi(commands).exec();
    const failed = replies?.find(([err]) => err)?.[0];
    if (!replies || failed) throw failed ?? new Error('the delivery log write was discarded (EXEC answered nil)');
  }

  /** Writes what is left and stops the timer; call after the workers finished their deliveries. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
