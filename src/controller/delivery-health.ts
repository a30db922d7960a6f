import type { Queue } from 'bullmq';
import type { RedisClient } from '../redis/client.js';
import { readQueueHealth, type QueueHealth } from '../queue/queue-health.js';
import type { RedisKeys } from '../redis/keys.js';
import type { DeliveryHealth } from './destination-resource.js';
import { kubeTime } from './status.js';
import { readOrderingStatus, type OrderingStatus } from '../ordering/ordered-keys.js';

/** Upper bound of `lastError` in status; longer errors are cut with an ellipsis. */
export const LAST_ERROR_MAX = 512;

/**
 * Reads a destination's delivery health: queue state from BullMQ, the counters workers keep in
 * `stats(name)` (delivered, deadLettered, lastError, lastErrorAt, lastSuccessAt, and disabledUrl/
 * disabledReason/disabledAt after a 410 Gone; times in ms) and whether its circuit breaker is open.
 * Missing or garbled fields read as absent, never as an error: a brand-new destination has none.
 */
export async function readDeliveryHealth(redis: RedisClient, keys: RedisKeys, queue: Queue, name: string, url: string | undefined, now: number): Promise<DeliveryHealth> {
  const [q, stats, breakerOpen, ordering] = await Promise.all([readQueueHealth(queue, now), redis.hgetall(keys.stats(name)), redis.hget(keys.breaker(name), 'open'), readOrderingStatus(redis, keys.ordering(name))]);
  return toDeliveryHealth(q, stats, { breakerOpen: breakerOpen === '1', url, ordering });
}

/**
 * Pure half of readDeliveryHealth, unit-tested. A 410 disablement counts only while the spec still
 * has the URL that answered it: workers resume by themselves once the URL changes.
 */
export function toDeliveryHealth(q: QueueHealth, stats: Record<string, string>, extra: { breakerOpen?: boolean; url?: string; ordering?: OrderingStatus } = {}): DeliveryHealth {
  const count = (v: string | undefined) => {
    const n = Number(v);
    return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
  };
  const time = (v: string | undefined) => {
    const n = Number(v);
    return v !== undefined && Number.isFinite(n) && n > 0 ? kubeTime(n) : undefined;
  };
  const health: DeliveryHealth = {
    backlog: q.backlog,
    // Whole seconds: sub-second changes would rewrite status on every refresh for no reader's benefit.
    oldestPendingSeconds: Math.floor(q.oldestWaitingSeconds),
    delivered: count(stats.delivered),
    deadLettered: count(stats.deadLettered),
    deadLetters: q.dead,
  };
  if (stats.lastError) health.lastError = stats.lastError.length > LAST_ERROR_MAX ? `${stats.lastError.slice(0, LAST_ERROR_MAX - 1)}…` : stats.lastError;
  const lastErrorTime = time(stats.lastErrorAt);
  if (lastErrorTime) health.lastErrorTime = lastErrorTime;
  const lastSuccessTime = time(stats.lastSuccessAt);
  if (lastSuccessTime) health.lastSuccessTime = lastSuccessTime;
  if (extra.breakerOpen) health.circuitOpen = true;
  const o = extra.ordering;
  if (o && o.keys > 0) {
    health.ordering = { keys: o.keys, blockedKeys: o.blocked, waiting: o.waiting };
    if (o.oldestWaitingSince !== undefined && o.oldestWaitingSince > 0) health.ordering.oldestWaitingTime = kubeTime(o.oldestWaitingSince);
  }
  if (stats.disabledUrl && stats.disabledUrl === extra.url) {
    health.disabledReason = (stats.disabledReason || '410 Gone').slice(0, LAST_ERROR_MAX);
    const disabledTime = time(stats.disabledAt);
    if (disabledTime) health.disabledTime = disabledTime;
  }
  return health;
}
