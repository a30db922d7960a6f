import { Agent, request, type Dispatcher } from 'undici';
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

/** How much of a receiver's response body is read; the rest is discarded unread. */
export const MAX_RESPONSE_BYTES = 64 * 1024;
const SNIPPET_BYTES = 512;

/**
 * Sends deliveries over one keep-alive connection pool (per destination: the worker owns one sender
 * per destination). Redirects are never followed; the total deadline covers connect, headers and
 * body, so a receiver that trickles bytes cannot hold a worker slot past `timeoutMs`.
 */
export class HttpSender {
  constructor(private readonly dispatcher: Dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: 128 })) {}

  async send(req: SendRequest): Promise<SendResult> {
    const started = performance.now();
    const signal = AbortSignal.timeout(req.timeoutMs);
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
      const snippet = await readCapped(res.body, MAX_RESPONSE_BYTES, SNIPPET_BYTES);
      const retryAfter = res.headers['retry-after'];
      return {
        result: { kind: 'response', status: res.statusCode, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter },
        durationMs: performance.now() - started,
        ...(snippet ? { responseSnippet: snippet } : {}),
      };
    } catch (err) {
      const e = err as { code?: string; name?: string; message?: string };
      const timedOut = signal.aborted || e.name === 'TimeoutError' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT';
      return {
        result: timedOut
          ? { kind: 'error', code: 'timeout', message: `no complete response within ${req.timeoutMs} ms` }
          : { kind: 'error', code: e.code ?? e.name ?? 'network_error', message: e.message ?? String(err) },
        durationMs: performance.now() - started,
      };
    }
  }

  async close(): Promise<void> {
    await this.dispatcher.close().catch(() => undefined);
  }
}

/** Reads at most `max` bytes (keeping the first `keep`), then drops the connection rather than reading a huge body. */
async function readCapped(body: Dispatcher.ResponseData['body'], max: number, keep: number): Promise<string> {
  let read = 0;
  const chunks: Buffer[] = [];
  let kept = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    read += chunk.length;
    if (kept < keep) {
      chunks.push(chunk.subarray(0, keep - kept));
      kept += Math.min(chunk.length, keep - kept);
    }
    if (read >= max) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}
