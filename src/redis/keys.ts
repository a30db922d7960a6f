/**
 * The Redis key layout (docs/adr/0001-redis-layout.md). Everything per destination shares the
 * hash tag `{d:<name>}`, so on Redis Cluster one destination's queue, stats and alerts live in one
 * slot while different destinations spread across the cluster. Event bodies are stored once,
 * tagged by event id, and referenced by every destination's job.
 */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  /** BullMQ prefix of a destination's queue; BullMQ appends `:deliveries:<suffix>`. */
  queuePrefix(destination: string): string {
    return `${this.prefix}:{d:${destination}}`;
  }
  /** Counters and last error of a destination (delivered, deadLettered, lastError, lastErrorAt, lastSuccessAt). */
  stats(destination: string): string {
    return `${this.prefix}:{d:${destination}}:stats`;
  }
  /** Dead letters not yet reported by email (a stream, so several workers can share one digest). */
  alertPending(destination: string): string {
    return `${this.prefix}:{d:${destination}}:alerts:pending`;
  }
  /** Digest state: when the last digest went out and whether the destination is in an alerting episode. */
  alertState(destination: string): string {
    return `${this.prefix}:{d:${destination}}:alerts:state`;
  }
  /** Lock so only one worker replica sends a destination's digest at a time. */
  alertLock(destination: string): string {
    return `${this.prefix}:{d:${destination}}:alerts:lock`;
  }
  /** The destination's circuit breaker state, shared by its replicas. */
  breaker(destination: string): string {
    return `${this.prefix}:{d:${destination}}:breaker`;
  }
  /**
   * The delivery log's records of a destination's events accepted in one bucket of time (a hash:
   * the event id → its state, `<id>:<n>` → attempt n), expiring with the destination's retention
   * (docs/event-log.md, ADR 0012). `bucket` is the bucket's start, ms since the epoch; an event's
   * bucket follows from the time its id carries.
   */
  deliveryLog(destination: string, bucket: number): string {
    return `${this.prefix}:{d:${destination}}:evlog:${bucket}`;
  }
  /** The delivery log's index of a destination's events: a sorted set of ingest writes (their event ids, comma-separated) by time. */
  deliveryLogIndex(destination: string): string {
    return `${this.prefix}:{d:${destination}}:evlog`;
  }
  /**
   * Base of a destination's ordered-delivery keys (docs/adr/0013-ordered-delivery.md): `q:<key>` (list
   * of the key's events: first its head, the one live job of the key, then those waiting behind it),
   * `since` (sorted set key → accept time of its head; exactly the keys with a head), `blocked` (hash
   * key → its dead-lettered head) and `waiting` (how many events wait behind heads).
   */
  ordering(destination: string): string {
    return `${this.prefix}:{d:${destination}}:ord:`;
  }
  /** One stored delivery body plus its reference count. */
  event(id: string): string {
    return `${this.prefix}:{e:${id}}`;
  }
  idempotency(scope: string, key: string): string {
    return `${this.prefix}:idem:${scope}:${key}`;
  }
  /** A batch's Idempotency-Key: the hash of the whole batch, so reusing it with another batch is refused. */
  batchIdempotency(scope: string, key: string): string {
    return `${this.prefix}:idemb:${scope}:${key}`;
  }
  /**
   * One ingest process's write journal: the sequence number of the last write it applied and the
   * fence below which late writes are refused (src/ingest/write-tracker.ts).
   */
  ingestWrites(instance: string): string {
    return `${this.prefix}:ingest:{w:${instance}}`;
  }
  /**
   * One ingest process's write journal for one destination's slot, on a Redis Cluster, where each
   * destination's part of a write is a script of its own: a write in doubt is settled on that
   * destination's shard alone.
   */
  ingestSlotWrites(destination: string, instance: string): string {
    return `${this.prefix}:{d:${destination}}:ingest:${instance}`;
  }
  /** The active destination set: hash of name → JSON spec. */
  destinations(): string {
    return `${this.prefix}:destinations`;
  }
  /** Pub/sub channel announcing a change of the destination set. */
  destinationsChannel(): string {
    return `${this.prefix}:destinations:changed`;
  }
}

export const QUEUE_NAME = 'deliveries';

/** The destination a queue prefix (from {@link RedisKeys.queuePrefix}) belongs to. */
export function destinationOfQueuePrefix(prefix: string): string {
  const m = /\{d:([^}]+)\}$/.exec(prefix);
  if (!m) throw new Error(`"${prefix}" is not a Herald destination queue prefix`);
  return m[1]!;
}
