import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { parseDuration } from '../api/duration.js';
import type { ResolvedDestination } from '../api/destination.js';
import type { EventStore } from '../events/event-store.js';
import type { Logger } from '../log/logger.js';
import type { DeliveryMetrics } from '../metrics/metrics.js';
import type { DeadLetterAlerts } from '../notify/dead-letter-alerts.js';
import { QUEUE_NAME, type RedisKeys } from '../redis/keys.js';
import type { DeliveryJobData } from '../queue/delivery-queue.js';
import type { AttemptRecord } from './attempt-record.js';
import { classifyAttempt } from './classify.js';
import type { DeliveryStatsStore } from './delivery-stats.js';
import { RetryableDeliveryError } from './errors.js';
import { HttpSender } from './http-sender.js';
import { decideRetry, resolveRetryPolicy, type RetryPolicy } from './retry-policy.js';

export interface DeliveryWorkerDeps {
  /** A connection with `maxRetriesPerRequest: null`, as BullMQ's blocking commands need. */
  workerConnection: Redis;
  redis: Redis;
  keys: RedisKeys;
  events: EventStore;
  stats: DeliveryStatsStore;
  alerts?: DeadLetterAlerts;
  metrics: DeliveryMetrics;
  logger: Logger;
  version: string;
  sender?: HttpSender;
  /** Header values from the destination's Secret; merged over `spec.headers`. */
  secretHeaders?: Record<string, string>;
  /** How long a job's lock lives without renewal; a killed worker's jobs are redelivered after about this long. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  random?: () => number;
  clock?: () => number;
}

/** A job that has been picked up again after its worker died keeps its number of started attempts; this many are tolerated. */
const MAX_STALLED = 20;

/**
 * Delivers one destination's queue: POSTs each event, classifies the answer, and either completes,
 * schedules a retry (through BullMQ's delayed set, so nothing waits in memory) or dead-letters it.
 */
export class DeliveryWorker {
  private worker: Worker<DeliveryJobData> | undefined;
  private readonly queue: Queue<DeliveryJobData>;
  private dest: ResolvedDestination;
  private policy: RetryPolicy;
  private timeoutMs: number;
  private readonly sender: HttpSender;
  private readonly log: Logger;
  private closing: Promise<void> | undefined;

  constructor(destination: ResolvedDestination, private readonly deps: DeliveryWorkerDeps) {
    this.dest = destination;
    this.policy = resolveRetryPolicy(destination.spec.retry);
    this.timeoutMs = parseDuration(destination.spec.timeout);
    this.sender = deps.sender ?? new HttpSender();
    this.log = deps.logger.child({ component: 'worker', destination: destination.name });
    this.queue = new Queue<DeliveryJobData>(QUEUE_NAME, { connection: deps.redis, prefix: deps.keys.queuePrefix(destination.name) });
  }

  get name(): string {
    return this.dest.name;
  }

  async start(): Promise<void> {
    this.worker = new Worker<DeliveryJobData>(QUEUE_NAME, (job) => this.process(job), {
      connection: this.deps.workerConnection,
      prefix: this.deps.keys.queuePrefix(this.dest.name),
      concurrency: this.dest.spec.concurrency,
      lockDuration: this.deps.lockDurationMs ?? 30_000,
      stalledInterval: this.deps.stalledIntervalMs ?? 15_000,
      maxStalledCount: MAX_STALLED,
      autorun: false,
      settings: {
        backoffStrategy: (_attempts, _type, err) => (err instanceof RetryableDeliveryError ? err.delayMs : 1_000),
      },
    });
    this.worker.on('error', (err) => this.log.warn({ err }, 'Worker connection error; retrying'));
    await this.applyPause();
    void this.worker.run();
    this.log.info({ concurrency: this.dest.spec.concurrency, url: redactedUrl(this.dest.spec.url) }, 'Started delivery worker');
  }

  /** Applies a changed spec without a restart (the controller also rolls the Deployment on spec changes). */
  async update(destination: ResolvedDestination): Promise<void> {
    this.dest = destination;
    this.policy = resolveRetryPolicy(destination.spec.retry);
    this.timeoutMs = parseDuration(destination.spec.timeout);
    if (this.worker) this.worker.concurrency = destination.spec.concurrency;
    await this.applyPause();
  }

  private async applyPause(): Promise<void> {
    // Pausing the queue (in Redis) rather than this worker holds every replica, and survives restarts.
    const paused = await this.queue.isPaused();
    if (this.dest.spec.paused && !paused) {
      await this.queue.pause();
      this.log.info('Paused destination');
    } else if (!this.dest.spec.paused && paused) {
      await this.queue.resume();
      this.log.info('Resumed destination');
    }
  }

