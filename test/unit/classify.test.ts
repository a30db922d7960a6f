import { describe, expect, it } from 'vitest';
import { classifyAttempt, parseRetryAfter } from '../../src/delivery/classify.js';

const r = (status: number, retryAfter?: string) => classifyAttempt({ kind: 'response', status, retryAfter }, 1_000_000);

describe('classifyAttempt', () => {
  it.each([200, 201, 202, 204, 299])('treats %d as delivered', (s) => {
    expect(r(s).outcome).toBe('success');
  });
  it.each([408, 425, 429, 500, 502, 503, 504, 599])('retries %d', (s) => {
    expect(r(s).outcome).toBe('retry');
  });
  it.each([400, 401, 403, 404, 405, 413, 422])('fails %d permanently without burning retries', (s) => {
    expect(r(s)).toMatchObject({ outcome: 'permanent', reason: `HTTP ${s}` });
  });
  it('does not follow redirects: a 3xx is permanent and says why', () => {
    expect(r(301)).toMatchObject({ outcome: 'permanent', reason: expect.stringContaining('redirects are not followed') });
    expect(r(307).outcome).toBe('permanent');
  });
  it('flags 410 Gone so operators can disable the destination', () => {
    expect(r(410)).toMatchObject({ outcome: 'permanent', gone: true });
  });
  it('retries network errors and timeouts', () => {
    expect(classifyAttempt({ kind: 'error', code: 'ECONNREFUSED', message: 'connect refused' }, 0)).toMatchObject({ outcome: 'retry', reason: 'ECONNREFUSED: connect refused' });
  });
  it('carries Retry-After of retryable answers', () => {
    expect(r(429, '30').retryAfterMs).toBe(30_000);
    expect(r(503, new Date(1_000_000 + 5_000).toUTCString()).retryAfterMs).toBe(5_000);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates, ignores nonsense, never goes negative', () => {
    expect(parseRetryAfter('0', 0)).toBe(0);
    expect(parseRetryAfter(' 12 ', 0)).toBe(12_000);
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    expect(parseRetryAfter(undefined, 0)).toBeUndefined();
    expect(parseRetryAfter('-5', 0)).toBeUndefined();
    expect(parseRetryAfter(new Date(0).toUTCString(), 10_000)).toBe(0);
  });
});
