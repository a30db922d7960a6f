import { watch, type FSWatcher } from 'node:fs';
import type { Server } from 'node:http';
import { basename, dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/config.js';
import { DestinationRegistry } from '../redis/destination-registry.js';
import { loadDestinationsFile } from '../dev/destinations-file.js';
import { removeDevRedisUrl, writeDevRedisUrl, DEV_REDIS_URL_FILE } from '../dev/dev-redis-url.js';
import { describeLeftQueued } from '../dev/left-queued.js';
import { startLocalRedis, type LocalRedis } from '../dev/local-redis.js';
import { devReceiver } from '../dev/receiver.js';
import { queueMetrics } from '../metrics/metrics.js';
import { DeliveryQueues } from '../queue/delivery-queue.js';
import { QueueDepthExporter } from '../queue/queue-depth-exporter.js';
import { readQueueHealth } from '../queue/queue-health.js';
import { assertRedisReachable } from '../redis/reachable.js';
import { RedisRuntime } from '../redis/redis-runtime.js';
import { startIngest } from '../ingest/ingest-runtime.js';
import { WorkerPool } from '../worker/worker-pool.js';
import { attachHandler, bindHttp, closeServer } from '../server/listen.js';
import { bootstrap, portFlag, UsageError, type Env } from './common.js';
import { mailerFromConfig } from './mailer-from-config.js';

export const devHelp = `Usage: herald dev --destinations FILE [--port N] [--host ADDR] [--receiver PORT] [--data-dir DIR]

Runs Herald on a laptop in one process: ingest plus a delivery worker per destination declared in
FILE (multi-document YAML of Destination objects, as \`kubectl apply\` takes them). Edits to FILE are
picked up while it runs. Without REDIS_URL it starts a private redis-server on a free port with its
data under --data-dir, notes its URL in ${DEV_REDIS_URL_FILE} (so \`herald dlq …\` run in the same directory
finds it), and stops it on exit. Loopback and private destination URLs are allowed. Ingest runs
without authentication unless HERALD_API_KEYS_FILE is set, so it listens on 127.0.0.1 only by default.

Options:
  --destinations FILE   Destination YAML (required)
  --port N              ingest port (default $HERALD_HTTP_PORT or 8080)
  --host ADDR           ingest address (default $HERALD_HTTP_HOST or 127.0.0.1; 0.0.0.0 opens it to the network)
  --receiver PORT       also start a tiny webhook receiver on 127.0.0.1:PORT that logs deliveries
                        (/ok/* accepts, /flaky/* fails half the time, /fail/* always 500, /gone/* 410)
  --data-dir DIR        where the private Redis keeps its data (default .dev/redis)

Ctrl-C stops it: deliveries in flight finish, what is still queued stays in Redis for the next start.

Then: curl -X POST localhost:8080/ingest -H 'content-type: application/json' \\
        -d '{"userID": "sampleUser", "payload": "samplePayload"}'`;

/**
 * `herald dev`. Binds its ports first and only then touches Redis, so a dev that cannot listen has
 * published nothing and started no workers. `cwd` is where the private Redis' URL is noted.
 */
export async function runDev(argv: string[], env: Env, cwd = process.cwd()): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { destinations: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, receiver: { type: 'string' }, 'data-dir': { type: 'string' } },
    strict: true,
  });
  if (!values.destinations) throw new UsageError('--destinations FILE is required');
  const receiverPort = values.receiver !== undefined ? portFlag('--receiver', values.receiver) : undefined;
  const overrides = {
    HERALD_ALLOW_PRIVATE_DESTINATIONS: 'true',
    // On a laptop: no API keys unless a key file is configured, and so loopback only unless asked.
    ...(env.HERALD_API_KEYS_FILE ? {} : { HERALD_INGEST_AUTH: 'off' }),
    HERALD_HTTP_HOST: values.host ?? env.HERALD_HTTP_HOST ?? '127.0.0.1',
    ...(values.port !== undefined ? { HERALD_HTTP_PORT: String(portFlag('--port', values.port)) } : {}),
  } as const;
  const file = resolve(cwd, values.destinations);
  const dests = await loadDestinationsFile(file);
  const base = loadConfig(env, overrides);

  const undo: Array<() => Promise<void>> = [];
  const unwind = async () => {
    for (const u of undo.reverse()) await u().catch(() => undefined);
  };
  let ingestServer: Server;
  let receiver: Server | undefined;
  let localRedis: LocalRedis | undefined;
  let redisUrl: string;
  try {
    ingestServer = await bindHttp(base.HERALD_HTTP_PORT, base.HERALD_HTTP_HOST, 'pick another with --port N or HERALD_HTTP_PORT');
    undo.push(() => closeServer(ingestServer));
    if (receiverPort !== undefined) {
      const r = (receiver = await bindHttp(receiverPort, '127.0.0.1', 'pick another with --receiver PORT'));
      undo.push(() => closeServer(r));
    }
    if (env.REDIS_URL) {
      await assertRedisReachable(env.REDIS_URL);
      redisUrl = env.REDIS_URL;
    } else {
      const lr = (localRedis = await startLocalRedis(resolve(cwd, values['data-dir'] ?? '.dev/redis')));
      undo.push(() => lr.stop());
      redisUrl = lr.url;
      await writeDevRedisUrl(cwd, redisUrl);
      undo.push(() => removeDevRedisUrl(cwd, lr.url));
    }
  } catch (err) {
    await unwind();
    throw err;
  }

  const ctx = bootstrap('dev', env, { ...overrides, REDIS_URL: redisUrl }, process.stdout.isTTY === true);
  const { logger, shutdown } = ctx;
  shutdown.listen();
  if (localRedis) logger.info({ redis: redisUrl }, `Started a private redis-server; \`herald\` commands run here find it (${DEV_REDIS_URL_FILE}), elsewhere: export REDIS_URL=${redisUrl}`);
  if (receiver) {
    attachHandler(receiver, devReceiver(logger));
    logger.info({ port: receiverPort }, 'Dev receiver listening');
  }
  try {
    await runPipeline(ctx, file, dests, ingestServer, receiver);
  } catch (err) {
    await shutdown.run();
    await unwind();
    throw err;
  }
  // The private redis-server stops last, after every client let go of it.
  const lr = localRedis;
  if (lr) {
    shutdown.add({ name: 'dev-redis-url', close: () => removeDevRedisUrl(cwd, lr.url) });
    shutdown.add({ name: 'local-redis', close: () => lr.stop() });
  }
}

