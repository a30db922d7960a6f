import { setTimeout as delay } from 'node:timers/promises';
import { startRedis } from './redis.js';
import { startHerald } from './herald.js';
import { startReceiver, type Received } from './receiver.js';
import { metricValue, processEnv, startWorkerProcess, type RunningHerald } from './fleet.js';
import { startLoad } from './load.js';
import { waitFor } from './wait.js';
import { openDeliveryQueue } from '../../src/queue/delivery-queue.js';

export interface WorkerKillOptions {
  events: number;
  /** SIGKILLs to deliver; the load keeps running until they are all done. */
  kills: number;
  /** Worker processes per destination running at once. */
  workersPerDestination: number;
  /** Destinations every event fans out to. */
  destinations: number;
  /** spec.concurrency of each destination. */
  concurrency: number;
  /** Ingest requests per second, roughly; paces the load so kills land while events are in flight. */
  ingestRate: number;
  /** How long to wait, after the last kill, for every accepted event to arrive. */
  drainTimeoutMs: number;
}

export interface WorkerKillReport {
  accepted: number;
  /** Ingest answers other than 202 (none expected: Redis is healthy throughout). */
  refused: number;
  kills: number;
  /** Kills that hit a worker with at least one delivery in flight. */
  killsMidDelivery: number;
  /** Per destination: requests the receiver answered 2xx. */
  deliveries: number;
  /** Extra 2xx deliveries beyond the first of each (event, destination). */
  duplicates: number;
  /** (event, destination) pairs accepted but never delivered: must be empty. */
  missing: string[];
  /** Deliveries whose body `id` differs from their `webhook-id` header: must be empty. */
  mismatched: Received[];
  /** Deliveries of an event ingest never accepted: must be empty. */
  unknown: string[];
  /** Jobs left over at the end per destination (waiting, active, delayed, failed): all zero. */
  leftover: Record<string, Record<string, number>>;
  /** Event bodies still in Redis at the end: 0 (every delivery released its reference). */
  bodiesLeft: number;
  elapsedMs: number;
}

/**
 * SIGKILLs `herald worker` processes one after another (a replacement is started after each kill,
 * as a Deployment would) while events stream through ingest, then checks at-least-once delivery:
 * every event ingest answered 202 reaches every destination, and every extra copy is the same
 * event under the same webhook-id.
 */
