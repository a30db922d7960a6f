import type { Dispatcher } from 'undici';
import { DeliveryTimeoutError, ResponseBodyError } from './errors.js';

/** Default cap on how much of a receiver's response is kept: enough for an error message. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

/** What {@link readCappedBody} read. */
export interface CappedBody {
  /** The first bytes of the body decoded as UTF-8 (a split character at the cut becomes U+FFFD). */
  text: string;
  /** Whether the receiver sent more than `maxBytes`; the rest was never read. */
  truncated: boolean;
  /** Bytes kept, at most `maxBytes`. */
  bytes: number;
}

/** Options of {@link readCappedBody}. */
export interface ReadBodyOptions {
  /** Bytes to keep; default {@link DEFAULT_MAX_BODY_BYTES}. */
  maxBytes?: number;
  /** Fires at the delivery's total deadline; reading stops then even if bytes keep trickling in. */
  deadline: AbortSignal;
}

/**
 * Reads at most `maxBytes` of a receiver's response body, then destroys the stream, which closes the
 * connection rather than returning a socket with unread bytes to the pool. Receivers are untrusted:
 * one may send gigabytes, another one byte every few seconds to keep a worker busy forever. The first
 * is bounded by `maxBytes`; the second by `deadline`, which fires on the total delivery time, not on
 * idleness between bytes, so trickling does not extend it.
 *
 * Bytes are taken as sent: nothing is decompressed. undici's `request` does not inflate, and neither
 * does this, so a gzip bomb stays at most `maxBytes` of compressed noise. Callers should still send
 * `accept-encoding: identity` so well-behaved receivers answer with readable text.
 *
 * @throws DeliveryTimeoutError when `deadline` fires first (`cause` is the signal's reason).
 * @throws ResponseBodyError when the stream fails otherwise (connection reset, malformed chunking).
 */
export function readCappedBody(body: Dispatcher.ResponseData['body'], opts: ReadBodyOptions): Promise<CappedBody> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BODY_BYTES;
  const { deadline } = opts;
  // Destroying emits 'error' (undici turns a plain destroy into RequestAbortedError); without a
  // listener left behind that would be an uncaught exception after this promise has settled.
  body.on('error', () => {});

  return new Promise<CappedBody>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let settled = false;

    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      deadline.removeEventListener('abort', onAbort);
      body.off('data', onData).off('end', onEnd).off('error', onError);
      outcome();
    };
    const result = (truncated: boolean): CappedBody => ({
      text: Buffer.concat(chunks).toString('utf8'),
      truncated,
      bytes,
    });
    const timeout = () =>
      new DeliveryTimeoutError(`Delivery deadline passed while reading the response body (${bytes} bytes read)`, {
        cause: deadline.reason,
      });

    function onData(chunk: Buffer) {
      const room = maxBytes - bytes;
      if (chunk.length > room) {
        if (room > 0) chunks.push(chunk.subarray(0, room));
        bytes += Math.max(room, 0);
        finish(() => {
          body.destroy();
          resolve(result(true));
        });
        return;
      }
      chunks.push(chunk);
      bytes += chunk.length;
    }
    function onEnd() {
      finish(() => resolve(result(false)));
    }
    function onError(err: Error) {
      finish(() => reject(deadline.aborted ? timeout() : new ResponseBodyError(`Reading the response body failed: ${err.message}`, { cause: err })));
    }
    function onAbort() {
      finish(() => {
        body.destroy();
        reject(timeout());
      });
    }

    if (deadline.aborted) return onAbort();
    deadline.addEventListener('abort', onAbort, { once: true });
    body.on('data', onData).on('end', onEnd).on('error', onError);
  });
}