  /** Processes one delivery; exported through the class for tests that want to call it directly. */
  async process(job: Job<DeliveryJobData>): Promise<void> {
    const { metrics, events, stats } = this.deps;
    const now = this.deps.clock ?? Date.now;
    const destination = this.dest.name;
    const eventId = job.data.e;
    const attempt = job.attemptsMade + 1;
    const log = this.log.child({ eventId, attempt });
    const stored = await events.get(eventId);
    if (!stored) {
      // Only a purge removes a body while deliveries still reference it; nothing is left to send.
      log.warn('Event body is gone (purged); dropping delivery');
      return;
    }
    const headers: Record<string, string> = {
      ...this.dest.spec.headers,
      ...this.deps.secretHeaders,
      'content-type': 'application/json',
      'user-agent': `Herald/${this.deps.version}`,
      'webhook-id': eventId,
      'webhook-timestamp': String(Math.floor(now() / 1000)),
    };
    metrics.inFlight.inc({ destination });
    const sent = await this.sender.send({ url: this.dest.spec.url, body: stored.body, headers, timeoutMs: this.timeoutMs }).finally(() => metrics.inFlight.dec({ destination }));
    const finished = now();
    const outcome = classifyAttempt(sent.result, finished);
    const status = sent.result.kind === 'response' ? sent.result.status : undefined;

    if (outcome.outcome === 'success') {
      metrics.deliveries.inc({ destination, outcome: 'success' });
      metrics.duration.observe({ destination, outcome: 'success' }, sent.durationMs / 1000);
      metrics.e2e.observe({ destination }, Math.max(0, finished - stored.acceptedAt) / 1000);
      metrics.attempts.observe({ destination, result: 'delivered' }, attempt);
      await Promise.all([stats.delivered(destination, finished), events.release(eventId)]);
      log.info({ status, durationMs: Math.round(sent.durationMs), outcome: 'delivered' }, 'Delivered event');
      return;
    }

    const record: AttemptRecord = {
      attempt,
      at: new Date(finished).toISOString(),
      ...(status !== undefined ? { status } : {}),
      error: outcome.reason,
      durationMs: Math.round(sent.durationMs),
      ...(sent.responseSnippet ? { response: sent.responseSnippet } : {}),
    };
    const decision = decideRetry(this.policy, {
      attempt,
      retryable: outcome.outcome === 'retry',
      ...(outcome.retryAfterMs !== undefined ? { retryAfterMs: outcome.retryAfterMs } : {}),
      firstQueuedAt: job.data.r ?? job.timestamp,
      now: finished,
      random: (this.deps.random ?? Math.random)(),
    });
    await Promise.all([job.log(JSON.stringify(record)), stats.failedAttempt(destination, outcome.reason, finished)]);
    metrics.duration.observe({ destination, outcome: decision.action === 'retry' ? 'retry' : 'failed' }, sent.durationMs / 1000);
    metrics.deliveries.inc({ destination, outcome: decision.action === 'retry' ? 'retry' : 'failed' });

    if (decision.action === 'retry') {
      log.warn({ status, error: outcome.reason, outcome: 'retry', retryInMs: decision.delayMs }, 'Delivery failed; will retry');
      throw new RetryableDeliveryError(outcome.reason, decision.delayMs);
    }
    metrics.deadLetters.inc({ destination, reason: decision.reason });
    metrics.attempts.observe({ destination, result: 'dead' }, attempt);
    await Promise.all([stats.deadLettered(destination), this.deps.alerts?.note({ id: eventId, error: outcome.reason, at: finished })]);
    log.error({ status, error: outcome.reason, outcome: 'dead', reason: decision.reason, gone: outcome.gone ?? false }, 'Delivery dead-lettered');
    throw new UnrecoverableError(`${decision.detail}: ${outcome.reason}`);
  }

  /**
   * Stops taking jobs and waits for in-flight deliveries up to `timeoutMs`; past it, closes without
   * waiting: those jobs' locks lapse and another worker redelivers them (same webhook-id).
   */
  async close(timeoutMs = 20_000): Promise<void> {
    this.closing ??= (async () => {
      if (this.worker) {
        const graceful = this.worker.close();
        const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
        if ((await Promise.race([graceful.then(() => 'done' as const), timer])) === 'timeout') {
          this.log.warn({ timeoutMs }, 'In-flight deliveries did not finish in time; leaving them for redelivery');
          await this.worker.close(true).catch(() => undefined);
        }
      }
      await Promise.allSettled([this.queue.close(), this.sender.close()]);
    })();
    return this.closing;
  }
}

function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '[invalid url]';
  }
}
