import { describe, expect, it } from 'vitest';
import { jittered, WorkQueue } from '../../../src/controller/workqueue.js';
import { FakeClock } from './fake-clock.js';

function queue(opts: { baseDelayMs?: number; maxDelayMs?: number } = {}) {
  const clock = new FakeClock();
  const depths: number[] = [];
  return { clock, depths, q: new WorkQueue({ clock, onDepth: (n) => depths.push(n), ...opts }) };
}

describe('WorkQueue', () => {
  it('hands out a key once however often it was added', async () => {
    const { q } = queue();
    q.add('ns/a');
    q.add('ns/a');
    q.add('ns/b');
    q.add('ns/a');
    expect(q.len()).toBe(2);
    expect(await q.get()).toBe('ns/a');
    expect(await q.get()).toBe('ns/b');
    expect(q.len()).toBe(0);
  });

  it('never hands out a key being processed, but processes it again if it changed meanwhile', async () => {
    const { q } = queue();
    q.add('ns/a');
    const key = await q.get();
    q.add('ns/a'); // a watch event during the reconcile
    expect(q.len()).toBe(0);
    q.done(key!);
    expect(q.len()).toBe(1);
    expect(await q.get()).toBe('ns/a');
    q.done('ns/a');
    expect(q.len()).toBe(0);
  });

  it('wakes a waiting get() when a key arrives', async () => {
    const { q } = queue();
    const pending = q.get();
    q.add('ns/a');
    expect(await pending).toBe('ns/a');
  });

  it('delays addAfter keys and keeps the earliest of two delays', async () => {
    const { q, clock } = queue();
    q.addAfter('ns/a', 5_000);
    q.addAfter('ns/a', 1_000);
    q.addAfter('ns/a', 9_000);
    await clock.advance(999);
    expect(q.len()).toBe(0);
    await clock.advance(1);
    expect(q.len()).toBe(1);
    await clock.advance(10_000);
    expect(q.len()).toBe(1);
  });

  it('backs off a failing key exponentially up to the cap and resets on forget', () => {
    const { q } = queue({ baseDelayMs: 100, maxDelayMs: 1_000 });
    expect([1, 2, 3, 4, 5, 6].map(() => q.addRateLimited('ns/a'))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect(q.numRequeues('ns/a')).toBe(6);
    q.forget('ns/a');
    expect(q.addRateLimited('ns/a')).toBe(100);
    expect(q.addRateLimited('ns/b')).toBe(100);
  });

  it('reports its depth for the metrics gauge', async () => {
    const { q, depths } = queue();
    q.add('ns/a');
    q.add('ns/b');
    await q.get();
    expect(depths).toEqual([1, 2, 1]);
  });

  it('releases waiters and ignores adds after shutDown', async () => {
    const { q, clock } = queue();
    const waiting = q.get();
    q.addAfter('ns/b', 1_000);
    q.shutDown();
    expect(await waiting).toBeUndefined();
    q.add('ns/a');
    await clock.advance(2_000);
    expect(await q.get()).toBeUndefined();
    expect(clock.pending).toBe(0);
  });
});

describe('jittered requeue delays', () => {
  it('spreads a delay over ±10 % by the injected random number, rounded to whole ms', () => {
    expect(jittered(60_000, () => 0)).toBe(54_000);
    expect(jittered(60_000, () => 0.5)).toBe(60_000);
    expect(jittered(60_000, () => 0.999_999)).toBe(66_000);
    expect(jittered(1_001, () => 0.25)).toBe(951);
  });

  it('takes another spread', () => {
    expect(jittered(1_000, () => 0, 0.5)).toBe(500);
    expect(jittered(1_000, () => 1, 0.5)).toBe(1_500);
  });
});
