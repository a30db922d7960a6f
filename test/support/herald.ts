import { Writable } from 'node:stream';
import { Cluster, Redis } from 'ioredis';
import type { RedisClient } from '../../src/redis/client.js';
import type { Registry } from 'prom-client';
import type { DestinationSpecInput, ResolvedDestination } from '../../src/api/destination.js';
import { DestinationSpec } from '../../src/api/destination.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import { DestinationRegistry } from '../../src/redis/destination-registry.js';
import { createLogger, type Logger } from '../../src/log/logger.js';
import { createRegistry, queueMetrics } from '../../src/metrics/metrics.js';
import { QueueDepthExporter } from '../../src/queue/queue-depth-exporter.js';
import type { DeliveryJobData } from '../../src/queue/delivery-queue.js';
import { QUEUE_NAME } from '../../src/redis/keys.js';
import { createSmtpMailer } from '../../src/dead-letters/mailer.js';
import { RedisRuntime } from '../../src/redis/redis-runtime.js';
import { startIngest, type IngestHandle } from '../../src/ingest/ingest-runtime.js';
import { WorkerPool } from '../../src/worker/worker-pool.js';

export interface LogLine {
  level: string;
  msg: string;
  [k: string]: unknown;
}

/** Captures pino output in memory so tests can assert on log lines. */
export function memoryLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as LogLine);
      cb();
    },
  });
  return { logger: createLogger({ level: 'debug' }, stream), lines };
}

export interface HeraldUnderTest<C extends RedisClient = Redis> {
  config: Config;
  url: string;
  ingest: IngestHandle;
  workers: WorkerPool;
  exporter: QueueDepthExporter;
  registry: Registry;
  rt: RedisRuntime;
  /** A client of the test's own, on the same Redis (a Cluster client on a cluster). */
  redis: C;
  logs: LogLine[];
  publish(name: string, spec: DestinationSpecInput): Promise<ResolvedDestination>;
  unpublish(name: string): Promise<void>;
  post(body: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>;
  postRaw(body: string | Buffer, headers?: Record<string, string>, path?: string): Promise<{ status: number; body: any; headers: Headers }>;
  /** The delivery body stored for event `id`: its shared body, or the one its job carries (ADR 0007). */
  storedBody(id: string): Promise<string | undefined>;
  close(): Promise<void>;
}

interface StartOptions {
  redisUrl: string;
  /** `HERALD_REDIS_CLUSTER_NODES`: run on this Redis Cluster instead of `redisUrl` (which is then unused). */
  clusterNodes?: string | undefined;
  prefix?: string;
  env?: Record<string, string>;
  smtpUrl?: string;
  withWorkers?: boolean;
}

/**
 * Runs Herald's ingest and a worker pool in this process against a real Redis, with timings
 * shortened (locks, digest windows) so failure paths finish in seconds.
 */
export async function startHerald(opts: StartOptions & { clusterNodes?: undefined }): Promise<HeraldUnderTest>;
export async function startHerald(opts: StartOptions & { clusterNodes: string }): Promise<HeraldUnderTest<Cluster>>;
export async function startHerald(opts: StartOptions): Promise<HeraldUnderTest<RedisClient>>;
export async function startHerald(opts: StartOptions): Promise<HeraldUnderTest<RedisClient>> {
  const config = loadConfig({
    ...(opts.clusterNodes ? { HERALD_REDIS_CLUSTER_NODES: opts.clusterNodes } : { REDIS_URL: opts.redisUrl }),
    HERALD_REDIS_PREFIX: opts.prefix ?? `t${Math.random().toString(36).slice(2, 8)}`,
    HERALD_HTTP_PORT: '0',
    HERALD_HTTP_HOST: '127.0.0.1',
    HERALD_ALLOW_PRIVATE_DESTINATIONS: 'true',
    HERALD_DIGEST_WINDOW: '300ms',
    HERALD_DIGEST_SUPPRESS: '1h',
    HERALD_SHUTDOWN_TIMEOUT: '5s',
    HERALD_INGEST_AUTH: 'off',
    ...(opts.smtpUrl ? { SMTP_URL: opts.smtpUrl, ALERT_EMAIL_TO: 'ops@example.test' } : {}),
    ...opts.env,
  });
  const { logger, lines } = memoryLogger();
  const registry = createRegistry('test', '0.0.0-test');
  const rt = await RedisRuntime.open(config, logger, registry, 'test');
  const destinations = new DestinationRegistry(rt.redis, rt.keys);
  const ingest = await startIngest({ config, logger, registry, rt });
  const workers = new WorkerPool({
    config,
    logger,
    registry,
    rt,
    version: '0.0.0-test',
    lockDurationMs: 2_000,
    stalledIntervalMs: 1_000,
    alertIntervalMs: 100,
    ...(opts.smtpUrl ? { mailer: createSmtpMailer({ smtpUrl: opts.smtpUrl, from: 'herald@example.test', to: 'ops@example.test' }) } : {}),
  });
  if (opts.withWorkers !== false) await workers.start();
  // As in `herald dev`, one process exports the per-destination gauges read from Redis.
  const exporter = new QueueDepthExporter(rt.redis, rt.keys, queueMetrics(registry), logger);
  exporter.setDestinations(ingest.watcher.destinations.map((d) => d.name));
  ingest.watcher.onChange((d) => exporter.setDestinations(d.map((x) => x.name)));
  const url = `http://127.0.0.1:${ingest.port}`;
  const redis: RedisClient = opts.clusterNodes
    ? new Cluster(config.HERALD_REDIS_CLUSTER_NODES!.map((n) => ({ ...n })), { scaleReads: 'master' })
    : new Redis(opts.redisUrl);
  redis.on('error', () => undefined); // tests stop Redis on purpose
  const postRaw = async (body: string | Buffer, headers: Record<string, string> = {}, path = '/ingest') => {
    const res = await fetch(url + path, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON; keep the text
    }
    return { status: res.status, body: parsed as any, headers: res.headers };
  };
  return {
    config,
    url,
    ingest,
    workers,
    registry,
    rt,
    redis,
    logs: lines,
    async publish(name, spec) {
      const d = { name, spec: DestinationSpec.parse(spec) };
      await destinations.put(d);
      // Wait until ingest routes to it, so the test's next event is not sent before the change lands.
      const deadline = Date.now() + 5_000;
      while (!ingest.watcher.destinations.some((x) => x.name === name && JSON.stringify(x.spec) === JSON.stringify(d.spec))) {
        if (Date.now() > deadline) throw new Error(`ingest did not see destination ${name}`);
        await ingest.watcher.refresh();
      }
      return d;
    },
    async unpublish(name) {
      await destinations.remove(name);
      await ingest.watcher.refresh();
    },
    post: (body, headers) => postRaw(JSON.stringify(body), headers),
    postRaw,
    async storedBody(id) {
      const shared = await redis.hget(rt.keys.event(id), 'b');
      if (shared !== null) return shared;
      for (const d of ingest.watcher.destinations) {
        const data = await redis.hget(`${rt.keys.queuePrefix(d.name)}:${QUEUE_NAME}:${id}`, 'data');
        const carried = data === null ? undefined : (JSON.parse(data) as DeliveryJobData).b;
        if (carried !== undefined) return carried;
      }
      return undefined;
    },
    exporter,
    async close() {
      await exporter.close();
      await ingest.close();
      await workers.close(2_000);
      await rt.close();
      redis.disconnect();
    },
  };
}
