import type { Registry } from 'prom-client';
import type { DestinationSpec, ResolvedDestination } from '../api/destination.js';
import { changedFields, needsRestart } from '../api/spec-change.js';
import type { Config } from '../config/config.js';
import { DeliveryStatsStore } from '../delivery/delivery-stats.js';
import { EventLogWriter } from '../event-log/event-log-writer.js';
import { DeliveryWorker } from './delivery-worker.js';
import { readSecretHeaders } from '../delivery/secret-headers.js';
import { DEFAULT_ADAPTIVE_CONCURRENCY } from '../delivery/adaptive-concurrency.js';
import { HttpSender } from '../delivery/http-sender.js';
import { deliveryAddressPolicy } from '../security/delivery-policy.js';
import { loadSigningKeyring } from '../signing/signing-secrets.js';
import type { SigningKeyring } from '../signing/signing-keyring.js';
import { DestinationRegistry, DestinationWatcher } from '../redis/destination-registry.js';
import { EventStore } from '../event-store/event-store.js';
import type { Logger } from '../log/logger.js';
import { deliveryMetrics } from '../metrics/metrics.js';
import { DeadLetterAlerts } from '../dead-letters/dead-letter-alerts.js';
import type { Mailer } from '../dead-letters/mailer.js';
import type { RedisRuntime } from '../redis/redis-runtime.js';

export interface WorkerPoolOptions {
  config: Config;
  logger: Logger;
  registry: Registry;
  rt: RedisRuntime;
  /** Destinations to serve; undefined serves every destination in the registry (`herald dev`). */
  only?: string[];
  /** Log every successful delivery at info (`herald dev`). */
  logDeliveries?: boolean;
  mailer?: Mailer;
  version: string;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  alertIntervalMs?: number;
  /** How often delivery stats are written to Redis; default 1 s (tests set it long to see close() flush). */
  statsFlushIntervalMs?: number;
  /** How long a delivery-log entry waits for others to share its write; default 25 ms. */
  eventLogFlushIntervalMs?: number;
}

/**
 * Runs delivery workers for the destinations in the registry: starts one when a destination
 * appears, applies spec changes, stops it when the destination goes away.
 */
export class WorkerPool {
  private readonly workers = new Map<string, { worker: DeliveryWorker; alerts: DeadLetterAlerts; spec: DestinationSpec }>();
  private readonly watcher: DestinationWatcher;
  private readonly events: EventStore;
  private readonly stats: DeliveryStatsStore;
  /** The delivery log's writer, shared by every worker of the process like the stats. */
  private readonly eventLog: EventLogWriter;
  private readonly metrics;
  private readonly log: Logger;
  private chain: Promise<void> = Promise.resolve();
  private readonly policy;

  constructor(private readonly opts: WorkerPoolOptions) {
    const { rt } = opts;
    this.log = opts.logger.child({ component: 'worker-pool' });
    this.events = new EventStore(rt.redis, rt.keys);
    this.stats = new DeliveryStatsStore(rt.redis, rt.keys, {
      ...(opts.statsFlushIntervalMs !== undefined ? { flushIntervalMs: opts.statsFlushIntervalMs } : {}),
      onFlushError: (err) => this.log.warn({ err: err.message }, 'Could not write delivery stats; keeping them for the next flush'),
    });
    this.eventLog = new EventLogWriter(rt.redis, rt.keys, {
      ...(opts.eventLogFlushIntervalMs !== undefined ? { flushIntervalMs: opts.eventLogFlushIntervalMs } : {}),
      onFlushError: (err, dropped) => this.log.warn({ err: err.message, dropped }, 'Could not write the delivery log; these entries are lost (the deliveries are not affected)'),
    });
    this.metrics = deliveryMetrics(opts.registry);
    this.policy = deliveryAddressPolicy(opts.config);
    this.watcher = new DestinationWatcher(new DestinationRegistry(rt.redis, rt.keys), rt.connection('subscriber'), rt.keys, this.log);
  }

  async start(): Promise<void> {
    this.watcher.onChange((d) => this.enqueueSync(d));
    await this.watcher.start();
    this.enqueueSync(this.watcher.destinations);
    await this.chain;
    if (this.opts.only) {
      const missing = this.opts.only.filter((n) => !this.workers.has(n));
      if (missing.length > 0) this.log.warn({ destinations: missing }, 'Destination not in the registry yet; waiting for it to be published');
    }
  }

  get running(): string[] {
    return [...this.workers.keys()];
  }

  /** Serialises syncs so a burst of registry changes cannot start the same worker twice. */
  private enqueueSync(dests: readonly ResolvedDestination[]): void {
    this.chain = this.chain.then(() => this.sync(dests)).catch((err) => this.log.error({ err }, 'Worker sync failed'));
  }

