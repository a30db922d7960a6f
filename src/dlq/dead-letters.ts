import { setTimeout as sleep } from 'node:timers/promises';
import type { Job, Queue } from 'bullmq';
import type { EventStore } from '../events/event-store.js';
import { parseAttemptLog, type AttemptRecord } from '../delivery/attempt-record.js';
import type { DeliveryJobData } from '../redis/delivery-job.js';
import { destinationOfQueuePrefix } from '../redis/keys.js';

export interface DeadLetter {
  id: string;
  /** When the delivery was first queued and when it was dead-lettered (ms since epoch). */
  queuedAt: number;
  failedAt: number;
  attempts: number;
  reason: string;
}

export interface DeadLetterDetail extends DeadLetter {
  body?: unknown;
  history: AttemptRecord[];
}

export interface Selection {
  id?: string;
  /** Only dead letters that failed in [since, until). */
  since?: number;
  until?: number;
}

const PAGE = 500;

/**
 * The dead-letter store of one destination: BullMQ's failed set, where jobs land atomically when
 * the worker gives up, so nothing is lost between "gave up" and "stored". Replay re-queues the same
 * job, so the event keeps its id (and receivers' deduplication by webhook-id keeps working).
 */
export class DeadLetters {
  private readonly destination: string;

  constructor(private readonly queue: Queue<DeliveryJobData>, private readonly events: EventStore, private readonly deps: { sleep?: (ms: number) => Promise<unknown>; clock?: () => number } = {}) {
    this.destination = destinationOfQueuePrefix(queue.opts.prefix ?? '');
  }

  async count(): Promise<number> {
    return this.queue.getFailedCount();
  }

  async list(sel: Selection = {}, limit = 100): Promise<DeadLetter[]> {
    const out: DeadLetter[] = [];
    for await (const job of this.select(sel)) {
      out.push(summary(job));
      if (out.length >= limit) break;
    }
    return out;
  }

  async show(id: string): Promise<DeadLetterDetail | undefined> {
    const job = await this.queue.getJob(id);
    if (!job || !(await job.isFailed())) return undefined;
    const [{ logs }, stored] = await Promise.all([this.queue.getJobLogs(id, 0, -1, true), this.events.bodyFor(job)]);
    return { ...summary(job), ...(stored ? { body: JSON.parse(stored.body) as unknown } : {}), history: parseAttemptLog(logs) };
  }

  /**
   * Sends selected dead letters again, at most `rate` per second so a receiver that just recovered is
   * not flattened. With `dryRun` it only counts. Returns how many were (or would be) replayed.
   */
  async replay(sel: Selection, opts: { dryRun?: boolean; rate?: number; onReplay?: (id: string) => void } = {}): Promise<number> {
    const sleepFn = this.deps.sleep ?? sleep;
    const clock = this.deps.clock ?? Date.now;
    const ids: string[] = [];
    for await (const job of this.select(sel)) ids.push(job.id!);
    if (opts.dryRun) return ids.length;
    const interval = opts.rate && opts.rate > 0 ? 1000 / opts.rate : 0;
    let n = 0;
    const started = clock();
    for (const id of ids) {
      if (interval > 0) {
        const due = started + n * interval;
        const wait = due - clock();
        if (wait > 0) await sleepFn(wait);
      }
      const job = await this.queue.getJob(id);
      if (!job || !(await job.isFailed())) continue;
      // A fresh retry window starts now; attempts count again from 1.
      await job.updateData({ ...job.data, r: clock() });
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      opts.onReplay?.(id);
      n++;
    }
    return n;
  }

  /** Deletes selected dead letters for good. Returns how many. */
  async purge(sel: Selection): Promise<number> {
    let n = 0;
    const ids: string[] = [];
    for await (const job of this.select(sel)) ids.push(job.id!);
    for (const id of ids) {
      const job = await this.queue.getJob(id);
      if (!job || !(await job.isFailed())) continue;
      await job.remove();
      await this.events.releaseFor(job.data, this.destination);
      n++;
    }
    return n;
  }

  private async *select(sel: Selection): AsyncGenerator<Job<DeliveryJobData>> {
    if (sel.id) {
      const job = await this.queue.getJob(sel.id);
      if (job && (await job.isFailed()) && inWindow(job, sel)) yield job;
      return;
    }
    for (let start = 0; ; start += PAGE) {
      const jobs = await this.queue.getFailed(start, start + PAGE - 1);
      for (const job of jobs) if (job && inWindow(job, sel)) yield job;
      if (jobs.length < PAGE) return;
    }
  }
}

function inWindow(job: Job, sel: Selection): boolean {
  const at = job.finishedOn ?? job.timestamp;
  return (sel.since === undefined || at >= sel.since) && (sel.until === undefined || at < sel.until);
}

function summary(job: Job<DeliveryJobData>): DeadLetter {
  return { id: job.id!, queuedAt: job.timestamp, failedAt: job.finishedOn ?? 0, attempts: job.attemptsMade, reason: job.failedReason ?? '' };
}
