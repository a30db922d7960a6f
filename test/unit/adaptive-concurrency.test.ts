import { describe, expect, it } from 'vitest';
import { afterAttempt, concurrencyFor, HEALTHY, type AdaptiveState } from '../../src/delivery/adaptive-concurrency.js';

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
    expect(concurrencyFor(run(fail(3)), 2, { failuresToThrottle: 3, throttledConcurrency: 4 })).toBe(2);
  });

  it('follows a changed policy', () => {
    expect(concurrencyFor(run(fail(3)), 20, { failuresToThrottle: 3, throttledConcurrency: 2 })).toBe(2);
  });
});
