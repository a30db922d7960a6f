import { parseArgs } from 'node:util';
import { createOpsApp } from '../server/ops-routes.js';
import { closeServer, listen } from '../server/listen.js';
import { RedisRuntime } from '../redis/redis-runtime.js';
import { WorkerPool } from '../worker/worker-pool.js';
import { bootstrap, portFlag, UsageError, type Env } from './common.js';
import { mailerFromConfig } from './mailer-from-config.js';

export const workerHelp = `Usage: herald worker --destination NAME [--destination NAME ...] [--port N]

Delivers the queued events of the named destination(s), reading their spec from the registry in
Redis and following changes to it. Serves /healthz, /readyz and /metrics.

Options:
  --destination NAME   destination to deliver (repeatable; required)
  --port N             ops port (default $HERALD_HTTP_PORT or 8080)

Environment: REDIS_URL (or HERALD_REDIS_SENTINELS and HERALD_REDIS_SENTINEL_NAME), SMTP_URL, ALERT_EMAIL_TO, ALERT_EMAIL_FROM, HERALD_DIGEST_WINDOW (1m),
HERALD_DIGEST_SUPPRESS (1h), HERALD_SECRETS_DIR, HERALD_SHUTDOWN_TIMEOUT (25s).`;

export async function runWorker(argv: string[], env: Env): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { destination: { type: 'string', multiple: true }, port: { type: 'string' } }, strict: true });
  if (!values.destination || values.destination.length === 0) throw new UsageError('--destination is required');
  const ctx = bootstrap('worker', env, values.port ? { HERALD_HTTP_PORT: String(portFlag('--port', values.port)) } : {});
  ctx.shutdown.listen();
  const rt = await RedisRuntime.open(ctx.config, ctx.logger, ctx.registry, 'worker');
  const mailer = mailerFromConfig(ctx.config, ctx.logger);
  const pool = new WorkerPool({ ...ctx, rt, only: values.destination, ...(mailer ? { mailer } : {}) });
  const server = await listen(
    createOpsApp({ registry: ctx.registry, readiness: [rt.readiness()], isShuttingDown: () => ctx.shutdown.shuttingDown }),
    ctx.config.HERALD_HTTP_PORT,
    ctx.config.HERALD_HTTP_HOST,
  );
  await pool.start();
  // Order matters: stop taking jobs and finish in-flight ones first, then the probes, then Redis.
  ctx.shutdown.add({ name: 'workers', close: () => pool.close(ctx.config.HERALD_SHUTDOWN_TIMEOUT - 2_000) });
  ctx.shutdown.add({ name: 'ops-server', close: () => closeServer(server) });
  ctx.shutdown.add({ name: 'redis', close: () => rt.close() });
  ctx.shutdown.add({ name: 'mailer', close: async () => mailer?.close() });
}
