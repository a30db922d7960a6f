import type { Queue } from 'bullmq';

export interface QueueHealth {
  waiting: number;
  delayed: number;
  active: number;
  /** Dead-lettered deliveries (BullMQ's failed set). */
  dead: number;
  /** Everything not yet done: what autoscaling and alerts look at. */
  backlog: number;
  /** Age of the oldest delivery waiting to be sent, 0 when none waits. */
  oldestWaitingSeconds: number;
}

/**
 * Reads a destination's queue state. Counts `prioritized` jobs as waiting so the backlog is whole
 * (BullMQ's raw `wait` list alone misses them; a paused queue keeps its jobs in `wait`).
 */
export async function readQueueHealth(queue: Queue, now = Date.now()): Promise<QueueHealth> {
  const c = await queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'failed');
  const waiting = (c.waiting ?? 0) + (c.prioritized ?? 0);
  const delayed = c.delayed ?? 0;
  const active = c.active ?? 0;
  let oldestWaitingSeconds = 0;
  if (waiting > 0) {
    // Which end of the list is older depends on BullMQ's internals (LIFO jobs, priorities), so look at both ends.
    const ends = [...(await queue.getJobs(['waiting'], 0, 0, true)), ...(await queue.getJobs(['waiting'], 0, 0, false))];
    const oldest = Math.min(...ends.map((j) => j.timestamp));
    if (Number.isFinite(oldest)) oldestWaitingSeconds = Math.max(0, (now - oldest) / 1000);
  }
  return { waiting, delayed, active, dead: c.failed ?? 0, backlog: waiting + delayed + active, oldestWaitingSeconds };
}
