/**
 * Ceilings for single-event ingest: a server that reads and parses the JSON body and answers 202,
 * nothing else (no validation, no Redis). `express` (the ceiling): express 5 with
 * `express.json()` and `res.json`. `node`: the same on a plain `node:http` server, the floor of what
 * any Node HTTP handler costs, so Herald's own work can be read off beside it. Prints `READY <port>`
 * once listening. Usage: `http-server.js <port> <express|node>`.
 */
import { createServer, type RequestListener } from 'node:http';
import express from 'express';

const answer = (body: unknown) => ({ id: 'evt_0', destinations: Array.isArray(body) ? body.length : 1 });

function expressApp(): RequestListener {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.post('/ingest', express.json({ limit: '1mb' }), (req, res) => {
    res.status(202).json(answer(req.body));
  });
  return app;
}

const plain: RequestListener = (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let text: string;
    try {
      text = JSON.stringify(answer(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
    } catch {
      res.writeHead(400).end();
      return;
    }
    res.writeHead(202, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)) });
    res.end(text);
  });
};

const server = createServer(process.argv[3] === 'node' ? plain : expressApp());
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const a = server.address();
  process.stdout.write(`READY ${typeof a === 'object' && a ? a.port : 0}\n`);
});
server.keepAliveTimeout = 65_000;
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
