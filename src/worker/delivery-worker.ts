import { UnrecoverableError, Worker, type Job, type Queue } from 'bullmq';
import { BreakerStore } from '../delivery/breaker-store.js';
import { admit, resolveBreakerConfig, type BreakerConfig } from '../delivery/circuit-breaker.js';
import type { SigningKeyring } from '../signing/signing-keyring.js';
import { sign } from '../signing/standard-webhooks.js';
import type { RedisClient } from '../redis/client.js';
import { parseDuration } from '../api/duration.js';
import { timeOfEventId } from '../api/event.js';
import type { ResolvedDestination } from '../api/destination.js';
import type { EventStore } from '../event-store/event-store.js';
import type { EventLogWriter, LogEntry } from '../event-log/event-log-writer.js';
import { eventFacts } from '../event-log/event-facts.js';
import type { FinishedAttempt, RecordedState } from '../event-log/delivery-record.js';
import { logRetentionMs, responsePrefix } from '../event-log/retention.js';
import type { Logger } from '../log/logger.js';
import type { DeliveryMetrics } from '../metrics/metrics.js';
import { DestinationMetrics } from '../delivery/destination-metrics.js';
import type { DeadLetterAlerts } from '../dead-letters/dead-letter-alerts.js';
import { QUEUE_NAME, type RedisKeys } from '../redis/keys.js';
import { openDeliveryQueue, type DeliveryJobData } from '../queue/delivery-queue.js';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAttempt, concurrencyFor, DEFAULT_ADAPTIVE_CONCURRENCY, HEALTHY, isThrottled, type AdaptiveConcurrencyPolicy, type AdaptiveState } from '../delivery/adaptive-concurrency.js';
import { AttemptPacer } from '../delivery/attempt-pacer.js';
import type { AttemptRecord } from '../delivery/attempt-record.js';
import { classifyAttempt } from '../delivery/classify.js';
import type { DeliveryStatsStore } from '../delivery/delivery-stats.js';
import { RetryableDeliveryError, withoutStack } from '../delivery/errors.js';
import { HttpSender } from '../delivery/http-sender.js';
import { decideRetry, resolveRetryPolicy, type RetryPolicy } from '../delivery/retry-policy.js';
import { OrderedKeys, type AdvanceMode } from '../ordering/ordered-keys.js';

/** An event as the delivery log files it (LogEntry's own fields). */
type LogSubject = Pick<LogEntry, 'id' | 'at' | 'type' | 'producer'>;

export interface DeliveryWorkerDeps {
  /** A connection with `maxRetriesPerRequest: null`, as BullMQ's blocking commands need. */
  workerConnection: RedisClient;
  /** Where the destination's BullMQ `Queue` handle lives; never `redis` (see RedisRuntime.queueConnection). */
  queueConnection: RedisClient;
  redis: RedisClient;
  keys: RedisKeys;
  events: EventStore;
  stats: DeliveryStatsStore;
  alerts?: DeadLetterAlerts;
  metrics: DeliveryMetrics;
  logger: Logger;
  version: string;
  /** One sender (connection pool behind the SSRF guard) per destination. */
  sender: HttpSender;
  /** Standard Webhooks secrets; without them deliveries go unsigned. */
  keyring?: SigningKeyring;
  /** Header values from the destination's Secret; merged over `spec.headers`. */
  secretHeaders?: Record<string, string>;
  /** How long a job's lock lives without renewal; a killed worker's jobs are redelivered after about this long. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** Uniform in [0, 1): the retry jitter. Default Math.random. */
  random?: () => number;
  /** Milliseconds since the epoch: attempt times, breaker and signing decisions, pacing. Default Date.now. */
  clock?: () => number;
  /** Resolves after `ms`: how a throttled destination waits for its attempt's turn. Default node's timers. */
  sleep?: (ms: number) => Promise<void>;
  /** When a failing destination runs fewer deliveries at once; see adaptive-concurrency.ts. */
  adaptiveConcurrency?: AdaptiveConcurrencyPolicy;
  /** The delivery log; without it attempts are kept for dead letters only. */
  eventLog?: EventLogWriter;
  /** HERALD_EVENT_LOG_RETENTION (ms), unless the destination's spec says otherwise; default 0, no log. */
  eventLogRetentionMs?: number;
  /** Log every successful delivery at info (`herald dev`); otherwise at debug, off the hot path. */
  logDeliveries?: boolean;
  /**
   * How often ordered keys are swept for heads whose completion path never ran (a worker killed between
   * BullMQ's completion and the advance, ADR 0013); default 5 s. It bounds how long such a key waits.
   */
  orderingSweepIntervalMs?: number;
}

