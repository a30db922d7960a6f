import type { Clock, TimerHandle } from '../../../src/controller/clock.js';

/** Lets pending promise chains run (microtasks and one macrotask turn). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
}

/** A Clock whose time only moves when a test says so; timers fire in time order during `advance`. */
export class FakeClock implements Clock {
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  private seq = 0;

  constructor(private t = Date.UTC(2030, 0, 1)) {}

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as number);
  }

  /** Moves time forward by `ms`, firing every timer that falls due (and any they schedule) in order. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.t = next[1].at;
      this.timers.delete(next[0]);
      next[1].fn();
    }
    this.t = end;
    await settle();
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.timers.size;
  }
}
