import { describe, expect, it } from 'vitest';
import { AttemptPacer } from '../../src/delivery/attempt-pacer.js';

/** A clock that moves only when the pacer sleeps, recording each sleep. */
function fakeTime(start = 1_000_000) {
  let t = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    advance: (ms: number) => (t += ms),
    time: {
      now: () => t,
      sleep: async (ms: number) => {
        sleeps.push(ms);
        t += ms;
      },
    },
  };
}

describe('AttemptPacer', () => {
  it('lets the first attempt go at once and spaces the next ones one interval apart on the injected clock', async () => {
    const f = fakeTime();
    const pacer = new AttemptPacer(f.time);
    const starts = [];
    for (let i = 0; i < 4; i++) starts.push(await pacer.wait(100));
    expect(starts.map((s) => s.startsAt)).toEqual([1_000_000, 1_000_100, 1_000_200, 1_000_300]);
    expect(f.sleeps).toEqual([100, 100, 100]);
  });

  it('waits only for what is left of the interval when the attempt itself took time', async () => {
    const f = fakeTime();
    const pacer = new AttemptPacer(f.time);
    await pacer.wait(100);
    f.advance(30); // the attempt ran for 30 ms
    expect(await pacer.wait(100)).toEqual({ waitMs: 70, startsAt: 1_000_100 });
    f.advance(250); // a slow attempt: the next may start at once
    expect(await pacer.wait(100)).toEqual({ waitMs: 0, startsAt: 1_000_350 });
    expect(f.sleeps).toEqual([70]);
  });

  it('queues attempts that ask together one interval apart (no two start at the same moment)', async () => {
    const f = fakeTime();
    const pacer = new AttemptPacer({ now: f.time.now, sleep: async (ms) => void f.sleeps.push(ms) });
    const starts = await Promise.all([pacer.wait(100), pacer.wait(100), pacer.wait(100)]);
    expect(starts).toEqual([
      { waitMs: 0, startsAt: 1_000_000 },
      { waitMs: 100, startsAt: 1_000_100 },
      { waitMs: 200, startsAt: 1_000_200 },
    ]);
  });
});
