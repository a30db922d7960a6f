import type { Logger } from '../log/logger.js';
import { sleep, type Clock, type TimerHandle } from './clock.js';

/** The spec of a coordination.k8s.io/v1 Lease, as far as leader election uses it. */
export interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  /** MicroTime strings (RFC 3339 with microseconds). */
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface StoredLease {
  record: LeaseRecord;
  resourceVersion: string;
}

/** Reads and writes one Lease; `update` must be a compare-and-swap on `resourceVersion`. */
export interface LeaseClient {
  /** Resolves undefined when the Lease does not exist. */
  get(): Promise<StoredLease | undefined>;
  /** @throws when the Lease already exists (someone else created it first). */
  create(record: LeaseRecord): Promise<StoredLease>;
  /** @throws on a resourceVersion conflict (someone else wrote it since we read it). */
  update(record: LeaseRecord, resourceVersion: string): Promise<StoredLease>;
}

export interface LeaderElectorOptions {
  client: LeaseClient;
  clock: Clock;
  logger: Logger;
  identity: string;
  /** How long a holder's claim lasts after its last renewal, as seen by others. Default 15 s. */
  leaseDurationMs?: number;
  /** A leader that has not renewed successfully for this long steps down. Default 10 s; must be < leaseDurationMs. */
  renewDeadlineMs?: number;
  /** Pause between attempts to acquire or renew. Default 2 s. */
  retryPeriodMs?: number;
  /** Called when this instance becomes leader; `signal` aborts the moment leadership is lost. */
  onStartedLeading: (signal: AbortSignal) => void;
  /** Called (once per term) when leadership is lost or released. */
  onStoppedLeading: () => void;
  /** Called when the observed holder changes (including to none). */
  onNewLeader?: (identity: string | undefined) => void;
  /** Returns [0, 1); spreads candidates' retries. */
  random?: () => number;
}

/** client-go's JitterFactor would stretch retries up to 2.2×; 0.2 keeps failover inside ~20 s with the defaults. */
const JITTER = 0.2;

/** Formats a time as a Kubernetes MicroTime. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000Z');
}

/**
 * Leader election on a coordination.k8s.io Lease, following client-go's algorithm:
 * - a candidate takes the Lease when it does not exist, has no holder, or its holder has not renewed
 *   it for `leaseDurationSeconds` — measured on the candidate's own clock from when it last saw the
 *   record change, so clock skew between nodes does not matter;
 * - every write is a compare-and-swap on resourceVersion, so two candidates never both succeed;
 * - the leader renews every `retryPeriod` and steps down `renewDeadline` after the start of its last
 *   successful renewal even if a request is still hanging. Since renewDeadline < leaseDuration, it
 *   has stopped before anyone else may take over: there are never two leaders.
 * After losing leadership the elector becomes a candidate again; `close()` releases the Lease so a
 * successor takes over at once instead of waiting for it to expire.
 */
export class LeaderElector {
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly random: () => number;
  private leading = false;
  private stopped = false;
  private observed: { json: string; at: number; record: LeaseRecord; resourceVersion?: string } | undefined;
  private term: AbortController | undefined;
  private deadline: TimerHandle | undefined;
  private readonly wake = new AbortController();
  private loop: Promise<void> | undefined;
  private lastHolder: string | undefined;
  private acquiredWhileClosing = false;

  constructor(private readonly opts: LeaderElectorOptions) {
    this.leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2_000;
    this.random = opts.random ?? Math.random;
    if (this.renewDeadlineMs >= this.leaseDurationMs) throw new Error('renewDeadlineMs must be shorter than leaseDurationMs');
  }

  /** Starts campaigning in the background. */
  start(): void {
    this.loop ??= this.run();
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** Stops campaigning; if leading, steps down and releases the Lease. Idempotent. */
  async close(): Promise<void> {
    if (this.stopped) return this.loop;
    this.stopped = true;
    this.wake.abort();
    await this.loop;
    // Release only a Lease we know we hold: after losing it (say, to a partition) someone else may.
    const holds = this.leading || this.acquiredWhileClosing;
    this.stepDown('shutting down');
    if (holds) await this.release();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const startedAt = this.opts.clock.now();
      if (await this.tryAcquireOrRenew()) {
        // close() raced our acquisition: it releases the Lease without us ever leading.
        if (this.stopped) {
          this.acquiredWhileClosing = true;
          return;
        }
        this.becomeLeader(startedAt);
        await this.renewLoop();
      } else {
        await sleep(this.opts.clock, this.retryPeriodMs * (1 + JITTER * this.random()), this.wake.signal);
      }
    }
  }

  private becomeLeader(renewedAt: number): void {
    this.leading = true;
    this.term = new AbortController();
    this.armDeadline(renewedAt);
    this.opts.logger.info({ identity: this.opts.identity }, 'Became leader');
    this.opts.onStartedLeading(this.term.signal);
  }