/**
 * Why a job finds its shared event body gone. A destination lets go of the body only once its
 * delivery succeeded (or its dead letter was purged, which removes the job too). So a job that was
 * already started before, by a worker that died before recording the result, was delivered then:
 * its receiver has the event. Any other job finding no body lost it to a purge.
 */
export function bodyGoneBecause(job: { attemptsMade: number; attemptsStarted?: number; stalledCounter?: number }): 'already-delivered' | 'purged' {
  const restarted = (job.stalledCounter ?? 0) > 0 || (job.attemptsStarted ?? 0) > job.attemptsMade + 1;
  return restarted ? 'already-delivered' : 'purged';
}

/** What every log line about one attempt carries. */
interface AttemptContext {
  eventId: string;
  attempt: number;
}

/** Headers set per delivery, after the destination's fixed ones. */
const PER_EVENT_HEADERS = new Set(['webhook-id', 'webhook-timestamp', 'webhook-signature']);

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
  private policy!: RetryPolicy;
  private timeoutMs!: number;
  /** How long this destination's delivery log keeps an event (ms); 0: no log. */
  private logRetentionMs!: number;
  private fixedHeaders!: string[];
  private readonly sender: HttpSender;
  private readonly log: Logger;
  private readonly metrics: DestinationMetrics;
  private readonly breaker: BreakerStore;
  private breakerConfig: BreakerConfig | undefined;
  private closing: Promise<void> | undefined;
  private adaptive: AdaptiveState = HEALTHY;
  /** Spaces attempt starts while the destination is throttled. */
  private readonly pacer: AttemptPacer;
  private readonly ordered: OrderedKeys;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private listening = false;

  constructor(destination: ResolvedDestination, private readonly deps: DeliveryWorkerDeps) {
    this.dest = this.adopt(destination);
    this.sender = deps.sender;
    this.log = deps.logger.child({ component: 'worker', destination: destination.name });
    this.metrics = new DestinationMetrics(deps.metrics, destination.name);
    this.breaker = new BreakerStore(deps.redis, deps.keys, destination.name);
    // Same options as every other handle: each Queue writes its event-stream cap into the queue's meta.
    this.queue = openDeliveryQueue(deps.queueConnection, deps.keys, destination.name);
    this.pacer = new AttemptPacer({ now: deps.clock ?? Date.now, sleep: deps.sleep ?? ((ms) => delay(ms)) });
    this.ordered = new OrderedKeys(deps.redis, deps.keys, destination.name);
  }

  get name(): string {
    return this.dest.name;
  }

  async start(): Promise<void> {
    this.worker = new Worker<DeliveryJobData>(QUEUE_NAME, (job) => this.process(job), {
      connection: this.deps.workerConnection,
      prefix: this.deps.keys.queuePrefix(this.dest.name),
      concurrency: this.concurrency(),
      lockDuration: this.deps.lockDurationMs ?? 30_000,
      stalledInterval: this.deps.stalledIntervalMs ?? 15_000,
      maxStalledCount: MAX_STALLED,
      autorun: false,
      // BullMQ's limiter lives in Redis, so the rate holds across every replica of the destination.
      ...(this.dest.spec.rateLimit ? { limiter: limiterFor(this.dest.spec.rateLimit.perSecond) } : {}),
      settings: {
        backoffStrategy: (_attempts, _type, err) => (err instanceof RetryableDeliveryError ? err.delayMs : 1_000),
      },
    });
    this.worker.on('error', (err) => this.log.warn({ err }, 'Worker connection error; retrying'));
    this.listenForOrdering();
    await this.applyPause();
    this.sweepTimer = setInterval(() => this.sweepOrdered(), this.deps.orderingSweepIntervalMs ?? 5_000);
    this.sweepTimer.unref();
    this.sweepOrdered();
    void this.worker.run();
    this.log.info({ concurrency: this.dest.spec.concurrency, url: redactedUrl(this.dest.spec.url) }, 'Started delivery worker');
  }

  /** Applies a changed spec without a restart: every field SPEC_FIELD_EFFECTS marks `live`. */
  async update(destination: ResolvedDestination): Promise<void> {
    this.dest = this.adopt(destination);
    // Pool first, so the deliveries BullMQ adds at the new concurrency find connections.
    this.sender.resize(Math.max(destination.spec.concurrency, 1));
    if (this.worker) setConcurrency(this.worker, this.concurrency());
    this.listenForOrdering();
    await this.applyPause();
    // A changed onDeadLetter, or ordering switched off, applies to the keys waiting now, not at the next sweep.
    this.sweepOrdered();
  }

  /** What each delivery reads of the spec, worked out once per spec (at start and on each live change). */
  private adopt(destination: ResolvedDestination): ResolvedDestination {
    this.policy = resolveRetryPolicy(destination.spec.retry);
    this.timeoutMs = parseDuration(destination.spec.timeout);
    this.logRetentionMs = this.deps.eventLog ? logRetentionMs(destination.spec, this.deps.eventLogRetentionMs ?? 0) : 0;
    this.fixedHeaders = this.headersOf(destination);
    this.breakerConfig = destination.spec.circuitBreaker ? resolveBreakerConfig(destination.spec.circuitBreaker) : undefined;
    return destination;
  }

  /**
   * While the destination orders deliveries, advances a job's key on BullMQ's `completed` and `failed`
   * events, emitted once BullMQ has moved the job out of `active` in Redis: only then may the next
   * event of the key go (ADR 0013). A retry's `failed` finds its head delayed and changes nothing.
   * Without ordering no listener is attached, so unordered deliveries do no extra work per job; keys
   * left from before ordering was switched off are released by the sweep.
   */
  private listenForOrdering(): void {
    if (!this.worker) return;
    const on = this.dest.spec.ordering !== undefined;
    if (on === this.listening) return;
    this.listening = on;
    if (on) {
      this.worker.on('completed', this.onFinished);
      this.worker.on('failed', this.onFinished);
    } else {
      this.worker.off('completed', this.onFinished);
      this.worker.off('failed', this.onFinished);
    }
  }

  private readonly onFinished = (job: Job<DeliveryJobData> | undefined): void => {
    if (job) this.advanceKeyOf(job);
  };

  /** `spec.ordering.onDeadLetter`, or `off` when the destination no longer orders (its keys are released). */
  private get orderingMode(): AdvanceMode {
    return this.dest.spec.ordering?.onDeadLetter ?? 'off';
  }

  /** Lets the next event of a finished job's key go, if the job was its key's head. */
  private advanceKeyOf(job: Job<DeliveryJobData>): void {
    const key = job.data.k;
    if (key === undefined) return;
    // A lost advance is caught up by the next sweep; the key waits until then, nothing is reordered.
    this.ordered.advance([key], this.orderingMode).catch((err: Error) => this.log.warn({ eventId: job.data.e, err: err.message }, 'Could not advance the ordering key; the sweep will'));
  }

  /** One sweep at a time; see OrderedKeys.sweep. */
  private sweepOrdered(): void {
    this.sweeping ??= this.ordered
      .sweep(this.orderingMode)
      .then((pushed) => {
        if (pushed > 0) this.log.info({ released: pushed }, 'Swept ordering keys: released events whose head had finished');
      })
      .catch((err: Error) => this.log.warn({ err: err.message }, 'Ordering sweep failed; retrying on the next'))
      .finally(() => (this.sweeping = undefined));
  }

  private async applyPause(): Promise<void> {
    // Pausing the queue (in Redis) rather than this worker holds every replica, and survives restarts.
    // A destination whose receiver answered 410 Gone stays paused until its spec changes.
    const paused = await this.queue.isPaused();
    const gone = await this.deps.stats.disabled(this.dest.name, this.dest.spec.url);
    if (!gone) await this.deps.stats.enable(this.dest.name); // a new URL ends a 410 disablement
    if ((this.dest.spec.paused || gone) && !paused) {
      await this.queue.pause();
      this.log.info('Paused destination');
    } else if (!this.dest.spec.paused && !gone && paused) {
      await this.queue.resume();
      this.log.info('Resumed destination');
    }
  }

  /** Processes one delivery; exported through the class for tests that want to call it directly. */
  async process(job: Job<DeliveryJobData>): Promise<void> {
    const { events, stats } = this.deps;
    const { metrics } = this;
    const now = this.deps.clock ?? Date.now;
    const destination = this.dest.name;
    const eventId = job.data.e;
    const attempt = job.attemptsMade + 1;
    // Bindings for log lines about this attempt; not a child logger, which would cost on every delivery.
    const ctx: AttemptContext = { eventId, attempt };
    const stored = await events.bodyFor(job);
    if (!stored) {
      if (bodyGoneBecause(job) === 'already-delivered') {
        this.log.info({ ...ctx, outcome: 'already-delivered' }, 'Already delivered before the worker restarted (body released); completing without sending again');
      } else {
        this.log.warn({ ...ctx, outcome: 'purged' }, 'Event body was purged; dropping delivery');
      }
      return;
    }
    const log = this.logRetentionMs > 0 ? this.logSubject(eventId, stored.body) : undefined;
    let probing = false;
    if (this.breakerConfig) {
      const verdict = admit(await this.breaker.read(), this.breakerConfig, now());
      if (verdict.action === 'hold' || (verdict.action === 'probe' && !(probing = await this.breaker.tryProbe(this.timeoutMs + 5_000)))) {
        // Stop the whole queue (every replica) until the next probe; this job goes back to waiting
        // without using an attempt.
        const delayMs = verdict.action === 'hold' ? verdict.delayMs : 1_000;
        await this.queue.rateLimit(delayMs);
        throw Worker.RateLimitError();
      }
      if (verdict.action === 'expire') {
        this.noteLog(log, 'dead', job.attemptsMade);
        return this.deadLetter(job, attempt, 'exhausted', 'circuit open longer than maxOpenDuration', 'circuit open longer than maxOpenDuration', undefined, ctx);
      }
    }
    if (isThrottled(this.adaptive, this.adaptivePolicy)) await this.paced(ctx);
    const timestamp = Math.floor(now() / 1000);
    const headers = this.fixedHeaders.concat('webhook-id', eventId, 'webhook-timestamp', String(timestamp));
    const secrets = this.deps.keyring?.activeAt(new Date(now()));
    if (secrets && secrets.length > 0) headers.push('webhook-signature', sign({ id: eventId, timestamp, body: stored.body, secrets }));
    metrics.sending();
    // send() answers every failure with a result rather than a rejection, so nothing is left in flight.
    const sent = await this.sender.send({ url: this.dest.spec.url, body: stored.body, headers, timeoutMs: this.timeoutMs });
    metrics.sent();
    const finished = now();
    const outcome = classifyAttempt(sent.result, finished);
    const status = sent.result.kind === 'response' ? sent.result.status : undefined;
    this.adapt(outcome.outcome === 'success', ctx);
    if (this.breakerConfig) await this.recordBreaker(outcome.outcome === 'success', probing, finished, ctx);

    if (outcome.outcome === 'success') {
      metrics.attempt('success', sent.durationMs / 1000);
      metrics.delivered(attempt, Math.max(0, finished - stored.acceptedAt) / 1000);
      stats.delivered(destination, finished);
      if (log) {
        const done: FinishedAttempt = { attempt, at: finished, durationMs: Math.round(sent.durationMs) };
        if (status !== undefined) done.status = status;
        if (sent.responseSnippet) done.response = responsePrefix(sent.responseSnippet);
        this.noteLog(log, 'delivered', attempt, done);
      }
      // The receiver has the event: bookkeeping failures (a full Redis) must not turn it into a retry.
      await events.releaseFor(job.data, destination).catch((err) => this.log.warn({ ...ctx, err: (err as Error).message }, 'Delivered, but could not release the body'));
      // At info this line was the worker's busiest I/O; failures stay at warn and error. Guarded, so
      // its bindings are not built per delivery only to be dropped.
      if (this.deps.logDeliveries) this.log.info({ ...ctx, status, durationMs: Math.round(sent.durationMs), outcome: 'delivered' }, 'Delivered event');
      else if (this.log.isLevelEnabled('debug')) this.log.debug({ ...ctx, status, durationMs: Math.round(sent.durationMs), outcome: 'delivered' }, 'Delivered event');
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
    stats.failedAttempt(destination, outcome.reason, finished);
    await job.log(JSON.stringify(record));
    if (log) {
      const logged: FinishedAttempt = { ...record, at: finished, ...(record.response !== undefined ? { response: responsePrefix(record.response) } : {}) };
      if (decision.action === 'retry') this.noteLog(log, 'retrying', attempt, logged, finished + decision.delayMs);
      else this.noteLog(log, 'dead', attempt, logged);
    }
    metrics.attempt(decision.action === 'retry' ? 'retry' : 'failed', sent.durationMs / 1000);

    if (outcome.gone) await this.disable(outcome.reason, finished, ctx);
    if (decision.action === 'retry') {
      this.log.warn({ ...ctx, status, error: outcome.reason, outcome: 'retry', retryInMs: decision.delayMs }, 'Delivery failed; will retry');
      throw new RetryableDeliveryError(outcome.reason, decision.delayMs);
    }
    return this.deadLetter(job, attempt, decision.reason, `${decision.detail}: ${outcome.reason}`, outcome.reason, status, ctx);
  }

  /**
   * What the log files a delivery of this event under: the time its id carries (where a reader looks;
   * retention counts from it, so a replayed dead letter keeps its first time), its type and producer.
   * Undefined for an id without its time or a body that is not a delivery body: not logged.
   */
  private logSubject(id: string, body: string): LogSubject | undefined {
    const at = timeOfEventId(id);
    if (at === undefined) return undefined;
    const facts = eventFacts(body);
    return facts && { id, at, type: facts.type, producer: facts.producer };
  }

  /** Notes a delivery-log entry of this destination (`log` is set only while it keeps a log); not awaited, written with the next flush. */
  private noteLog(log: LogSubject | undefined, state: RecordedState, attempts: number, attempt?: FinishedAttempt, nextAttemptAt?: number): void {
    if (!log) return;
    this.deps.eventLog?.note(this.dest.name, { id: log.id, at: log.at, retentionMs: this.logRetentionMs, state, attempts, nextAttemptAt, type: log.type, producer: log.producer, attempt });
  }

  /**
   * The headers every delivery of `destination` carries. Each event's own (id, timestamp, signature)
   * are appended per delivery, so a Secret's header of the same name is dropped here rather than sent
   * twice (spec.headers cannot name them).
   */
  private headersOf(destination: ResolvedDestination): string[] {
    const secret = Object.entries(this.deps.secretHeaders ?? {}).filter(([name]) => !PER_EVENT_HEADERS.has(name.toLowerCase()));
    return HttpSender.headerList({
      ...destination.spec.headers,
      ...Object.fromEntries(secret),
      'content-type': 'application/json',
      'user-agent': `Herald/${this.deps.version}`,
    });
  }

  private get adaptivePolicy(): AdaptiveConcurrencyPolicy {
    return this.deps.adaptiveConcurrency ?? DEFAULT_ADAPTIVE_CONCURRENCY;
  }

  private concurrency(): number {
    return concurrencyFor(this.adaptive, this.dest.spec.concurrency, this.adaptivePolicy);
  }

  /** Waits for this attempt's turn while the destination is throttled (see AttemptPacer). */
  private async paced(ctx: AttemptContext): Promise<void> {
    const { waitMs, startsAt } = await this.pacer.wait(this.adaptivePolicy.throttledIntervalMs);
    // Only a failing destination gets here, so the line costs nothing on the healthy path.
    if (this.log.isLevelEnabled('debug')) this.log.debug({ ...ctx, waitMs, startsAt }, 'Destination throttled; pacing attempt');
  }

  /** Lowers this worker's concurrency while the destination keeps failing, and restores it on a success. */
  private adapt(success: boolean, ctx: AttemptContext): void {
    const before = this.concurrency();
    this.adaptive = afterAttempt(this.adaptive, success);
    const after = this.concurrency();
    if (after === before || !this.worker) return;
    setConcurrency(this.worker, after);
    if (after < before) this.log.warn({ ...ctx, failuresInRow: this.adaptive.failuresInRow, concurrency: after }, 'Destination keeps failing; lowering concurrency until a delivery succeeds');
    else this.log.info({ ...ctx, concurrency: after }, 'Delivery succeeded; concurrency restored');
  }

  /** Moves a delivery to the dead-letter store (BullMQ's failed set) and notes it for the digest email. */
  private async deadLetter(job: Job<DeliveryJobData>, attempt: number, reason: 'permanent' | 'exhausted', detail: string, error: string, status: number | undefined, ctx: AttemptContext): Promise<never> {
    const destination = this.dest.name;
    const at = (this.deps.clock ?? Date.now)();
    this.metrics.deadLettered(reason, attempt);
    this.deps.stats.deadLettered(destination);
    await this.deps.alerts?.note({ id: job.data.e, error, at });
    this.log.error({ ...ctx, status, error, outcome: 'dead', reason, detail }, 'Delivery dead-lettered');
    throw withoutStack(new UnrecoverableError(detail));
  }

  private async recordBreaker(success: boolean, probing: boolean, now: number, ctx: AttemptContext): Promise<void> {
    const { before, after } = await this.breaker.record(success, this.breakerConfig!, now);
    if (probing) await this.breaker.releaseProbe();
    if (!before.open && after.open) this.log.warn({ ...ctx, failures: after.failures, probeInMs: after.probeIntervalMs }, 'Circuit opened; holding deliveries and probing');
    else if (before.open && !after.open) this.log.info(ctx, 'Circuit closed; deliveries resume');
  }

  /**
   * A 410 Gone means the receiver retired this endpoint: stop sending (pause the queue, keep the
   * events) until an operator points the destination elsewhere or resumes it.
   */
  private async disable(reason: string, at: number, ctx: AttemptContext): Promise<void> {
    await this.deps.stats.disable(this.dest.name, this.dest.spec.url, reason, at);
    await this.queue.pause();
    this.log.error({ ...ctx, error: reason }, 'Receiver answered 410 Gone; destination disabled (queue paused, events kept)');
  }

  /**
   * Stops taking jobs and waits for in-flight deliveries up to `timeoutMs`; past it, closes without
   * waiting: those jobs' locks lapse and another worker redelivers them (same webhook-id).
   */
  async close(timeoutMs = 20_000): Promise<void> {
    this.closing ??= (async () => {
      if (this.sweepTimer) clearInterval(this.sweepTimer);
      if (this.worker) {
        const graceful = this.worker.close();
        const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
        if ((await Promise.race([graceful.then(() => 'done' as const), timer])) === 'timeout') {
          this.log.warn({ timeoutMs }, 'In-flight deliveries did not finish in time; leaving them for redelivery');
          await this.worker.close(true).catch(() => undefined);
        }
      }
      // Not the sweep: its calls wait for Redis, which may be away; it does nothing a later sweep would not.
      await Promise.allSettled([this.queue.close(), this.sender.close()]);
    })();
    return this.closing;
  }
}

