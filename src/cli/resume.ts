import { parseArgs } from 'node:util';
import { loadConfig } from '../config/config.js';
import { DeliveryStatsStore } from '../delivery/delivery-stats.js';
import { openDeliveryQueue } from '../queue/delivery-queue.js';
import { createRedis } from '../redis/connection.js';
import { RedisKeys } from '../redis/keys.js';
import { UsageError, waitForRedis, type Env } from './common.js';

export const resumeHelp = `Usage: herald resume --destination NAME

Re-enables a destination that Herald disabled because its receiver answered 410 Gone, and resumes
its queue. (Changing the destination's URL re-enables it too. A destination paused with
spec.paused stays paused: change the spec for that.)

Environment: REDIS_URL, HERALD_REDIS_PREFIX.`;

export async function runResume(argv: string[], env: Env, out: (l: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { destination: { type: 'string' } }, strict: true });
  if (!values.destination) throw new UsageError('--destination is required');
  const config = loadConfig(env);
  // Not a worker connection: those retry for ever, and a one-shot command must fail when Redis is down.
  const redis = createRedis(config.REDIS_URL, { name: 'resume' });
  redis.on('error', () => undefined); // reported by waitForRedis
  const keys = new RedisKeys(config.HERALD_REDIS_PREFIX);
  const queue = openDeliveryQueue(redis, keys, values.destination);
  try {
    await waitForRedis(redis, config.REDIS_URL);
    await new DeliveryStatsStore(redis, keys).enable(values.destination);
    await queue.resume();
    out(`resumed ${values.destination}`);
  } finally {
    await queue.close();
    await redis.quit().catch(() => redis.disconnect());
  }
}