async function runPipeline(ctx: ReturnType<typeof bootstrap>, file: string, dests: Awaited<ReturnType<typeof loadDestinationsFile>>, server: Server, receiver: Server | undefined): Promise<void> {
  const { logger, shutdown } = ctx;
  let rt: RedisRuntime | undefined;
  let pool: WorkerPool | undefined;
  let exporter: QueueDepthExporter | undefined;
  let ingest: Awaited<ReturnType<typeof startIngest>> | undefined;
  let watcher: FSWatcher | undefined;
  let names = dests.map((d) => d.name);
  const mailer = mailerFromConfig(ctx.config, logger);
  // Registered before anything starts, so a failed start closes what it got to. In the reverse order
  // of the data flow: stop accepting, finish deliveries, say what is left, then the stores.
  shutdown.add({ name: 'ingest', close: async () => (ingest ? ingest.close() : closeServer(server)) });
  shutdown.add({ name: 'file-watch', close: async () => watcher?.close() });
  shutdown.add({ name: 'workers', close: async () => pool?.close(ctx.config.HERALD_SHUTDOWN_TIMEOUT - 3_000) });
  shutdown.add({ name: 'queue-exporter', close: async () => exporter?.close() });
  shutdown.add({ name: 'left-queued', close: async () => (pool && rt ? reportLeftQueued(ctx, rt, names) : undefined) });
  if (receiver) shutdown.add({ name: 'receiver', close: () => closeServer(receiver) });
  shutdown.add({ name: 'redis', close: async () => rt?.close() });
  shutdown.add({ name: 'mailer', close: async () => mailer?.close() });

  rt = await RedisRuntime.open(ctx.config, logger, ctx.registry, 'dev');
  const registry = new DestinationRegistry(rt.redis, rt.keys);
  await registry.replaceAll(dests);
  // In dev every delivery gets an info line, so success shows without the demo receiver.
  pool = new WorkerPool({ ...ctx, rt, logDeliveries: true, ...(mailer ? { mailer } : {}) });
  await pool.start();
  exporter = new QueueDepthExporter(rt.redis, rt.keys, queueMetrics(ctx.registry), logger, rt.queueConnection);
  exporter.setDestinations(names);
  exporter.start();
  ingest = await startIngest({ ...ctx, rt, server, isShuttingDown: () => shutdown.shuttingDown });
  logger.info({ destinations: dests.map((d) => `${d.name} → ${d.spec.url}`), file }, 'Herald dev is running; POST events to /ingest');

  // Reload on edits so a laptop session feels like `kubectl apply`. The directory is watched, not the
  // file: editors save by writing a new file and renaming it over the old one, after which a watch
  // on the file itself sees nothing more.
  let reload: NodeJS.Timeout | undefined;
  const exp = exporter;
  watcher = watch(dirname(file), (_event, name) => {
    if (name !== null && name !== basename(file)) return;
    clearTimeout(reload);
    reload = setTimeout(async () => {
      try {
        const next = await loadDestinationsFile(file);
        await registry.replaceAll(next);
        names = next.map((d) => d.name);
        exp.setDestinations(names);
      } catch (err) {
        logger.error({ err: (err as Error).message }, 'Ignoring invalid destinations file; keeping the previous set');
      }
    }, 200);
  });
}

/** Says what Ctrl-C left queued; the deliveries stay in Redis and go out on the next start. */
async function reportLeftQueued(ctx: ReturnType<typeof bootstrap>, rt: RedisRuntime, names: string[]): Promise<void> {
  const queues = new DeliveryQueues(rt.queueConnection, rt.keys);
  try {
    const per = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await readQueueHealth(queues.get(n))] as const)));
    ctx.logger.info({ left: Object.fromEntries(Object.entries(per).map(([n, h]) => [n, h.waiting + h.delayed + h.active])) }, describeLeftQueued(per));
  } finally {
    await queues.close();
  }
}
