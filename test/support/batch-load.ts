/** One batch request as the client saw it: its events' sequence numbers, the answer, and the ids of accepted events. */
export interface SentBatch {
  seqs: number[];
  status: number;
  code?: string;
  /** The error message of a refused batch (e.g. where a partially stored one is stored). */
  message?: string;
  /** Event ids of the events answered 202, by seq. */
  ids: Map<number, string>;
  sentAt: number;
  answeredAt: number;
}

/** A running batch load (see {@link startBatchLoad}). */
export interface BatchLoad {
  results: SentBatch[];
  done: Promise<void>;
  stop(): void;
  /** Events answered 202, as [seq, id]. */
  accepted(): Array<[number, string]>;
  /** Sequence numbers of events in answers that were not 202 or 207 (refused whole). */
  refused(): number[];
  byStatus(): Record<number, number>;
}

/**
 * Keeps `concurrency` batch requests of `size` events in flight until stopped. Each event carries
 * `{ seq }` in its payload and `type`, so a receiver can tell which request it came from even when
 * the request was not answered 202.
 */
export function startBatchLoad(opts: { url: string; concurrency: number; size: number; type?: string; paceMs?: number; firstSeq?: number; headers?: (n: number) => Record<string, string> }): BatchLoad {
  const results: SentBatch[] = [];
  let next = opts.firstSeq ?? 0;
  let batchNo = 0;
  let stopped = false;
  const lane = async () => {
    while (!stopped) {
      const seqs = Array.from({ length: opts.size }, () => next++);
      const n = batchNo++;
      const body = JSON.stringify(seqs.map((seq) => ({ userID: `user-${seq % 97}`, type: opts.type ?? 'event', payload: { seq } })));
      const sentAt = Date.now();
      const sent: SentBatch = { seqs, status: 0, ids: new Map(), sentAt, answeredAt: 0 };
      try {
        const res = await fetch(`${opts.url}/ingest/batch`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...(opts.headers?.(n) ?? {}) } });
        const json = (await res.json()) as { results?: Array<{ index: number; status: number; id?: string }>; error?: { code?: string; message?: string } };
        sent.status = res.status;
        if (json.error?.code) sent.code = json.error.code;
        if (json.error?.message) sent.message = json.error.message;
        for (const r of json.results ?? []) if (r.status === 202 && r.id) sent.ids.set(seqs[r.index]!, r.id);
      } catch (err) {
        sent.code = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      }
      sent.answeredAt = Date.now();
      results.push(sent);
      if (opts.paceMs) await new Promise((r) => setTimeout(r, opts.paceMs));
    }
  };
  const done = Promise.all(Array.from({ length: opts.concurrency }, lane)).then(() => undefined);
  return {
    results,
    done,
    stop: () => void (stopped = true),
    accepted: () => results.flatMap((b) => [...b.ids]),
    refused: () => results.filter((b) => b.status !== 202 && b.status !== 207).flatMap((b) => b.seqs),
    byStatus: () => results.reduce<Record<number, number>>((acc, b) => ({ ...acc, [b.status]: (acc[b.status] ?? 0) + 1 }), {}),
  };
}
