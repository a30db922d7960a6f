import type { IncomingMessage } from 'node:http';
import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import type { ErrorCode } from '../api/error-answer.js';

/**
 * A request body refused while reading, shaped like an HTTP error (`status` and `type`) so one error
 * handler answers every refusal the same way.
 */
export class BodyReadError extends Error {
  readonly status: BodyRefusal[0];
  readonly type: BodyRefusal[1];

  constructor(...[status, type, message]: BodyRefusal) {
    super(message);
    this.status = status;
    this.type = type;
  }
}

/** The refusals of a body read, as (status, code, message); the code is the answer's error code but for 413 (body_too_large). */
type BodyRefusal =
  | [status: 400, type: ErrorCode<400> & ('encoding.invalid' | 'request.aborted'), message: string]
  | [status: 413, type: 'entity.too.large', message: string]
  | [status: 415, type: ErrorCode<415> & 'encoding.unsupported', message: string];

/** Whether the body is sent as is; a compressed one needs {@link readInflatedBody} instead. */
export function isIdentityEncoded(req: IncomingMessage): boolean {
  const encoding = req.headers['content-encoding'];
  return encoding === undefined || encoding.toLowerCase() === 'identity';
}

/**
 * Reads an identity-encoded request body of at most `limit` bytes into one Buffer: a declared
 * Content-Length over the limit is refused before reading a byte, a chunked body as soon as it passes
 * the limit. Nothing more is read after a refusal: the answer closes the connection (app.ts), so a
 * client streaming gigabytes costs what it sent before the limit, not what it meant to send.
 *
 * @throws BodyReadError 413 `entity.too.large`, or 400 `request.aborted` when the client goes away.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    if (declaredOver(req, limit)) {
      reject(tooLarge());
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
        reject(tooLarge());
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
      reject(aborted());
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAborted);
    req.on('close', onAborted);
  });
}

// A Map, not an object literal: a client's "__proto__" or "constructor" must not find Object's own members.
const INFLATERS = new Map<string, () => Transform>([['gzip', createGunzip], ['x-gzip', createGunzip], ['deflate', createInflate], ['br', createBrotliDecompress]]);

/**
 * Reads a compressed body (Content-Encoding gzip, deflate or br) and inflates it, refusing it as soon
 * as either what was sent or what it inflates to passes `limit` bytes, without reading further.
 *
 * @throws BodyReadError 415 `encoding.unsupported`, 413 `entity.too.large`, 400 `encoding.invalid`
 *   for data that does not inflate, 400 `request.aborted` when the client goes away.
 */
export function readInflatedBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const encoding = (req.headers['content-encoding'] ?? '').toLowerCase();
  const make = INFLATERS.get(encoding);
  if (!make) return Promise.reject(new BodyReadError(415, 'encoding.unsupported', `unsupported content encoding "${encoding}"; send gzip, deflate, br or identity`));
  if (declaredOver(req, limit)) return Promise.reject(tooLarge());
  return new Promise<Buffer>((resolve, reject) => {
    const inflater = make();
    const chunks: Buffer[] = [];
    let sent = 0;
    let inflated = 0;
    let settled = false;
    const fail = (err: BodyReadError) => {
      if (settled) return;
      settled = true;
      inflater.destroy();
      reject(err);
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      sent += chunk.length;
      if (sent > limit) fail(tooLarge());
      else inflater.write(chunk);
    });
    req.on('end', () => {
      if (!settled) inflater.end();
    });
    req.on('error', () => fail(aborted()));
    req.on('close', () => {
      if (!req.complete) fail(aborted());
    });
    inflater.on('data', (chunk: Buffer) => {
      if (settled) return;
      inflated += chunk.length;
      if (inflated > limit) fail(tooLarge());
      else chunks.push(chunk);
    });
    inflater.on('error', (err: Error) => fail(new BodyReadError(400, 'encoding.invalid', `the body is not valid ${encoding} data: ${err.message}`)));
    inflater.on('end', () => {
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks, inflated));
    });
  });
}

function declaredOver(req: IncomingMessage, limit: number): boolean {
  const declared = req.headers['content-length'];
  return declared !== undefined && Number(declared) > limit;
}

function tooLarge(): BodyReadError {
  return new BodyReadError(413, 'entity.too.large', 'request entity too large');
}

function aborted(): BodyReadError {
  return new BodyReadError(400, 'request.aborted', 'request aborted');
}
