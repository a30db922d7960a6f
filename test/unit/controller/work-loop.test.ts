import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LeadershipLostError } from '../../../src/controller/errors.js';
import { KubeApiError } from '../../../src/controller/kube-rest.js';
import type { ReconcileResult } from '../../../src/controller/reconcile-deps.js';
import { runWorkLoop } from '../../../src/controller/work-loop.js';
import { WorkQueue } from '../../../src/controller/workqueue.js';
import { createLogger } from '../../../src/log/logger.js';
import { controllerMetrics } from '../../../src/metrics/metrics.js';
import { FakeClock, settle } from './fake-clock.js';

/** A work loop over a real WorkQueue on a fake clock, with a scripted reconcile. */
function loop(reconcile: (key: string, signal: AbortSignal) => Promise<ReconcileResult>, random = () => 0.5) {
  const clock = new FakeClock();
  const queue = new WorkQueue({ clock, baseDelayMs: 100 });
  const registry = new Registry();
  const metrics = controllerMetrics(registry);
  const abort = new AbortController();
  const done = runWorkLoop({ queue, reconcile, signal: abort.signal, random, metrics, logger: createLogger({ level: 'silent' }) });
  const count = async (result: string) => (await registry.getSingleMetric('herald_controller_reconcile_total')!.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
  return { clock, queue, abort, done, count };
}

describe('the reconcile work loop', () => {
  it('requeues a key after the delay the reconciler asked for, spread by the injected random number', async () => {
    const seen: Array<[string, number]> = [];
    const l = loop(async (key) => {
      seen.push([key, l.clock.now()]);
      return { result: 'success', requeueAfterMs: 10_000 };
    }, () => 0);
    const start = l.clock.now();
    l.queue.add('ns/a');
    await settle();
    expect(seen).toEqual([['ns/a', start]]);
    // random 0 → 10 % early: due after 9 s, not before.
    await l.clock.advance(8_999);
    expect(seen).toHaveLength(1);
    await l.clock.advance(1);
    expect(seen).toEqual([['ns/a', start], ['ns/a', start + 9_000]]);
    expect(await l.count('success')).toBe(2);
    l.queue.shutDown();
    await l.done;
  });

  it('does not requeue a converged key that asks for nothing', async () => {
    let calls = 0;
    const l = loop(async () => {
      calls++;
      return { result: 'success', requeueAfterMs: 0 };
    });
    l.queue.add('ns/a');
    await l.clock.advance(60_000);
    expect(calls).toBe(1);
    expect(l.clock.pending).toBe(0);
    l.queue.shutDown();
    await l.done;
  });

  it('retries a failing key with backoff and counts it as an error, then forgets the backoff once it succeeds', async () => {
    const at: number[] = [];
    let fail = 2;
    const l = loop(async () => {
      at.push(l.clock.now());
      if (fail-- > 0) throw new Error('boom');
      return { result: 'success', requeueAfterMs: 0 };
    });
    const t0 = l.clock.now();
    l.queue.add('ns/a');
    await l.clock.advance(1_000);
    expect(at.map((t) => t - t0)).toEqual([0, 100, 300]);
    expect(await l.count('error')).toBe(2);
    expect(l.queue.numRequeues('ns/a')).toBe(0);
    l.queue.shutDown();
    await l.done;
  });

  it('requeues a conflict (stale cache) as a requeue, not an error', async () => {
    let first = true;
    const l = loop(async () => {
      if (first) {
        first = false;
        throw new KubeApiError('the object has been modified', 409, 'Conflict');
      }
      return { result: 'success', requeueAfterMs: 0 };
    });
    l.queue.add('ns/a');
    await l.clock.advance(1_000);
    expect(await l.count('requeue')).toBe(1);
    expect(await l.count('error')).toBe(0);
    expect(await l.count('success')).toBe(1);
    l.queue.shutDown();
    await l.done;
  });

  it('abandons a reconcile that fails after leadership was lost: no retry, no error', async () => {
    let calls = 0;
    const l = loop(async (_key, signal) => {
      calls++;
      l.abort.abort();
      if (signal.aborted) throw new LeadershipLostError();
      return { result: 'success', requeueAfterMs: 0 };
    });
    l.queue.add('ns/a');
    await l.clock.advance(10_000);
    expect(calls).toBe(1);
    expect(await l.count('error')).toBe(0);
    l.queue.shutDown();
    await l.done;
  });

  it('ends when the queue shuts down', async () => {
    const l = loop(async () => ({ result: 'success', requeueAfterMs: 0 }));
    let ended = false;
    void l.done.then(() => (ended = true));
    await settle();
    expect(ended).toBe(false);
    l.queue.shutDown();
    await settle();
    expect(ended).toBe(true);
  });
});
