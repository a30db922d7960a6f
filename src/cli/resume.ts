import { parseArgs } from 'node:util';
import { DeliveryStatsStore } from '../delivery/delivery-stats.js';
import { openDeliveryQueue } from '../queue/delivery-queue.js';
import { openCliRedis } from './cli-redis.js';
import { UsageError, type Env } from './common.js';

export const resumeHelp = `Usage: herald resume --destination NAME

Re-enables a destination that Herald disabled because its receiver answered 410 Gone, and resumes
its queue. (Changing the destination's URL re-enables it too. A destination paused with
spec.paused stays paused: change the spec for that.)

Exit status: 0 resumed, 1 failure or unknown destination, 2 wrong usage.
Environment: REDIS_URL, HERALD_REDIS_PREFIX.`;

export async function runResume(argv: string[], env: Env, out: (l: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { destination: { type: 'string' } }, strict: true });
  if (!values.destination) throw new UsageError('--destination is required');
  const conn = await openCliRedis(env, 'resume', values.destination);
  const queue = openDeliveryQueue(conn.redis, conn.keys, values.destination);
  try {
    await new DeliveryStatsStore(conn.redis, conn.keys).enable(values.destination);
    await queue.resume();
    out(`resumed ${values.destination}`);
  } finally {
    await queue.close();
    await conn.close();
  }
}
