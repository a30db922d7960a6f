import type { Dispatcher } from 'undici';
import { boundedRequest } from '../security/bounded-request.js';
import { createDeliveryAgent } from '../security/guarded-dispatcher.js';
import type { AddressPolicy } from '../security/address.js';
import type { AttemptResult } from './classify.js';

export interface SendRequest {
  url: string;
  body: string;
  /**
   * Header names and values, flat (`[name, value, …]`), as undici takes them without an object per
   * request. Start from {@link HttpSender.headerList}, which adds what the sender itself needs.
   */
  headers: readonly string[];
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
  private lastUrl: string | undefined;
  private lastTarget: { origin: string; path: string } | undefined;

  /** Every connection goes through the SSRF guard of `policy`, checked on the resolved address. */
  constructor(opts: { policy: AddressPolicy; connections?: number; verifyTls?: boolean; dispatcher?: Dispatcher }) {
    this.dispatcher =
      opts.dispatcher ??
      createDeliveryAgent({ policy: opts.policy, connections: opts.connections ?? 128, keepAliveTimeoutMs: 30_000, tls: { rejectUnauthorized: opts.verifyTls ?? true } });
  }

  /**
   * The flat header list for `headers`, plus `accept-encoding: identity`: nothing is decompressed
   * (bounded-request.ts), so the receiver is asked not to compress. Made once per destination spec;
   * each delivery appends its own headers to a copy.
   */
  static headerList(headers: Record<string, string>): string[] {
    const list: string[] = [];
    for (const [name, value] of Object.entries({ ...headers, 'accept-encoding': 'identity' })) list.push(name, value);
    return list;
  }

  async send(req: SendRequest): Promise<SendResult> {
    const started = performance.now();
    try {
      const { origin, path } = this.target(req.url);
      const res = await boundedRequest(
        this.dispatcher,
        { origin, path, method: 'POST', body: req.body, headers: req.headers },
        { timeoutMs: req.timeoutMs },
      );
      const snippet = res.text.slice(0, SNIPPET_CHARS);
      const retryAfter = res.headers['retry-after'];
      return {
        result: { kind: 'response', status: res.status, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter },
        durationMs: performance.now() - started,
        ...(snippet ? { responseSnippet: snippet } : {}),
      };
    } catch (err) {
      const e = err as { code?: string; name?: string; message?: string };
      const timedOut = e.code === 'HERALD_DELIVERY_TIMEOUT' || e.name === 'TimeoutError' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT';
      return {
        result: timedOut
          ? { kind: 'error', code: 'timeout', message: `no complete response within ${req.timeoutMs} ms` }
          : { kind: 'error', code: e.code ?? e.name ?? 'network_error', message: e.message ?? String(err) },
        durationMs: performance.now() - started,
      };
    }
  }

  /** Origin and path of `url`, parsed once per URL rather than once per delivery. */
  private target(url: string): { origin: string; path: string } {
    if (url !== this.lastUrl) {
      const u = new URL(url);
      this.lastTarget = { origin: u.origin, path: `${u.pathname}${u.search}` };
      this.lastUrl = url;
    }
    return this.lastTarget!;
  }

  async close(): Promise<void> {
    await this.dispatcher.close().catch(() => undefined);
  }
}