  private async sync(dests: readonly ResolvedDestination[]): Promise<void> {
    const wanted = dests.filter((d) => !this.opts.only || this.opts.only.includes(d.name));
    for (const d of wanted) {
      const existing = this.workers.get(d.name);
      if (existing && changedFields(existing.spec, d.spec).length === 0) continue;
      if (existing && !needsRestart(existing.spec, d.spec)) {
        await existing.worker.update(d);
        existing.spec = d.spec;
        continue;
      }
      if (existing) {
        // Secrets and the rate limiter are fixed when a worker starts: restart it, finishing in-flight work first.
        this.workers.delete(d.name);
        await Promise.all([existing.worker.close(this.opts.config.HERALD_SHUTDOWN_TIMEOUT), existing.alerts.close()]);
        this.log.info({ destination: d.name, fields: changedFields(existing.spec, d.spec, 'restart') }, 'Restarting delivery worker for a changed spec');
      }
      await this.startOne(d);
    }
    for (const [name, w] of this.workers) {
      if (!wanted.some((d) => d.name === name)) {
        this.workers.delete(name);
        await Promise.all([w.worker.close(this.opts.config.HERALD_SHUTDOWN_TIMEOUT), w.alerts.close()]);
        this.log.info({ destination: name }, 'Stopped delivery worker');
      }
    }
  }

  private async startOne(d: ResolvedDestination): Promise<void> {
    const { opts } = this;
    const logger = opts.logger.child({ destination: d.name });
    let secretHeaders: Record<string, string> | undefined;
    let keyring: SigningKeyring | undefined;
    try {
      if (d.spec.headersFrom) secretHeaders = await readSecretHeaders(opts.config.HERALD_SECRETS_DIR, d.spec.headersFrom.secretRef.name);
      if (d.spec.signing) keyring = await loadSigningKeyring(opts.config.HERALD_SECRETS_DIR, d.spec.signing.secretRef.name);
    } catch (err) {
      // Sending unsigned or without credentials would be worse than waiting: the events stay queued.
      logger.error({ err: (err as Error).message }, 'Cannot read the destination\'s Secret; not starting its worker until it is readable');
      return;
    }
    const alerts = new DeadLetterAlerts({
      redis: opts.rt.redis,
      keys: opts.rt.keys,
      destination: d.name,
      ...(opts.mailer ? { mailer: opts.mailer } : {}),
      stats: this.stats,
      metrics: this.metrics,
      logger,
      timing: { windowMs: opts.config.HERALD_DIGEST_WINDOW, suppressMs: opts.config.HERALD_DIGEST_SUPPRESS },
      ...(opts.config.HERALD_NAMESPACE ? { namespace: opts.config.HERALD_NAMESPACE } : {}),
    });
    const worker = new DeliveryWorker(d, {
      workerConnection: opts.rt.connection('worker'),
      queueConnection: opts.rt.queueConnection,
      redis: opts.rt.redis,
      keys: opts.rt.keys,
      events: this.events,
      stats: this.stats,
      eventLog: this.eventLog,
      eventLogRetentionMs: opts.config.HERALD_EVENT_LOG_RETENTION,
      alerts,
      metrics: this.metrics,
      logger: opts.logger,
      version: opts.version,
      sender: new HttpSender({ policy: this.policy, connections: Math.max(d.spec.concurrency, 1), verifyTls: opts.config.HERALD_TLS_VERIFY }),
      ...(secretHeaders ? { secretHeaders } : {}),
      ...(keyring ? { keyring } : {}),
      lockDurationMs: opts.lockDurationMs ?? opts.config.HERALD_LOCK_DURATION,
      stalledIntervalMs: opts.stalledIntervalMs ?? Math.max(1_000, Math.floor(opts.config.HERALD_LOCK_DURATION / 2)),
      adaptiveConcurrency: { ...DEFAULT_ADAPTIVE_CONCURRENCY, throttledIntervalMs: opts.config.HERALD_THROTTLED_ATTEMPT_INTERVAL },
      ...(opts.logDeliveries ? { logDeliveries: true } : {}),
    });
    this.workers.set(d.name, { worker, alerts, spec: d.spec });
    await worker.start();
    alerts.start(opts.alertIntervalMs);
  }

  async close(timeoutMs = this.opts.config.HERALD_SHUTDOWN_TIMEOUT): Promise<void> {
    await this.watcher.close();
    await this.chain;
    const all = [...this.workers.values()];
    this.workers.clear();
    await Promise.allSettled(all.flatMap((w) => [w.worker.close(timeoutMs), w.alerts.close()]));
    // Only now have in-flight deliveries counted themselves; the caller closes Redis after this.
    await this.stats.close().catch((err: Error) => this.log.warn({ err: err.message }, 'Could not write the last delivery stats'));
    await this.eventLog.close();
  }
}

