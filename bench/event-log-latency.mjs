// One build, the delivery log on (HERALD_EVENT_LOG_RETENTION=24h) against off (0s): producer send →
// receiver latency of `herald ingest` + `herald worker` processes at a fixed rate, 3 rounds each,
// alternating (docs/performance.md). Usage: node bench/event-log-latency.mjs "$PWD" [events/s] [seconds].
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtempSync, rmSync } from 'node:fs';
const root = process.argv[2];
const rate = Number(process.argv[3] ?? 300), seconds = Number(process.argv[4] ?? 5);
const { Redis } = await import(`${root}/node_modules/ioredis/built/index.js`);
const { DestinationRegistry } = await import(`${root}/dist/src/redis/destination-registry.js`);
const { RedisKeys } = await import(`${root}/dist/src/redis/keys.js`);
const { DestinationSpec } = await import(`${root}/dist/src/api/destination.js`);
const { REDIS_SERVER_ARGS } = await import(`${root}/dist/src/redis/server-settings.js`);
const dir = mkdtempSync('/tmp/herald-evlog-lat-');
const rport = 9100 + Math.floor(Math.random() * 500);
const srv = spawn('redis-server', ['--port', String(rport), '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--dir', dir, ...REDIS_SERVER_ARGS], { stdio: 'ignore' });
await sleep(400);
const redis = new Redis({ port: rport });
const sentAt = new Map(); const lat = [];
const recv = createServer((req, res) => { let b = ''; req.on('data', (c) => (b += c)); req.on('end', () => { const id = JSON.parse(b).id; const t = sentAt.get(id); if (t !== undefined) lat.push(performance.now() - t); res.end('ok'); }); });
await new Promise((r) => recv.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${recv.address().port}/hook`;
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const p99 = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length * 0.99)]; };
const out = { on: [], off: [] };
for (let round = 0; round < 6; round++) {
  const label = round % 2 === 0 ? (round % 4 === 0 ? 'off' : 'on') : (round % 4 === 1 ? 'on' : 'off');
  const prefix = `r${round}`;
  await new DestinationRegistry(redis, new RedisKeys(prefix)).put({ name: 'lat', spec: DestinationSpec.parse({ url, concurrency: 50 }) });
  const env = { ...process.env, REDIS_URL: `redis://127.0.0.1:${rport}`, HERALD_REDIS_PREFIX: prefix, HERALD_INGEST_AUTH: 'off', HERALD_ALLOW_PRIVATE_DESTINATIONS: 'true', HERALD_LOG_LEVEL: 'warn', HERALD_EVENT_LOG_RETENTION: label === 'on' ? '24h' : '0s', HERALD_HTTP_HOST: '127.0.0.1' };
  const iport = 9700 + round;
  const ing = spawn(process.execPath, [`${root}/dist/cmd/herald.js`, 'ingest'], { env: { ...env, HERALD_HTTP_PORT: String(iport) }, stdio: 'ignore' });
  const wrk = spawn(process.execPath, [`${root}/dist/cmd/herald.js`, 'worker', '--destination', 'lat'], { env: { ...env, HERALD_HTTP_PORT: String(iport + 50) }, stdio: 'ignore' });
  for (;;) { try { if ((await fetch(`http://127.0.0.1:${iport}/readyz`)).ok) break; } catch {} await sleep(100); }
  await sleep(1500);
  lat.length = 0; sentAt.clear();
  const n = rate * seconds; const t0 = performance.now(); const pending = [];
  for (let i = 0; i < n; i++) {
    const due = t0 + (i * 1000) / rate; const w = due - performance.now(); if (w > 0) await sleep(w);
    const t = performance.now();
    pending.push(fetch(`http://127.0.0.1:${iport}/ingest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userID: 'u', payload: 'x'.repeat(200) }) }).then((r) => r.json()).then((j) => sentAt.set(j.id, t)));
  }
  await Promise.all(pending); const deadline = performance.now() + 20000;
  while (lat.length < n * 0.9 && performance.now() < deadline) await sleep(100);
  out[label].push({ p50: med(lat).toFixed(1), p99: p99(lat).toFixed(1), n: lat.length });
  ing.kill(); wrk.kill(); await sleep(500);
}
console.log(JSON.stringify(out));
redis.disconnect(); recv.close(); srv.kill(); await sleep(200); rmSync(dir, { recursive: true, force: true });
