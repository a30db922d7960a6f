import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../redis/client.js';
import type { Logger } from '../log/logger.js';
import type { DeliveryMetrics } from '../metrics/metrics.js';
import type { RedisKeys } from '../redis/keys.js';
import { digestMail, recoveredMail, type DeadLetterNote } from './digest-mail.js';
import { decideDigest, smtpRetryDelay, type DigestTiming } from './digest-policy.js';
import type { Mailer } from './mailer.js';

/** Unreported dead letters kept at most; past it the digest still counts them but loses the oldest samples. */
const PENDING_MAX = 10_000;
const SAMPLE_COUNT = 20;

/**
 * Dead-letter email alerts for one destination. Workers only append a note to a Redis stream (cheap,
 * never waits on SMTP); a loop in every worker replica tries to take a short lock and, per
 * `decideDigest`, sends one digest for everything pending. A failed send leaves the notes in place
 * and is retried with backoff.
 */
export class DeadLetterAlerts {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly owner = randomUUID();

  constructor(
    private readonly deps: {
      redis: RedisClient;
      keys: RedisKeys;
      destination: string;
      mailer?: Mailer;
      /** When the destination last delivered (DeliveryStatsStore.read); ends an alert episode. */
      stats: { read(destination: string): Promise<{ lastSuccessAt?: number }> };
      metrics: DeliveryMetrics;
      logger: Logger;
      timing: DigestTiming;
      namespace?: string;
      clock?: () => number;
    },
  ) {}

  get enabled(): boolean {
    return this.deps.mailer !== undefined;
  }

  /** Records a dead letter for the next digest. */
  async note(n: DeadLetterNote): Promise<void> {
    if (!this.enabled) return;
    const { redis, keys, destination } = this.deps;
    await redis
      .multi()
      .xadd(keys.alertPending(destination), 'MAXLEN', '~', String(PENDING_MAX), '*', 'id', n.id, 'error', n.error.slice(0, 300), 'at', String(n.at))
      .hset(keys.alertState(destination), 'lastDeadAt', String(n.at))
      .exec();
  }

  start(intervalMs = 2_000): void {
    if (!this.enabled || this.timer) return;
    this.timer = setInterval(() => {
      if (!this.running) this.running = this.tick().finally(() => (this.running = undefined));
    }, intervalMs);
    this.timer.unref();
  }

  /** One pass of the loop; exported for tests that drive time themselves. */
  async tick(): Promise<void> {
    const { redis, keys, destination, logger } = this.deps;
    const now = (this.deps.clock ?? Date.now)();
    const lock = keys.alertLock(destination);
    try {
      if ((await redis.set(lock, this.owner, 'PX', 30_000, 'NX')) === null) return;
      try {
        await this.sendIfDue(now);
      } finally {
        // Only release our own lock: a slow send may have outlived it and another replica taken it.
        if ((await redis.get(lock)) === this.owner) await redis.del(lock);
      }
    } catch (err) {
      logger.warn({ err, destination }, 'Dead-letter alert pass failed; will retry');
    }
  }

  private async sendIfDue(now: number): Promise<void> {
    const { redis, keys, destination, logger, metrics } = this.deps;
    const stateKey = keys.alertState(destination);
    const [pending, first, state, stats] = await Promise.all([
      redis.xlen(keys.alertPending(destination)),
      redis.xrange(keys.alertPending(destination), '-', '+', 'COUNT', 1),
      redis.hgetall(stateKey),
      this.deps.stats.read(destination),
    ]);
    const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
    const oldestPendingAt = first[0] ? Number(fieldsOf(first[0][1]).at) : undefined;
    const action = decideDigest(
      {
        now,
        pending,
        oldestPendingAt,
        lastDigestAt: num(state.lastDigestAt),
        inEpisode: state.episode === '1',
        lastDeadAt: num(state.lastDeadAt),
        lastSuccessAt: stats.lastSuccessAt,
        retryAt: num(state.retryAt),
      },
      this.deps.timing,
    );
    if (action === 'none') return;
    if (action === 'wait') return;
    const kind = action === 'digest' ? 'digest' : 'recovered';
    let lastId: string | undefined;
    let events = pending;
    let mail;
    if (action === 'digest') {
      // Every pending note (at most PENDING_MAX), so the digest counts events, not notes: a job the
      // worker dead-lettered twice (its lock lapsed on a busy machine and BullMQ ran it again) leaves
      // two notes for one event id.
      const entries = await redis.xrange(keys.alertPending(destination), '-', '+');
      lastId = entries.at(-1)?.[0];
      const notes = uniqueNotes(entries.map(([, f]) => fieldsOf(f)));
      events = notes.length;
      mail = digestMail({ destination, total: notes.length, samples: notes.slice(0, SAMPLE_COUNT), ...(this.deps.namespace ? { namespace: this.deps.namespace } : {}) });
    } else {
      mail = recoveredMail({ destination, at: stats.lastSuccessAt ?? now });
    }
    try {
      await this.deps.mailer!.send(mail);
    } catch (err) {
      const failures = Number(state.failures ?? 0) + 1;
      await redis.hset(stateKey, 'failures', String(failures), 'retryAt', String(now + smtpRetryDelay(failures)));
      metrics.alerts.inc({ destination, kind, result: 'failed' });
      logger.warn({ err, destination, kind }, 'Alert email failed; will retry');
      return;
    }
    metrics.alerts.inc({ destination, kind, result: 'sent' });
    if (action === 'digest') {
      // Drop exactly what the digest covered; notes added while sending wait for the next one.
      await redis.xtrim(keys.alertPending(destination), 'MINID', nextStreamId(lastId!));
      await redis.hset(stateKey, 'lastDigestAt', String(now), 'episode', '1', 'failures', '0', 'retryAt', '0');
      logger.info({ destination, deadLetters: events }, 'Sent dead-letter digest');
    } else {
      await redis.hset(stateKey, 'episode', '0', 'failures', '0', 'retryAt', '0');
      await redis.hdel(stateKey, 'lastDigestAt');
      logger.info({ destination }, 'Sent recovery email');
    }
  }

  /** Stops the loop; waits briefly for a send in progress (its notes stay pending if it is cut off). */
  async close(waitMs = 1_000): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.running) await Promise.race([this.running, new Promise((r) => setTimeout(r, waitMs).unref())]);
  }
}

function fieldsOf(flat: string[]): Record<string, string> {
  const o: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) o[flat[i]!] = flat[i + 1]!;
  return o;
}

/** The smallest stream id after `id`, so MINID keeps only entries added after it. */
function nextStreamId(id: string): string {
  const [ms, seq] = id.split('-');
  return `${ms}-${Number(seq ?? 0) + 1}`;
}

/** The first note of each event id, in stream order. */
export function uniqueNotes(fields: ReadonlyArray<Record<string, string | undefined>>): DeadLetterNote[] {
  const seen = new Set<string>();
  const notes: DeadLetterNote[] = [];
  for (const o of fields) {
    const id = o.id ?? '?';
    if (seen.has(id)) continue;
    seen.add(id);
    notes.push({ id, error: o.error ?? '', at: Number(o.at ?? 0) });
  }
  return notes;
}
