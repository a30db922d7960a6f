/**
 * `make test-chaos`: redis-server is SIGKILLed again and again under single-event and batch load,
 * with both durability modes. Ingest and worker are real processes and are never restarted. Counts,
 * per run: events accepted (202), delivered, lost (accepted, never delivered at some destination),
 * duplicated, delivered although answered 503, and bodies left once the queues drained and ingest's
 * sweeper ran. strict (appendfsync always) must lose nothing; fast (everysec) may lose only events
 * acknowledged within 2 s of a crash. Neither may deliver a refused event or leave a body behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startHerald, type HeraldUnderTest } from '../support/herald.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { processEnv, startIngestProcess, startWorkerProcess, type RunningHerald } from '../support/fleet.js';
import { startLoad } from '../support/load.js';
import { startBatchLoad } from '../support/batch-load.js';
import { waitFor } from '../support/wait.js';
import { pending } from '../support/process-fixture.js';
import { openDeliveryQueue } from '../../src/queue/delivery-queue.js';

const KILLS = 3;
// Three destinations and batches of 100: the bigger a write, the likelier a kill lands inside it. Run
// against a write that Redis could apply in part (bodies, then one script per destination), this shape
// failed in 5 runs of 5 (100-103 events of a 503 delivered, 15-119 bodies left); two destinations and
// batches of 50 failed in 3 of 5, on 2-9 bodies left under fast durability only.
const DESTINATIONS = ['c1', 'c2', 'c3'];

describe.each([
  { mode: 'strict', appendfsync: 'always' },
  { mode: 'fast', appendfsync: 'everysec' },
])('Redis SIGKILL under batch and single load, $mode durability', ({ mode, appendfsync }) => {
  let redis: RedisServer;
  let control: HeraldUnderTest;
  const receivers: Receiver[] = [];
  const procs: RunningHerald[] = [];

  beforeAll(async () => {
    redis = await startRedis(['--appendfsync', appendfsync]);
    control = await startHerald({ redisUrl: redis.url, withWorkers: false });
    for (const name of DESTINATIONS) {
      const r = await startReceiver(() => ({ status: 200 }));
      receivers.push(r);
      await control.publish(name, { url: r.url, concurrency: 16, retry: { initialDelay: '200ms', maxDelay: '2s' } });
    }
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill()));
    await control?.close();
    await Promise.all(receivers.map((r) => r.close()));
    await redis?.close();
  });

  // strict: no acknowledged event lost; fast: only events acknowledged within 2 s of a crash.
  it('loses no more than its durability allows, delivers no refused event, and leaves no body behind', async ({ annotate }) => {
    const env = processEnv(redis.url, control.config.HERALD_REDIS_PREFIX, { HERALD_DURABILITY: mode, HERALD_BODY_SWEEP_INTERVAL: '2s', HERALD_INGEST_AUTH: 'off' });
    const ingest = await startIngestProcess(env);
    procs.push(ingest);
    for (const d of DESTINATIONS) procs.push(await startWorkerProcess(d, env));

    const singles = startLoad({ url: ingest.url, concurrency: 4, paceMs: 5 });
    const batches = startBatchLoad({ url: ingest.url, concurrency: 2, size: 100, paceMs: 20, firstSeq: 1_000_000 });
    const acceptedCount = () => singles.accepted().length + batches.accepted().length;
    const crashes: number[] = [];
    for (let i = 0; i < KILLS; i++) {
      const target = acceptedCount() + 600;
      await waitFor(() => acceptedCount() >= target, { what: `600 more events accepted before kill ${i + 1}`, timeoutMs: 60_000 });
      crashes.push(Date.now());
      await redis.stop({ kill: true });
      // Requests in flight at the crash wait for Redis to say whether it applied them; ingest turns unready.
      await waitFor(async () => (await fetch(`${ingest.url}/readyz`)).status === 503, { what: 'ingest to see Redis gone' });
      await redis.start();
      const up = Date.now();
      await waitFor(() => singles.results.some((x) => x.sentAt > up && x.status === 202), { what: `ingest to accept after kill ${i + 1}`, timeoutMs: 30_000 });
      expect(procs.some((p) => p.dead()), procs.map((p) => p.output()).join('\n')).toBe(false);
    }
    singles.stop();
    batches.stop();
    await Promise.all([singles.done, batches.done]);

    // Every accepted event as [seq, id, answeredAt]; the seqs of refused ones (503, or no answer at all).
    const accepted: Array<[number, string, number]> = [
      ...singles.accepted().map((a) => [a.seq, a.id!, a.answeredAt] as [number, string, number]),
      ...batches.results.flatMap((b) => [...b.ids].map(([seq, id]) => [seq, id, b.answeredAt] as [number, string, number])),
    ];
    const refused = [...singles.results.filter((x) => x.status !== 202).map((x) => x.seq), ...batches.refused()];
    const ids = (r: Receiver) => new Set(r.delivered().map((x) => String(x.headers['webhook-id'])));
    await waitFor(() => receivers.every((r) => accepted.every(([, id]) => ids(r).has(id))), { what: 'every accepted event delivered everywhere', timeoutMs: 60_000, intervalMs: 500 }).catch(() => undefined);
    const queues = DESTINATIONS.map((d) => openDeliveryQueue(control.redis, control.rt.keys, d));
    await waitFor(async () => (await Promise.all(queues.map((q) => q.getJobCounts('waiting', 'active', 'delayed')))).every((c) => pending(c) === 0), { what: 'the queues to drain', timeoutMs: 60_000 });
    await Promise.all(queues.map((q) => q.close()));
    const bodies = () => control.redis.keys(`${control.config.HERALD_REDIS_PREFIX}:{e:*`);
    const atDrain = (await bodies()).length;
    // Ingest's own sweeper (every 2 s here) removes bodies a worker could not release while Redis was away.
    await waitFor(async () => (await bodies()).length === 0, { what: 'no body left', timeoutMs: 20_000 }).catch(() => undefined);
    const leftover = (await bodies()).length;

    const got = receivers.map(ids);
    const lost = accepted.filter(([, id]) => got.some((g) => !g.has(id))).map(([seq, id, at]) => ({ seq, id, msBeforeCrash: (crashes.find((c) => c >= at) ?? Number.NaN) - at }));
    const seqs = receivers.map((r) => new Set(r.delivered().map((x) => Number(x.json?.payload?.seq))));
    const refusedDelivered = refused.filter((s) => seqs.some((d) => d.has(s))).length;
    const deliveries = receivers.reduce((n, r) => n + r.delivered().length, 0);
    const duplicates = deliveries - got.reduce((n, g) => n + g.size, 0);
    const summary =
      `redis SIGKILL x${KILLS}, ${mode} (appendfsync ${appendfsync}): ${accepted.length} events accepted (${singles.accepted().length} single, ${batches.accepted().length} in batches), ` +
      `${refused.length} refused, ${deliveries} deliveries to ${DESTINATIONS.length} destinations, ${lost.length} lost` +
      (lost.length ? ` (acknowledged ${Math.min(...lost.map((l) => l.msBeforeCrash))}-${Math.max(...lost.map((l) => l.msBeforeCrash))} ms before a crash)` : '') +
      `, ${duplicates} duplicates, ${refusedDelivered} refused yet delivered, ${atDrain} bodies left at drain, ${leftover} after the sweeper`;
    console.log(summary);
    await annotate(summary);

    expect(refusedDelivered, summary).toBe(0);
    expect(leftover, summary).toBe(0);
    if (mode === 'strict') expect(lost, summary).toEqual([]);
    else for (const l of lost) expect(l.msBeforeCrash, summary).toBeLessThanOrEqual(2_000);
  });
});
