// Redis memory per queued delivery (one event, one destination) on one Redis and on a Redis Cluster,
// measured in one run: the same events (the bench's 256-byte payload) queued for 5 destinations,
// through Herald's IngestService, as used_memory deltas (on the cluster, summed over its primaries).
// On one Redis an event for several destinations stores its body once and its jobs reference it; on a
// cluster every job carries its body (docs/adr/0015-redis-cluster.md).
// Run on a build: node bench/cluster-memory.mjs "$PWD" [events]
import { execFileSync, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtempSync, rmSync } from 'node:fs';
const root = process.argv[2];
const N = Number(process.argv[3] ?? 20000);
const { Redis, Cluster } = await import(`${root}/node_modules/ioredis/built/index.js`);
const { IngestService } = await import(`${root}/dist/src/ingest/ingest-service.js`);
const { EventStore } = await import(`${root}/dist/src/event-store/event-store.js`);
const { RedisKeys } = await import(`${root}/dist/src/redis/keys.js`);
const { REDIS_SERVER_ARGS } = await import(`${root}/dist/src/redis/server-settings.js`);
const { ingestMetrics, createRegistry } = await import(`${root}/dist/src/metrics/metrics.js`);
const { DestinationSpec } = await import(`${root}/dist/src/api/destination.js`);

const dirs = [];
const procs = [];
const base = 17000 + Math.floor(Math.random() * 1000) * 8;
async function server(port, extra = []) {
  const dir = mkdtempSync('/tmp/herald-cluster-mem-');
  dirs.push(dir);
  procs.push(spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...REDIS_SERVER_ARGS.filter((a, i, all) => a !== '--appendonly' && all[i - 1] !== '--appendonly'), ...extra], { stdio: 'ignore' }));
  for (let i = 0; i < 100; i++) {
    try {
      execFileSync('redis-cli', ['-p', String(port), 'ping'], { stdio: 'ignore' });
      return;
    } catch {
      await sleep(50);
    }
  }
  throw new Error(`redis-server on ${port} did not start`);
}
const used = async (clients) => (await Promise.all(clients.map(async (c) => Number(/used_memory:(\d+)/.exec(await c.info('memory'))[1])))).reduce((a, b) => a + b, 0);
const dests = ['b1', 'b2', 'b3', 'b4', 'b5'].map((name) => ({ name, spec: DestinationSpec.parse({ url: 'http://127.0.0.1:1/x' }) }));
const pad = 'x'.repeat(256 - 10);
const reqs = Array.from({ length: 100 }, () => ({ event: { userID: 'bench-user', type: 'bench.e', payload: { pad } } }));

async function measure(redis, write, servers) {
  const keys = new RedisKeys('mem');
  const s = new IngestService({ redis, keys, events: new EventStore(redis, keys), writeRedis: write, metrics: ingestMetrics(createRegistry('x', '0')), idempotencyTtlMs: 86400000 });
  s.setDestinations(dests);
  await s.connect();
  await sleep(500);
  const m0 = await used(servers);
  for (let i = 0; i < N / 100; i++) await s.acceptMany(reqs);
  await sleep(500);
  return (await used(servers)) - m0;
}

try {
  await server(base);
  const single = new Redis({ port: base });
  const singleWrite = new Redis({ port: base, enableAutoPipelining: false });
  const singleBytes = await measure(single, singleWrite, [single]);

  const ports = [base + 1, base + 2, base + 3];
  for (const p of ports) await server(p, ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf']);
  execFileSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !execFileSync('redis-cli', ['-p', String(ports[0]), 'cluster', 'info']).toString().includes('cluster_state:ok'); i++) await sleep(100);
  const nodes = ports.map((port) => ({ host: '127.0.0.1', port }));
  const cluster = new Cluster(nodes, { scaleReads: 'master' });
  const clusterWrite = new Cluster(nodes, { scaleReads: 'master', enableAutoPipelining: false });
  const primaries = ports.map((port) => new Redis({ port }));
  const clusterBytes = await measure(cluster, clusterWrite, primaries);
  const deliveries = N * dests.length;
  const perShard = await Promise.all(primaries.map(async (p) => Number(/keys=(\d+)/.exec(await p.info('keyspace'))?.[1] ?? 0)));
  console.log(JSON.stringify({ events: N, destinations: dests.length, payloadBytes: 256, singleBytesPerDelivery: Math.round(singleBytes / deliveries), clusterBytesPerDelivery: Math.round(clusterBytes / deliveries), ratio: +(clusterBytes / singleBytes).toFixed(2), keysPerShard: perShard }));
  for (const c of [single, singleWrite, cluster, clusterWrite, ...primaries]) c.disconnect();
} finally {
  for (const p of procs) p.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
