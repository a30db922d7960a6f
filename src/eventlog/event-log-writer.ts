import type { Redis } from 'ioredis';
import type { AttemptRecord } from '../api/event-log.js';
import type { RedisKeys } from '../redis/keys.js';
import { NEXT_FIELD, STATE_FIELD, type RecordedState } from './delivery-record.js';

/** One finished attempt (or a dead-lettering without one) of an event at a destination. */
export interface LogEntry {
  id: string;
  /** When the event's log expires (ms since the epoch): accepted-at plus the destination's retention. */
  expireAt: number;
  state: RecordedState;
  /** `retrying` only: when the next attempt is due (ms). */
  nextAttemptAt?: number;
  attempt?: AttemptRecord;
}

export interface EventLogWriterOptions {
  /** How long entries wait in memory before they are written; default 250 ms. */
  flushIntervalMs?: number;
  /** Entries of one destination that trigger a write at once rather than at the interval; default 500. */
  maxPending?: number;
  /** Told when a write fails; its entries are dropped (the log is a record, not a guarantee). */
  onFlushError?: (err: Error, dropped: number) => void;
  clock?: () => number;
}

/**
 * Writes every entry of one flush of one destination: the state, the next attempt and the attempt
 * (a field per attempt number), each key's expiry set in the same call. An entry already past its
 * expiry is not written. All keys share the destination's hash tag, so this is one slot on a Cluster.
 * KEYS: one per entry. ARGV: now, then (expire-at, state, next, attempt field or '', attempt JSON) per entry.
 */
const FLUSH_LUA = `
local now = tonumber(ARGV[1])
for i = 1, #KEYS do
  local a = 2 + (i - 1) * 5
  local exp = ARGV[a]
  if tonumber(exp) > now then
    if ARGV[a + 3] ~= '' then
      redis.call('HSET', KEYS[i], '${STATE_FIELD}', ARGV[a + 1], '${NEXT_FIELD}', ARGV[a + 2], ARGV[a + 3], ARGV[a + 4])
    else
      redis.call('HSET', KEYS[i], '${STATE_FIELD}', ARGV[a + 1], '${NEXT_FIELD}', ARGV[a + 2])
    end
    redis.call('PEXPIREAT', KEYS[i], exp)
  end
end
return #KEYS`;

interface Pending {
  keys: string[];
  args: string[];
}

/**
 * The workers' side of the delivery log. Entries are kept in memory and written per destination in
 * one script call at most every `flushIntervalMs` (or once `maxPending` are waiting), as the delivery
 * stats are: a write per delivery would cost the worker more than the 10 % budget the log has
 * (docs/performance.md). A crash loses at most one interval of entries; those events then show their
 * previous state until their next attempt. `close()` writes what is left.
 */
export class EventLogWriter {
  private pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly flushIntervalMs: number;
  private readonly maxPending: number;

  constructor(private readonly redis: Redis, private readonly keys: RedisKeys, private readonly opts: EventLogWriterOptions = {}) {
    this.flushIntervalMs = opts.flushIntervalMs ?? 250;
    this.maxPending = opts.maxPending ?? 500;
  }

  /** Notes an entry of `destination`'s log, written with the next flush. */
  note(destination: string, e: LogEntry): void {
    let p = this.pending.get(destination);
    if (!p) this.pending.set(destination, (p = { keys: [], args: [] }));
    p.keys.push(this.keys.deliveryLog(destination, e.id));
    p.args.push(String(e.expireAt), e.state, e.nextAttemptAt === undefined ? '' : String(e.nextAttemptAt), e.attempt ? String(e.attempt.attempt) : '', e.attempt ? JSON.stringify(e.attempt) : '');
    if (p.keys.length >= this.maxPending) this.flush().catch(() => undefined);
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

  /** Writes everything noted so far; a failed destination's entries are dropped and reported. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      const batch = [...this.pending];
      if (batch.length === 0) return;
      this.pending = new Map();
      const now = String((this.opts.clock ?? Date.now)());
      const results = await Promise.allSettled(batch.map(([, p]) => this.redis.eval(FLUSH_LUA, p.keys.length, ...p.keys, now, ...p.args)));
      results.forEach((r, i) => {
        if (r.status === 'rejected') this.opts.onFlushError?.(r.reason as Error, batch[i]![1].keys.length);
      });
    });
    return this.flushing;
  }

  /** Writes what is left and stops the timer; call after the workers finished their deliveries. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
