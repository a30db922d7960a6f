// Bytes per event and destination of the delivery log (docs/event-log.md#sizing): the index ingest
// writes and the records workers write, as used_memory deltas on a private redis-server with Herald's
// settings. Run on a build: node bench/event-log-memory.mjs "$PWD" [events] [events per write].
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtempSync, rmSync } from 'node:fs';
const root = process.argv[2];
const dir = mkdtempSync('/tmp/herald-evlog-mem-');
const { Redis } = await import(`${root}/node_modules/ioredis/built/index.js`);
const { IngestService } = await import(`${root}/dist/src/ingest/ingest-service.js`);
const { EventStore } = await import(`${root}/dist/src/event-store/event-store.js`);
const { RedisKeys } = await import(`${root}/dist/src/redis/keys.js`);
const { REDIS_SERVER_ARGS } = await import(`${root}/dist/src/redis/server-settings.js`);
const { EventLogWriter } = await import(`${root}/dist/src/event-log/event-log-writer.js`);
const { timeOfEventId } = await import(`${root}/dist/src/api/event.js`);
const { ingestMetrics, createRegistry } = await import(`${root}/dist/src/metrics/metrics.js`);
const { DestinationSpec } = await import(`${root}/dist/src/api/destination.js`);
const port = 8000 + Math.floor(Math.random() * 1000);
const srv = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir, ...REDIS_SERVER_ARGS], { stdio: 'ignore' });
await sleep(400);
const redis = new Redis({ port });
const write = new Redis({ port, enableAutoPipelining: false });
await redis.ping(); await write.ping();
const used = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))[1]);
const N = Number(process.argv[3] ?? 20000), batch = Number(process.argv[4] ?? 100);
const dests = [{ name: 'orders', spec: DestinationSpec.parse({ url: 'http://127.0.0.1:1/x' }) }];
const mk = (retention, prefix) => { const keys = new RedisKeys(prefix); const s = new IngestService({ redis, keys, events: new EventStore(redis, keys), writeRedis: write, metrics: ingestMetrics(createRegistry('x', '0')), idempotencyTtlMs: 86400000, eventLogRetentionMs: retention, newId: undefined }); s.setDestinations(dests); return { s, keys }; };
const payload = { text: 'x'.repeat(200) };
const reqs = Array.from({ length: batch }, () => ({ event: { userID: 'u', payload, type: 'order.created' }, producer: 'shop' }));
const run = async ({ s }) => { const ids = []; for (let i = 0; i < N / batch; i++) ids.push(...(await s.acceptMany(reqs)).map((r) => r.id)); return ids; };
const m0 = await used(); await run(mk(0, 'off')); const m1 = await used();
const on = mk(86400000, 'on'); const ids = await run(on); const m2 = await used();
const indexBytes = (m2 - m1 - (m1 - m0)) / N;
const w = new EventLogWriter(redis, on.keys, { maxPending: 256 });
const attempt = (n, status, extra = {}) => ({ attempt: n, at: Date.now(), status, durationMs: 12, ...extra });
for (const id of ids) w.note('orders', { id, at: timeOfEventId(id), retentionMs: 86400000, state: 'delivered', attempts: 1, type: 'order.created', producer: 'shop', attempt: attempt(1, 200) });
await w.flush();
const m3 = await used();
// A second set: one failed attempt with a 100-byte answer, then delivered.
const on2 = mk(86400000, 'on2'); const ids2 = await run(on2); const m4 = await used();
const w2 = new EventLogWriter(redis, on2.keys, { maxPending: 256 });
const fail = attempt(1, 503, { error: 'HTTP 503', response: 'y'.repeat(100) });
for (const id of ids2) w2.note('orders', { id, at: timeOfEventId(id), retentionMs: 86400000, state: 'retrying', attempts: 1, nextAttemptAt: Date.now() + 10000, type: 'order.created', producer: 'shop', attempt: fail });
await w2.flush();
for (const id of ids2) w2.note('orders', { id, at: timeOfEventId(id), retentionMs: 86400000, state: 'delivered', attempts: 2, type: 'order.created', producer: 'shop', attempt: attempt(2, 200) });
await w2.flush();
const m5 = await used();
console.log(JSON.stringify({ N, batch, indexBytesPerEvent: +indexBytes.toFixed(1), deliveredRecordBytes: +((m3 - m2) / N).toFixed(1), retriedOnceRecordBytes: +((m5 - m4) / N).toFixed(1), extraAttemptBytes: +(((m5 - m4) - (m3 - m2)) / N).toFixed(1), jobBytesPerEventForComparison: +((m1 - m0) / N).toFixed(1) }));
redis.disconnect(); write.disconnect(); srv.kill(); await sleep(200); rmSync(dir, { recursive: true, force: true });
