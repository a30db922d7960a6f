import { createServer, connect, type Socket } from 'node:net';

/** A TCP proxy in front of the API server that a test can partition, to cut one controller off. */
export interface TcpProxy {
  port: number;
  /**
   * Network partition: existing connections and new ones stay open but nothing gets through, like a
   * node that dropped off the network (requests hang rather than fail fast).
   */
  blackhole(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let dropping = false;
  const server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    if (dropping) {
      client.on('data', () => {});
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('data', (d) => {
      if (!dropping) upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (!dropping) client.write(d);
    });
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no proxy port');
  return {
    port: address.port,
    blackhole() {
      dropping = true;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
