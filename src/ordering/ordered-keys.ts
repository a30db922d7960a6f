import type { RedisClient } from '../redis/client.js';
import { QUEUE_NAME, type RedisKeys } from '../redis/keys.js';
import { defineScript, type ScriptCall } from '../redis/scripts.js';
import { ADVANCE_LUA } from './ordered-lua.js';

/** How a key moves on once its head is dead-lettered (`spec.ordering.onDeadLetter`), or `off` to release every key. */
export type AdvanceMode = 'continue' | 'block' | 'off';

/** A destination's ordered keys at a glance: what `kubectl get dest` and the metrics show. */
export interface OrderingStatus {
  /** Keys with an event not yet delivered or dead-lettered. */
  keys: number;
  /** Keys held by a dead-lettered head (`onDeadLetter: block`). */
  blocked: number;
  /** Events waiting behind their key's head (not yet in BullMQ's queue, so not in its backlog). */
  waiting: number;
  /** When the oldest event still waiting for its turn (or being delivered) was accepted, ms since the epoch. */
  oldestWaitingSince?: number;
}

/** Keys advanced per script call during a sweep, so one call stays short. */
const SWEEP_PAGE = 200;

/**
 * One destination's ordered keys in Redis (ADR 0013): advancing a key once its head is done, the sweep
 * that catches up with heads whose completion path never ran (a worker killed between BullMQ's
 * completion and the advance), and the status. Ingest's append lives in its write script.
 */
export class OrderedKeys {
  private readonly advanceScript: ScriptCall<number>;
  private readonly base: string;
  private readonly queueKeys: string[];

  constructor(private readonly redis: RedisClient, keys: RedisKeys, readonly destination: string) {
    this.advanceScript = defineScript(redis, { name: 'heraldOrderAdvance', keys: 7, lua: ADVANCE_LUA });
    this.base = keys.ordering(destination);
    const q = `${keys.queuePrefix(destination)}:${QUEUE_NAME}:`;
    this.queueKeys = [`${this.base}since`, `${this.base}blocked`, `${q}wait`, `${q}meta`, `${q}active`, `${q}marker`, `${q}failed`, q];
  }

  /** Moves each of `orderingKeys` on if its head is done (see ADVANCE_LUA); returns how many events went live. */
  async advance(orderingKeys: readonly string[], mode: AdvanceMode): Promise<number> {
    if (orderingKeys.length === 0) return 0;
    return this.advanceScript(...this.queueKeys, mode, ...orderingKeys);
  }

  /** The id of the event that is `orderingKey`'s head (being delivered, retried or dead-lettered), if any. */
  async headOf(orderingKey: string): Promise<string | undefined> {
    return (await this.redis.lindex(`${this.base}q:${orderingKey}`, 0)) ?? undefined;
  }

  /** Advances every key that has a head (the members of `since`); returns how many events went live. */
  async sweep(mode: AdvanceMode): Promise<number> {
    let cursor = '0';
    let pushed = 0;
    do {
      const [next, flat] = await this.redis.zscan(`${this.base}since`, cursor, 'COUNT', SWEEP_PAGE);
      cursor = next;
      const keys: string[] = [];
      for (let i = 0; i < flat.length; i += 2) keys.push(flat[i]!);
      pushed += await this.advance(keys, mode);
    } while (cursor !== '0');
    return pushed;
  }

  /** Deletes the destination's ordering state (after its queue was purged); keys' lists must be gone by then (sweep 'off'). */
  async clear(): Promise<void> {
    await this.redis.del(`${this.base}since`, `${this.base}blocked`, `${this.base}waiting`);
  }

  async status(): Promise<OrderingStatus> {
    return readOrderingStatus(this.redis, this.base);
  }

  /** The keys held by a dead letter, with its event id, up to about `limit`. */
  async blockedKeys(limit = 100): Promise<Array<{ key: string; eventId: string }>> {
    const [, flat] = await this.redis.hscan(`${this.base}blocked`, '0', 'COUNT', limit);
    const out: Array<{ key: string; eventId: string }> = [];
    for (let i = 0; i < flat.length && out.length < limit; i += 2) out.push({ key: flat[i]!, eventId: flat[i + 1]! });
    return out;
  }
}

/**
 * A destination's ordering status from its ordering base (RedisKeys.ordering), in one round trip:
 * for the controller's status and the queue gauges, which have no OrderedKeys of their own.
 */
export async function readOrderingStatus(redis: RedisClient, base: string): Promise<OrderingStatus> {
  // Four reads, not a MULTI: they go out together anyway, and a figure a moment apart from another is fine here.
  const [keys, blocked, waiting, oldest] = await Promise.all([redis.zcard(`${base}since`), redis.hlen(`${base}blocked`), redis.get(`${base}waiting`), redis.zrange(`${base}since`, 0, 0, 'WITHSCORES')]);
  return { keys, blocked, waiting: Math.max(0, Number(waiting ?? 0)), ...(oldest.length === 2 ? { oldestWaitingSince: Number(oldest[1]) } : {}) };
}
