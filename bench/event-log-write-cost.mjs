// CPU per delivery-log entry of the workers' writer (EventLogWriter) and of Redis, for two builds,
// without HTTP or BullMQ around it: a private redis-server with AOF (everysec) and Herald's settings,
// entries of deliveries that succeeded at once, noted in flushes of 175 (25 ms at 7,000 deliveries/s),
// builds alternating for a number of rounds (AOF rewrites off, so its growth is the entries'). Run on builds:
//   node bench/event-log-write-cost.mjs /tmp/before "$PWD" [entries per round] [rounds]
import { spawn } from 'node:child_process';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';

const roots = [process.argv[2], process.argv[3]];
const N = Number(process.argv[4] ?? 100_000), rounds = Number(process.argv[5] ?? 5), PER_FLUSH = 175;
const { Redis } = await import(`${roots[1]}/node_modules/ioredis/built/index.js`);
const builds = await Promise.all(roots.map(async (root) => ({
  root,
  Writer: (await import(`${root}/dist/src/event-log/event-log-writer.js`)).EventLogWriter,
  RedisKeys: (await import(`${root}/dist/src/redis/keys.js`)).RedisKeys,
  args: (await import(`${root}/dist/src/redis/server-settings.js`)).REDIS_SERVER_ARGS,
  // The attempt as each build's worker makes it: before, the finish time as ISO text; since, in ms.
  isoAttempt: !readFileSync(`${root}/dist/src/event-log/delivery-record.js`, 'utf8').includes('storedRecord'),
})));
const dir = mkdtempSync('/tmp/herald-evlog-cost-');
const port = 9000 + Math.floor(Math.random() * 1000);
const srv = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--auto-aof-rewrite-percentage', '0', ...builds[1].args], { stdio: 'ignore' });
await sleep(400);
const redis = new Redis({ port, enableAutoPipelining: true });
await redis.ping();
const redisCpu = () => { const f = readFileSync(`/proc/${srv.pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) / 100; };
// Ids as ingest makes them: evt_, 12 hex digits of time, 20 random; 7,000 accepted per second.
const t0 = Date.now() - 60_000;
const idAt = (i) => { const at = t0 + Math.floor(i / 7); return { id: `evt_${at.toString(16).padStart(12, '0')}${randomBytes(10).toString('hex')}`, at }; };

async function round(b, r) {
  const w = new b.Writer(redis, new b.RedisKeys(`cost${r}`), { flushIntervalMs: 1_000_000, maxPending: 1_000_000 });
  const ids = Array.from({ length: N }, (_, i) => idAt(i));
  await redis.flushall();
  await sleep(200);
  const aofSize = async () => Number(/aof_current_size:(\d+)/.exec(await redis.info('persistence'))[1]);
  const a0 = await aofSize();
  const c0 = process.cpuUsage(), r0 = redisCpu();
  for (let s = 0; s < N; s += PER_FLUSH) {
    for (let i = s; i < Math.min(N, s + PER_FLUSH); i++) {
      const finished = Date.now();
      const attempt = { attempt: 1, at: b.isoAttempt ? new Date(finished).toISOString() : finished, durationMs: 3, status: 200 };
      void w.note('orders', { id: ids[i].id, at: ids[i].at, retentionMs: 86_400_000, state: 'delivered', attempts: 1, type: 'order.created', producer: 'shop', attempt });
    }
    await w.flush();
  }
  const c = process.cpuUsage(c0);
  await sleep(1_100); // one AOF fsync
  const r1 = redisCpu();
  return { nodeUs: (c.user + c.system) / N, redisUs: ((r1 - r0) / N) * 1e6, aofBytes: ((await aofSize()) - a0) / N };
}

const out = builds.map(() => ({ nodeUs: [], redisUs: [], aofBytes: [] }));
for (let r = 0; r < rounds; r++) {
  for (const [i, b] of builds.entries()) {
    const m = await round(b, `${r}${i}`);
    for (const k of Object.keys(m)) out[i][k].push(m[k]);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(JSON.stringify({ entriesPerRound: N, rounds, perFlush: PER_FLUSH, builds: builds.map((b, i) => ({ root: b.root, medianWriterCpuUsPerEntry: +median(out[i].nodeUs).toFixed(2), medianRedisCpuUsPerEntry: +median(out[i].redisUs).toFixed(2), aofBytesPerEntry: Math.round(median(out[i].aofBytes)), rounds: out[i] })) }, (k, v) => (typeof v === 'number' ? +v.toFixed(2) : v), 1));
redis.disconnect(); srv.kill(); await sleep(200); rmSync(dir, { recursive: true, force: true });
