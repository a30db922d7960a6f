import type { Redis } from 'ioredis';
import type { RedisKeys } from '../redis/keys.js';

/** Fields of the per-destination stats hash the controller shows on the Destination's status. */
export interface DeliveryStats {
  delivered: number;
  deadLettered: number;
  lastError?: string;
  lastErrorAt?: number;
  lastSuccessAt?: number;
  /** Set while the destination is disabled because its receiver answered 410 Gone. */
  disabledReason?: string;
  disabledAt?: number;
}

/** Durable per-destination counters, kept in Redis so they survive worker restarts and add up across replicas. */
export class DeliveryStatsStore {
  constructor(private readonly redis: Redis, private readonly keys: RedisKeys) {}

  async delivered(destination: string, at: number): Promise<void> {
    await this.redis.multi().hincrby(this.keys.stats(destination), 'delivered', 1).hset(this.keys.stats(destination), 'lastSuccessAt', String(at)).exec();
  }

  async failedAttempt(destination: string, error: string, at: number): Promise<void> {
    await this.redis.hset(this.keys.stats(destination), 'lastError', error.slice(0, 500), 'lastErrorAt', String(at));
  }

  async deadLettered(destination: string, count = 1): Promise<void> {
    await this.redis.hincrby(this.keys.stats(destination), 'deadLettered', count);
  }

  /** Marks the destination disabled for `url` (a 410 Gone); a spec with another URL is not disabled. */
  async disable(destination: string, url: string, reason: string, at: number): Promise<void> {
    await this.redis.hset(this.keys.stats(destination), 'disabledUrl', url, 'disabledReason', reason, 'disabledAt', String(at));
  }

  async disabled(destination: string, url: string): Promise<boolean> {
    return (await this.redis.hget(this.keys.stats(destination), 'disabledUrl')) === url;
  }

  /** Clears a 410 disablement (`herald resume`). */
  async enable(destination: string): Promise<void> {
    await this.redis.hdel(this.keys.stats(destination), 'disabledUrl', 'disabledReason', 'disabledAt');
  }

  async read(destination: string): Promise<DeliveryStats> {
    const h = await this.redis.hgetall(this.keys.stats(destination));
    return {
      delivered: Number(h.delivered ?? 0),
      deadLettered: Number(h.deadLettered ?? 0),
      ...(h.lastError ? { lastError: h.lastError } : {}),
      ...(h.lastErrorAt ? { lastErrorAt: Number(h.lastErrorAt) } : {}),
      ...(h.lastSuccessAt ? { lastSuccessAt: Number(h.lastSuccessAt) } : {}),
      ...(h.disabledReason ? { disabledReason: h.disabledReason, disabledAt: Number(h.disabledAt ?? 0) } : {}),
    };
  }
}
