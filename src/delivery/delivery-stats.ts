import type { RedisClient } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import { defineScript, type RedisScript, type ScriptCall } from '../redis/scripts.js';

/** Fields of the per-destination stats hash the controller shows on the Destination's status. */
export interface DeliveryStats {
  delivered: number;
  deadLettered: number;
  lastError?: string;
  lastErrorAt?: number;
  lastSuccessAt?: number;
  /** Set while the destination is disabled because its receiver answered 410 Gone. */
  disabledReason?: string;
  disabledAt?: number;
}

export interface DeliveryStatsOptions {
  /** How long counts wait in memory before they are written; default 1 000 ms. */
  flushIntervalMs?: number;
  /** Told when a write fails; the counts are kept and written with the next flush. */
  onFlushError?: (err: Error) => void;
}

/** What one process has counted for a destination since its last flush. */
interface Pending {
  delivered: number;
  deadLettered: number;
  lastSuccessAt?: number;
  lastErrorAt?: number;
  lastError?: string;
}

const LAST_ERROR_MAX = 500;

/**
 * Adds a batch to the hash. The timestamps only ever move forward: another replica may flush an
 * older batch after a newer one, and the newest error (or success) must still be the one shown.
 */
const FLUSH_SCRIPT = { name: 'heraldStatsFlush', keys: 1, lua: `
local key = KEYS[1]
if ARGV[1] ~= '0' then redis.call('HINCRBY', key, 'delivered', ARGV[1]) end
if ARGV[2] ~= '0' then redis.call('HINCRBY', key, 'deadLettered', ARGV[2]) end
if ARGV[3] ~= '' and tonumber(ARGV[3]) > (tonumber(redis.call('HGET', key, 'lastSuccessAt') or '') or 0) then
  redis.call('HSET', key, 'lastSuccessAt', ARGV[3])
end
if ARGV[4] ~= '' and tonumber(ARGV[4]) > (tonumber(redis.call('HGET', key, 'lastErrorAt') or '') or 0) then
  redis.call('HSET', key, 'lastErrorAt', ARGV[4], 'lastError', ARGV[5])
end
return 1` } as const satisfies RedisScript;

/**
 * Durable per-destination counters, kept in Redis so they survive worker restarts and add up across
 * replicas. Deliveries, dead letters and failed attempts are counted in memory and written at most
 * once per `flushIntervalMs` per destination: a write per delivery cost a fifth of the worker's CPU
 * (docs/performance.md), and these fields only feed the Destination's status and the "recovered"
 * email. `close()` writes what is left, so a graceful shutdown loses nothing; a crash loses at most
 * one interval of counts.
 */
export class DeliveryStatsStore {
  private pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly flushIntervalMs: number;
  private readonly flushScript: ScriptCall<number>;

  constructor(private readonly redis: RedisClient, private readonly keys: RedisKeys, private readonly opts: DeliveryStatsOptions = {}) {
    this.flushIntervalMs = opts.flushIntervalMs ?? 1_000;
    this.flushScript = defineScript(redis, FLUSH_SCRIPT);
  }

  /** Counts a successful delivery finished at `at` (ms). */
  delivered(destination: string, at: number): void {
    const p = this.entry(destination);
    p.delivered++;
    if (p.lastSuccessAt === undefined || at > p.lastSuccessAt) p.lastSuccessAt = at;
  }

  /** Notes a failed attempt; of several, the one with the latest `at` becomes `lastError`. */
  failedAttempt(destination: string, error: string, at: number): void {
    const p = this.entry(destination);
    if (p.lastErrorAt === undefined || at >= p.lastErrorAt) {
      p.lastErrorAt = at;
      p.lastError = error.slice(0, LAST_ERROR_MAX);
    }
  }

  deadLettered(destination: string, count = 1): void {
    this.entry(destination).deadLettered += count;
  }

