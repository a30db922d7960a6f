import { describe, expect, it } from 'vitest';
import { RetrySpec } from '../../src/api/destination.js';
import { decideRetry, nominalDelay, resolveRetryPolicy, scheduleSpan, type RetryPolicy } from '../../src/delivery/retry-policy.js';

const policy = (over: Partial<RetryPolicy> = {}): RetryPolicy => ({
  maxAttempts: 5,
  backoff: 'exponential',
  initialDelayMs: 1_000,
  maxDelayMs: 10_000,
  maxRetryWindowMs: 86_400_000,
  ...over,
});
const base = { retryable: true, firstQueuedAt: 0, now: 0, random: 0.999999 };

describe('nominalDelay', () => {
  it('doubles from initialDelay and caps at maxDelay (exponential)', () => {
    expect([1, 2, 3, 4, 5, 6].map((a) => nominalDelay(policy(), a))).toEqual([1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
  });
  it('grows by initialDelay (linear) or stays (fixed)', () => {
    expect([1, 2, 3].map((a) => nominalDelay(policy({ backoff: 'linear' }), a))).toEqual([1_000, 2_000, 3_000]);
    expect([1, 2, 3].map((a) => nominalDelay(policy({ backoff: 'fixed' }), a))).toEqual([1_000, 1_000, 1_000]);
  });
  it('follows an explicit schedule and repeats its last entry', () => {
    const p = policy({ scheduleMs: [5, 300_000, 1_800_000] });
    expect([1, 2, 3, 4].map((a) => nominalDelay(p, a))).toEqual([5, 10_000, 10_000, 10_000]);
    expect([1, 2, 3, 4].map((a) => nominalDelay({ ...p, maxDelayMs: 3_600_000 }, a))).toEqual([5, 300_000, 1_800_000, 1_800_000]);
  });
  it('does not overflow for huge attempt numbers', () => {
    expect(nominalDelay(policy(), 5_000)).toBe(10_000);
  });
});

describe('decideRetry', () => {
  it('applies full jitter: the delay is random * nominal', () => {
    expect(decideRetry(policy(), { ...base, attempt: 3, random: 0.5 })).toEqual({ action: 'retry', delayMs: 2_000 });
    expect(decideRetry(policy(), { ...base, attempt: 3, random: 0 })).toEqual({ action: 'retry', delayMs: 0 });
  });
  it('lets Retry-After push a retry later, never earlier, and never past maxDelay', () => {
    expect(decideRetry(policy(), { ...base, attempt: 1, random: 0.5, retryAfterMs: 7_000 })).toEqual({ action: 'retry', delayMs: 7_000 });
    expect(decideRetry(policy(), { ...base, attempt: 4, random: 0.5, retryAfterMs: 100 })).toEqual({ action: 'retry', delayMs: 4_000 });
    expect(decideRetry(policy(), { ...base, attempt: 1, random: 0.5, retryAfterMs: 3_600_000 })).toEqual({ action: 'retry', delayMs: 10_000 });
  });
  it('dead-letters a permanent failure at once', () => {
    expect(decideRetry(policy(), { ...base, attempt: 1, retryable: false })).toMatchObject({ action: 'dead', reason: 'permanent' });
  });
  it('dead-letters after maxAttempts attempts', () => {
    expect(decideRetry(policy(), { ...base, attempt: 4 })).toMatchObject({ action: 'retry' });
    expect(decideRetry(policy(), { ...base, attempt: 5 })).toMatchObject({ action: 'dead', reason: 'exhausted', detail: expect.stringContaining('5 attempts') });
  });
  it('dead-letters when the next retry would fall outside maxRetryWindow, whichever comes first', () => {
    const p = policy({ maxRetryWindowMs: 60_000, maxAttempts: 100 });
    expect(decideRetry(p, { ...base, attempt: 2, now: 50_000, random: 0.5 })).toEqual({ action: 'retry', delayMs: 1_000 });
    expect(decideRetry(p, { ...base, attempt: 2, now: 59_500, random: 0.5 })).toMatchObject({ action: 'dead', reason: 'exhausted', detail: expect.stringContaining('maxRetryWindow') });
  });
});

describe('the default policy', () => {
  it('spans about a day, as the leading webhook services do', () => {
    const p = resolveRetryPolicy(RetrySpec.parse({}));
    expect(p).toMatchObject({ maxAttempts: 30, initialDelayMs: 10_000, maxDelayMs: 7_200_000, maxRetryWindowMs: 86_400_000 });
    const span = scheduleSpan(p);
    expect(span).toBeGreaterThanOrEqual(20 * 3_600_000);
    expect(span).toBeLessThanOrEqual(24 * 3_600_000);
  });
});
