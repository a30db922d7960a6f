import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { Config } from '../config/config.js';
import { DestinationRegistry, DestinationWatcher } from '../redis/destination-registry.js';
import { EventStore } from '../event-store/event-store.js';
import { createIngestApp, type IngestAppDeps } from './app.js';
import { IngestService } from './ingest-service.js';
import type { Logger } from '../log/logger.js';
import { ingestMetrics, redisMemoryMetrics } from '../metrics/metrics.js';
import { attachHandler, boundPort, closeServer, listen } from '../server/listen.js';
import { ConfigError } from '../config/config.js';
import { IngestAuth } from './authenticate.js';
import { BodySweeper } from '../event-store/body-sweeper.js';
import { connectedReplicas, durabilityPlanOf, replicationPlan, replicationWarning } from './durability.js';
import { isCluster } from '../redis/client.js';
import { EventLogReader } from '../event-log/event-log-reader.js';
import { TokenBucket } from './token-bucket.js';
import { MemoryGuard } from '../redis/memory-guard.js';
import type { RedisRuntime } from '../redis/redis-runtime.js';

export interface IngestHandle {
  server: Server;
  port: number;
  service: IngestService;
  watcher: DestinationWatcher;
  /** Removes event bodies no job references (runs on its own; tests may call `sweep`). */
  sweeper: BodySweeper;
  close(): Promise<void>;
}

/** Wires ingest: destination watcher → routing table, event store, queues, HTTP app. */
export async function startIngest(opts: {
  config: Config;
  logger: Logger;
  registry: Registry;
  rt: RedisRuntime;
  port?: number;
  /** A server already bound by the caller (`herald dev` binds before it touches Redis); ingest handles its requests. */
  server?: Server;
  isShuttingDown?: () => boolean;
  /** Overrides HERALD_INGEST_AUTH/HERALD_API_KEYS_FILE (tests). */
  authenticate?: IngestAppDeps['authenticate'];
}): Promise<IngestHandle> {
  const { config, rt, registry } = opts;
  const logger = opts.logger.child({ component: 'ingest' });
  const metrics = ingestMetrics(registry);
  // Refuses to start when Redis cannot give the durability asked for (HERALD_DURABILITY=strict).
  const durability = await durabilityPlanOf(config.HERALD_DURABILITY, rt.redis);
  const replication = replicationPlan(config.HERALD_ACK_REPLICAS, config.HERALD_ACK_REPLICAS_TIMEOUT);
  logger.info({ durability: config.HERALD_DURABILITY, plan: durability.kind, ackReplicas: replication?.replicas ?? 0 }, 'Ingest durability');
  const fewReplicas = replicationWarning(replication, await connectedReplicas(rt.redis));
  if (fewReplicas) logger.warn(fewReplicas);
  const memoryGauges = redisMemoryMetrics(registry);
  const memory = new MemoryGuard(rt.redis, config.HERALD_REDIS_HIGH_WATER, 1_000, (used, max) => {
    memoryGauges.used.set(used);
    memoryGauges.max.set(max);
  });
  memory.start();
  const service = new IngestService({
    redis: rt.redis,
    keys: rt.keys,
    events: new EventStore(rt.redis, rt.keys),
    // Jobs are added without BullMQ Queue handles (src/queue/enqueue.ts); bodies go first on the same
    // connection, which does not auto-pipeline.
    writeRedis: rt.queueConnection,
    metrics,
    idempotencyTtlMs: config.HERALD_IDEMPOTENCY_TTL,
    eventLogRetentionMs: config.HERALD_EVENT_LOG_RETENTION,
    isStoreNearlyFull: () => memory.nearlyFull,
    logger,
    waitAof: durability.kind === 'waitaof',
    ...(replication ? { replication } : {}),
  });
  await service.connect();
  const sweeper = new BodySweeper({ redis: rt.redis, keys: rt.keys, swept: metrics.swept, logger, intervalMs: config.HERALD_BODY_SWEEP_INTERVAL, graceMs: config.HERALD_BODY_SWEEP_INTERVAL });
  // On a Redis Cluster every job carries its body (ADR 0015): there are no shared bodies to sweep.
  if (!isCluster(rt.redis)) sweeper.start();
  const watcher = new DestinationWatcher(new DestinationRegistry(rt.redis, rt.keys), rt.connection('subscriber'), rt.keys, logger);
  watcher.onChange((d) => service.setDestinations(d));
  await watcher.start();
  service.setDestinations(watcher.destinations);
  let auth: IngestAuth | undefined;
  let authenticate = opts.authenticate;
  if (!authenticate && config.HERALD_API_KEYS_FILE) {
    auth = await IngestAuth.open(config.HERALD_API_KEYS_FILE, new TokenBucket({ redis: rt.redis, prefix: rt.keys.prefix }), logger);
    authenticate = auth.authenticate;
  } else if (!authenticate && config.HERALD_INGEST_AUTH === 'required') {
    throw new ConfigError(['HERALD_API_KEYS_FILE: ingest requires API keys; point HERALD_API_KEYS_FILE at a key file, or set HERALD_INGEST_AUTH=off to accept anonymous events']);
  }
  const app = createIngestApp({
    service,
    metrics,
    registry,
    logger,
    maxBodyBytes: config.HERALD_MAX_BODY,
    maxBatch: config.HERALD_MAX_BATCH,
    // Strict durability stays checked: a Redis switched to appendfsync everysec turns ingest unready.
    readiness: [rt.readiness(), { name: 'durability', check: async () => void (await durabilityPlanOf(config.HERALD_DURABILITY, rt.redis)) }],
    ...(opts.isShuttingDown ? { isShuttingDown: opts.isShuttingDown } : {}),
    ...(authenticate ? { authenticate } : {}),
    eventLog: new EventLogReader({ redis: rt.redis, keys: rt.keys, destinations: () => watcher.destinations, defaultRetentionMs: config.HERALD_EVENT_LOG_RETENTION }),
  });
  let server: Server;
  if (opts.server) {
    server = opts.server;
    attachHandler(server, app);
  } else {
    server = await listen(app, opts.port ?? config.HERALD_HTTP_PORT, config.HERALD_HTTP_HOST);
  }
  const port = boundPort(server);
  const address = server.address();
  logger.info({ port, host: typeof address === 'object' && address ? address.address : config.HERALD_HTTP_HOST, destinations: watcher.destinations.map((d) => d.name) }, 'Ingest listening');
  // Said once the port is open, so it never follows a failed start as if the server were up.
  if (auth) logger.info({ file: config.HERALD_API_KEYS_FILE }, 'Ingest requires an API key (Authorization: Bearer)');
  else if (!opts.authenticate) logger.warn('Ingest authentication is OFF: anyone who reaches this port can send events');
  return {
    server,
    port,
    service,
    watcher,
    sweeper,
    async close() {
      await closeServer(server);
      auth?.close();
      memory.close();
      await sweeper.close();
      await watcher.close();
    },
  };
}
