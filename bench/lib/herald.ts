import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { Pool } from 'undici';
import { freePort, start, waitHttp, type Placement, type Proc } from './procs.js';

/** Key prefix of every benchmark run (HERALD_REDIS_PREFIX). */
export const PREFIX = 'bench';

/** A destination as the registry stores it: name plus a (partial) spec that Herald defaults. */
export interface BenchDestination {
  name: string;
  spec: Record<string, unknown>;
}

/** Publishes destinations the way the controller and `herald dev` do: a hash of name → spec JSON and a change notice. */
export async function publish(redis: Redis, dests: BenchDestination[]): Promise<void> {
  const m = redis.multi().del(`${PREFIX}:destinations`);
  for (const d of dests) m.hset(`${PREFIX}:destinations`, d.name, JSON.stringify(d.spec));
  await m.publish(`${PREFIX}:destinations:changed`, '*').exec();
}

export interface HeraldEnv {
  heraldDir: string;
  /** The node binary that runs Herald (BENCH_HERALD_NODE / BENCH_COMPARE_NODE); the harness's own by default. */
  node?: string;
  redisUrl: string;
  /** `HERALD_REDIS_CLUSTER_NODES` (host:port,…): Herald runs on that Redis Cluster and `redisUrl` is not passed. */
  clusterNodes?: string;
  logLevel: string;
  logDir: string;
  keepLogs: boolean;
  /** Sent as `Authorization: Bearer` to ingest; undefined runs ingest with HERALD_INGEST_AUTH=off. */
  apiKey?: string;
  apiKeysFile?: string;
  /** When set, Node writes a .cpuprofile there on exit. */
  profileDir?: string;
  /** HERALD_ACK_REPLICAS of ingest (replicas each write waits for); unset: Herald's default, 0. */
  ackReplicas?: number;
}

function env(h: HeraldEnv, port: number): NodeJS.ProcessEnv {
  return {
    ...(h.clusterNodes ? { HERALD_REDIS_CLUSTER_NODES: h.clusterNodes } : { REDIS_URL: h.redisUrl }),
    HERALD_REDIS_PREFIX: PREFIX,
    HERALD_HTTP_HOST: '127.0.0.1',
    HERALD_HTTP_PORT: String(port),
    HERALD_LOG_LEVEL: h.logLevel,
    HERALD_ALLOW_PRIVATE_DESTINATIONS: 'true',
    HERALD_SHUTDOWN_TIMEOUT: '20s',
    ...(h.apiKeysFile ? { HERALD_API_KEYS_FILE: h.apiKeysFile } : { HERALD_INGEST_AUTH: 'off' }),
    ...(h.ackReplicas ? { HERALD_ACK_REPLICAS: String(h.ackReplicas) } : {}),
  };
}

function nodeArgs(h: HeraldEnv, name: string): string[] {
  return h.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${h.profileDir}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
}

export interface HeraldProc extends Proc {
  port: number;
  url: string;
}

/** `herald ingest` as its own process; resolves once /healthz answers (destinations are read before it listens). */
export async function startIngest(h: HeraldEnv, placement: Placement = 'sut', name = 'ingest'): Promise<HeraldProc> {
  const port = await freePort();
  const proc = start({ name, placement, cmd: h.node ?? process.execPath, args: [...nodeArgs(h, name), join(h.heraldDir, 'dist/cmd/herald.js'), 'ingest'], env: env(h, port), logDir: h.logDir, keepStdout: h.keepLogs });
  const url = `http://127.0.0.1:${port}`;
  await Promise.race([waitHttp(`${url}/healthz`), proc.exited.then((c) => Promise.reject(new Error(`herald ingest exited (${c}); see ${h.logDir}/${name}.err`)))]);
  return { ...proc, port, url };
}

