import { describe, expect, it } from 'vitest';
import { afterAttempt, concurrencyFor, HEALTHY, isThrottled, paceAttempt, type AdaptiveState } from '../../src/delivery/adaptive-concurrency.js';

const run = (outcomes: boolean[], from: AdaptiveState = HEALTHY) => outcomes.reduce(afterAttempt, from);
const fail = (n: number) => Array<boolean>(n).fill(false);

describe('adaptive concurrency', () => {
  it('keeps the configured concurrency through nine failed attempts in a row', () => {
    expect(concurrencyFor(run(fail(9)), 50)).toBe(50);
  });

  it('drops to 1 at the tenth failed attempt in a row, and stays there while failures go on', () => {
    expect(concurrencyFor(run(fail(10)), 50)).toBe(1);
    expect(concurrencyFor(run(fail(1_000)), 50)).toBe(1);
  });

  it('restores the configured concurrency on the first success', () => {
    const throttled = run(fail(25));
    expect(concurrencyFor(run([true], throttled), 50)).toBe(50);
  });

  it('counts failures in a row only: a success in between starts the count again', () => {
    expect(concurrencyFor(run([...fail(9), true, ...fail(9)]), 50)).toBe(50);
  });

  it('never raises a destination above its configured concurrency', () => {
    expect(concurrencyFor(run(fail(10)), 1)).toBe(1);
    expect(concurrencyFor(run(fail(3)), 2, { failuresToThrottle: 3, throttledConcurrency: 4, throttledIntervalMs: 0 })).toBe(2);
  });

  it('follows a changed policy', () => {
    expect(concurrencyFor(run(fail(3)), 20, { failuresToThrottle: 3, throttledConcurrency: 2, throttledIntervalMs: 0 })).toBe(2);
  });

  it('is throttled exactly when the concurrency drops', () => {
    expect(isThrottled(run(fail(9)))).toBe(false);
    expect(isThrottled(run(fail(10)))).toBe(true);
    expect(isThrottled(run([true], run(fail(10))))).toBe(false);
  });
});

describe('pacing attempts while throttled', () => {
  it('lets an attempt start at once when its turn has come, and the next one an interval later', () => {
    expect(paceAttempt(0, 5_000, 100)).toEqual({ waitMs: 0, freeAt: 5_100 });
    expect(paceAttempt(4_000, 5_000, 100)).toEqual({ waitMs: 0, freeAt: 5_100 });
  });

  it('queues attempts fetched together one interval apart instead of letting them out at once', () => {
    let freeAt = 0;
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      const p = paceAttempt(freeAt, 1_000, 100);
      waits.push(p.waitMs);
      freeAt = p.freeAt;
    }
    expect(waits).toEqual([0, 100, 200, 300]);
    expect(freeAt).toBe(1_400);
  });
});
