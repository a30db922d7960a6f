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
  private dispatcher: Dispatcher;
  private connections: number;
  /** Makes a pool of a given size; undefined when the caller handed in its own dispatcher (not resizable). */
  private readonly makePool: ((connections: number) => Dispatcher) | undefined;
  /** Pools replaced by `resize` that are still finishing their requests. */
  private readonly retiring = new Set<Promise<void>>();
  private lastUrl: string | undefined;
  private lastTarget: { origin: string; path: string } | undefined;

  /** Every connection goes through the SSRF guard of `policy`, checked on the resolved address. */
  constructor(opts: { policy: AddressPolicy; connections?: number; verifyTls?: boolean; dispatcher?: Dispatcher }) {
    this.connections = opts.connections ?? 128;
    this.makePool = opts.dispatcher
      ? undefined
      : (connections) => createDeliveryAgent({ policy: opts.policy, connections, keepAliveTimeoutMs: 30_000, tls: { rejectUnauthorized: opts.verifyTls ?? true } });
    this.dispatcher = opts.dispatcher ?? this.makePool!(this.connections);
  }

  /** Connections per origin of the current pool. */
  get poolSize(): number {
    return this.connections;
  }

  /**
   * Sizes the pool for `connections` deliveries at once (undici cannot resize a pool): new sends use
   * a new pool at once, while the old one finishes the requests it carries and then closes, so no
   * delivery in flight is lost. A no-op for the same size or a dispatcher handed in by the caller.
   */
  resize(connections: number): void {
    if (connections === this.connections || !this.makePool) return;
    const old = this.dispatcher;
    this.dispatcher = this.makePool(connections);
    this.connections = connections;
    // undici's close() lets queued and running requests complete before it resolves.
    const closing: Promise<void> = old.close().catch(() => undefined).finally(() => this.retiring.delete(closing));
    this.retiring.add(closing);
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
    await Promise.all([this.dispatcher.close().catch(() => undefined), ...this.retiring]);
  }
}
