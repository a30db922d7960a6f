/** What one HTTP attempt looked like, as far as the retry decision cares. */
export type AttemptResult =
  | { kind: 'response'; status: number; retryAfter?: string | undefined }
  | { kind: 'error'; code: string; message: string };

export interface Outcome {
  outcome: 'success' | 'retry' | 'permanent';
  /** Short human-readable reason, stored with the attempt and shown in the DLQ. */
  reason: string;
  retryAfterMs?: number;
  /** The receiver said the endpoint no longer exists (410): operators should disable it. */
  gone?: boolean;
}

/**
 * Classifies one attempt: 2xx delivered; 408, 425, 429, 5xx and network errors may succeed later;
 * every other status (3xx included: redirects are not followed, since following them would let a
 * receiver point Herald anywhere) fails permanently at once.
 */
export function classifyAttempt(result: AttemptResult, now: number): Outcome {
  if (result.kind === 'error') {
    // The SSRF guard's refusal will not change on retry: the address is forbidden by policy.
    if (result.code === 'HERALD_SSRF_BLOCKED') return { outcome: 'permanent', reason: `blocked: ${result.message}` };
    return { outcome: 'retry', reason: `${result.code}: ${result.message}` };
  }
  const { status } = result;
  if (status >= 200 && status < 300) return { outcome: 'success', reason: `HTTP ${status}` };
  if (status === 408 || status === 425 || status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(result.retryAfter, now);
    return { outcome: 'retry', reason: `HTTP ${status}`, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  }
  if (status >= 300 && status < 400) return { outcome: 'permanent', reason: `HTTP ${status}: redirects are not followed; point the destination at the final URL` };
  if (status === 410) return { outcome: 'permanent', reason: 'HTTP 410: the receiver says this endpoint is gone', gone: true };
  return { outcome: 'permanent', reason: `HTTP ${status}` };
}

/** Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3); nonsense is ignored. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^[0-9]+$/.test(trimmed)) return Number(trimmed) * 1000;
  // An HTTP-date always names a weekday and month; without letters Date.parse accepts odd things like "-5".
  if (!/^[A-Za-z]{3},/.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
