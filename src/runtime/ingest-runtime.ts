import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { Config } from '../config/config.js';
import { DestinationRegistry, DestinationWatcher } from '../destinations/registry.js';
import { EventStore } from '../events/event-store.js';
import { createIngestApp, type IngestAppDeps } from '../ingest/app.js';
import { IngestService } from '../ingest/ingest-service.js';
import type { Logger } from '../log/logger.js';
import { ingestMetrics } from '../metrics/metrics.js';
import { DeliveryQueues } from '../queue/delivery-queue.js';
import { boundPort, closeServer, listen } from '../server/listen.js';
import type { RedisRuntime } from './redis-runtime.js';

export interface IngestHandle {
  server: Server;
  port: number;
  service: IngestService;
  watcher: DestinationWatcher;
  close(): Promise<void>;
}

/** Wires ingest: destination watcher → routing table, event store, queues, HTTP app. */
export async function startIngest(opts: {
  config: Config;
  logger: Logger;
  registry: Registry;
  rt: RedisRuntime;
  port?: number;
  isShuttingDown?: () => boolean;
  authenticate?: IngestAppDeps['authenticate'];
}): Promise<IngestHandle> {
  const { config, rt, registry } = opts;
  const logger = opts.logger.child({ component: 'ingest' });
  const metrics = ingestMetrics(registry);
  const queues = new DeliveryQueues(rt.redis, rt.keys);
  const service = new IngestService({ redis: rt.redis, keys: rt.keys, events: new EventStore(rt.redis, rt.keys), queues, metrics, idempotencyTtlMs: config.HERALD_IDEMPOTENCY_TTL });
  const watcher = new DestinationWatcher(new DestinationRegistry(rt.redis, rt.keys), rt.connection('subscriber'), rt.keys, logger);
  watcher.onChange((d) => service.setDestinations(d));
  await watcher.start();
  service.setDestinations(watcher.destinations);
  const app = createIngestApp({
    service,
    metrics,
    registry,
    logger,
    maxBodyBytes: config.HERALD_MAX_BODY,
    maxBatch: config.HERALD_MAX_BATCH,
    readiness: [rt.readiness()],
    ...(opts.isShuttingDown ? { isShuttingDown: opts.isShuttingDown } : {}),
    ...(opts.authenticate ? { authenticate: opts.authenticate } : {}),
  });
  const server = await listen(app, opts.port ?? config.HERALD_HTTP_PORT, config.HERALD_HTTP_HOST);
  const port = boundPort(server);
  logger.info({ port, destinations: watcher.destinations.map((d) => d.name) }, 'Ingest listening');
  return {
    server,
    port,
    service,
    watcher,
    async close() {
      await closeServer(server);
      await watcher.close();
      await queues.close();
    },
  };
}
