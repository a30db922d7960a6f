import { createServer, type Socket } from 'node:net';

export interface Blackhole {
  url: (scheme: string) => string;
  port: number;
  /** Connections accepted so far (none is ever answered). */
  connections: () => number;
  /** Connections the client has not given up on yet. */
  open: () => number;
  close(): Promise<void>;
}

/** A loopback TCP server that accepts connections and never says a word: a hung SMTP server, say. */
export async function startBlackhole(): Promise<Blackhole> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: (scheme) => `${scheme}://127.0.0.1:${port}`,
    port,
    connections: () => accepted,
    open: () => sockets.size,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
