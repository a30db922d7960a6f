import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryTimeoutError, ResponseBodyError } from '../../../src/security/errors.js';
import { boundedRequest, DEFAULT_MAX_BODY_BYTES, type BoundedRequestOptions } from '../../../src/security/bounded-request.js';
import { waitFor } from '../../support/wait.js';

const MiB = 1024 * 1024;
const bomb = gzipSync(Buffer.alloc(10 * MiB));

/** What the server saw of each response, by path, so tests can assert how the client left. */
const seen = new Map<string, { sent: number; closed: boolean; finished: boolean }>();

type Handler = (req: IncomingMessage, res: ServerResponse, track: { sent: number }) => void;

const routes: Record<string, Handler> = {
  '/hello': (_req, res) => res.end('hello ✓'),
  '/exact': (_req, res) => res.end(Buffer.alloc(DEFAULT_MAX_BODY_BYTES, 'a')),
  '/exact-plus-one': (_req, res) => res.end(Buffer.alloc(DEFAULT_MAX_BODY_BYTES + 1, 'a')),
  '/trickle': (_req, res, track) => {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.flushHeaders();
    const timer = setInterval(() => {
      res.write('x');
      track.sent += 1;
    }, 50);
    res.on('close', () => clearInterval(timer));
  },
  '/ten-mib': (_req, res, track) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(10 * MiB) });
    const chunk = Buffer.alloc(64 * 1024, 'b');
    const pump = () => {
      while (track.sent < 10 * MiB && !res.destroyed) {
        track.sent += chunk.length;
        if (!res.write(chunk)) return res.once('drain', pump);
      }
      if (track.sent >= 10 * MiB) res.end();
    };
    pump();
  },
  '/gzip-bomb': (_req, res) => {
    // A receiver ignoring accept-encoding: identity and answering with 10 MiB of zeros, gzipped.
    res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': String(bomb.length) });
    res.end(bomb);
  },
  '/silent': () => {
    // Takes the request and never answers.
  },
  '/reset': (_req, res) => {
    res.writeHead(200, { 'content-length': '1000' });
    res.write('partial', () => res.socket?.destroy());
  },
};

let server: Server;
let base: string;
const agent = new Agent();

beforeAll(async () => {
  server = createServer((req, res) => {
    const track = { sent: 0, closed: false, finished: false };
    seen.set(req.url ?? '', track);
    res.on('finish', () => (track.finished = true));
    res.on('close', () => (track.closed = true));
    routes[req.url ?? '']?.(req, res, track);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await agent.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function call(path: string, opts: Partial<BoundedRequestOptions> = {}) {
  return boundedRequest(agent, { origin: base, path, method: 'GET', headers: { 'accept-encoding': 'identity' } }, { timeoutMs: 5_000, ...opts });
}

describe('boundedRequest', () => {
  it('returns a short body whole, with the status and headers', async () => {
    const res = await call('/hello');
    expect(res).toMatchObject({ status: 200, text: 'hello ✓', truncated: false, bytes: Buffer.byteLength('hello ✓') });
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength('hello ✓')));
  });

  it('reads only the first 64 KiB of a 10 MiB response and closes the connection', async () => {
    const result = await call('/ten-mib');
    expect(result.truncated).toBe(true);
    expect(result.bytes).toBe(64 * 1024);
    expect(result.text).toBe('b'.repeat(64 * 1024));
    const track = await waitFor(() => (seen.get('/ten-mib')?.closed ? seen.get('/ten-mib') : undefined), {
      what: 'the server to see the connection closed',
    });
    expect(track.finished).toBe(false);
  });

  it('honours a custom cap', async () => {
    expect(await call('/hello', { maxBytes: 5 })).toMatchObject({ text: 'hello', truncated: true, bytes: 5 });
  });

  it('does not call a body of exactly maxBytes truncated, but one byte more is', async () => {
    expect(await call('/exact')).toMatchObject({ truncated: false, bytes: DEFAULT_MAX_BODY_BYTES });
    expect(await call('/exact-plus-one')).toMatchObject({ truncated: true, bytes: DEFAULT_MAX_BODY_BYTES });
  });

  it('stops at the total deadline while the receiver trickles one byte every 50 ms', async () => {
    const started = performance.now();
    const error = await call('/trickle', { timeoutMs: 300 }).catch((err: unknown) => err);
    const elapsed = performance.now() - started;

    expect(error).toBeInstanceOf(DeliveryTimeoutError);
    expect((error as DeliveryTimeoutError).code).toBe('HERALD_DELIVERY_TIMEOUT');
    expect((error as Error).message).toMatch(/^Delivery deadline passed while reading the response body \(\d+ bytes read\)$/);
    expect((error as Error).cause).toBeInstanceOf(DOMException);
    // Trickling bytes kept arriving, yet the read ended at the deadline rather than on idleness.
    expect(seen.get('/trickle')!.sent).toBeGreaterThanOrEqual(1);
    // A timer never fires early, so this lower bound holds on any machine; the trickle itself never ends.
    expect(elapsed).toBeGreaterThanOrEqual(290);
    const track = await waitFor(() => (seen.get('/trickle')?.closed ? seen.get('/trickle') : undefined), { what: 'the trickling response to be closed' });
    expect(track.finished).toBe(false);
  });

  it('stops at the deadline when the receiver never answers, and closes the connection', async () => {
    const error = await call('/silent', { timeoutMs: 200 }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(DeliveryTimeoutError);
    expect((error as Error).message).toBe('no complete response within 200 ms');
    await waitFor(() => seen.get('/silent')?.closed, { what: 'the silent request to be closed' });
  });

  it('does not inflate a gzip response, so a gzip bomb stays small', async () => {
    const result = await call('/gzip-bomb');
    expect(result.truncated).toBe(false);
    expect(result.bytes).toBe(bomb.length);
    expect(result.bytes).toBeLessThan(64 * 1024);
  });

  it('wraps a connection reset mid-body in ResponseBodyError', async () => {
    const error = await call('/reset').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ResponseBodyError);
    expect((error as ResponseBodyError).code).toBe('HERALD_RESPONSE_BODY');
    expect((error as Error).cause).toBeInstanceOf(Error);
  });

  it("passes on undici's own error when no answer came at all (connection refused)", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const error = await boundedRequest(agent, { origin: `http://127.0.0.1:${port}`, path: '/', method: 'GET', headers: {} }, { timeoutMs: 5_000 }).catch((err: unknown) => err);
    expect((error as { code?: string }).code).toBe('ECONNREFUSED');
  });
});
