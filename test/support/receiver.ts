import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: any;
  at: number;
}

/** What the receiver answers to the n-th request (0-based) it gets; `hang` never answers. */
export type Behaviour = (n: number, req: Received) => { status: number; headers?: Record<string, string>; body?: string; delayMs?: number } | 'hang';

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** Requests that got a 2xx. */
  delivered(): Received[];
  setBehaviour(b: Behaviour): void;
  close(): Promise<void>;
}

export const ok: Behaviour = () => ({ status: 200 });
export const failTimes = (n: number, status = 503): Behaviour => (i) => (i < n ? { status } : { status: 200 });
export const always = (status: number, headers?: Record<string, string>): Behaviour => () => ({ status, ...(headers ? { headers } : {}) });

/** A real HTTP receiver on 127.0.0.1 with scripted answers, recording everything it is sent. */
export async function startReceiver(behaviour: Behaviour = ok): Promise<Receiver> {
  let b = behaviour;
  const received: Received[] = [];
  const statuses: number[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      const r: Received = { path: req.url ?? '/', headers: req.headers, body, json, at: Date.now() };
      const n = received.length;
      received.push(r);
      const answer = b(n, r);
      if (answer === 'hang') {
        statuses[n] = 0;
        return;
      }
      statuses[n] = answer.status;
      const send = () => res.writeHead(answer.status, answer.headers ?? {}).end(answer.body ?? '');
      if (answer.delayMs) setTimeout(send, answer.delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    delivered: () => received.filter((_, i) => statuses[i]! >= 200 && statuses[i]! < 300),
    setBehaviour(nb) {
      b = nb;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
