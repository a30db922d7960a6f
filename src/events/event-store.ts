import type { Redis } from 'ioredis';
import type { RedisKeys } from '../redis/keys.js';

/** A stored event: the delivery body serialised once, and when ingest accepted it. */
export interface StoredEvent {
  body: string;
  acceptedAt: number;
}

// Each destination that still needs the body holds a field `h:<destination>`; the body is deleted
// when the last one lets go. Removing a named field (rather than decrementing a counter) makes a
// release idempotent: a worker killed between releasing and acking is redelivered and releases again
// without taking the body from another destination. Fields b and t stay, hence "<= 2".
const RELEASE_LUA = `
redis.call('HDEL', KEYS[1], 'h:' .. ARGV[1])
local left = redis.call('HLEN', KEYS[1]) - 2
if left <= 0 then redis.call('DEL', KEYS[1]) end
return left`;

/**
 * Event bodies, stored once and shared by every destination's delivery job. Each destination holds
 * the body until its delivery succeeds or its dead letter is purged; the last one deletes it.
 */
export class EventStore {
  constructor(private readonly redis: Redis, private readonly keys: RedisKeys) {
    if (!('heraldRelease' in redis)) redis.defineCommand('heraldRelease', { numberOfKeys: 1, lua: RELEASE_LUA });
  }

  /** Stores a body held by `destinations` unless it already exists (a retried idempotent ingest). */
  async put(id: string, event: StoredEvent, destinations: string[]): Promise<void> {
    const key = this.keys.event(id);
    const created = await this.redis.hsetnx(key, 'b', event.body);
    if (created === 1) await this.redis.hset(key, 't', String(event.acceptedAt), ...holders(destinations));
  }

  /** Queues the write of a fresh event on a MULTI (no existence check): the hot path of ingest. */
  putNew(pipeline: ReturnType<Redis['multi']>, id: string, event: StoredEvent, destinations: string[]): void {
    pipeline.hset(this.keys.event(id), 'b', event.body, 't', String(event.acceptedAt), ...holders(destinations));
  }

  /** Deletes bodies outright (clean-up after a failed ingest; DEL is allowed even when Redis is full). */
  async discard(ids: string[]): Promise<void> {
    if (ids.length > 0) await this.redis.del(...ids.map((id) => this.keys.event(id)));
  }

  async get(id: string): Promise<StoredEvent | undefined> {
    const [body, t] = await this.redis.hmget(this.keys.event(id), 'b', 't');
    if (body === null || body === undefined) return undefined;
    return { body, acceptedAt: Number(t ?? 0) };
  }

  /** `destination` no longer needs the body; returns how many destinations still do (≤ 0: deleted). */
  async release(id: string, destination: string): Promise<number> {
    return (this.redis as unknown as { heraldRelease(key: string, dest: string): Promise<number> }).heraldRelease(this.keys.event(id), destination);
  }
}

function holders(destinations: string[]): string[] {
  return destinations.flatMap((d) => [`h:${d}`, '1']);
}
