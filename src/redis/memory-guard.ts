import type { Redis } from 'ioredis';

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
    private readonly redis: Redis,
    private readonly highWater: number,
    private readonly intervalMs = 1_000,
    private readonly onReading?: (usedBytes: number, maxBytes: number) => void,
  ) {}

  start(): void {
    void this.check();
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  /** True while used memory is at or above `highWater` × maxmemory (never without a maxmemory). */
  get nearlyFull(): boolean {
    return this.full;
  }

  async check(): Promise<void> {
    try {
      const info = await this.redis.info('memory');
      const used = Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
      const max = Number(/maxmemory:(\d+)/.exec(info)?.[1] ?? 0);
      this.full = max > 0 && used >= this.highWater * max;
      this.onReading?.(used, max);
    } catch {
      // Unreachable Redis is reported by the writes themselves; keep the last reading.
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
