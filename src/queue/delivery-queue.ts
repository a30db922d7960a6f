import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import { QUEUE_NAME, type RedisKeys } from '../redis/keys.js';
import type { DeliveryJobData } from '../redis/delivery-job.js';

// The job layout lives beside the key layout; exported here too for the queue's users.
export type { DeliveryJobData } from '../redis/delivery-job.js';

/**
 * The `data` JSON of a new delivery job, as BullMQ would serialise `{ e, b, k }`: spliced from strings
 * because ingest builds one per job on its hot path. The enqueue contract test compares it with
 * `Queue.add`.
 */
export function deliveryJobDataJson(eventId: string, body?: string, orderingKey?: string): string {
  const e = JSON.stringify(eventId);
  const k = orderingKey === undefined ? '' : `,"k":${JSON.stringify(orderingKey)}`;
  return body === undefined ? `{"e":${e}${k}}` : `{"e":${e},"b":${JSON.stringify(body)}${k}}`;
}

/** BullMQ backoff type name; the worker's backoffStrategy applies Herald's own decision. */
export const HERALD_BACKOFF = 'herald';

/**
 * Job options for a delivery. The job id is the event id, so re-adding it (an idempotent retry of
 * ingest) is a no-op. Failed jobs are the dead-letter store, kept until replayed or purged; that is
 * BullMQ's default when neither the job nor the Worker sets `removeOnFail` (DeliveryWorker does not),
 * so the option is left out rather than stored in every job's hash.
 */
export function deliveryJobOptions(eventId: string, policy: { maxAttempts: number }): JobsOptions {
  return {
    jobId: eventId,
    attempts: policy.maxAttempts,
    backoff: { type: HERALD_BACKOFF },
    removeOnComplete: true,
  };
}

/**
 * Entries kept in a queue's BullMQ event stream. Herald does not consume it (dashboards may), and it
 * must not grow with the backlog: at BullMQ's default of 10,000 it alone held a full Redis above the
 * high-water mark after a drain.
 */
export const EVENT_STREAM_MAX_LEN = 100;

export function openDeliveryQueue(connection: ConnectionOptions, keys: RedisKeys, destination: string): Queue<DeliveryJobData> {
  return new Queue<DeliveryJobData>(QUEUE_NAME, {
    connection,
    prefix: keys.queuePrefix(destination),
    // Every handle writes its cap into the queue's meta, so all must agree.
    streams: { events: { maxLen: EVENT_STREAM_MAX_LEN } },
  });
}

/**
 * Keeps one BullMQ Queue handle per destination on a shared connection, opened on first use
 * and closed when the destination disappears.
 */
export class DeliveryQueues {
  private readonly queues = new Map<string, Queue<DeliveryJobData>>();

  constructor(private readonly connection: ConnectionOptions, private readonly keys: RedisKeys) {}

  get(destination: string): Queue<DeliveryJobData> {
    let q = this.queues.get(destination);
    if (!q) {
      q = openDeliveryQueue(this.connection, this.keys, destination);
      this.queues.set(destination, q);
    }
    return q;
  }

  /** Closes handles of destinations no longer in `keep`. */
  async retain(keep: Set<string>): Promise<void> {
    for (const [name, q] of this.queues) {
      if (!keep.has(name)) {
        this.queues.delete(name);
        await q.close();
      }
    }
  }

  async close(): Promise<void> {
    const all = [...this.queues.values()];
    this.queues.clear();
    await Promise.allSettled(all.map((q) => q.close()));
  }
}
