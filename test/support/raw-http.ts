import { connect } from 'node:net';
import { recordAnswer } from './contract-log.js';

export interface RawResponse {
  /** 0 when the server closed the connection without an HTTP answer. */
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends one HTTP/1.1 request byte for byte as given (header values may hold any byte, which fetch and
 * node:http refuse to send) and reads the answer until the server closes the connection.
 */
export function rawRequest(port: number, request: { method?: string; path: string; headers: Array<[string, Buffer | string]>; body: Buffer }, timeoutMs = 10_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined); // a reset after the answer is fine; no answer shows as status 0
    socket.on('close', () => {
      clearTimeout(timer);
      const answer = parse(Buffer.concat(chunks));
      void checked(request.method ?? 'POST', request.path, answer).then(() => resolve(answer), reject);
    });
    const head = [
      Buffer.from(`${request.method ?? 'POST'} ${request.path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-length: ${request.body.length}\r\n`, 'latin1'),
      ...request.headers.map(([k, v]) => Buffer.concat([Buffer.from(`${k}: `, 'latin1'), typeof v === 'string' ? Buffer.from(v, 'latin1') : v, Buffer.from('\r\n')])),
      Buffer.from('\r\n'),
    ];
    socket.write(Buffer.concat([...head, request.body]));
  });
}

/** Holds an answer to the OpenAPI document (contract-log.ts); a closed connection without an answer is not one. */
async function checked(method: string, path: string, answer: RawResponse): Promise<void> {
  if (answer.status !== 0) await recordAnswer({ method, path, ...answer });
}

function parse(raw: Buffer): RawResponse {
  const text = raw.toString('latin1');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  if (!m) return { status: 0, headers: {}, body: text };
  const split = text.indexOf('\r\n\r\n');
  const headers: Record<string, string> = {};
  for (const line of text.slice(0, split).split('\r\n').slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = raw.subarray(Buffer.byteLength(text.slice(0, split + 4), 'latin1'));
  if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
  return { status: Number(m[1]), headers, body: body.toString('utf8') };
}

function dechunk(b: Buffer): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  for (;;) {
    const eol = b.indexOf('\r\n', i);
    if (eol < 0) break;
    const size = parseInt(b.subarray(i, eol).toString('latin1'), 16);
    if (!size) break;
    out.push(b.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

/** What {@link streamRequest} saw: the answer, and how much of the body the client got to send. */
export interface StreamedResponse extends RawResponse {
  /** Body bytes written to the socket before the answer came (or the server closed it). */
  bodyBytesSent: number;
}

/**
 * Sends a request head, then (with `chunk`) the same chunk over and over as a chunked body, as fast as
 * the socket takes it, until the server answers, closes the connection or `maxBodyBytes` are sent
 * (then the body is finished). Resolves once the server has closed the connection; rejects when it
 * has not within `timeoutMs`. Without `chunk`, sends the head alone and waits.
 */
export function streamRequest(port: number, request: { path: string; headers: Array<[string, string]>; chunk?: Buffer; maxBodyBytes?: number }, timeoutMs = 20_000): Promise<StreamedResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let answered = false;
    let closed = false;
    let sent = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server did not answer and close within ${timeoutMs} ms (${sent} body bytes sent, answer so far: ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 200))})`));
    }, timeoutMs);
    socket.on('data', (c: Buffer) => {
      answered = true;
      chunks.push(c);
    });
    socket.on('error', () => undefined); // writing into a connection the server closed
    socket.on('close', () => {
      closed = true;
      clearTimeout(timer);
      const answer = parse(Buffer.concat(chunks));
      void checked('POST', request.path, answer).then(() => resolve({ ...answer, bodyBytesSent: sent }), reject);
    });
    const head = `POST ${request.path} HTTP/1.1\r\nhost: 127.0.0.1\r\n${request.headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
    socket.write(head, 'latin1');
    const { chunk } = request;
    if (!chunk) return;
    const framed = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
    const max = request.maxBodyBytes ?? 256 * 1024 * 1024;
    const pump = (): void => {
      while (!answered && !closed && sent < max) {
        sent += chunk.length;
        if (!socket.write(framed)) {
          socket.once('drain', pump);
          return;
        }
      }
      if (!answered && !closed) socket.write('0\r\n\r\n');
    };
    socket.once('connect', pump);
  });
}
