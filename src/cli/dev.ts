import { watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DestinationRegistry } from '../destinations/registry.js';
import { loadDestinationsFile } from '../dev/destinations-file.js';
import { startLocalRedis } from '../dev/local-redis.js';
import { startDevReceiver } from '../dev/receiver.js';
import { queueMetrics } from '../metrics/metrics.js';
import { QueueDepthExporter } from '../queue/queue-depth-exporter.js';
import { RedisRuntime } from '../runtime/redis-runtime.js';
import { startIngest } from '../runtime/ingest-runtime.js';
import { WorkerPool } from '../runtime/worker-pool.js';
import { closeServer } from '../server/listen.js';
import { bootstrap, UsageError, type Env } from './common.js';
import { mailerFromConfig } from './mailer-from-config.js';

export const devHelp = `Usage: herald dev --destinations FILE [--port N] [--receiver PORT] [--data-dir DIR]

Runs Herald on a laptop in one process: ingest plus a delivery worker per destination declared in
FILE (multi-document YAML of Destination objects, as \`kubectl apply\` takes them). Edits to FILE are
picked up while it runs. Without REDIS_URL it starts a private redis-server on a free port with its
data under --data-dir, and stops it on exit. Loopback and private destination URLs are allowed.

Options:
  --destinations FILE   Destination YAML (required)
  --port N              ingest port (default $HERALD_HTTP_PORT or 8080)
  --receiver PORT       also start a tiny webhook receiver on 127.0.0.1:PORT that logs deliveries
                        (/ok/* accepts, /flaky/* fails half the time, /fail/* always 500, /gone/* 410)
  --data-dir DIR        where the private Redis keeps its data (default .dev/redis)

Then: curl -X POST localhost:8080/ingest -H 'content-type: application/json' \\
        -d '{"userID": "sampleUser", "payload": "samplePayload"}'`;

export async function runDev(argv: string[], env: Env): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { destinations: { type: 'string' }, port: { type: 'string' }, receiver: { type: 'string' }, 'data-dir': { type: 'string' } },
    strict: true,
  });
  if (!values.destinations) throw new UsageError('--destinations FILE is required');
  const file = resolve(values.destinations);
  const dests = await loadDestinationsFile(file);
  let localRedis: Awaited<ReturnType<typeof startLocalRedis>> | undefined;
  const redisUrl = env.REDIS_URL || (localRedis = await startLocalRedis(resolve(values['data-dir'] ?? '.dev/redis'))).url;
  // On a laptop: loopback receivers allowed, and no API keys unless a key file is configured.
  const ctx = bootstrap('dev', env, {
    REDIS_URL: redisUrl,
    HERALD_ALLOW_PRIVATE_DESTINATIONS: 'true',
    ...(env.HERALD_API_KEYS_FILE ? {} : { HERALD_INGEST_AUTH: 'off' }),
    ...(values.port ? { HERALD_HTTP_PORT: values.port } : {}),
  });
  const { logger, shutdown } = ctx;
  shutdown.listen();
  if (localRedis) logger.info({ redis: redisUrl }, 'Started a private redis-server (set REDIS_URL to use your own)');
  try {
    await runPipeline(ctx, file, dests, values.receiver);
  } catch (err) {
    await localRedis?.stop();
    throw err;
  }
  // The private redis-server stops last, after every client let go of it.
  const r = localRedis;
  if (r) shutdown.add({ name: 'local-redis', close: () => r.stop() });
}

async function runPipeline(ctx: ReturnType<typeof bootstrap>, file: string, dests: Awaited<ReturnType<typeof loadDestinationsFile>>, receiverPort: string | undefined): Promise<void> {
  const { logger, shutdown } = ctx;
  const receiver = receiverPort ? await startDevReceiver(Number(receiverPort), logger) : undefined;
  if (receiver) logger.info({ port: Number(receiverPort) }, 'Dev receiver listening');

  const rt = await RedisRuntime.open(ctx.config, logger, ctx.registry, 'dev');
  const registry = new DestinationRegistry(rt.redis, rt.keys);
  await registry.replaceAll(dests);
  const mailer = mailerFromConfig(ctx.config, logger);
  const pool = new WorkerPool({ ...ctx, rt, ...(mailer ? { mailer } : {}) });
  await pool.start();
  const exporter = new QueueDepthExporter(rt.redis, rt.keys, queueMetrics(ctx.registry), logger, rt.queueConnection);
  exporter.setDestinations(dests.map((d) => d.name));
  exporter.start();
  const ingest = await startIngest({ ...ctx, rt, isShuttingDown: () => shutdown.shuttingDown });
  logger.info({ destinations: dests.map((d) => `${d.name} → ${d.spec.url}`), file }, 'Herald dev is running; POST events to /ingest');

  // Reload on edits so a laptop session feels like `kubectl apply`. The directory is watched, not the
  // file: editors save by writing a new file and renaming it over the old one, after which a watch
  // on the file itself sees nothing more.
  let reload: NodeJS.Timeout | undefined;
  const watcher = watch(dirname(file), (_event, name) => {
    if (name !== null && name !== basename(file)) return;
    clearTimeout(reload);
    reload = setTimeout(async () => {
      try {
        const next = await loadDestinationsFile(file);
        await registry.replaceAll(next);
        exporter.setDestinations(next.map((d) => d.name));
      } catch (err) {
        logger.error({ err: (err as Error).message }, 'Ignoring invalid destinations file; keeping the previous set');
      }
    }, 200);
  });

  // Shut down in the reverse order of the data flow: stop accepting, finish deliveries, then stores.
  shutdown.add({ name: 'ingest', close: () => ingest.close() });
  shutdown.add({ name: 'file-watch', close: async () => watcher.close() });
  shutdown.add({ name: 'workers', close: () => pool.close(ctx.config.HERALD_SHUTDOWN_TIMEOUT - 3_000) });
  shutdown.add({ name: 'queue-exporter', close: () => exporter.close() });
  if (receiver) shutdown.add({ name: 'receiver', close: () => closeServer(receiver) });
  shutdown.add({ name: 'redis', close: () => rt.close() });
  shutdown.add({ name: 'mailer', close: async () => mailer?.close() });
}
