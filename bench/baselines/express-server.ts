/**
 * Ceiling for single-event ingest: a bare express 5 server that reads and parses the JSON body and
 * answers 202, nothing else (no validation, no Redis). Prints `READY <port>` once listening.
 */
import express from 'express';

const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.post('/ingest', express.json({ limit: '1mb' }), (req, res) => {
  res.status(202).json({ id: 'evt_0', destinations: Array.isArray(req.body) ? req.body.length : 1 });
});
const server = app.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const a = server.address();
  process.stdout.write(`READY ${typeof a === 'object' && a ? a.port : 0}\n`);
});
server.keepAliveTimeout = 65_000;
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
