import type { Logger } from '../log/logger.js';
import type { ControllerMetrics } from '../metrics/metrics.js';
import type { Clock, TimerHandle } from './clock.js';
import type { ReconcileResult } from './reconcile-deps.js';
import { runWorkLoop } from './work-loop.js';
import { WorkQueue } from './workqueue.js';

/** The informer caches a term reconciles from. */
export interface TermCaches {
  /** Resolves once every cache has listed (or tried to, for optional ones), or when `signal` aborts. */
  waitForSync(signal: AbortSignal): Promise<void>;
  /** `namespace/name` of every cached Destination. */
  keys(): string[];
  /** Name of every cached Destination. */
  names(): string[];
}

/** Publishes the per-destination queue gauges; only the leader does (docs/metrics.md). */
export interface TermExporter {
  setDestinations(names: string[]): void;
  start(intervalMs: number): void;
  close(): Promise<unknown>;
}

export interface LeaderTermDeps {
  clock: Clock;
  logger: Logger;
  caches: TermCaches;
  reconcile: (key: string, signal: AbortSignal) => Promise<ReconcileResult>;
  /** Reconciles run in parallel (distinct keys). */
  workers: number;
  /** Every Destination is queued again this often (drift). */
  resyncMs: number;
  random: () => number;
  metrics: ControllerMetrics;
  newExporter: () => TermExporter;
  /** How often the exporter refreshes. */
  exporterIntervalMs: number;
  /** Leader-only clean-up once the caches have synced (e.g. scalers of another provider). */
  afterSync?: (signal: AbortSignal) => Promise<void>;
  /** Leader-only clean-up after the first sync and on every resync (e.g. registry orphans). */
  everyResync?: (signal: AbortSignal) => Promise<void>;
  /** Called when a term ends (e.g. to reset gauges a former leader must not keep). */
  onStopped?: () => void;
}

interface Term {
  abort: AbortController;
  queue: WorkQueue;
  exporter: TermExporter;
  workers: Promise<void>[];
  resync?: TimerHandle;
  ready: Promise<void>;
}

/**
 * The lifecycle of one leadership term: `start` when the Lease is won, `stop` when it is lost or the
 * controller closes. A term waits for the caches, queues every Destination, runs `workers` reconcile
 * loops, resyncs every `resyncMs`, and exports the queue gauges; `stop` aborts at once (the reconcile
 * in flight is abandoned at its next write) and returns a promise for the loops to finish.
 */
export class LeaderTerms {
  private term: Term | undefined;

  constructor(private readonly deps: LeaderTermDeps) {
    deps.metrics.leader.set(0);
  }

  get leading(): boolean {
    return this.term !== undefined;
  }

  /** Queues `key` for reconcile when leading; a no-op otherwise (the next term queues everything). */
  enqueue(key: string): void {
    this.term?.queue.add(key);
  }

  /** Tells the exporter which destinations exist, when leading. */
  setDestinations(names: string[]): void {
    this.term?.exporter.setDestinations(names);
  }

  /** Starts a term that ends when `signal` aborts or `stop` is called; ends a running one first. */
  start(signal: AbortSignal): void {
    void this.stop();
    const { deps } = this;
    const abort = new AbortController();
    signal.addEventListener('abort', () => abort.abort(), { once: true });
    const t: Term = {
      abort,
      queue: new WorkQueue({ clock: deps.clock, onDepth: (n) => deps.metrics.workqueueDepth.set(n) }),
      exporter: deps.newExporter(),
      workers: [],
      ready: Promise.resolve(),
    };
    this.term = t;
    deps.metrics.leader.set(1);
    t.ready = this.begin(t);
  }

  /** Resolves once the term's caches synced and its loops started (or it ended first). For tests. */
  async started(): Promise<void> {
    await this.term?.ready;
  }

  private async begin(t: Term): Promise<void> {
    const { deps } = this;
    const signal = t.abort.signal;
    await deps.caches.waitForSync(signal);
    if (signal.aborted) return;
    deps.logger.info({ destinations: deps.caches.keys().length }, 'Caches synced; reconciling');
    for (const key of deps.caches.keys()) t.queue.add(key);
    t.exporter.setDestinations(deps.caches.names());
    t.exporter.start(deps.exporterIntervalMs);
    for (let i = 0; i < deps.workers; i++) {
      t.workers.push(runWorkLoop({ queue: t.queue, reconcile: deps.reconcile, signal, random: deps.random, metrics: deps.metrics, logger: deps.logger }));
    }
    await deps.afterSync?.(signal);
    await deps.everyResync?.(signal);
    this.scheduleResync(t);
  }

  private scheduleResync(t: Term): void {
    if (t.abort.signal.aborted) return;
    t.resync = this.deps.clock.setTimeout(() => {
      if (t.abort.signal.aborted) return;
      for (const key of this.deps.caches.keys()) t.queue.add(key);
      void this.deps.everyResync?.(t.abort.signal);
      this.scheduleResync(t);
    }, this.deps.resyncMs);
  }

  /**
   * Ends the running term, if any: aborts it, shuts its queue, stops the resync and the exporter.
   * Resolves when its reconcile loops have finished.
   */
  async stop(): Promise<void> {
    const t = this.term;
    if (!t) return;
    this.term = undefined;
    t.abort.abort();
    t.queue.shutDown();
    if (t.resync !== undefined) this.deps.clock.clearTimeout(t.resync);
    this.deps.metrics.leader.set(0);
    void t.exporter.close();
    this.deps.onStopped?.();
    await Promise.allSettled(t.workers);
  }
}
