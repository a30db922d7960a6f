import { createServer, type RequestListener, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorAnswer, ErrorCode } from '../api/error-answer.js';

/** The port is taken; the message says which setting picks another one. */
export class PortInUseError extends Error {
  readonly code = 'HERALD_PORT_IN_USE';
  constructor(readonly port: number, readonly host: string, hint: string) {
    super(`port ${port} on ${host} is already in use: ${hint}`);
  }
}

/**
 * Binds an HTTP server with no request handler yet and resolves once the port is bound (port 0 picks
 * a free one). Binding before anything else starts lets a process that cannot listen stop without
 * having changed anything. `hint` says how to choose another port (the flag or variable).
 * @throws PortInUseError when the port is taken
 */
export async function bindHttp(port: number, host: string, hint = 'pick another with --port N or HERALD_HTTP_PORT'): Promise<Server> {
  return new Promise((resolve, reject) => {
    // Until attachHandler gives it its handler, a request is answered 503 rather than left hanging.
    const server = createServer(startingUp);
    placeholders.add(server);
    server.on('clientError', answerClientError);
    server.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE' ? new PortInUseError(port, host, hint) : err));
    server.listen(port, host, () => {
      server.removeAllListeners('error');
      resolve(server);
    });
    // Keep-alive longer than typical load balancer idle timeouts, so they close first and never hit a closing socket.
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
  });
}

const placeholders = new WeakSet<Server>();

const STARTING_UP = JSON.stringify({ error: { code: 'starting_up', message: 'the server is starting up; retry in a second' } } satisfies ErrorAnswer);

const startingUp: RequestListener = (_req, res) => {
  res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '1' }).end(STARTING_UP);
};

/** How a request Node's HTTP parser refuses is answered: its status and the error code of the answer. */
export function clientErrorAnswer(errCode: string | undefined): { status: 400 | 408 | 413 | 431; code: ErrorCode<400 | 408 | 413 | 431>; reason: string } {
  switch (errCode) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'headers_too_large', reason: 'Request Header Fields Too Large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'request_timeout', reason: 'Request Timeout' };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, code: 'body_too_large', reason: 'Payload Too Large' };
    default:
      return { status: 400, code: 'bad_request', reason: 'Bad Request' };
  }
}

/**
 * Answers a request Node's HTTP parser refuses (a malformed head, a header too large, a bad chunk)
 * with a JSON error like every other answer, where Node would write a bare status line. There is
 * no response object here: the answer is written to the socket, which is then closed.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const { status, code, reason } = clientErrorAnswer(err.code);
  const body = JSON.stringify({ error: { code, message: `the request is not valid HTTP/1.1 (${err.code ?? 'parse error'}); nothing was read` } } satisfies ErrorAnswer);
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-content-type-options: nosniff\r\ncache-control: no-store\r\nconnection: close\r\n\r\n${body}`);
}

/** Gives a server from {@link bindHttp} its real request handler, replacing the 503 placeholder. */
export function attachHandler(server: Server, listener: RequestListener): void {
  if (placeholders.delete(server)) server.removeListener('request', startingUp);
  server.on('request', listener);
}

/**
 * Starts listening and resolves with the server once the port is bound (port 0 picks a free one).
 * `listener` is an express app or any other request listener.
 */
export async function listen(listener: RequestListener, port: number, host: string, hint?: string): Promise<Server> {
  const server = await bindHttp(port, host, hint);
  attachHandler(server, listener);
  return server;
}

/** Stops accepting connections and closes idle keep-alive sockets; in-flight requests finish. */
export async function closeServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

export function boundPort(server: Server): number {
  const a = server.address();
  return typeof a === 'object' && a ? a.port : 0;
}
