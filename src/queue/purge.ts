import type { Queue } from 'bullmq';
import type { RedisClient } from '../redis/client.js';
import type { EventStore } from '../event-store/event-store.js';
import type { RedisKeys } from '../redis/keys.js';
import type { DeliveryJobData } from './delivery-queue.js';
import { OrderedKeys } from '../ordering/ordered-keys.js';

const PAGE = 500;

/**
 * Deletes every delivery of a destination, dead letters included, and its stats and alert state,
 * releasing the destination's reference on each event body so shared bodies are freed when no other
 * destination needs them. Safe to run again after a crash midway: released jobs are gone, so nothing
 * is released twice. Workers of the destination must be stopped first.
 */
export async function purgeDestination(queue: Queue<DeliveryJobData>, events: EventStore, redis: RedisClient, keys: RedisKeys, destination: string): Promise<number> {
  let purged = 0;
  // Events waiting behind their ordering key's head are in no BullMQ list: release them into `wait`
  // first, so they are removed (and their bodies released) like any other job.
  const ordered = new OrderedKeys(redis, keys, destination);
  await ordered.sweep('off');
  for (const state of ['waiting', 'prioritized', 'delayed', 'failed', 'active', 'completed'] as const) {
    for (;;) {
      const jobs = await queue.getJobs([state], 0, PAGE - 1);
      if (jobs.length === 0) break;
      let removed = 0;
      for (const job of jobs) {
        if (!job?.id) continue;
        // Remove first: a job that cannot be removed (still locked) must keep its reference.
        const ok = await job.remove().then(() => true, () => false);
        if (!ok) continue;
        await events.releaseFor(job.data, destination);
        removed++;
      }
      purged += removed;
      if (jobs.length < PAGE || removed === 0) break;
    }
  }
  await queue.obliterate({ force: true });
  await ordered.clear();
  await redis.del(keys.stats(destination), keys.alertPending(destination), keys.alertState(destination), keys.alertLock(destination), keys.breaker(destination));
  return purged;
}
