import { parseArgs } from 'node:util';
import { EventStore } from '../events/event-store.js';
import { DeadLetters, type Selection } from '../dlq/dead-letters.js';
import { createLogger } from '../log/logger.js';
import { loadConfig } from '../config/config.js';
import { createRedis } from '../redis/connection.js';
import { RedisKeys } from '../redis/keys.js';
import { openDeliveryQueue } from '../queue/delivery-queue.js';
import { parseTime, UsageError, type Env } from './common.js';

export const dlqHelp = `Usage: herald dlq <list|show|replay|purge> --destination NAME [options]

Inspects and redrives a destination's dead letters (events that exhausted their retries or failed
permanently). Replayed events keep their id, so receivers can deduplicate on webhook-id.

  list     --destination NAME [--since T] [--until T] [--limit N] [--json]
  show     --destination NAME --id ID            attempts with status, error and timing, and the body
  replay   --destination NAME [--id ID] [--since T] [--until T] [--rate N] [--dry-run]
  purge    --destination NAME (--id ID | --since T [--until T] | --all) [--dry-run]

  T is an ISO time (2026-11-29T10:00:00Z) or a duration ago (30m, 2h, 1d).
  --rate N sends at most N events per second (default 50), so a receiver that just recovered is not flattened.

Environment: REDIS_URL, HERALD_REDIS_PREFIX.`;

export async function runDlq(argv: string[], env: Env, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<void> {
  const [action, ...rest] = argv;
  if (!action || !['list', 'show', 'replay', 'purge'].includes(action)) throw new UsageError(`unknown dlq action "${action ?? ''}"`);
  const { values } = parseArgs({
    args: rest,
    options: {
      destination: { type: 'string' },
      id: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      limit: { type: 'string' },
      rate: { type: 'string' },
      'dry-run': { type: 'boolean' },
      all: { type: 'boolean' },
      json: { type: 'boolean' },
    },
    strict: true,
  });
  if (!values.destination) throw new UsageError('--destination is required');
  const config = loadConfig(env);
  const logger = createLogger({ level: 'warn' });
  const redis = createRedis(config.REDIS_URL, { name: 'dlq' });
  redis.on('error', (err) => logger.debug({ err: err.message }, 'Redis error'));
  const keys = new RedisKeys(config.HERALD_REDIS_PREFIX);
  const queue = openDeliveryQueue(redis, keys, values.destination);
  const dlq = new DeadLetters(queue, new EventStore(redis, keys));
  const sel: Selection = {
    ...(values.id ? { id: values.id } : {}),
    ...(values.since ? { since: parseTime(values.since) } : {}),
    ...(values.until ? { until: parseTime(values.until) } : {}),
  };
  try {
    await waitReady(redis, config.REDIS_URL);
    switch (action) {
      case 'list': {
        const items = await dlq.list(sel, values.limit ? Number(values.limit) : 100);
        if (values.json) out(JSON.stringify(items, null, 2));
        else {
          out(`${(await dlq.count())} dead letter(s) for ${values.destination}${items.length ? '' : ''}`);
          for (const i of items) out(`${i.id}  failed ${new Date(i.failedAt).toISOString()}  attempts ${i.attempts}  ${i.reason}`);
        }
        break;
      }
      case 'show': {
        if (!values.id) throw new UsageError('show needs --id');
        const d = await dlq.show(values.id);
        if (!d) throw new UsageError(`no dead letter ${values.id} for destination ${values.destination}`);
        out(JSON.stringify(d, null, 2));
        break;
      }
      case 'replay': {
        const rate = values.rate ? Number(values.rate) : 50;
        if (!(rate > 0)) throw new UsageError('--rate must be a positive number of events per second');
        const n = await dlq.replay(sel, { dryRun: values['dry-run'] ?? false, rate });
        out(values['dry-run'] ? `would replay ${n} dead letter(s) to ${values.destination}` : `replayed ${n} dead letter(s) to ${values.destination}`);
        break;
      }
      case 'purge': {
        if (!values.id && !values.since && !values.all) throw new UsageError('purge needs --id, --since or --all, so nothing is deleted by accident');
        if (values['dry-run']) out(`would purge ${(await dlq.list(sel, Number.MAX_SAFE_INTEGER)).length} dead letter(s) of ${values.destination}`);
        else out(`purged ${await dlq.purge(sel)} dead letter(s) of ${values.destination}`);
        break;
      }
    }
  } finally {
    await queue.close();
    await redis.quit().catch(() => redis.disconnect());
  }
}

async function waitReady(redis: ReturnType<typeof createRedis>, url: string): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`cannot reach Redis at ${url.replace(/\/\/[^@]*@/, '//')} within 5 s`)), 5_000);
    redis.once('ready', () => {
      clearTimeout(t);
      resolve();
    });
  });
}
