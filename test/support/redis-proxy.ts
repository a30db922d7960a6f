import { createServer, connect, type Server, type Socket } from 'node:net';

/** What to do with bytes a client sent towards Redis. */
export type TapVerdict = 'forward' | 'swallow';

/**
 * Sees every chunk a client sends to Redis before it is forwarded. Returning 'swallow' drops it (the
 * command never reaches Redis); `after` runs once the verdict was applied, e.g. to SIGKILL the
 * client right after its command reached Redis but before it could read the reply. `cut` drops the
 * client's connection at once (Redis still runs what it received; its reply is lost).
 */
export type Tap = (chunk: Buffer) => { verdict: TapVerdict; after?: (cut: () => void) => void } | undefined;

export interface RedisProxy {
  /** `redis://127.0.0.1:<port>`: give this to the process under test instead of Redis' own URL. */
  url: string;
  port: number;
  setTap(tap: Tap | undefined): void;
  /** Drops every new connection at once for `ms`, as a Redis that is down would refuse it. */
  refuseFor(ms: number): void;
  close(): Promise<void>;
}

/**
 * A loopback TCP proxy in front of Redis that lets a test act at an exact point of a client's
 * conversation with Redis (for instance "the worker has just asked Redis to release an event body"),
 * which no timer can hit reliably.
 */
export async function startRedisProxy(redisPort: number): Promise<RedisProxy> {
  let tap: Tap | undefined;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(redisPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    // A client that dies (SIGKILL) only half-closes towards Redis, so commands it sent just before
    // dying are still read and executed, as they would be without the proxy.
    client.on('error', () => upstream.end()).on('close', () => upstream.end());
    upstream.on('error', end).on('close', end);
    upstream.on('data', (c: Buffer) => client.write(c));
    client.on('data', (c: Buffer) => {
      const decision = tap?.(c);
      if (decision?.verdict !== 'swallow') upstream.write(c);
      // Redis has the bytes once the write callback fires on a local socket; acting later is what
      // "after the command reached Redis" needs, and acting at once is fine for a swallowed chunk.
      if (decision?.after) {
        const cut = () => {
          client.destroy();
          upstream.end();
        };
        if (decision.verdict === 'swallow') decision.after(cut);
        else upstream.write(Buffer.alloc(0), () => setImmediate(() => decision.after!(cut)));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    setTap(t) {
      tap = t;
    },
    refuseFor(ms) {
      // Not listening: connections are refused (ECONNREFUSED), not accepted and dropped.
      server.close();
      setTimeout(() => server.listen(port, '127.0.0.1'), ms);
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
