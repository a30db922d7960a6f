import { DestinationSpec } from '../../src/api/destination.js';
import type { RedisClient } from '../../src/redis/client.js';
import { DestinationRegistry } from '../../src/redis/destination-registry.js';
import type { RedisKeys } from '../../src/redis/keys.js';
import { startBatchLoad, type BatchLoad } from './batch-load.js';
import { startReceiver, type Receiver } from './receiver.js';
import { startLoad, startOpenLoad, type Load, type SentEvent } from './load.js';
import { waitFor } from './wait.js';

/** What {@link loadThroughFailover} saw: the loads' answers and when each step happened. */
export interface FailoverRun<T> {
  singles: Load;
  batches: BatchLoad;
  /** Every single-event answer: the closed-loop lanes' and the open-loop probe's. */
  singleResults: SentEvent[];
  /** When the kill was sent, and when the killed server was certainly gone. */
  crashedAt: number;
  goneAt: number;
  /** When `promote` resolved, and what it resolved with. */
  promotedAt: number;
  promoted: T;
}

/**
 * Steady single-event (4 lanes) and batch (2 lanes of 50) load through ingest at `ingestUrl` around a
 * Redis failover: 1,500 events accepted, then `kill`; an open-loop probe until ingest answers 503
 * (requests whose write was in flight at the kill may hold every closed-loop lane while ingest settles
 * them); `promote` (waits for the replacement primary), `afterPromotion` (what the mode needs before
 * ingest can accept again), then 202s again from both loads and 1,000 more events accepted. Resolves
 * once every request sent has its answer.
 */
export async function loadThroughFailover<T>(opts: { ingestUrl: string; kill: () => Promise<void>; promote: () => Promise<T>; afterPromotion?: () => Promise<void>; refusing: string }): Promise<FailoverRun<T>> {
  const singles = startLoad({ url: opts.ingestUrl, concurrency: 4, paceMs: 5 });
  const batches = startBatchLoad({ url: opts.ingestUrl, concurrency: 2, size: 50, paceMs: 20, firstSeq: 1_000_000 });
  const acceptedCount = () => singles.accepted().length + batches.accepted().length;
  await waitFor(() => acceptedCount() >= 1_500, { what: '1,500 events accepted before the kill', timeoutMs: 60_000 });

  const crashedAt = Date.now();
  await opts.kill();
  // The server is gone by now; a request sent later cannot have been stored on it.
  const goneAt = Date.now();
  const probe = startOpenLoad({ url: opts.ingestUrl, everyMs: 10, firstSeq: 2_000_000 });
  await waitFor(() => probe.results.some((x) => x.sentAt > crashedAt && x.status === 503), { what: `ingest to refuse ${opts.refusing}`, timeoutMs: 30_000 });
  probe.stop();
  const promoted = await opts.promote();
  const promotedAt = Date.now();
  await opts.afterPromotion?.();
  const recovered = Date.now();
  await waitFor(() => singles.results.some((x) => x.sentAt > recovered && x.status === 202), { what: 'ingest to accept again after the promotion', timeoutMs: 60_000 });
  await waitFor(() => batches.results.some((x) => x.sentAt > recovered && x.status === 202), { what: 'a batch accepted after the promotion', timeoutMs: 60_000 });
  const target = acceptedCount() + 1_000;
  await waitFor(() => acceptedCount() >= target, { what: '1,000 more events accepted after the promotion', timeoutMs: 60_000 });
  singles.stop();
  batches.stop();
  await Promise.all([singles.done, batches.done, probe.done]);
  return { singles, batches, singleResults: [...singles.results, ...probe.results], crashedAt, goneAt, promotedAt, promoted };
}

/**
 * A receiver that answers 200 for each of `names`, declared as a Destination (16 deliveries at a time,
 * retries from 200 ms) in the registry of `redis`; the receivers are pushed onto `receivers` as they
 * start, so a failing set-up still closes them.
 */
export async function failoverDestinations(redis: RedisClient, keys: RedisKeys, names: readonly string[], receivers: Receiver[]): Promise<void> {
  const registry = new DestinationRegistry(redis, keys);
  for (const name of names) {
    const r = await startReceiver(() => ({ status: 200 }));
    receivers.push(r);
    await registry.put({ name, spec: DestinationSpec.parse({ url: r.url, concurrency: 16, retry: { initialDelay: '200ms', maxDelay: '2s' } }) });
  }
}
