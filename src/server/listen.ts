import { createServer, type RequestListener, type Server } from 'node:http';

/**
 * Starts listening and resolves with the server once the port is bound (port 0 picks a free one).
 * `listener` is an express app or any other request listener.
 */
export async function listen(listener: RequestListener, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer(listener);
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
    // Keep-alive longer than typical load balancer idle timeouts, so they close first and never hit a closing socket.
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
  });
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
