import { connect, createServer, type Socket } from 'node:net';
import { freePort } from './net.js';

/** A loopback TCP proxy whose downstream direction runs late; see {@link startDelayProxy}. */
export interface DelayProxy {
  port: number;
  close(): Promise<void>;
}

/**
 * Forwards connections on a free port to a Redis on `targetPort`. On a replica's connection (the
 * first that says REPLCONF) every chunk Redis sends is held `delayMs` before it is passed on; other
 * clients pass straight through. When Redis' side closes, what is still held is dropped with the
 * connection, as bytes in flight on a network are when the sender's machine dies. Put in front of a
 * primary, at the address its sentinels and clients know, it makes replicas that run `delayMs` behind
 * while the sentinels still see the replicas replicate the primary they monitor.
 */
export async function startDelayProxy(targetPort: number, delayMs: number): Promise<DelayProxy> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  const server = createServer((down) => {
    const up = connect(targetPort, '127.0.0.1');
    sockets.add(down);
    sockets.add(up);
    const timers = new Set<NodeJS.Timeout>();
    let replica = false;
    const end = () => {
      for (const t of timers) clearTimeout(t);
      down.destroy();
      up.destroy();
      sockets.delete(down);
      sockets.delete(up);
    };
    up.on('data', (chunk: Buffer) => {
      if (!replica) return void down.write(chunk);
      const t = setTimeout(() => {
        timers.delete(t);
        down.write(chunk);
      }, delayMs);
      timers.add(t);
    });
    down.on('data', (chunk: Buffer) => {
      if (!replica && chunk.includes('REPLCONF')) replica = true;
      up.write(chunk);
    });
    for (const s of [up, down]) {
      s.on('error', end);
      s.on('close', end);
    }
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
