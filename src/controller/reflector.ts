import type { Logger } from '../log/logger.js';
import { sleep, type Clock, type TimerHandle } from './clock.js';
import { isGone, KubeApiError, type WatchCallbacks } from './kube-rest.js';
import { objectKey } from './names.js';

/** Any Kubernetes object: the reflector only needs its identity and version. */
export interface KubeObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

/** One resource collection (say, Destinations in one namespace) that can be listed and watched. */
export interface ListWatchSource<T> {
  list(): Promise<ListResult<T>>;
  /** Resolves once the watch is open; see KubeRest.watch. */
  watch(resourceVersion: string, cb: WatchCallbacks<T>): Promise<void>;
}

export interface ReflectorOptions<T> {
  /** For logs, e.g. "destinations". */
  name: string;
  source: ListWatchSource<T>;
  clock: Clock;
  logger: Logger;
  /** Called for every change of the cache, with the previous version if any; handlers only enqueue keys, they never block. */
  onChange: (obj: T, kind: 'upsert' | 'delete', previous?: T) => void;
  /** Adds advice to a list/watch error in logs (e.g. "is the CRD installed?"). */
  describeError?: (err: unknown) => string | undefined;
  /** A watch with no event or bookmark for this long is presumed stalled and reopened. Default 3 min. */
  idleTimeoutMs?: number;
  /** Backoff between failed list/watch attempts: doubles from min to max. Defaults 500 ms and 30 s. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * A client-go style reflector: lists a collection, keeps it in an in-memory cache and follows it
 * with a watch from the list's resourceVersion. Unlike client-node's informer it never gives up:
 * - 410 Gone (the resourceVersion was compacted away) re-lists, and the re-list reports objects
 *   deleted meanwhile as deletions;
 * - any other failure (API server restart, network, 5xx) is retried with capped exponential backoff,
 *   resuming the watch from the last seen resourceVersion without a re-list;
 * - a watchdog reopens a watch that delivers nothing, not even a bookmark, for `idleTimeoutMs`: a
 *   half-open TCP connection otherwise stalls silently forever. The old stream is aborted before the
 *   new one opens, and restarts go through the same backoff, so they cannot storm.
 */
export class Reflector<T extends KubeObject> {
  private readonly store = new Map<string, T>();
  private resourceVersion = '';
  private synced = false;
  private healthy = false;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private cancelWatch: (() => void) | undefined;
  private readonly wake = new AbortController();
  private syncWaiters: Array<() => void> = [];
  private attempted = false;
  private attemptWaiters: Array<() => void> = [];
  /** Watches reopened by the watchdog, for tests and logs. */
  watchdogRestarts = 0;
  /** Full lists done (the first one included). */
  lists = 0;

  constructor(private readonly opts: ReflectorOptions<T>) {}

  start(): void {
    this.loop ??= this.run();
  }

  get(key: string): T | undefined {
    return this.store.get(key);
  }

  list(): T[] {
    return [...this.store.values()];
  }

  keys(): string[] {
    return [...this.store.keys()];
  }

  /** True once the first list has been loaded into the cache. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** True while the last list or watch attempt succeeded: the API server is reachable. */
  isHealthy(): boolean {
    return this.healthy;
  }

