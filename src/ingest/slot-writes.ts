import type { Cluster } from 'ioredis';
import type { Logger } from '../log/logger.js';
import type { RedisKeys } from '../redis/keys.js';
import { keySlot } from '../redis/key-slot.js';
import { assertAofSynced, assertReplicated, type ReplicationPlan } from './durability.js';
import { fencedWriteError, IngestError, StoreUnavailableError } from './errors.js';
import { slotWriteScripts, type SlotWriteScripts } from './slot-write-script.js';
import { WriteTracker } from './write-tracker.js';

/** One destination's part of a write on a Redis Cluster: the slot script's keys after the journal, and its arguments after the journal TTL. */
export interface SlotWrite {
  /** wait, meta, id, active, marker, log index. */
  keys: readonly string[];
  /** job-key prefix, log retention, ordering base, #jobs, then 4 per job. */
  args: readonly string[];
}

/** What became of each destination's part of a write. */
export type SlotOutcomes = Map<string, { ok: true } | { ok: false; error: IngestError }>;

/**
 * Ingest's writes on a Redis Cluster (ADR 0015): one script per destination, each in its
 * destination's slot, sent in parallel. Each destination has its own {@link WriteTracker} and journal
 * in its slot, so a write in doubt after a shard's primary died is settled on that shard alone while
 * writes to the other shards go on. With strict durability or acknowledge-after-replication, the
 * script goes in a pipeline with its `WAITAOF`/`WAIT`: ioredis sends a pipeline to one node on one
 * connection, so the wait covers that shard's write (a keyless `WAIT` alone would go to any node).
 */
export class SlotWrites {
  private readonly scripts: SlotWriteScripts;
  private readonly trackers = new Map<string, { tracker: WriteTracker; journal: string; slot: number }>();
  private readonly journalTtlArg: string;
  /**
   * The client's primaries by `host:port`, as its slot map names them; filled when a lookup misses and
   * emptied when the client adds or drops a node. Looked up on every write for every destination, so
   * not rebuilt from the client's node list each time: that cost grew with the number of shards.
   */
  private readonly primaries = new Map<string, { status: string }>();

  constructor(
    private readonly deps: {
      redis: Cluster;
      keys: RedisKeys;
      /** This ingest process's id, in each of its journals' names. */
      instance: string;
      journalTtlMs: number;
      settleTimeoutMs: number;
      waitAof: boolean;
      replication?: ReplicationPlan;
      waitAofTimeoutMs: number;
      logger?: Logger;
    },
  ) {
    this.scripts = slotWriteScripts(deps.redis);
    this.journalTtlArg = String(deps.journalTtlMs);
    // The Cluster client closes only when it lost every node; then every destination's writes are in doubt.
    deps.redis.on('close', () => {
      for (const { tracker } of this.trackers.values()) tracker.connectionLost();
    });
    for (const event of ['+node', '-node', 'refresh']) deps.redis.on(event, () => this.primaries.clear());
  }

