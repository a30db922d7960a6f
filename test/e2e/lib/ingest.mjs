// Sending events through the Ingress, as a producer would: Bearer key, Idempotency-Key, and retries
// of the same key when no answer or a 503 comes back.
import { setTimeout as delay } from 'node:timers/promises';
import { API_KEY, Failure, env, waitFor } from './kube.mjs';
import { retryable } from './tally.mjs';

/** One POST; resolves {status, body} or {status: 'network'} when the connection failed. */
export async function post(url, body, { key, contentType = 'application/json', timeoutMs = 15_000 } = {}) {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': contentType, authorization: `Bearer ${API_KEY}`, ...(key ? { 'idempotency-key': key } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, text, json };
  } catch (err) {
    return { status: 'network', text: String(err.cause ?? err) };
  }
}

/**
 * POSTs one event until it is accepted (202), retrying the same Idempotency-Key while the Ingress
 * warms up; anything but a retryable answer fails at once. Resolves ingest's answer ({id, destinations}).
 */
export async function sendEvent(event, key, { url = env.ingestUrl, timeoutMs = 180_000 } = {}) {
  return waitFor(
    `ingest to accept ${key} at ${url}`,
    async () => {
      const r = await post(url, event, { key });
      if (r.status === 202) return r.json;
      if (!retryable(r.status) && r.status !== 404) throw new Failure(`POST ${url} (${key}) answered ${r.status}: ${r.text.slice(0, 300)}`);
      throw new Error(`HTTP ${r.status}: ${r.text.slice(0, 300)}`);
    },
    { timeoutMs, intervalMs: 1_000 },
  );
}

/** POSTs events to /ingest/batch (a JSON array); resolves the per-event answers once every event is accepted. */
export async function sendBatch(events, { url = `${env.ingestUrl}/batch` } = {}) {
  return waitFor(
    `ingest to accept a batch of ${events.length} at ${url}`,
    async () => {
      const r = await post(url, events, { timeoutMs: 60_000 });
      if (r.status === 202) return r.json;
      if (!retryable(r.status)) throw new Failure(`POST ${url} answered ${r.status}: ${r.text.slice(0, 500)}`);
      throw new Error(`HTTP ${r.status}: ${r.text.slice(0, 300)}`);
    },
    { timeoutMs: 120_000, intervalMs: 2_000 },
  );
}

/**
 * A steady, bounded load: `workers` loops each sending one event at a time (every event its own
 * Idempotency-Key, retried with that key on a retryable answer, at most `maxTries` times), pausing
 * `pauseMs` between events, until `stop()` is called or `maxEvents` were started. Every answer is
 * recorded for tallyLoad (lib/tally.mjs).
 */
export function startLoad({ makeEvent, keyPrefix, workers = 4, pauseMs = 50, maxEvents = 20_000, maxTries = 60 }) {
  /** @type {import('./tally.mjs').LoadEvent[]} */
  const events = [];
  let stopping = false;
  let next = 0;
  const loop = async () => {
    while (!stopping && next < maxEvents) {
      const i = next++;
      const rec = { key: `${keyPrefix}-${i}`, answers: [] };
      events.push(rec);
      const body = makeEvent(i);
      for (let attempt = 0; attempt < maxTries; attempt++) {
        const r = await post(env.ingestUrl, body, { key: rec.key });
        rec.answers.push(r.status);
        if (r.status === 202) {
          rec.id = r.json?.id;
          break;
        }
        if (!retryable(r.status)) {
          rec.error = `${r.status}: ${r.text.slice(0, 200)}`;
          break;
        }
        // Ingest's Retry-After is a second or two; a shorter pause keeps the load steady.
        await delay(Math.min(1_000, 100 * 2 ** attempt));
      }
      await delay(pauseMs);
    }
  };
  const loops = Array.from({ length: workers }, loop);
  return {
    events,
    /** Events started so far. */
    get count() {
      return events.length;
    },
    /** Stops starting new events; resolves once every started event has its final answer. */
    async stop() {
      stopping = true;
      await Promise.all(loops);
      return events;
    },
  };
}