  /** Resolves when synced, or when `signal` aborts or the reflector stops (check hasSynced()). */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced || this.stopped || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.syncWaiters.push(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /**
   * Resolves once the first list has succeeded or failed (or on abort/stop): for optional resources
   * (a CRD that may not be installed) whose absence must not hold anything up.
   */
  waitForFirstAttempt(signal?: AbortSignal): Promise<void> {
    if (this.attempted || this.stopped || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.attemptWaiters.push(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private markAttempted(): void {
    this.attempted = true;
    for (const w of this.attemptWaiters.splice(0)) w();
  }

  /** Stops watching; the cache keeps its last content. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake.abort();
    this.cancelWatch?.();
    for (const w of this.syncWaiters.splice(0)) w();
    this.markAttempted();
    await this.loop;
  }

  private async run(): Promise<void> {
    const min = this.opts.minBackoffMs ?? 500;
    const max = this.opts.maxBackoffMs ?? 30_000;
    let failures = 0;
    while (!this.stopped) {
      try {
        if (!this.resourceVersion) await this.relist();
        if (this.stopped) break;
        const startedAt = this.opts.clock.now();
        const { events } = await this.watchOnce();
        // A stream that ends at once without news is a failure in disguise (an API server shutting
        // down, a proxy cutting us off): back off as for an error, or we would spin.
        failures = events === 0 && this.opts.clock.now() - startedAt < 1000 ? failures + 1 : 0;
        if (failures > 0) await sleep(this.opts.clock, Math.min(min * 2 ** (failures - 1), max), this.wake.signal);
      } catch (err) {
        if (this.stopped) break;
        this.healthy = false;
        this.markAttempted();
        if (isGone(err)) {
          this.opts.logger.info({ reflector: this.opts.name, resourceVersion: this.resourceVersion }, 'Watch resourceVersion expired; re-listing');
          this.resourceVersion = '';
          continue;
        }
        failures++;
        const delay = Math.min(min * 2 ** (failures - 1), max);
        const hint = this.opts.describeError?.(err);
        this.opts.logger.warn({ reflector: this.opts.name, err: errMessage(err), retryInMs: delay, ...(hint ? { hint } : {}) }, 'List/watch failed; retrying');
        await sleep(this.opts.clock, delay, this.wake.signal);
      }
    }
  }

  private async relist(): Promise<void> {
    const { items, resourceVersion } = await this.opts.source.list();
    if (this.stopped) return;
    this.lists++;
    const seen = new Set<string>();
    for (const item of items) {
      const key = keyOf(item);
      seen.add(key);
      const prev = this.store.get(key);
      this.store.set(key, item);
      if (prev?.metadata?.resourceVersion !== item.metadata?.resourceVersion) this.opts.onChange(item, 'upsert', prev);
    }
    // Deletions that happened while we were not watching surface here, not as watch events.
    for (const [key, old] of this.store) {
      if (!seen.has(key)) {
        this.store.delete(key);
        this.opts.onChange(old, 'delete');
      }
    }
    this.resourceVersion = resourceVersion;
    this.healthy = true;
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
    this.markAttempted();
  }

  /** Runs one watch until it ends; resolves on a normal end or a watchdog restart, rejects on errors. */
  private watchOnce(): Promise<{ events: number }> {
    const idleMs = this.opts.idleTimeoutMs ?? 180_000;
    const ac = new AbortController();
    let events = 0;
    return new Promise((resolve, reject) => {
      let settled = false;
      let idle: TimerHandle | undefined;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        this.cancelWatch = undefined;
        if (idle !== undefined) this.opts.clock.clearTimeout(idle);
        fn();
      };
      this.cancelWatch = () => {
        ac.abort();
        finish(() => resolve({ events }));
      };
      const armIdle = () => {
        if (idle !== undefined) this.opts.clock.clearTimeout(idle);
        idle = this.opts.clock.setTimeout(() => {
          this.watchdogRestarts++;
          this.opts.logger.warn({ reflector: this.opts.name, idleMs }, 'No watch event or bookmark for too long; reopening the watch');
          ac.abort();
          finish(() => resolve({ events }));
        }, idleMs);
      };
      armIdle();
      this.opts.source
        .watch(this.resourceVersion, {
          signal: ac.signal,
          onEvent: (ev) => {
            if (settled) return;
            events++;
            armIdle();
            if (ev.type === 'ERROR') {
              const status = ev.object as unknown as { code?: number; reason?: string; message?: string };
              ac.abort();
              finish(() => reject(new KubeApiError(`watch ${this.opts.name}: ${status.message ?? 'error event'}`, status.code ?? 0, status.reason)));
              return;
            }
            const obj = ev.object;
            const rv = obj.metadata?.resourceVersion;
            if (rv) this.resourceVersion = rv;
            if (ev.type === 'BOOKMARK') return;
            const key = keyOf(obj);
            const previous = this.store.get(key);
            if (ev.type === 'DELETED') {
              this.store.delete(key);
              this.opts.onChange(obj, 'delete', previous);
            } else {
              this.store.set(key, obj);
              this.opts.onChange(obj, 'upsert', previous);
            }
          },
          onClose: (err) => finish(() => (err ? reject(err) : resolve({ events }))),
        })
        .then(
          () => {
            if (!settled) this.healthy = true;
          },
          (err) => finish(() => reject(err)),
        );
    });
  }
}

/** `namespace/name` of an object. */
export function keyOf(obj: KubeObject): string {
  return objectKey(obj.metadata?.namespace ?? '', obj.metadata?.name ?? '');
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
