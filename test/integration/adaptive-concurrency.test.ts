/**
 * A destination that keeps failing runs one delivery at a time until one succeeds, so it cannot
 * take the worker process's CPU away from the healthy destinations the same process serves.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startHerald, type HeraldUnderTest } from '../support/herald.js';
import { waitFor } from '../support/wait.js';

let redis: RedisServer;
let herald: HeraldUnderTest;

/** Answers every request after `delayMs` with `status`, and records how many requests overlapped. */
interface CountingReceiver {
  url: string;
  status: number;
  requests: number;
  /** Requests answered with a 2xx. */
  ok: number;
  inFlight: number;
  maxInFlight: number;
  /** When each request arrived (performance.now()). */
  arrivals: number[];
  server: Server;
}

async function countingReceiver(delayMs = 100): Promise<CountingReceiver> {
  const r = { url: '', status: 500, requests: 0, ok: 0, inFlight: 0, maxInFlight: 0, arrivals: [] } as unknown as CountingReceiver;
  r.server = createServer((req, res) => {
    req.resume();
    r.arrivals.push(performance.now());
    r.requests++;
    r.inFlight++;
    r.maxInFlight = Math.max(r.maxInFlight, r.inFlight);
    setTimeout(() => {
      r.inFlight--;
      if (r.status < 300) r.ok++;
      res.writeHead(r.status).end();
    }, delayMs);
  });
  await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(r.server.address() as AddressInfo).port}/hook`;
  return r;
}

let receiver: CountingReceiver;
let instant: CountingReceiver;

beforeAll(async () => {
  redis = await startRedis();
  herald = await startHerald({ redisUrl: redis.url });
  receiver = await countingReceiver();
  instant = await countingReceiver(0);
});

afterAll(async () => {
  await herald?.close();
  for (const r of [receiver, instant]) {
    r?.server.closeAllConnections();
    await new Promise((resolve) => r?.server.close(resolve));
  }
  await redis?.close();
});

describe('a destination that fails every attempt', () => {
  it('runs one attempt at a time after ten failures in a row, and its configured concurrency again once one succeeds', async () => {
    await herald.publish('flaky', { url: receiver.url, concurrency: 10, retry: { initialDelay: '20ms', maxDelay: '50ms', maxAttempts: 100 } });
    const events = Array.from({ length: 30 }, (_, i) => ({ userID: 'u', payload: i }));
    expect((await herald.postRaw(JSON.stringify(events), {}, '/ingest/batch')).status).toBeLessThan(300);

    // At first the worker sends up to ten at once.
    await waitFor(() => receiver.maxInFlight === 10, { what: 'ten requests at once' });
    const lowered = await waitFor(() => herald.logs.find((l) => l.msg.startsWith('Destination keeps failing') && l.destination === 'flaky'), { what: 'the worker to lower its concurrency' });
    const atThrottle = receiver.requests;
    expect(lowered).toMatchObject({ level: 'warn', concurrency: 1, failuresInRow: 10 });

    // Up to ten attempts were under way or already fetched when it did; once they are done, no two
    // requests overlap.
    await waitFor(() => receiver.requests >= atThrottle + 12 && receiver.inFlight <= 1, { what: 'earlier attempts to finish' });
    receiver.maxInFlight = receiver.inFlight;
    const seen = receiver.requests;
    await waitFor(() => receiver.requests >= seen + 15, { what: '15 more attempts' });
    expect(receiver.maxInFlight).toBe(1);

    receiver.status = 200;
    await waitFor(() => herald.logs.some((l) => l.msg === 'Delivery succeeded; concurrency restored' && l.destination === 'flaky'), { what: 'concurrency to be restored' });
    await waitFor(() => receiver.ok === 30, { what: 'every event delivered' });
    expect(receiver.maxInFlight).toBeGreaterThan(1);
  });

  it('spaces its attempts at least 100 ms apart while throttled, even when the receiver fails at once', async () => {
    await herald.publish('instant-fail', { url: instant.url, concurrency: 10, retry: { initialDelay: '10ms', maxDelay: '20ms', maxAttempts: 100 } });
    const events = Array.from({ length: 30 }, (_, i) => ({ userID: 'u', payload: i }));
    expect((await herald.postRaw(JSON.stringify(events), {}, '/ingest/batch')).status).toBeLessThan(300);
    await waitFor(() => herald.logs.find((l) => l.msg.startsWith('Destination keeps failing') && l.destination === 'instant-fail'), { what: 'the worker to throttle' });
    // The pace is measured where it is made: the start time the worker gives each attempt. (Gaps between
    // arrivals at the receiver are not a property of Herald: on a busy machine one late timer bunches
    // two requests together.)
    const pacing = () => herald.logs.filter((l) => l.msg === 'Destination throttled; pacing attempt' && l.destination === 'instant-fail');
    const from = pacing().length;
    await waitFor(() => pacing().length >= from + 10, { what: '10 paced attempts', timeoutMs: 30_000 });
    const starts = pacing().slice(from, from + 10).map((l) => l.startsAt as number);
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(100);
    await herald.unpublish('instant-fail');
  });
});
