import { parseArgs } from 'node:util';
import { RedisRuntime } from '../redis/redis-runtime.js';
import { startIngest } from '../ingest/ingest-runtime.js';
import { bootstrap, portFlag, type Env } from './common.js';

export const ingestHelp = `Usage: herald ingest [--port N]

Serves the ingest API: POST /ingest, POST /ingest/batch, and /healthz, /readyz, /metrics.
Events are routed to the destinations published in Redis (by the controller or \`herald dev\`).

Options:
  --port N    listen port (default $HERALD_HTTP_PORT or 8080)

Environment: REDIS_URL (or HERALD_REDIS_SENTINELS and HERALD_REDIS_SENTINEL_NAME), HERALD_HTTP_PORT,
HERALD_MAX_BODY (1mib), HERALD_MAX_BATCH (1000), HERALD_IDEMPOTENCY_TTL (24h), HERALD_DURABILITY (fast),
HERALD_ACK_REPLICAS (0), HERALD_LOG_LEVEL, HERALD_SHUTDOWN_TIMEOUT (25s).`;

export async function runIngest(argv: string[], env: Env): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { port: { type: 'string' } }, strict: true });
  const ctx = bootstrap('ingest', env, values.port ? { HERALD_HTTP_PORT: String(portFlag('--port', values.port)) } : {});
  ctx.shutdown.listen();
  const rt = await RedisRuntime.open(ctx.config, ctx.logger, ctx.registry, 'ingest');
  const ingest = await startIngest({ ...ctx, rt, isShuttingDown: () => ctx.shutdown.shuttingDown });
  ctx.shutdown.add({ name: 'ingest', close: () => ingest.close() });
  ctx.shutdown.add({ name: 'redis', close: () => rt.close() });
}