export async function runWorkerKillScenario(o: WorkerKillOptions, log: (msg: string) => void = () => undefined): Promise<WorkerKillReport> {
  const started = Date.now();
  const redis = await startRedis();
  const herald = await startHerald({ redisUrl: redis.url, withWorkers: false });
  const names = Array.from({ length: o.destinations }, (_, i) => `kill-${i}`);
  const receivers = await Promise.all(
    names.map(() =>
      // Answers take 20-80 ms, so every worker has deliveries in flight most of the time.
      startReceiver(() => ({ status: 200, delayMs: 20 + Math.floor(Math.random() * 60) })),
    ),
  );
  const workers = new Map<string, RunningHerald[]>();
  const all: RunningHerald[] = [];
  const env = processEnv(redis.url, herald.config.HERALD_REDIS_PREFIX);
  const spawn = async (name: string) => {
    const w = await startWorkerProcess(name, env);
    all.push(w);
    return w;
  };
  try {
    for (const [i, name] of names.entries()) {
      await herald.publish(name, { url: `${receivers[i]!.url}/${name}`, concurrency: o.concurrency, retry: { initialDelay: '100ms', maxDelay: '1s' } });
    }
    for (const name of names) workers.set(name, await Promise.all(Array.from({ length: o.workersPerDestination }, () => spawn(name))));

    const lanes = 4;
    const load = startLoad({ url: herald.url, total: o.events, concurrency: lanes, paceMs: Math.max(0, Math.round((1000 * lanes) / o.ingestRate) - 3) });
    let kills = 0;
    let killsMidDelivery = 0;
    while (kills < o.kills) {
      // The fault schedule: one kill every 1-2 s.
      await delay(1_000 + Math.floor(Math.random() * 1_000));
      const name = names[kills % names.length]!;
      const pool = workers.get(name)!;
      const slot = Math.floor(Math.random() * pool.length);
      const victim = pool[slot]!;
      // Prefer killing a worker in the middle of deliveries; while the load runs one soon is.
      const inFlight = await waitFor(
        async () => metricValue(await (await fetch(`${victim.url}/metrics`)).text(), 'herald_deliveries_in_flight'),
        { what: 'deliveries in flight on the victim', timeoutMs: load.results.length < o.events ? 5_000 : 300, intervalMs: 10 },
      ).catch(() => 0);
      await victim.kill();
      kills++;
      if (inFlight > 0) killsMidDelivery++;
      log(`kill ${kills}/${o.kills}: worker pid ${victim.pid} of ${name} with ${inFlight} in flight; ${load.results.length}/${o.events} sent`);
      pool[slot] = await spawn(name);
    }
    await load.done;
    const accepted = load.accepted();
    const acceptedIds = new Set(accepted.map((a) => a.id!));

    const missingNow = () => {
      const out: string[] = [];
      names.forEach((name, i) => {
        const got = new Set(receivers[i]!.delivered().map((r) => r.headers['webhook-id'] as string));
        for (const id of acceptedIds) if (!got.has(id)) out.push(`${name}/${id}`);
      });
      return out;
    };
    await waitFor(() => missingNow().length === 0, { what: 'every accepted event at every destination', timeoutMs: o.drainTimeoutMs, intervalMs: 200 }).catch(() => undefined);

    const leftover: Record<string, Record<string, number>> = {};
    for (const name of names) {
      const q = openDeliveryQueue(herald.redis, herald.rt.keys, name);
      // Redelivered jobs of killed workers finish shortly after their last copy arrived.
      leftover[name] = await waitFor(
        async () => {
          const c = await q.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized');
          return Object.values(c).every((n) => n === 0) ? c : undefined;
        },
        { what: `queue ${name} to drain`, timeoutMs: 15_000 },
      ).catch(async () => q.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized'));
      await q.close();
    }
    const bodiesLeft = (await herald.redis.keys(`${herald.config.HERALD_REDIS_PREFIX}:{e:*`)).length;

    const delivered = receivers.flatMap((r) => r.delivered());
    const perPair = new Map<string, number>();
    names.forEach((name, i) => {
      for (const r of receivers[i]!.delivered()) {
        const k = `${name}/${String(r.headers['webhook-id'])}`;
        perPair.set(k, (perPair.get(k) ?? 0) + 1);
      }
    });
    return {
      accepted: accepted.length,
      refused: load.results.length - accepted.length,
      kills,
      killsMidDelivery,
      deliveries: delivered.length,
      duplicates: [...perPair.values()].reduce((s, n) => s + (n - 1), 0),
      missing: missingNow(),
      mismatched: receivers.flatMap((r) => r.received).filter((r) => r.json?.id !== r.headers['webhook-id']),
      unknown: [...new Set(delivered.map((r) => String(r.headers['webhook-id'])))].filter((id) => !acceptedIds.has(id)),
      leftover,
      bodiesLeft,
      elapsedMs: Date.now() - started,
    };
  } finally {
    await Promise.all(all.map((w) => w.kill()));
    await herald.close();
    await Promise.all(receivers.map((r) => r.close()));
    await redis.close();
  }
}

/** One line for the test log: what the run did and how many duplicates at-least-once cost. */
export function describeReport(r: WorkerKillReport): string {
  return (
    `${r.accepted} events accepted, ${r.kills} SIGKILLs (${r.killsMidDelivery} mid-delivery), ` +
    `${r.deliveries} deliveries, ${r.duplicates} duplicates (${((100 * r.duplicates) / Math.max(1, r.deliveries)).toFixed(2)}%), ` +
    `${r.missing.length} missing, ${(r.elapsedMs / 1000).toFixed(1)} s`
  );
}
