import type { IncomingMessage } from 'node:http';

/**
 * A request body refused while reading, shaped like body-parser's errors (`status` and `type`) so
 * one error handler answers both the same way.
 */
export class BodyReadError extends Error {
  constructor(readonly status: number, readonly type: string, message: string) {
    super(message);
  }
}

/** Whether the body is sent as is; a compressed one needs body-parser's inflating reader instead. */
export function isIdentityEncoded(req: IncomingMessage): boolean {
  const encoding = req.headers['content-encoding'];
  return encoding === undefined || encoding.toLowerCase() === 'identity';
}

/**
 * Reads an identity-encoded request body of at most `limit` bytes into one Buffer: a declared
 * Content-Length over the limit is refused before reading, a chunked body as soon as it passes it.
 * After a refusal the rest of the body is read and dropped before the promise rejects, as body-parser
 * does, so the client gets its answer on a connection it can keep using.
 *
 * @throws BodyReadError 413 `entity.too.large`, or 400 `request.aborted` when the client goes away.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) {
      discardRest(req, () => reject(tooLarge()));
      return;
    }
    const chunks: Buffer[] = [];
    let received = 0;
    // Once settled, the listeners stay and do nothing (the request is garbage soon after): taking four
    // listeners off again per request cost as much as putting them on.
    let settled = false;
    const onData = (chunk: Buffer) => {
      if (settled) return;
      received += chunk.length;
      if (received > limit) {
        settled = true;
        discardRest(req, () => reject(tooLarge()));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      if (settled) return;
      settled = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received));
    };
    const onAborted = () => {
      if (settled) return;
      settled = true;
      reject(new BodyReadError(400, 'request.aborted', 'request aborted'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAborted);
    req.on('close', onAborted);
  });
}

function tooLarge(): BodyReadError {
  return new BodyReadError(413, 'entity.too.large', 'request entity too large');
}

function discardRest(req: IncomingMessage, then: () => void): void {
  if (req.complete || req.destroyed) {
    then();
    return;
  }
  // A client that keeps sending gets its answer once the body is in; one that vanishes gets none.
  req.once('end', then);
  req.once('close', then);
  req.on('error', () => undefined);
  req.resume();
}
