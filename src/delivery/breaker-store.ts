import type { RedisClient } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import { CLOSED, record, type BreakerConfig, type BreakerState } from './circuit-breaker.js';

/**
 * The breaker state in Redis, so every replica of a destination sees the same circuit. Updates are
 * read-modify-write; two replicas racing on the same failure can at worst open the circuit one
 * failure early, which is harmless.
 */
export class BreakerStore {
  constructor(private readonly redis: RedisClient, private readonly keys: RedisKeys, private readonly destination: string) {}

  private get key(): string {
    return this.keys.breaker(this.destination);
  }

  async read(): Promise<BreakerState> {
    const h = await this.redis.hgetall(this.key);
    if (!h.open) return CLOSED;
    const num = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));
    return {
      open: h.open === '1',
      failures: Number(h.failures ?? 0),
      ...(num(h.openedAt) !== undefined ? { openedAt: num(h.openedAt)! } : {}),
      ...(num(h.probeIntervalMs) !== undefined ? { probeIntervalMs: num(h.probeIntervalMs)! } : {}),
      ...(num(h.nextProbeAt) !== undefined ? { nextProbeAt: num(h.nextProbeAt)! } : {}),
    };
  }

  /** Applies an outcome; returns the state before and after so callers can log transitions. */
  async record(success: boolean, cfg: BreakerConfig, now: number): Promise<{ before: BreakerState; after: BreakerState }> {
    const before = await this.read();
    const after = record(before, success, cfg, now);
    if (JSON.stringify(before) !== JSON.stringify(after)) {
      await this.redis.multi().del(this.key).hset(this.key, flatten(after)).exec();
    }
    return { before, after };
  }

  /** Only one replica sends the probe; the lock outlives a delivery's timeout. */
  async tryProbe(ttlMs: number): Promise<boolean> {
    return (await this.redis.set(`${this.key}:probe`, '1', 'PX', ttlMs, 'NX')) === 'OK';
  }

  async releaseProbe(): Promise<void> {
    await this.redis.del(`${this.key}:probe`);
  }
}

function flatten(s: BreakerState): Record<string, string> {
  const o: Record<string, string> = { open: s.open ? '1' : '0', failures: String(s.failures) };
  if (s.openedAt !== undefined) o.openedAt = String(s.openedAt);
  if (s.probeIntervalMs !== undefined) o.probeIntervalMs = String(s.probeIntervalMs);
  if (s.nextProbeAt !== undefined) o.nextProbeAt = String(s.nextProbeAt);
  return o;
}
