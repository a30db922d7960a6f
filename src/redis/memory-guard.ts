import { primariesOf, type RedisClient } from './client.js';

/**
 * Watches Redis memory so ingest can refuse new events (503) before Redis is full. Workers need
 * headroom to finish deliveries: at maxmemory Redis refuses the writes that complete a job, so a
 * delivered event would be retried over and over and the queue would never drain by itself.
 */
export class MemoryGuard {
  private full = false;
  private timer: NodeJS.Timeout | undefined;

  /** `onReading` gets every reading (bytes used, maxmemory or 0 when unlimited), e.g. for a gauge. */
  constructor(
    private readonly redis: RedisClient,
    private readonly highWater: number,
    private readonly intervalMs = 1_000,
    private readonly onReading?: (usedBytes: number, maxBytes: number) => void,
  ) {}

  start(): void {
    void this.check();
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  /** True while used memory is at or above `highWater` × maxmemory (never without a maxmemory); on a Cluster, on any primary. */
  get nearlyFull(): boolean {
    return this.full;
  }

  async check(): Promise<void> {
    try {
      // A Cluster is as full as its fullest primary: one full shard refuses the writes of its destinations.
      let fullest = { used: 0, max: 0, share: -1 };
      for (const server of primariesOf(this.redis)) {
        const info = await server.info('memory');
        const used = Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
        const max = Number(/maxmemory:(\d+)/.exec(info)?.[1] ?? 0);
        const share = max > 0 ? used / max : 0;
        if (share > fullest.share) fullest = { used, max, share };
      }
      this.full = fullest.max > 0 && fullest.used >= this.highWater * fullest.max;
      this.onReading?.(fullest.used, fullest.max);
    } catch {
      // Unreachable Redis is reported by the writes themselves; keep the last reading.
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
