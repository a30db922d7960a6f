import type { Clock, TimerHandle } from './clock.js';

export interface WorkQueueOptions {
  clock: Clock;
  /** First retry delay after a failed reconcile; doubles per consecutive failure of the same key. Default 500 ms. */
  baseDelayMs?: number;
  /** Cap of the per-key retry delay. Default 2 min. */
  maxDelayMs?: number;
  /** Called with the number of keys waiting to be processed whenever it changes (for the depth gauge). */
  onDepth?: (depth: number) => void;
}

/**
 * client-go's rate-limited work queue, reduced to what a single reconciler needs:
 * - a key is queued at most once however often it is added (watch bursts collapse into one reconcile);
 * - a key being processed is never handed out again until `done()`; an `add` meanwhile marks it
 *   dirty so it is processed once more afterwards, so no change is lost;
 * - `addAfter` delays an add (status refresh, waiting on a drain), keeping the earliest of pending delays;
 * - `addRateLimited` retries with per-key exponential backoff until `forget()` resets it.
 */
export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly waiters: Array<(key: string | undefined) => void> = [];
  private readonly delayed = new Map<string, { at: number; handle: TimerHandle }>();
  private readonly failures = new Map<string, number>();
  private shuttingDown = false;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(private readonly opts: WorkQueueOptions) {
    this.baseDelayMs = opts.baseDelayMs ?? 500;
    this.maxDelayMs = opts.maxDelayMs ?? 120_000;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.dirty.delete(key);
      this.processing.add(key);
      waiter(key);
      return;
    }
    this.queue.push(key);
    this.opts.onDepth?.(this.queue.length);
  }

  /** Adds `key` after `delayMs`; if it is already due earlier, the earlier time wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    const at = this.opts.clock.now() + delayMs;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    if (pending) this.opts.clock.clearTimeout(pending.handle);
    const handle = this.opts.clock.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    this.delayed.set(key, { at, handle });
  }

  /** Re-adds `key` after its next backoff delay: base × 2^(failures so far), capped. */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = Math.min(this.baseDelayMs * 2 ** Math.min(n, 30), this.maxDelayMs);
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears the failure count of `key` after a successful reconcile. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Waits for the next key; resolves `undefined` once the queue is shut down. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.opts.onDepth?.(this.queue.length);
      this.dirty.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks `key` processed; if it was added meanwhile, it is queued again. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.dirty.delete(key);
      this.add(key);
    }
  }

  /** Keys waiting to be handed out (not counting delayed or in-process ones). */
  len(): number {
    return this.queue.length;
  }

  /** Stops handing out keys, drops pending delays and releases every waiting `get()`. Idempotent. */
  shutDown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    for (const { handle } of this.delayed.values()) this.opts.clock.clearTimeout(handle);
    this.delayed.clear();
    this.queue.length = 0;
    this.dirty.clear();
    this.opts.onDepth?.(0);
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}

/**
 * `ms` spread uniformly over ±`spread` (default ±10 %) by `random` (uniform in [0, 1)), rounded, so
 * keys requeued together (Destinations created together) do not come due in lockstep for ever.
 */
export function jittered(ms: number, random: () => number, spread = 0.1): number {
  return Math.round(ms * (1 - spread + 2 * spread * random()));
}
