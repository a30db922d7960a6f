/** Options of a {@link MicroBatch}. */
export interface MicroBatchOptions {
  /** A batch that reaches this many items is written at once instead of at the end of the turn. */
  maxItems: number;
  /** Runs `fn` once the current event-loop turn is done; `setImmediate` unless a test injects one. */
  schedule?: (fn: () => void) => void;
}

interface Waiting<T> {
  items: readonly T[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Gathers what concurrent callers submit during one event-loop turn and writes it with one call of
 * `write`, so that fifty requests parsed in the same turn cost one Redis round trip instead of fifty.
 * Each caller's promise settles with the write that carried its items: it resolves only once they are
 * stored, and it rejects with that write's error, so a failed write fails exactly the callers in it.
 *
 * `setImmediate` runs after the I/O callbacks of the current turn, which is where the HTTP parser
 * delivers every request body that arrived together; a lone request waits for nothing but the end of
 * its own turn.
 */
export class MicroBatch<T> {
  private waiting: Waiting<T>[] = [];
  private count = 0;
  private scheduled = false;
  private readonly schedule: (fn: () => void) => void;

  constructor(private readonly write: (items: T[]) => Promise<void>, private readonly opts: MicroBatchOptions) {
    this.schedule = opts.schedule ?? setImmediate;
  }

  /** Resolves once `items` (kept together in one write) are stored; rejects with that write's error. */
  submit(items: readonly T[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ items, resolve, reject });
      this.count += items.length;
      if (this.count >= this.opts.maxItems) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        this.schedule(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    const batch = this.waiting;
    if (batch.length === 0) return;
    this.waiting = [];
    this.count = 0;
    const items = batch.length === 1 ? [...batch[0]!.items] : batch.flatMap((w) => w.items);
    let written: Promise<void>;
    try {
      written = this.write(items);
    } catch (err) {
      written = Promise.reject(err);
    }
    written.then(
      () => {
        for (const w of batch) w.resolve();
      },
      (err: unknown) => {
        for (const w of batch) w.reject(err);
      },
    );
  }
}
