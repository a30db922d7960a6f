/** One ingest request as the client saw it. `status` 0 means no HTTP answer at all (connection refused, reset). */
export interface SentEvent {
  seq: number;
  status: number;
  /** The event id of a 202. */
  id?: string;
  /** The error code of a 4xx/5xx answer, or the network error of status 0. */
  code?: string;
  /** The error message of a 4xx/5xx answer (e.g. where a partially stored event is stored). */
  message?: string;
  retryAfter?: string | null;
  sentAt: number;
  answeredAt: number;
}

export interface Load {
  results: SentEvent[];
  /** Resolves once every started request has been answered. */
  done: Promise<void>;
  /** Stops starting new requests (in-flight ones still finish; await `done`). */
  stop(): void;
  accepted(): SentEvent[];
  /** Answers counted by status. */
  byStatus(): Record<number, number>;
}

/** POSTs one event to ingest and reports what came back, never throwing. */
export async function sendEvent(url: string, seq: number, body: unknown, headers: Record<string, string> = {}): Promise<SentEvent> {
  const sentAt = Date.now();
  try {
    const res = await fetch(`${url}/ingest`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
    const text = await res.text();
    let parsed: { id?: string; error?: { code?: string; message?: string } } = {};
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      // leave empty: the assertion on status will say what happened
    }
    return {
      seq,
      status: res.status,
      ...(res.status === 202 && parsed.id ? { id: parsed.id } : {}),
      ...(parsed.error?.code ? { code: parsed.error.code } : {}),
      ...(parsed.error?.message ? { message: parsed.error.message } : {}),
      retryAfter: res.headers.get('retry-after'),
      sentAt,
      answeredAt: Date.now(),
    };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    return { seq, status: 0, code: cause?.code ?? (err as Error).message, sentAt, answeredAt: Date.now() };
  }
}

/**
 * Keeps `concurrency` ingest requests in flight until `total` were sent or `stop()` is called.
 * Event `seq` carries `{ seq }` in its payload so a receiver can tell which request it came from,
 * even for requests that were not answered 202.
 */
export function startLoad(opts: {
  url: string;
  total?: number;
  concurrency: number;
  payload?: (seq: number) => unknown;
  headers?: (seq: number) => Record<string, string>;
  /** Pause between requests of one lane, to spread a load over time instead of sending it all at once. */
  paceMs?: number;
}): Load {
  const results: SentEvent[] = [];
  let next = 0;
  let stopped = false;
  const total = opts.total ?? Number.POSITIVE_INFINITY;
  const lane = async () => {
    while (!stopped && next < total) {
      const seq = next++;
      const payload = opts.payload ? opts.payload(seq) : { seq };
      results.push(await sendEvent(opts.url, seq, { userID: `user-${seq % 97}`, payload }, opts.headers?.(seq) ?? {}));
      if (opts.paceMs) await new Promise((r) => setTimeout(r, opts.paceMs));
    }
  };
  const done = Promise.all(Array.from({ length: opts.concurrency }, lane)).then(() => undefined);
  return loadOf(results, done, () => (stopped = true));
}

/**
 * Sends one event every `everyMs` without waiting for earlier answers (an open loop), until `stop()`.
 * Unlike {@link startLoad}'s lanes it keeps sending while some requests wait, e.g. the ones whose write
 * was in flight when Redis went away: ingest answers those only once Redis can say whether the write
 * was applied. Event `seq` counts from `firstSeq`, so its events can be told from another load's.
 */
export function startOpenLoad(opts: { url: string; everyMs: number; firstSeq: number }): Load {
  const results: SentEvent[] = [];
  const sent: Array<Promise<void>> = [];
  let seq = opts.firstSeq;
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const timer = setInterval(() => {
    const s = seq++;
    sent.push(sendEvent(opts.url, s, { userID: `user-${s % 97}`, payload: { seq: s } }).then((r) => void results.push(r)));
  }, opts.everyMs);
  const done = stopped.then(() => Promise.all(sent)).then(() => undefined);
  return loadOf(results, done, () => {
    clearInterval(timer);
    stop();
  });
}

function loadOf(results: SentEvent[], done: Promise<void>, stop: () => void): Load {
  return {
    results,
    done,
    stop,
    accepted: () => results.filter((r) => r.status === 202),
    byStatus: () => {
      const out: Record<number, number> = {};
      for (const r of results) out[r.status] = (out[r.status] ?? 0) + 1;
      return out;
    },
  };
}
