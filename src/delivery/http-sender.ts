import { request, type Dispatcher } from 'undici';
import { readCappedBody } from '../security/read-body.js';
import { createDeliveryAgent } from '../security/guarded-dispatcher.js';
import type { AddressPolicy } from '../security/address.js';
import type { AttemptResult } from './classify.js';

export interface SendRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
}

export interface SendResult {
  result: AttemptResult;
  durationMs: number;
  /** The first bytes of the receiver's answer, kept for the dead-letter record. */
  responseSnippet?: string;
}

const SNIPPET_CHARS = 512;

/**
 * Sends deliveries over one keep-alive connection pool (per destination: the worker owns one sender
 * per destination). Redirects are never followed; the total deadline covers connect, headers and
 * body, so a receiver that trickles bytes cannot hold a worker slot past `timeoutMs`.
 */
export class HttpSender {
  private readonly dispatcher: Dispatcher;

  /** Every connection goes through the SSRF guard of `policy`, checked on the resolved address. */
  constructor(opts: { policy: AddressPolicy; connections?: number; verifyTls?: boolean; dispatcher?: Dispatcher }) {
    this.dispatcher =
      opts.dispatcher ??
      createDeliveryAgent({ policy: opts.policy, connections: opts.connections ?? 128, keepAliveTimeoutMs: 30_000, tls: { rejectUnauthorized: opts.verifyTls ?? true } });
  }

  async send(req: SendRequest): Promise<SendResult> {
    const started = performance.now();
    // One timer per attempt, cleared when it ends. AbortSignal.timeout's timer cannot be cleared: it
    // lives until it fires or a finalizer notices the signal was collected (a WeakRef per request).
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new DOMException(`no complete response within ${req.timeoutMs} ms`, 'TimeoutError')), req.timeoutMs);
    const { signal } = deadline;
    try {
      const res = await request(req.url, {
        method: 'POST',
        body: req.body,
        headers: { ...req.headers, 'accept-encoding': 'identity' },
        dispatcher: this.dispatcher,
        signal,
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
      });
      const { text } = await readCappedBody(res.body, { deadline: signal });
      const snippet = text.slice(0, SNIPPET_CHARS);
      const retryAfter = res.headers['retry-after'];
      return {
        result: { kind: 'response', status: res.statusCode, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter },
        durationMs: performance.now() - started,
        ...(snippet ? { responseSnippet: snippet } : {}),
      };
    } catch (err) {
      const e = err as { code?: string; name?: string; message?: string };
      const timedOut = signal.aborted || e.name === 'TimeoutError' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT' || e.code === 'HERALD_DELIVERY_TIMEOUT';
      return {
        result: timedOut
          ? { kind: 'error', code: 'timeout', message: `no complete response within ${req.timeoutMs} ms` }
          : { kind: 'error', code: e.code ?? e.name ?? 'network_error', message: e.message ?? String(err) },
        durationMs: performance.now() - started,
      };
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.dispatcher.close().catch(() => undefined);
  }
}
