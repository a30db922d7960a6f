import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LeaderTerms, type TermExporter } from '../../../src/controller/leader-term.js';
import type { ReconcileResult } from '../../../src/controller/reconcile-deps.js';
import { createLogger } from '../../../src/log/logger.js';
import { controllerMetrics } from '../../../src/metrics/metrics.js';
import { FakeClock, settle } from './fake-clock.js';

/** Leader terms over fake caches (synced when the test says), a recording exporter and reconciler. */
function harness(opts: { keys?: string[]; reconcile?: (key: string, signal: AbortSignal) => Promise<ReconcileResult> } = {}) {
  const clock = new FakeClock();
  const registry = new Registry();
  const metrics = controllerMetrics(registry);
  let keys = opts.keys ?? ['ns/a', 'ns/b'];
  let synced!: () => void;
  const sync = new Promise<void>((r) => (synced = r));
  const reconciled: string[] = [];
  const exporter = { names: [] as string[][], started: 0, closed: 0 };
  const log = { afterSync: 0, everyResync: 0, stopped: 0 };
  const newExporter = (): TermExporter => ({
    setDestinations: (n) => void exporter.names.push(n),
    start: () => void exporter.started++,
    close: async () => void exporter.closed++,
  });
  const terms = new LeaderTerms({
    clock,
    logger: createLogger({ level: 'silent' }),
    random: () => 0.5,
    metrics,
    caches: {
      waitForSync: (signal) => Promise.race([sync, new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }))]),
      keys: () => keys,
      names: () => keys.map((k) => k.split('/')[1]!),
    },
    reconcile:
      opts.reconcile ??
      (async (key) => {
        reconciled.push(key);
        return { result: 'success', requeueAfterMs: 0 };
      }),
    workers: 2,
    resyncMs: 60_000,
    newExporter,
    exporterIntervalMs: 5_000,
    afterSync: async () => void log.afterSync++,
    everyResync: async () => void log.everyResync++,
    onStopped: () => void log.stopped++,
  });
  const leader = async () => (await registry.getSingleMetric('herald_controller_is_leader')!.get()).values[0]?.value;
  return { clock, terms, synced, reconciled, exporter, log, leader, setKeys: (k: string[]) => (keys = k) };
}

describe('a leadership term', () => {
  it('reconciles nothing until the caches have synced, then every cached Destination once, and exports their gauges', async () => {
    const h = harness();
    h.terms.start(new AbortController().signal);
    expect(await h.leader()).toBe(1);
    h.terms.enqueue('ns/a');
    await h.clock.advance(1_000);
    expect(h.reconciled).toEqual([]);

    h.synced();
    await h.terms.started();
    await settle();
    expect(h.reconciled.sort()).toEqual(['ns/a', 'ns/b']);
    expect(h.exporter).toEqual({ names: [['a', 'b']], started: 1, closed: 0 });
    expect(h.log).toEqual({ afterSync: 1, everyResync: 1, stopped: 0 });
  });

  it('queues every Destination again and runs the clean-up on each resync', async () => {
    const h = harness();
    h.synced();
    h.terms.start(new AbortController().signal);
    await h.terms.started();
    await settle();
    h.setKeys(['ns/a', 'ns/b', 'ns/c']);
    await h.clock.advance(59_999);
    expect(h.reconciled).toHaveLength(2);
    await h.clock.advance(1);
    expect(h.reconciled.slice(2).sort()).toEqual(['ns/a', 'ns/b', 'ns/c']);
    expect(h.log.everyResync).toBe(2);
    await h.clock.advance(60_000);
    expect(h.log.everyResync).toBe(3);
  });

  it('stops at once when leadership is lost: the reconcile in flight is told, no resync, gauges reset; the next term starts afresh', async () => {
    let release!: () => void;
    const aborted: boolean[] = [];
    const h = harness({
      keys: ['ns/slow'],
      reconcile: async (_key, signal) => {
        await new Promise<void>((r) => (release = r));
        aborted.push(signal.aborted);
        return { result: 'success', requeueAfterMs: 0 };
      },
    });
    h.synced();
    const lease = new AbortController();
    h.terms.start(lease.signal);
    await h.terms.started();
    await settle();

    lease.abort();
    const stopped = h.terms.stop();
    expect(h.terms.leading).toBe(false);
    expect(await h.leader()).toBe(0);
    release();
    await stopped;
    expect(aborted).toEqual([true]);
    expect(h.exporter.closed).toBe(1);
    expect(h.log.stopped).toBe(1);
    await h.clock.advance(120_000);
    expect(h.log.everyResync).toBe(1);
    expect(h.clock.pending).toBe(0);

    // Enqueues between terms go nowhere; the next term queues everything itself.
    h.terms.enqueue('ns/slow');
    h.terms.start(new AbortController().signal);
    await h.terms.started();
    expect(h.exporter.started).toBe(2);
    expect(await h.leader()).toBe(1);
  });

  it('never reconciles when leadership is lost before the caches sync', async () => {
    const h = harness();
    const lease = new AbortController();
    h.terms.start(lease.signal);
    lease.abort();
    await h.terms.stop();
    h.synced();
    await h.clock.advance(120_000);
    expect(h.reconciled).toEqual([]);
    expect(h.log).toEqual({ afterSync: 0, everyResync: 0, stopped: 1 });
  });
});
