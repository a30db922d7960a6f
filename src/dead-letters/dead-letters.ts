import { setTimeout as sleep } from 'node:timers/promises';
import type { Job, Queue } from 'bullmq';
import type { RedisClient } from '../redis/client.js';
import type { EventStore } from '../event-store/event-store.js';
import { parseAttemptLog, type AttemptRecord } from '../delivery/attempt-record.js';
import type { DeliveryJobData } from '../redis/delivery-job.js';
import { destinationOfQueuePrefix } from '../redis/keys.js';
import type { OrderedKeys } from '../ordering/ordered-keys.js';

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

/** One page of a destination's dead letters, newest first. */
export interface DeadLetterPage {
  items: DeadLetter[];
  /** How many dead letters match the selection in all. */
  total: number;
  /** Pass as `after` for the next page; absent on the last page. */
  next?: string;
}

/** Progress of a replay or purge: `done` of `total`. Called after each event. */
export type OnProgress = (done: number, total: number) => void;

/** A replay or purge cut short by its signal: how far it got. */
export interface BatchResult {
  done: number;
  total: number;
  interrupted: boolean;
}

/** The `after` cursor names a dead letter that is not (or no longer) there. */
export class UnknownCursorError extends Error {
  readonly code = 'HERALD_DLQ_CURSOR';
}

/**
 * The dead-letter store of one destination: BullMQ's failed set, where jobs land atomically when
 * the worker gives up, so nothing is lost between "gave up" and "stored". Replay re-queues the same
 * job, so the event keeps its id (and receivers' deduplication by webhook-id keeps working).
 */
export class DeadLetters {
  private readonly destination: string;

  constructor(
    private readonly queue: Queue<DeliveryJobData>,
    private readonly events: EventStore,
    private readonly deps: { sleep?: (ms: number) => Promise<unknown>; clock?: () => number; ordered?: OrderedKeys } = {},
  ) {
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

  /**
   * One page of dead letters in [since, until), newest first, with the total, paged by a cursor: the
   * id of the last one shown. A cursor holds its place while new dead letters arrive at the front.
   * @throws UnknownCursorError when `after` is not a dead letter of this destination
   */
  async page(sel: Selection, opts: { limit: number; after?: string }): Promise<DeadLetterPage> {
    if (sel.id) {
      const items = await this.list(sel, 1);
      return { items, total: items.length };
    }
    // Herald's queues run on ioredis connections (openDeliveryQueue), so the client is an ioredis one.
    const client = (await this.queue.backend.client) as unknown as RedisClient;
    const key = this.queue.keys.failed!;
    const min = sel.since ?? '-inf';
    const max = sel.until !== undefined ? `(${sel.until}` : '+inf';
    const total = await client.zcount(key, min, max);
    let rank = 0;
    if (opts.after !== undefined) {
      const r = await client.zrevrank(key, opts.after);
      if (r === null) throw new UnknownCursorError(`--after ${opts.after}: no such dead letter (replayed or purged since?); start again without --after`);
      rank = r + 1;
    }
    const ids: string[] = [];
    let more = false;
    let pastWindow = false;
    // Newest first; skip the ones newer than the window, stop below it or one past the page.
    for (let start = rank; !more && !pastWindow; start += PAGE) {
      const chunk = await client.zrevrange(key, start, start + PAGE - 1, 'WITHSCORES');
      for (let i = 0; i < chunk.length && !more && !pastWindow; i += 2) {
        const score = Number(chunk[i + 1]);
        if (sel.until !== undefined && score >= sel.until) continue;
        if (sel.since !== undefined && score < sel.since) pastWindow = true;
        else if (ids.length === opts.limit) more = true;
        else ids.push(chunk[i]!);
      }
      if (chunk.length < PAGE * 2) break;
    }
    const jobs = await Promise.all(ids.map((id) => this.queue.getJob(id)));
    const items = jobs.filter((j): j is Job<DeliveryJobData> => j !== undefined).map(summary);
    return { items, total, ...(more && ids.length > 0 ? { next: ids[ids.length - 1]! } : {}) };
  }

  async show(id: string): Promise<DeadLetterDetail | undefined> {
    const job = await this.queue.getJob(id);
    if (!job || !(await job.isFailed())) return undefined;
    const [{ logs }, stored] = await Promise.all([this.queue.getJobLogs(id, 0, -1, true), this.events.bodyFor(job)]);
    return { ...summary(job), ...(stored ? { body: JSON.parse(stored.body) as unknown } : {}), history: parseAttemptLog(logs) };
  }

  /**
   * Sends selected dead letters again, at most `rate` per second so a receiver that just recovered is
   * not flattened. With `dryRun` it only counts. Stops early when `signal` aborts (Ctrl-C), saying how
   * far it got.
   */
  async replay(sel: Selection, opts: { dryRun?: boolean; rate?: number; onReplay?: (id: string) => void; onProgress?: OnProgress; signal?: AbortSignal } = {}): Promise<BatchResult> {
    const sleepFn = this.deps.sleep ?? sleep;
    const clock = this.deps.clock ?? Date.now;
    const ids: string[] = [];
    for await (const job of this.select(sel)) ids.push(job.id!);
    if (opts.dryRun) return { done: ids.length, total: ids.length, interrupted: false };
    const interval = opts.rate && opts.rate > 0 ? 1000 / opts.rate : 0;
    let n = 0;
    const started = clock();
    for (const id of ids) {
      if (opts.signal?.aborted) return { done: n, total: ids.length, interrupted: true };
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
      // A key blocked by this dead letter is no longer blocked: it is its head again, waiting.
      await this.unblock(job);
      opts.onReplay?.(id);
      n++;
      opts.onProgress?.(n, ids.length);
    }
    return { done: n, total: ids.length, interrupted: false };
  }

  /**
   * Deletes selected dead letters for good and lets the next event of each one's ordering key go: what
   * an operator does to a key blocked by a dead letter it gives up on (`onDeadLetter: block`). The
   * same as purge; the name says what it is for.
   */
  async skip(sel: Selection, opts: { onProgress?: OnProgress; signal?: AbortSignal } = {}): Promise<BatchResult> {
    return this.purge(sel, opts);
  }

  /** Deletes selected dead letters for good, stopping early when `signal` aborts; a key one of them blocked moves on. */
  async purge(sel: Selection, opts: { onProgress?: OnProgress; signal?: AbortSignal } = {}): Promise<BatchResult> {
    let n = 0;
    const ids: string[] = [];
    for await (const job of this.select(sel)) ids.push(job.id!);
    for (const id of ids) {
      if (opts.signal?.aborted) return { done: n, total: ids.length, interrupted: true };
      const job = await this.queue.getJob(id);
      if (!job || !(await job.isFailed())) continue;
      await job.remove();
      await this.events.releaseFor(job.data, this.destination);
      await this.unblock(job);
      n++;
      opts.onProgress?.(n, ids.length);
    }
    return { done: n, total: ids.length, interrupted: false };
  }

  /**
   * Moves on the ordering key of a replayed or deleted dead letter if it was the key's head. In `block`
   * mode: a replayed head stays head and is no longer blocked; a deleted one lets the next event go.
   * A dead letter that is no longer its key's head (`continue` moved past it) leaves the key alone.
   */
  private async unblock(job: Job<DeliveryJobData>): Promise<void> {
    if (job.data.k === undefined || !this.deps.ordered) return;
    if ((await this.deps.ordered.headOf(job.data.k)) === job.id) await this.deps.ordered.advance([job.data.k], 'block');
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