/** `herald worker --destination …` as its own process. Its ops port answers before the workers start; callers measure at the receiver. */
export async function startWorker(h: HeraldEnv, destinations: string[], placement: Placement = 'sut', name = 'worker'): Promise<HeraldProc> {
  const port = await freePort();
  const args = [...nodeArgs(h, name), join(h.heraldDir, 'dist/cmd/herald.js'), 'worker', ...destinations.flatMap((d) => ['--destination', d])];
  const proc = start({ name, placement, cmd: h.node ?? process.execPath, args, env: env(h, port), logDir: h.logDir, keepStdout: h.keepLogs });
  const url = `http://127.0.0.1:${port}`;
  await Promise.race([waitHttp(`${url}/healthz`), proc.exited.then((c) => Promise.reject(new Error(`herald worker exited (${c}); see ${h.logDir}/${name}.err`)))]);
  return { ...proc, port, url };
}

/** One event as producers send it, with a `payload` whose JSON is exactly `payloadBytes` long. */
export function eventJson(payloadBytes: number, key?: string): string {
  const pad = 'x'.repeat(Math.max(0, payloadBytes - 10 - (key === undefined ? 0 : key.length + 7)));
  return JSON.stringify({ userID: 'bench-user', type: 'bench.e', payload: key === undefined ? { pad } : { k: key, pad } });
}

/** `size` events; with `keys`, event i of the batch carries ordering key `o<(first + i) % keys>` in `payload.k`. */
export function batchJson(payloadBytes: number, size: number, keys?: { count: number; first: number }): string {
  return `[${Array.from({ length: size }, (_, i) => eventJson(payloadBytes, keys ? `o${(keys.first + i) % keys.count}` : undefined)).join(',')}]`;
}

/**
 * Fills the queues through Herald's own batch endpoint (100 events a request, 8 in flight), so the
 * backlog holds exactly what production would store. Returns events/s as a by-product.
 */
export async function prefill(ingestUrl: string, events: number, payloadBytes: number, apiKey?: string, keys?: number): Promise<{ eventsPerS: number }> {
  // With `keys`, one request at a time, so every key's events are accepted in the order of their seq.
  const lanes = keys ? 1 : 8;
  const pool = new Pool(ingestUrl, { connections: lanes, pipelining: 1 });
  let body = batchJson(payloadBytes, 100);
  const started = performance.now();
  let sent = 0;
  const one = async (): Promise<void> => {
    while (sent < events) {
      const n = Math.min(100, events - sent);
      if (keys) body = batchJson(payloadBytes, 100, { count: keys, first: sent });
      sent += n;
      const res = await pool.request({ path: '/ingest/batch', method: 'POST', headers: { 'content-type': 'application/json', ...authHeader(apiKey) }, body: n === 100 ? body : batchJson(payloadBytes, n, keys ? { count: keys, first: sent - n } : undefined) });
      const text = await res.body.text();
      if (res.statusCode !== 202) throw new Error(`prefill: ingest answered ${res.statusCode}: ${text.slice(0, 300)}`);
    }
  };
  await Promise.all(Array.from({ length: lanes }, one));
  await pool.close();
  return { eventsPerS: events / ((performance.now() - started) / 1000) };
}

/** The Authorization header for ingest, when the benchmark runs it with an API key. */
export function authHeader(apiKey: string | undefined): Record<string, string> {
  return apiKey ? { authorization: `Bearer ${apiKey}` } : {};
}

/** Writes an API key file with one key (no per-key rate limit) and returns the key and the file. */
export async function writeApiKeyFile(dir: string): Promise<{ apiKey: string; apiKeysFile: string }> {
  const { createHash, randomBytes } = await import('node:crypto');
  const { writeFile } = await import('node:fs/promises');
  const apiKey = `hk_${randomBytes(32).toString('base64url')}`;
  const apiKeysFile = join(dir, 'api-keys.yaml');
  await writeFile(apiKeysFile, `- name: bench\n  hash: "sha256:${createHash('sha256').update(apiKey, 'utf8').digest('hex')}"\n`);
  return { apiKey, apiKeysFile };
}
