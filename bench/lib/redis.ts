import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, run, start, waitUntil, type Proc } from './procs.js';

export interface BenchRedis {
  url: string;
  port: number;
  proc: Proc;
  client: Redis;
  close(): Promise<void>;
}

/** Starts a private redis-server on CPU 1, configured as Herald's tests and production run it (REDIS_SERVER_ARGS: noeviction, AOF everysec, compact hashes). */
export async function startRedis(tmpDir: string, logDir: string, aof: boolean, extraArgs: string[] = []): Promise<BenchRedis> {
  const dir = await mkdtemp(join(tmpDir, 'redis-'));
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--maxmemory-policy', 'noeviction', '--appendonly', aof ? 'yes' : 'no', '--appendfsync', 'everysec', '--hash-max-ziplist-value', '512', ...extraArgs];
  const proc = start({ name: 'redis', placement: 'infra', cmd: 'redis-server', args, logDir });
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 3 });
  client.on('error', () => undefined);
  await waitUntil('redis-server', async () => {
    if (client.status === 'wait') await client.connect();
    return (await client.ping()) === 'PONG';
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    proc,
    client,
    async close() {
      client.disconnect();
      await proc.stop(5_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts a replica of `primary` (`--replicaof`, same settings) and waits until the primary counts it
 * online, so a bench of HERALD_ACK_REPLICAS measures WAIT against a replica in sync.
 */
export async function startReplica(primary: BenchRedis, tmpDir: string, logDir: string, aof: boolean, extraArgs: string[] = []): Promise<BenchRedis> {
  const replica = await startRedis(tmpDir, logDir, aof, [...extraArgs, '--replicaof', '127.0.0.1', String(primary.port)]);
  await waitUntil('replica in sync', async () => /^slave\d+:.*state=online/m.test(await primary.client.info('replication')), 60_000, 100);
  return replica;
}

/** Empties Redis between scenarios (and rewrites the AOF so it does not keep growing). */
export async function flush(client: Redis): Promise<void> {
  await client.flushall();
  await client.call('BGREWRITEAOF').catch(() => undefined);
  await waitUntil('AOF rewrite', async () => !/aof_rewrite_in_progress:1/.test(await client.info('persistence')), 60_000, 100);
}

export interface MemoryInfo {
  usedMemory: number;
  usedMemoryDataset: number;
  keys: number;
}

export async function memory(client: Redis): Promise<MemoryInfo> {
  const info = await client.info('memory');
  const field = (n: string) => Number(new RegExp(`^${n}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
  return { usedMemory: field('used_memory'), usedMemoryDataset: field('used_memory_dataset'), keys: await client.dbsize() };
}

/**
 * Counts keys by what they hold, from Herald's layout (docs/adr/0001-redis-layout.md):
 * event bodies `<p>:{e:<id>}`, BullMQ job hashes `<p>:{d:<dest>}:deliveries:evt_…`, BullMQ queue
 * structures (`wait`, `meta`, `events`, …), and Herald's per-destination keys (stats, alerts).
 */
export async function keyCensus(client: Redis, prefix: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', '*', 'COUNT', 5000);
    cursor = next;
    for (const k of keys) {
      const cls = classify(k, prefix);
      out[cls] = (out[cls] ?? 0) + 1;
    }
  } while (cursor !== '0');
  return out;
}

function classify(key: string, prefix: string): string {
  if (key.startsWith(`${prefix}:{e:`)) return 'event-body';
  const m = /^[^:]+:\{d:[^}]+\}:deliveries:(.+)$/.exec(key);
  if (m) {
    const rest = m[1]!;
    if (rest.startsWith('evt_')) return rest.includes(':') ? `job-${rest.slice(rest.indexOf(':') + 1)}` : 'job';
    return `queue:${rest}`;
  }
  const d = /^[^:]+:\{d:[^}]+\}:(.+)$/.exec(key);
  if (d) return `dest:${d[1]}`;
  if (key.startsWith(`${prefix}:idem:`)) return 'idempotency';
  if (key.startsWith(`${prefix}:`)) return key.slice(prefix.length + 1);
  return 'other';
}

/** Waiting + active + delayed + prioritized jobs of one destination's queue. */
export async function queueDepth(client: Redis, prefix: string, destination: string): Promise<number> {
  const q = `${prefix}:{d:${destination}}:deliveries`;
  const [wait, active, delayed, prio] = await Promise.all([client.llen(`${q}:wait`), client.llen(`${q}:active`), client.zcard(`${q}:delayed`), client.zcard(`${q}:prioritized`)]);
  return wait + active + delayed + prio;
}

export interface RedisBenchmarkResult {
  /** Requests per second by test name (SET, GET, LPUSH, ... and the pipelined variants). */
  [test: string]: number;
}

/** `redis-benchmark` against the bench Redis: plain (50 clients) and pipelined (-P 16), on the infrastructure CPU. */
export async function redisBenchmark(port: number, requests: number): Promise<RedisBenchmarkResult> {
  const res: RedisBenchmarkResult = {};
  for (const [suffix, extra] of [['', []], [' -P16', ['-P', '16']]] as const) {
    const out = await run('infra', 'redis-benchmark', ['-h', '127.0.0.1', '-p', String(port), '-c', '50', '-n', String(requests), '-t', 'set,get,lpush,hset', '--csv', ...extra], { timeoutMs: 120_000 });
    for (const line of out.split('\n')) {
      const m = /^"([A-Z_ ]+?)(?: \(.*\))?","([0-9.]+)"/.exec(line);
      if (m) res[`${m[1]}${suffix}`] = Number(m[2]);
    }
  }
  return res;
}

/** Redis time and calls per command since the last CONFIG RESETSTAT, from INFO commandstats. */
export async function commandStats(client: Redis): Promise<Record<string, { calls: number; usec: number }>> {
  const out: Record<string, { calls: number; usec: number }> = {};
  for (const line of (await client.info('commandstats')).split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line.trim());
    if (m) out[m[1]!] = { calls: Number(m[2]), usec: Number(m[3]) };
  }
  return out;
}

/** Commands of the harness itself (its INFO, CONFIG RESETSTAT, …), left out of what Herald costs Redis. */
const HARNESS_COMMANDS = new Set(['info', 'config', 'ping', 'client', 'dbsize', 'scan']);

/**
 * Redis µs spent running scripts (INFO commandstats' usec of EVAL, EVALSHA, FCALL and their `_ro`
 * forms). Not summed over every command: a script's own calls are counted under their commands too.
 */
export function scriptUsec(stats: Record<string, { calls: number; usec: number }>): number {
  return Object.entries(stats).reduce((sum, [c, s]) => sum + (/^(eval|evalsha|fcall)(_ro)?$/.test(c) ? s.usec : 0), 0);
}

/** Redis' own I/O counters (INFO stats): read events handled, and bytes in and out over client connections. */
export async function ioCounters(client: Redis): Promise<{ reads: number; inBytes: number; outBytes: number }> {
  const info = await client.info('stats');
  const field = (n: string) => Number(new RegExp(`^${n}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
  return { reads: field('total_reads_processed'), inBytes: field('total_net_input_bytes'), outBytes: field('total_net_output_bytes') };
}

/** Per-operation view of commandStats: calls and Redis µs per `ops`, largest Redis time first, top `n`. */
export function perOperation(stats: Record<string, { calls: number; usec: number }>, ops: number, n = 8): Array<{ command: string; callsPerOp: number; usPerOp: number }> {
  return Object.entries(stats)
    .filter(([c]) => !HARNESS_COMMANDS.has(c))
    .map(([command, s]) => ({ command, callsPerOp: Number((s.calls / ops).toFixed(3)), usPerOp: Number((s.usec / ops).toFixed(2)) }))
    .sort((a, b) => b.usPerOp - a.usPerOp)
    .slice(0, n);
}
