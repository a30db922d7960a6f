import { ReplyError } from 'ioredis';
import type { RedisClient } from '../redis/client.js';
import type { Logger } from '../log/logger.js';
import { IngestError, StoreOutcomeUnknownError, StoreUnavailableError } from './errors.js';
import type { WriteScripts } from './write-script.js';

interface Pending {
  seq: number;
  resolve: (reply: unknown) => void;
  reject: (err: unknown) => void;
  /** The connection went away before the reply came: applied or not is decided by {@link WriteTracker.recover}. */
  inDoubt: boolean;
}

/** Options of a {@link WriteTracker}. */
export interface WriteTrackerDeps {
  /** The connection the writes are sent on. */
  redis: RedisClient;
  /**
   * Whether the tracker watches `redis` for a lost connection itself (default true). Trackers that
   * share one Cluster client leave it to their owner, which calls {@link WriteTracker.connectionLost}.
   */
  watchConnection?: boolean;
  /** The write scripts' settling check, defined on `redis`. */
  check: WriteScripts['check'];
  /** This writer's journal key (RedisKeys.ingestWrites). */
  journal: string;
  /** How long the journal outlives the last write, ms. */
  journalTtlMs: number;
  /** How long a write in doubt waits for Redis to come back before it is answered "outcome unknown", ms. */
  settleTimeoutMs: number;
  /**
   * Runs after a settle found writes applied, before they are answered as stored: what a normal write
   * waits for besides its reply (HERALD_ACK_REPLICAS' WAIT). It runs on the same connection after the
   * check script, which wrote, so it covers the settled writes. Its IngestError is their answer.
   */
  confirmSettled?: () => Promise<void>;
  logger?: Logger;
}

/**
 * Tells apart, after a lost connection, the writes Redis applied from those it did not, so a client is
 * never told 503 for an event that will be delivered, nor 202 for one that will not.
 *
 * A reply tells what happened to a write. A write in flight when the connection closes has no reply:
 * Redis may have applied it (then crashed before answering, or the network dropped the answer) or not.
 * Each write carries a sequence number and, in the same script, records it as the last applied in this
 * writer's journal. Once Redis is back, one script raises a fence above every write in doubt (so a late
 * copy of one cannot be applied afterwards) and reads the last applied: writes on one connection run in
 * order, so the writes in doubt up to it were applied and the others never will be. That journal entry
 * is persisted with the write it describes (one script), so after a crash that lost writes it says
 * which survived. New writes are refused (503) while writes are in doubt, which keeps the check first.
 */
export class WriteTracker {
  private seq = 0;
  private readonly inFlight = new Map<number, Pending>();
  private recovering = false;

  constructor(private readonly deps: WriteTrackerDeps) {
    if (deps.watchConnection !== false) deps.redis.on('close', () => this.connectionLost());
  }

  /** Sends one write (`send` gets its sequence number); resolves with its reply, or undefined when it was settled after a lost connection. */
  run(send: (seq: number) => Promise<unknown>): Promise<unknown> {
    if (this.recovering) return Promise.reject(new StoreUnavailableError(new Error('settling writes interrupted by a lost Redis connection')));
    // Not connected: the write is certainly not sent, so certainly not applied.
    if (this.deps.redis.status !== 'ready') return Promise.reject(new StoreUnavailableError(new Error(`Redis connection is ${this.deps.redis.status}`)));
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      const pending: Pending = { seq, resolve, reject, inDoubt: false };
      this.inFlight.set(seq, pending);
      send(seq).then(
        (reply) => {
          if (pending.inDoubt) return;
          this.inFlight.delete(seq);
          resolve(reply);
        },
        (err: unknown) => {
          if (pending.inDoubt) return;
          // An error reply is Redis' answer: the script was refused before it wrote (OOM, a key of the wrong
          // type). An IngestError is the caller's own verdict (WAITAOF timed out).
          if (err instanceof ReplyError || err instanceof IngestError) {
            this.inFlight.delete(seq);
            reject(err);
          } else {
            this.connectionLost();
          }
        },
      );
    });
  }

  /** The connection went away: every write in flight is in doubt until Redis says whether it applied it. */
  connectionLost(): void {
    let any = false;
    for (const p of this.inFlight.values()) {
      p.inDoubt = true;
      any = true;
    }
    if (any && !this.recovering) {
      this.recovering = true;
      void this.recover();
    }
  }

  private async recover(): Promise<void> {
    const deadline = Date.now() + this.deps.settleTimeoutMs;
    for (;;) {
      const doubtful = [...this.inFlight.values()].filter((p) => p.inDoubt);
      if (doubtful.length === 0) break;
      const fence = Math.max(...doubtful.map((p) => p.seq));
      try {
        await this.ready(deadline);
        const applied = await this.deps.check(this.deps.journal, String(fence), String(this.deps.journalTtlMs));
        let unconfirmed: IngestError | undefined;
        if (this.deps.confirmSettled && doubtful.some((p) => p.seq <= applied)) {
          try {
            await this.deps.confirmSettled();
          } catch (err) {
            unconfirmed = err instanceof IngestError ? err : new StoreOutcomeUnknownError(err);
          }
        }
        let stored = 0;
        for (const p of doubtful) {
          this.inFlight.delete(p.seq);
          if (p.seq <= applied) {
            stored++;
            if (unconfirmed) p.reject(unconfirmed);
            else p.resolve(undefined);
          } else {
            p.reject(new StoreUnavailableError(new Error('the write did not reach Redis before the connection was lost')));
          }
        }
        this.deps.logger?.info({ inDoubt: doubtful.length, stored }, 'Settled writes interrupted by a lost Redis connection');
      } catch (err) {
        if (Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        for (const p of doubtful) {
          this.inFlight.delete(p.seq);
          p.reject(new StoreOutcomeUnknownError(err));
        }
        this.deps.logger?.warn({ err: (err as Error).message, inDoubt: doubtful.length }, 'Could not settle writes interrupted by a lost Redis connection; answered outcome unknown');
      }
    }
    this.recovering = false;
  }

  /** Resolves once the connection is ready; rejects past `deadline`. */
  private ready(deadline: number): Promise<void> {
    const { redis } = this.deps;
    if (redis.status === 'ready') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        redis.off('ready', onReady);
        reject(new Error('Redis did not come back in time'));
      }, Math.max(0, deadline - Date.now()));
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      redis.once('ready', onReady);
    });
  }
}
