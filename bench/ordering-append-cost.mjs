// Redis' cost of ingest's ordered append (ADR 0013), without HTTP in between: IngestService.acceptMany
// of 100-event batches (4 writes in flight) on a private redis-server with Herald's settings and AOF
// everysec, ordering off and on, for events behind busy keys (the same 100 keys in every batch) and
// for every event a new key, two builds alternating round by round. Redis CPU (INFO cpu) and memory
// (used_memory) per event; ratios paired per round. docs/performance.md#ordered-delivery-what-specordering-costs
//   node bench/ordering-append-cost.mjs BEFORE_ROOT AFTER_ROOT [rounds]   (each root holds dist/ and node_modules/)
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtempSync, rmSync } from 'node:fs';
const [before, after] = [process.argv[2], process.argv[3]];
const ROUNDS = Number(process.argv[4] ?? 10);
const BATCHES = 300;
const dir = mkdtempSync('/tmp/herald-ordering-append-');
const { Redis } = await import(`${after}/node_modules/ioredis/built/index.js`);
const { REDIS_SERVER_ARGS } = await import(`${after}/dist/src/redis/server-settings.js`);
const port = 8000 + Math.floor(Math.random() * 1000);
const srv = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--dir', dir, ...REDIS_SERVER_ARGS], { stdio: 'ignore' });
await sleep(400);
const redis = new Redis({ port });
await redis.ping();
const builds = {};
for (const [name, root] of Object.entries({ before, after })) {
  const { IngestService } = await import(`${root}/dist/src/ingest/ingest-service.js`);
  const { EventStore } = await import(`${root}/dist/src/event-store/event-store.js`);
  const { RedisKeys } = await import(`${root}/dist/src/redis/keys.js`);
  const { createRegistry, ingestMetrics } = await import(`${root}/dist/src/metrics/metrics.js`);
  const { DestinationSpec } = await import(`${root}/dist/src/api/destination.js`);
  const keys = new RedisKeys('bench');
  const writeRedis = new Redis({ port, enableAutoPipelining: false });
  await writeRedis.ping();
  const service = new IngestService({ redis, keys, events: new EventStore(redis, keys), writeRedis, metrics: ingestMetrics(createRegistry('ingest', '0')), idempotencyTtlMs: 60_000 });
  builds[name] = { service, writeRedis, dests: (on) => [{ name: 'ordi', spec: DestinationSpec.parse({ url: 'http://127.0.0.1:1/x', ...(on ? { ordering: { key: '/k' } } : {}) }) }] };
}
const cpu = async () => { const i = await redis.info('cpu'); return Number(/used_cpu_user:([\d.]+)/.exec(i)[1]) + Number(/used_cpu_sys:([\d.]+)/.exec(i)[1]); };
const used = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))[1]);
const pad = 'x'.repeat(230);
let fresh = 0;
const results = {};
async function measure(build, mode, keying) {
  await redis.flushall();
  const { service, dests } = builds[build];
  service.setDestinations(dests(mode === 'on'));
  // Built before the clock starts, so only the writes run while Redis' CPU is counted.
  const batches = Array.from({ length: BATCHES }, () => Array.from({ length: 100 }, (_, i) => ({ event: { userID: 'bench-user', type: 'bench.e', payload: { k: keying === 'idle' ? String(fresh++).padStart(8, '0') : `o${i}`, pad } } })));
  await service.acceptMany(batches[0]);
  const [c0, m0] = [await cpu(), await used()];
  let next = 1;
  await Promise.all(Array.from({ length: 4 }, async () => { while (next < BATCHES) await service.acceptMany(batches[next++]); }));
  const [c1, m1] = [await cpu(), await used()];
  const events = (BATCHES - 1) * 100;
  const r = ((results[build] ??= {})[`${keying}-${mode}`] ??= { us: [], bytes: [] });
  r.us.push(((c1 - c0) / events) * 1e6);
  r.bytes.push((m1 - m0) / events);
}
for (let round = 0; round < ROUNDS; round++) {
  for (const keying of ['busy', 'idle']) {
    for (const build of round % 2 ? ['after', 'before'] : ['before', 'after']) for (const mode of ['off', 'on']) await measure(build, mode, keying);
  }
}
const median = (a) => { const s = [...a].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const fig = (a) => ({ median: +median(a).toFixed(3), min: +Math.min(...a).toFixed(3), max: +Math.max(...a).toFixed(3) });
const paired = (a, b) => fig(a.map((v, i) => v / b[i]));
const out = { rounds: ROUNDS, eventsPerMeasurement: (BATCHES - 1) * 100, redisUsPerEvent: {}, bytesPerEvent: {}, onOff: {}, afterBefore: {} };
for (const b of ['before', 'after']) {
  for (const [k, v] of Object.entries(results[b])) {
    out.redisUsPerEvent[`${b} ${k}`] = fig(v.us);
    out.bytesPerEvent[`${b} ${k}`] = +median(v.bytes).toFixed(1);
  }
  for (const k of ['busy', 'idle']) out.onOff[`${b} ${k}`] = paired(results[b][`${k}-on`].us, results[b][`${k}-off`].us);
}
for (const k of Object.keys(results.after)) out.afterBefore[k] = paired(results.after[k].us, results.before[k].us);
console.log(JSON.stringify(out, null, 1));
redis.disconnect();
for (const b of Object.values(builds)) b.writeRedis.disconnect();
srv.kill();
await sleep(200);
rmSync(dir, { recursive: true, force: true });
process.exit(0);