  /** Waits for the client's slot map and opens its connection to every primary that answers, so the first writes find them up. */
  async connect(timeoutMs = 10_000): Promise<void> {
    const { redis } = this.deps;
    if (redis.status !== 'ready') {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the Redis Cluster client was not ready within ${timeoutMs} ms`)), timeoutMs);
        redis.once('ready', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    // A primary that does not answer now is not waited for: its destinations are answered 503 until it does.
    await Promise.allSettled(redis.nodes('master').map((n) => n.ping()));
  }

  /** Writes every destination's part at once; never rejects: each destination's outcome is in the map. */
  async write(parts: ReadonlyMap<string, SlotWrite>, now: string, jobName: string, streamCap: string): Promise<SlotOutcomes> {
    const names = [...parts.keys()];
    const settled = await Promise.allSettled(
      names.map((name) => {
        const part = parts.get(name)!;
        const { tracker, journal, slot } = this.trackerOf(name);
        // As on one Redis: a shard whose connection is down certainly does not get the write, so
        // it is not stored there (a write sent and then cut off is settled by the tracker instead).
        if (!this.primaryConnected(slot)) {
          // The client reconnects to a node only when a command goes its way: a read of the slot does.
          this.deps.redis.exists(journal).catch(() => undefined);
          return Promise.reject(new StoreUnavailableError(new Error(`the primary of ${name}'s slot is not connected`)));
        }
        return tracker.run((seq) => this.send(journal, part, [String(seq), now, jobName, streamCap, this.journalTtlArg]));
      }),
    );
    const outcomes: SlotOutcomes = new Map();
    settled.forEach((s, i) => {
      if (s.status === 'fulfilled' && s.value !== -1) outcomes.set(names[i]!, { ok: true });
      else if (s.status === 'fulfilled') outcomes.set(names[i]!, { ok: false, error: fencedWriteError() });
      else outcomes.set(names[i]!, { ok: false, error: s.reason instanceof IngestError ? s.reason : new StoreUnavailableError(s.reason) });
    });
    return outcomes;
  }

  /**
   * Waits for the replicas of `plan` on the shard of each of `destinations`: a write there (the
   * journal's TTL) and a `WAIT` behind it on the same node, which covers everything written there
   * before, e.g. a repeated Idempotency-Key's first write (made by any ingest process).
   * @throws ReplicationUnconfirmedError
   */
  async confirmReplicated(destinations: Iterable<string>, plan: ReplicationPlan): Promise<void> {
    await Promise.all([...new Set(destinations)].map((d) => this.confirm(this.trackerOf(d).journal, plan)));
  }

  /**
   * Whether the client's connection to the primary of `slot` is up. One not yet opened counts
   * as down: its first command would be the write, whose fate a refused connection leaves in doubt.
   * Start-up opens a connection to every primary (assertNoEviction); a newly promoted one is opened by
   * the read {@link write} sends when it finds it down.
   */
  private primaryConnected(slot: number): boolean {
    const { redis } = this.deps;
    const owner = redis.slots[slot]?.[0];
    if (owner === undefined) return false;
    let node = this.primaries.get(owner);
    if (!node) {
      for (const n of redis.nodes('master')) this.primaries.set(`${n.options.host}:${n.options.port}`, n);
      node = this.primaries.get(owner);
    }
    return node?.status === 'ready';
  }

  private trackerOf(destination: string): { tracker: WriteTracker; journal: string; slot: number } {
    let t = this.trackers.get(destination);
    if (!t) {
      const journal = this.deps.keys.ingestSlotWrites(destination, this.deps.instance);
      const plan = this.deps.replication;
      const tracker = new WriteTracker({
        redis: this.deps.redis,
        watchConnection: false,
        check: this.scripts.check,
        journal,
        journalTtlMs: this.deps.journalTtlMs,
        settleTimeoutMs: this.deps.settleTimeoutMs,
        // The check wrote on the slot's node; a WAIT sent there behind a write of the same slot covers it.
        ...(plan ? { confirmSettled: () => this.confirm(journal, plan) } : {}),
        ...(this.deps.logger ? { logger: this.deps.logger.child({ destination }) } : {}),
      });
      this.trackers.set(destination, (t = { tracker, journal, slot: keySlot(journal) }));
    }
    return t;
  }

  private async send(journal: string, part: SlotWrite, head: string[]): Promise<unknown> {
    const { waitAof, replication: plan } = this.deps;
    if (!waitAof && !plan) return this.scripts.write(journal, part.keys, head, part.args);
    const pipeline = this.deps.redis.pipeline();
    (pipeline as unknown as Record<string, (...a: unknown[]) => unknown>)[this.scripts.names.write]!.call(pipeline, journal, part.keys, head, part.args);
    if (waitAof) pipeline.call('WAITAOF', '1', '0', String(this.deps.waitAofTimeoutMs));
    if (plan) pipeline.call('WAIT', String(plan.replicas), String(plan.timeoutMs));
    const replies = await execAll(pipeline);
    const written = replies[0];
    let next = 1;
    if (waitAof) assertAofSynced(replies[next++] as [number, number]);
    if (plan) assertReplicated(plan, replies[next] as number);
    return written;
  }

  private async confirm(journal: string, plan: ReplicationPlan): Promise<void> {
    const [, copies] = await execAll(this.deps.redis.pipeline().pexpire(journal, this.deps.journalTtlMs).call('WAIT', String(plan.replicas), String(plan.timeoutMs)));
    assertReplicated(plan, copies as number);
  }
}

/** A pipeline's replies; throws the first error as Redis gave it (a ReplyError is Redis refusing, anything else a lost connection). */
async function execAll(pipeline: ReturnType<Cluster['pipeline']>): Promise<unknown[]> {
  const replies = await pipeline.exec();
  if (!replies) throw new Error('pipeline was discarded');
  for (const [err] of replies) if (err) throw err;
  return replies.map(([, r]) => r);
}
