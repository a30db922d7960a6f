import type { Redis } from 'ioredis';
import type { DeliveryJobData } from '../redis/delivery-job.js';
import type { RedisKeys } from '../redis/keys.js';
import { defineScript, type ScriptCall } from '../redis/scripts.js';

/** A stored event: the delivery body serialised once, and when ingest accepted it. */
export interface StoredEvent {
  body: string;
  acceptedAt: number;
}

// Each destination that still needs the body holds a field `h:<destination>`; the body is deleted
// when the last one lets go. Removing a named field (rather than decrementing a counter) makes a
// release idempotent: a worker killed between releasing and acking is redelivered and releases again
// without taking the body from another destination. Fields b, t and (after a resume) r are not holders.
const RELEASE_LUA = `
redis.call('HDEL', KEYS[1], 'h:' .. ARGV[1])
local left = redis.call('HLEN', KEYS[1]) - 2 - redis.call('HEXISTS', KEYS[1], 'r')
if left <= 0 then redis.call('DEL', KEYS[1]) end
return left`;

// An Idempotency-Key's retry completing an earlier attempt (possibly still running on another ingest
// replica): store the body unless it is there, claim the retry's holders (value "r" rather than "1")
// and mark the body resumed, all in one step, so the earlier attempt's clean-up after a failure
// (DISCARD_UNLESS_RESUMED_LUA) leaves the retry what it needs. ARGV: body, accepted-at, holder fields.
const PUT_RESUMED_LUA = `
if redis.call('HSETNX', KEYS[1], 'b', ARGV[1]) == 1 then redis.call('HSET', KEYS[1], 't', ARGV[2]) end
for i = 3, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], 'r') end
redis.call('HSET', KEYS[1], 'r', '1')`;

// Not resumed: delete. Resumed: drop only the holders the retry did not claim (destinations the
// failed attempt routed to and the retry does not; a job of theirs, if one got queued, belongs to a
// request that was answered 503), and delete the body if no holder is left.
const DISCARD_UNLESS_RESUMED_LUA = `
if redis.call('HEXISTS', KEYS[1], 'r') == 0 then return redis.call('DEL', KEYS[1]) end
local fields = redis.call('HGETALL', KEYS[1])
local left = 0
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, 2) == 'h:' then
    if fields[i + 1] == 'r' then left = left + 1 else redis.call('HDEL', KEYS[1], fields[i]) end
  end
end
if left == 0 then redis.call('DEL', KEYS[1]) end
return left`;

/**
 * Event bodies, stored once. An event for one destination carries its body in its delivery job
 * (ADR 0007); one for several is stored here and shared by their jobs. Each destination holds a
 * shared body until its delivery succeeds or its dead letter is purged; the last one deletes it.
 * {@link bodyFor} and {@link releaseFor} take a job of either kind.
 */
export class EventStore {
  private readonly scripts: {
    heraldRelease: ScriptCall<number>;
    heraldPutResumed: ScriptCall<unknown>;
    heraldDiscardUnlessResumed: ScriptCall<number>;
  };

  constructor(private readonly redis: Redis, private readonly keys: RedisKeys) {
    this.scripts = {
      heraldRelease: defineScript(redis, { name: 'heraldRelease', keys: 1, lua: RELEASE_LUA }),
      heraldPutResumed: defineScript(redis, { name: 'heraldPutResumed', keys: 1, lua: PUT_RESUMED_LUA }),
      heraldDiscardUnlessResumed: defineScript(redis, { name: 'heraldDiscardUnlessResumed', keys: 1, lua: DISCARD_UNLESS_RESUMED_LUA }),
    };
  }

  /**
   * Stores a body held by `destinations` unless it already exists, for an idempotent ingest that
   * completes an earlier attempt; marks it resumed so that attempt's clean-up cannot delete it.
   */
  async putResumed(id: string, event: StoredEvent, destinations: readonly string[]): Promise<void> {
    await this.scripts.heraldPutResumed(this.keys.event(id), event.body, String(event.acceptedAt), ...destinations.map(holderField));
  }

  /**
   * Queues the write of a fresh event on a pipeline (no existence check): the hot path of ingest.
   * `holders` comes from {@link EventStore.holders}, made once per set of destinations, not per event.
   */
  putNew(pipeline: ReturnType<Redis['multi']>, id: string, event: StoredEvent, holders: readonly string[]): void {
    pipeline.hset(this.keys.event(id), 'b', event.body, 't', String(event.acceptedAt), ...holders);
  }

  /** The holder fields and values {@link putNew} stores for `destinations`. */
  static holders(destinations: readonly string[]): string[] {
    return destinations.flatMap((d) => [holderField(d), '1']);
  }

  /** Deletes bodies outright (clean-up after a failed ingest; DEL is allowed even when Redis is full). */
  async discard(ids: string[]): Promise<void> {
    if (ids.length > 0) await this.redis.del(...ids.map((id) => this.keys.event(id)));
  }

  /**
   * Clean-up after a failed ingest of events with an Idempotency-Key: deletes each body unless a
   * retry of the same key resumed it meanwhile (on another replica, or in a later write of this one)
   * and was told 202. One call per key: each body hashes to its own cluster slot.
   */
  async discardUnlessResumed(ids: string[]): Promise<void> {
    await Promise.all(ids.map((id) => this.scripts.heraldDiscardUnlessResumed(this.keys.event(id))));
  }

  /** The body a delivery job sends: the one it carries, or the shared one (undefined once purged). */
  async bodyFor(job: { data: DeliveryJobData; timestamp: number }): Promise<StoredEvent | undefined> {
    // A job that carries its body was written in the same step as the event was accepted.
    if (job.data.b !== undefined) return { body: job.data.b, acceptedAt: job.timestamp };
    return this.get(job.data.e);
  }

  /** A job of `destination` is done with its body: releases the shared one; a carried body goes with the job. */
  async releaseFor(data: DeliveryJobData, destination: string): Promise<void> {
    if (data.b === undefined) await this.release(data.e, destination);
  }

  async get(id: string): Promise<StoredEvent | undefined> {
    const [body, t] = await this.redis.hmget(this.keys.event(id), 'b', 't');
    if (body === null || body === undefined) return undefined;
    return { body, acceptedAt: Number(t ?? 0) };
  }

  /** `destination` no longer needs the body; returns how many destinations still do (≤ 0: deleted). */
  async release(id: string, destination: string): Promise<number> {
    return this.scripts.heraldRelease(this.keys.event(id), destination);
  }
}

/** The field by which `destination` holds a body (RELEASE_LUA builds the same name). */
function holderField(destination: string): string {
  return `h:${destination}`;
}