  private entry(destination: string): Pending {
    let p = this.pending.get(destination);
    if (!p) {
      p = { delivered: 0, deadLettered: 0 };
      this.pending.set(destination, p);
    }
    this.schedule();
    return p;
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush().catch((err: Error) => this.opts.onFlushError?.(err));
    }, this.flushIntervalMs);
    this.timer.unref();
  }

  /**
   * Writes everything counted so far: one script call per destination. A failed write puts its
   * counts back (merged with what arrived meanwhile) for the next flush, then rethrows.
   */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      const batch = [...this.pending];
      if (batch.length === 0) return;
      this.pending = new Map();
      const results = await Promise.allSettled(batch.map(([d, p]) => this.write(d, p)));
      let failure: Error | undefined;
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') return;
        failure ??= r.reason as Error;
        this.putBack(...batch[i]!);
      });
      if (failure) throw failure;
    });
    // One failed flush must not stop later ones from running.
    const done = this.flushing;
    this.flushing = done.catch(() => undefined);
    return done;
  }

  private write(destination: string, p: Pending): Promise<number> {
    return this.flushScript(
      this.keys.stats(destination),
      String(p.delivered),
      String(p.deadLettered),
      p.lastSuccessAt === undefined ? '' : String(p.lastSuccessAt),
      p.lastErrorAt === undefined ? '' : String(p.lastErrorAt),
      p.lastError ?? '',
    );
  }

  private putBack(destination: string, p: Pending): void {
    const q = this.entry(destination);
    q.delivered += p.delivered;
    q.deadLettered += p.deadLettered;
    if (p.lastSuccessAt !== undefined && (q.lastSuccessAt === undefined || p.lastSuccessAt > q.lastSuccessAt)) q.lastSuccessAt = p.lastSuccessAt;
    if (p.lastErrorAt !== undefined && (q.lastErrorAt === undefined || p.lastErrorAt > q.lastErrorAt)) {
      q.lastErrorAt = p.lastErrorAt;
      q.lastError = p.lastError!;
    }
  }

  /**
   * Writes what is left and stops the timer. Call it after the workers have finished their
   * in-flight deliveries and before the Redis connection closes. Idempotent.
   */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  /** Marks the destination disabled for `url` (a 410 Gone); a spec with another URL is not disabled. */
  async disable(destination: string, url: string, reason: string, at: number): Promise<void> {
    await this.redis.hset(this.keys.stats(destination), 'disabledUrl', url, 'disabledReason', reason, 'disabledAt', String(at));
  }

  async disabled(destination: string, url: string): Promise<boolean> {
    return (await this.redis.hget(this.keys.stats(destination), 'disabledUrl')) === url;
  }

  /** Clears a 410 disablement (`herald resume`). */
  async enable(destination: string): Promise<void> {
    await this.redis.hdel(this.keys.stats(destination), 'disabledUrl', 'disabledReason', 'disabledAt');
  }

  /** The stats hash, plus what this process has counted and not yet written. */
  async read(destination: string): Promise<DeliveryStats> {
    const h = await this.redis.hgetall(this.keys.stats(destination));
    const p = this.pending.get(destination);
    const newer = (stored: string | undefined, mine: number | undefined) => (mine !== undefined && mine > Number(stored ?? 0) ? mine : stored ? Number(stored) : undefined);
    const lastSuccessAt = newer(h.lastSuccessAt, p?.lastSuccessAt);
    const lastErrorAt = newer(h.lastErrorAt, p?.lastErrorAt);
    const lastError = p?.lastErrorAt !== undefined && p.lastErrorAt === lastErrorAt ? p.lastError : h.lastError;
    return {
      delivered: Number(h.delivered ?? 0) + (p?.delivered ?? 0),
      deadLettered: Number(h.deadLettered ?? 0) + (p?.deadLettered ?? 0),
      ...(lastError ? { lastError } : {}),
      ...(lastErrorAt !== undefined ? { lastErrorAt } : {}),
      ...(lastSuccessAt !== undefined ? { lastSuccessAt } : {}),
      ...(h.disabledReason ? { disabledReason: h.disabledReason, disabledAt: Number(h.disabledAt ?? 0) } : {}),
    };
  }
}