  private async renewLoop(): Promise<void> {
    while (this.leading && !this.stopped) {
      await sleep(this.opts.clock, this.retryPeriodMs, this.wake.signal);
      if (!this.leading || this.stopped) return;
      const startedAt = this.opts.clock.now();
      const ok = await this.tryAcquireOrRenew();
      if (!this.leading) return; // the deadline passed while the request hung
      if (ok) {
        this.armDeadline(startedAt);
      } else if (this.observed?.record.holderIdentity && this.observed.record.holderIdentity !== this.opts.identity) {
        this.stepDown(`lease taken by ${this.observed.record.holderIdentity}`);
        return;
      }
    }
  }

  private armDeadline(renewedAt: number): void {
    if (this.deadline !== undefined) this.opts.clock.clearTimeout(this.deadline);
    const left = renewedAt + this.renewDeadlineMs - this.opts.clock.now();
    this.deadline = this.opts.clock.setTimeout(() => this.stepDown(`could not renew the lease within ${this.renewDeadlineMs} ms`), left);
  }

  private stepDown(reason: string): void {
    if (!this.leading) return;
    this.leading = false;
    if (this.deadline !== undefined) this.opts.clock.clearTimeout(this.deadline);
    this.deadline = undefined;
    this.term?.abort(new Error(`leadership lost: ${reason}`));
    this.term = undefined;
    this.opts.logger.warn({ identity: this.opts.identity, reason }, 'Stopped leading');
    this.opts.onStoppedLeading();
  }

  /**
   * Bounds a Lease request by the renew deadline, and by close(): the elector must not depend on
   * the client's own timeouts to step down or to shut down.
   */
  private bounded<T>(p: Promise<T>, opts: { timeoutMs?: number; evenWhenClosing?: boolean } = {}): Promise<T> {
    const timeoutMs = opts.timeoutMs ?? this.renewDeadlineMs;
    return new Promise<T>((resolve, reject) => {
      const onWake = () => (opts.evenWhenClosing ? undefined : finish(() => reject(new Error('closing'))));
      const timer = this.opts.clock.setTimeout(() => finish(() => reject(new Error(`lease request took over ${timeoutMs} ms`))), timeoutMs);
      let done = false;
      const finish = (fn: () => void) => {
        if (done) return;
        done = true;
        this.opts.clock.clearTimeout(timer);
        this.wake.signal.removeEventListener('abort', onWake);
        fn();
      };
      if (this.wake.signal.aborted && !opts.evenWhenClosing) return onWake();
      this.wake.signal.addEventListener('abort', onWake, { once: true });
      p.then(
        (v) => finish(() => resolve(v)),
        (err: unknown) => finish(() => reject(err)),
      );
    });
  }

  /** One attempt; true when this instance holds the Lease afterwards. Errors count as "no". */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const me = this.opts.identity;
    try {
      const current = await this.bounded(this.opts.client.get());
      const now = this.opts.clock.now();
      if (!current) {
        const created = await this.bounded(this.opts.client.create({
          holderIdentity: me,
          leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0,
        }));
        this.observe(created);
        return true;
      }
      this.observe(current);
      const holder = current.record.holderIdentity || undefined;
      const durationMs = (current.record.leaseDurationSeconds ?? Math.ceil(this.leaseDurationMs / 1000)) * 1000;
      if (holder && holder !== me && this.observed!.at + durationMs > now) return false;
      const updated = await this.bounded(this.opts.client.update(
        {
          holderIdentity: me,
          leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
          acquireTime: holder === me && current.record.acquireTime ? current.record.acquireTime : microTime(now),
          renewTime: microTime(now),
          leaseTransitions: (current.record.leaseTransitions ?? 0) + (holder === me ? 0 : 1),
        },
        current.resourceVersion,
      ));
      this.observe(updated);
      return true;
    } catch (err) {
      this.opts.logger.debug({ err, identity: me }, 'Lease attempt failed');
      return false;
    }
  }

  /** Remembers when the record last changed, on our clock: expiry is judged from that, not from renewTime. */
  private observe(lease: StoredLease): void {
    const json = JSON.stringify(lease.record);
    if (this.observed?.json !== json) {
      this.observed = { json, at: this.opts.clock.now(), record: lease.record, resourceVersion: lease.resourceVersion };
    } else {
      this.observed.resourceVersion = lease.resourceVersion;
    }
    const holder = lease.record.holderIdentity || undefined;
    if (holder !== this.lastHolder) {
      this.lastHolder = holder;
      this.opts.onNewLeader?.(holder);
    }
  }

  /** Gives the Lease up: no holder and a 1 s duration, so a candidate takes it on its next try. */
  private async release(): Promise<void> {
    const rv = this.observed?.resourceVersion;
    if (!rv || this.observed?.record.holderIdentity !== this.opts.identity) return;
    const now = this.opts.clock.now();
    try {
      await this.bounded(
        this.opts.client.update(
          { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: this.observed.record.leaseTransitions ?? 0 },
          rv,
        ),
        { timeoutMs: this.retryPeriodMs, evenWhenClosing: true },
      );
      this.opts.logger.info({ identity: this.opts.identity }, 'Released leader lease');
    } catch (err) {
      // Someone renewed it meanwhile (we were no longer leader) or the API is away: it simply expires.
      this.opts.logger.warn({ err }, 'Could not release leader lease; it will expire');
    }
  }
}
