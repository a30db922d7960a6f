import type { QueueHealth } from '../queue/queue-health.js';

/**
 * What `herald dev` says as it stops: how many deliveries each destination still has queued (they
 * are kept in Redis and go out on the next start), or that nothing was left. Pure, for tests.
 */
export function describeLeftQueued(per: Record<string, Pick<QueueHealth, 'waiting' | 'delayed' | 'active'>>): string {
  const parts = Object.entries(per)
    .map(([name, h]) => ({ name, total: h.waiting + h.delayed + h.active, h }))
    .filter((p) => p.total > 0)
    .map(({ name, total, h }) => `${name} ${total} (${[h.waiting && `${h.waiting} waiting`, h.delayed && `${h.delayed} awaiting a retry`, h.active && `${h.active} in flight`].filter(Boolean).join(', ')})`);
  if (parts.length === 0) return 'Stopped; no deliveries left queued';
  const total = Object.values(per).reduce((n, h) => n + h.waiting + h.delayed + h.active, 0);
  return `Stopped; ${total} deliver${total === 1 ? 'y' : 'ies'} left queued, kept in Redis for the next start: ${parts.join('; ')}`;
}
