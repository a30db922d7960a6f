import type { RedisClient } from '../redis/client.js';
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
// without taking the body from another destination. Fields b, t and r (a resume marker written by
// earlier versions) are not holders.
const RELEASE_LUA = `
redis.call('HDEL', KEYS[1], 'h:' .. ARGV[1])
local left = redis.call('HLEN', KEYS[1]) - 2 - redis.call('HEXISTS', KEYS[1], 'r')
if left <= 0 then redis.call('DEL', KEYS[1]) end
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
  };

  constructor(private readonly redis: RedisClient, private readonly keys: RedisKeys) {
    this.scripts = {
      heraldRelease: defineScript(redis, { name: 'heraldRelease', keys: 1, lua: RELEASE_LUA }),
    };
  }

  /** The holder fields and values a fresh body held by `destinations` is stored with (ingest's write script). */
  static holders(destinations: readonly string[]): string[] {
    return destinations.flatMap((d) => [holderField(d), '1']);
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
