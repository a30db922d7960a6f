import type { RedisClient } from '../redis/client.js';
import type { Logger } from '../log/logger.js';
import type { QueueMetrics } from '../metrics/metrics.js';
import type { RedisKeys } from '../redis/keys.js';
import { DeliveryQueues } from './delivery-queue.js';
import { readQueueHealth, type QueueHealth } from './queue-health.js';
import { readOrderingStatus } from '../ordering/ordered-keys.js';

/**
 * Publishes per-destination queue gauges. Exactly one process per destination may run this (the
 * controller leader in a cluster, `herald dev` locally), so a scrape of many worker replicas does
 * not multiply the backlog.
 */
export class QueueDepthExporter {
  private readonly queues: DeliveryQueues;
  private names: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly latest = new Map<string, QueueHealth>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly metrics: QueueMetrics,
    private readonly logger: Logger,
    queueConnection: RedisClient = redis,
  ) {
    this.queues = new DeliveryQueues(queueConnection, keys);
  }

  setDestinations(names: string[]): void {
    for (const gone of this.names.filter((n) => !names.includes(n))) {
      for (const state of ['waiting', 'delayed', 'active', 'dead']) this.metrics.depth.remove({ destination: gone, state });
      this.metrics.backlog.remove({ destination: gone });
      this.metrics.oldest.remove({ destination: gone });
      this.metrics.circuitOpen.remove({ destination: gone });
      this.metrics.disabled.remove({ destination: gone });
      for (const g of [this.metrics.orderingKeys, this.metrics.orderingBlocked, this.metrics.orderingWaiting, this.metrics.orderingOldest]) g.remove({ destination: gone });
      this.latest.delete(gone);
    }
    this.names = [...names];
    void this.queues.retain(new Set(names));
  }

  health(name: string): QueueHealth | undefined {
    return this.latest.get(name);
  }

  start(intervalMs = 5_000): void {
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), intervalMs);
    this.timer.unref();
  }

  async refresh(): Promise<void> {
    await Promise.all(
      this.names.map(async (destination) => {
        try {
          const [h, disabledUrl, breakerOpen, ordering] = await Promise.all([
            readQueueHealth(this.queues.get(destination)),
            this.redis.hget(this.keys.stats(destination), 'disabledUrl'),
            this.redis.hget(this.keys.breaker(destination), 'open'),
            readOrderingStatus(this.redis, this.keys.ordering(destination)),
          ]);
          this.metrics.orderingKeys.set({ destination }, ordering.keys);
          this.metrics.orderingBlocked.set({ destination }, ordering.blocked);
          this.metrics.orderingWaiting.set({ destination }, ordering.waiting);
          this.metrics.orderingOldest.set({ destination }, ordering.oldestWaitingSince ? Math.max(0, (Date.now() - ordering.oldestWaitingSince) / 1000) : 0);
          // Read from Redis rather than kept by workers, so the gauges stay right across worker restarts and idle replicas.
          this.metrics.disabled.set({ destination }, disabledUrl ? 1 : 0);
          this.metrics.circuitOpen.set({ destination }, breakerOpen === '1' ? 1 : 0);
          this.latest.set(destination, h);
          this.metrics.depth.set({ destination, state: 'waiting' }, h.waiting);
          this.metrics.depth.set({ destination, state: 'delayed' }, h.delayed);
          this.metrics.depth.set({ destination, state: 'active' }, h.active);
          this.metrics.depth.set({ destination, state: 'dead' }, h.dead);
          this.metrics.backlog.set({ destination }, h.backlog);
          this.metrics.oldest.set({ destination }, h.oldestWaitingSeconds);
        } catch (err) {
          this.logger.debug({ err, destination }, 'Queue depth refresh failed');
        }
      }),
    );
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.queues.close();
  }
}
