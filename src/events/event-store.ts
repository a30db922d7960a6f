import type { Redis } from 'ioredis';
import type { RedisKeys } from '../redis/keys.js';

/** A stored event: the delivery body serialised once, and when ingest accepted it. */
export interface StoredEvent {
  body: string;
  acceptedAt: number;
}

// Deleting on the last release keeps the backlog's memory at one body per event, not one per
// destination, and lets memory return to baseline after a drain.
const RELEASE_LUA = `
local left = redis.call('HINCRBY', KEYS[1], 'r', -1)
if left <= 0 then redis.call('DEL', KEYS[1]) end
return left`;

/**
 * Event bodies, stored once and shared by every destination's delivery job. Each destination holds
 * one reference; the body is deleted when the last delivery succeeds or its dead letter is purged.
 */
export class EventStore {
  constructor(private readonly redis: Redis, private readonly keys: RedisKeys) {
    if (!('heraldRelease' in redis)) redis.defineCommand('heraldRelease', { numberOfKeys: 1, lua: RELEASE_LUA });
  }

  /** Stores a body with `refs` references unless it already exists (a retried idempotent ingest). */
  async put(id: string, event: StoredEvent, refs: number): Promise<void> {
    const key = this.keys.event(id);
    await this.redis.hsetnx(key, 'b', event.body).then(async (created) => {
      if (created === 1) await this.redis.hset(key, 't', String(event.acceptedAt), 'r', String(refs));
    });
  }

  /** Pipelines the writes for a fresh event (no existence check): the hot path of ingest. */
  putNew(pipeline: ReturnType<Redis['multi']>, id: string, event: StoredEvent, refs: number): void {
    pipeline.hset(this.keys.event(id), 'b', event.body, 't', String(event.acceptedAt), 'r', String(refs));
  }

  async get(id: string): Promise<StoredEvent | undefined> {
    const [body, t] = await this.redis.hmget(this.keys.event(id), 'b', 't');
    if (body === null || body === undefined) return undefined;
    return { body, acceptedAt: Number(t ?? 0) };
  }

  /** Drops one destination's reference; returns references left (≤ 0 means deleted). */
  async release(id: string): Promise<number> {
    return (this.redis as unknown as { heraldRelease(key: string): Promise<number> }).heraldRelease(this.keys.event(id));
  }

  /** Adds a reference, e.g. when a dead letter is replayed into a destination that already released it. */
  async retain(id: string): Promise<void> {
    await this.redis.hincrby(this.keys.event(id), 'r', 1);
  }
}
