import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';

/**
 * What a hostile receiver does with a request:
 * - `trickle-headers`: writes the status line and headers one byte every `intervalMs`, never finishing;
 * - `trickle-body`: sends 200 and headers at once, then one body byte every `intervalMs`;
 * - `huge-body`: 200 with a body of `bytes` bytes, written as fast as the client reads it;
 * - `ok`: a plain 200.
 */
export type Hostility = { kind: 'trickle-headers'; intervalMs: number } | { kind: 'trickle-body'; intervalMs: number } | { kind: 'huge-body'; bytes: number } | { kind: 'ok' };

export interface HostileRequest {
  webhookId: string;
  at: number;
  /** When the client hung up (or the answer was complete). */
  endedAt?: number;
  /** Response bytes handed to the socket before the client hung up. */
  bytesWritten: number;
  /** True when the whole response was written: the client read all of it. */
  completed: boolean;
}

export interface HostileReceiver {
  url: string;
  requests: HostileRequest[];
  close(): Promise<void>;
}

/** A loopback HTTP server that misbehaves as scripted per request (0-based `n`). */
export async function startHostileReceiver(behaviour: (n: number) => Hostility): Promise<HostileReceiver> {
  const requests: HostileRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      const n = requests.length;
      const rec: HostileRequest = { webhookId: String(req.headers['webhook-id']), at: Date.now(), bytesWritten: 0, completed: false };
      requests.push(rec);
      const h = behaviour(n);
      const socket = res.socket!;
      socket.once('close', () => (rec.endedAt ??= Date.now()));
      if (h.kind === 'ok') {
        res.end('ok', () => {
          rec.completed = true;
          rec.endedAt = Date.now();
        });
      } else if (h.kind === 'trickle-headers') {
        const head = Buffer.from('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok');
        let i = 0;
        const t = setInterval(() => {
          if (socket.destroyed || i >= head.length) return clearInterval(t);
          socket.write(head.subarray(i, i + 1));
          rec.bytesWritten++;
          i++;
        }, h.intervalMs);
        timers.add(t);
      } else if (h.kind === 'trickle-body') {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100000' });
        res.flushHeaders();
        const t = setInterval(() => {
          if (res.destroyed) return clearInterval(t);
          res.write('x');
          rec.bytesWritten++;
        }, h.intervalMs);
        timers.add(t);
      } else {
        const chunk = Buffer.alloc(64 * 1024, 'y');
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(h.bytes) });
        const pump = () => {
          while (!res.destroyed && rec.bytesWritten < h.bytes) {
            const size = Math.min(chunk.length, h.bytes - rec.bytesWritten);
            rec.bytesWritten += size;
            if (!res.write(size === chunk.length ? chunk : chunk.subarray(0, size))) return void res.once('drain', pump);
          }
          if (!res.destroyed) {
            res.end(() => {
              rec.completed = true;
              rec.endedAt = Date.now();
            });
          }
        };
        pump();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      for (const t of timers) clearInterval(t);
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