/**
 * Sets a running BullMQ Worker's concurrency so that a raise takes effect at once. BullMQ's main
 * loop reads the new value only when a running job finishes: while every slot holds a slow
 * delivery it sleeps on its queue of running jobs. A resolved promise added to that queue wakes it
 * to fetch up to the new concurrency, as BullMQ's own resume() does. `mainLoopQueue` is private:
 * test/integration/live-spec-changes.test.ts fails if an upgrade moves it.
 */
function setConcurrency(worker: Worker<DeliveryJobData>, concurrency: number): void {
  const raised = concurrency > worker.concurrency;
  worker.concurrency = concurrency;
  if (raised) (worker as unknown as { mainLoopQueue?: { add(p: Promise<unknown>): void } | null }).mainLoopQueue?.add(Promise.resolve());
}

function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '[invalid url]';
  }
}

/**
 * BullMQ's limiter counts in fixed windows, which allows up to twice the rate across a window edge.
 * Short windows (one job per 1/rate s, or a tenth of the rate per 100 ms) keep bursts near the rate.
 */
export function limiterFor(perSecond: number): { max: number; duration: number } {
  if (perSecond <= 10) return { max: 1, duration: Math.round(1000 / perSecond) };
  return { max: Math.ceil(perSecond / 10), duration: 100 };
}
