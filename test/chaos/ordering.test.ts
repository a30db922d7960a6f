/**
 * `make test-chaos`: ordered delivery per key (spec.ordering, ADR 0013) under SIGKILLed workers and
 * SIGKILLed Redis. 1,000 keys × 20 events, interleaved, go through a real `herald ingest` process in
 * batches, each sent only once the one before it was answered 202 (refused batches are sent again with
 * their Idempotency-Key), while `herald worker` processes are SIGKILLed every 1-2 s and replaced, and
 * redis-server is SIGKILLed and restarted now and then (strict durability: appendfsync always). The
 * receiver fails 20 % of requests and answers the rest after 0-30 ms. Every key must arrive in the order
 * its events were accepted; a duplicate may only directly repeat the delivery before it; nothing
 * accepted may be missing.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startHerald, type HeraldUnderTest } from '../support/herald.js';
import { startReceiver, type Received, type Receiver } from '../support/receiver.js';
import { processEnv, startIngestProcess, startWorkerProcess, type RunningHerald } from '../support/fleet.js';
import { waitFor } from '../support/wait.js';
import { OrderedKeys } from '../../src/ordering/ordered-keys.js';

const KEYS = Number(process.env.ORDERING_CHAOS_KEYS ?? 1000);
const PER_KEY = 20;
const BATCH = 100;
const WORKERS = 3;
const REDIS_KILL_EVERY = 4; // worker kills between two Redis kills

let redis: RedisServer | undefined;
let control: HeraldUnderTest | undefined;
let receiver: Receiver | undefined;
const procs: RunningHerald[] = [];

afterAll(async () => {
  await Promise.all(procs.map((p) => p.kill()));
  await control?.close();
  await receiver?.close();
  await redis?.close();
});

describe(`ordered delivery, ${KEYS} keys × ${PER_KEY} events, under SIGKILLed workers and Redis`, () => {
  it('delivers every key in the order its events were accepted; duplicates only repeat the delivery before them; nothing accepted is lost', async ({ annotate }) => {
    const started = Date.now();
    redis = await startRedis(['--appendfsync', 'always']);
    control = await startHerald({ redisUrl: redis.url, withWorkers: false });
    receiver = await startReceiver(() => (Math.random() < 0.2 ? { status: 500 } : { status: 200, delayMs: Math.floor(Math.random() * 30) }));
    await control.publish('ordered', { url: receiver.url, concurrency: 16, retry: { initialDelay: '50ms', maxDelay: '500ms', maxAttempts: 100 }, ordering: { key: '/k' } });
    const env = processEnv(redis.url, control.config.HERALD_REDIS_PREFIX, { HERALD_DURABILITY: 'strict', HERALD_INGEST_AUTH: 'off' });
    const ingest = await startIngestProcess(env);
    procs.push(ingest);
    const workers: RunningHerald[] = [];
    for (let i = 0; i < WORKERS; i++) workers.push(await startWorkerProcess('ordered', env));
    procs.push(...workers);

    // Interleaved: event 0 of every key, then event 1 of every key, …
    const events: Array<{ k: string; seq: number }> = [];
    for (let seq = 0; seq < PER_KEY; seq++) for (let k = 0; k < KEYS; k++) events.push({ k: `o${k}`, seq });
    const accepted = new Map<string, string[]>();
    let refusals = 0;
    let loadDone = false;
    const load = (async () => {
      for (let b = 0; b * BATCH < events.length; b++) {
        // Paced (~5 batches/s at 1,000 keys: ~40 s of ingest), so the kills land while events are still arriving.
        if (b > 0) await delay(150);
        const chunk = events.slice(b * BATCH, (b + 1) * BATCH);
        const body = JSON.stringify(chunk.map((e) => ({ userID: 'u', payload: e })));
        // The next batch goes only after this one's 202: that is what orders them.
        for (;;) {
          const res = await fetch(`${ingest.url}/ingest/batch`, { method: 'POST', body, headers: { 'content-type': 'application/json', 'idempotency-key': `batch-${b}` } }).catch(() => undefined);
          if (res?.status === 202) {
            const { results } = (await res.json()) as { results: Array<{ id: string }> };
            chunk.forEach((e, i) => {
              let l = accepted.get(e.k);
              if (!l) accepted.set(e.k, (l = []));
              l.push(results[i]!.id);
            });
            break;
          }
          refusals++;
          await res?.text().catch(() => undefined);
          await delay(200);
        }
      }
      loadDone = true;
    })();

    let workerKills = 0;
    let redisKills = 0;
    while (!loadDone || workerKills < 8) {
      await delay(1_000 + Math.floor(Math.random() * 1_000));
      const slot = Math.floor(Math.random() * workers.length);
      await workers[slot]!.kill();
      workerKills++;
      workers[slot] = await startWorkerProcess('ordered', env);
      procs.push(workers[slot]);
      if (workerKills % REDIS_KILL_EVERY === 0) {
        await redis.stop({ kill: true });
        await delay(500);
        await redis.start();
        redisKills++;
      }
      console.log(`worker kills ${workerKills}, redis kills ${redisKills}, keys with accepted events ${accepted.size}, refusals ${refusals}`);
    }
    await load;
    const total = KEYS * PER_KEY;
    const deliveredIds = () => new Set(receiver!.delivered().map((d) => d.headers['webhook-id'] as string));
    await waitFor(() => deliveredIds().size >= total, { what: `${total} events delivered`, timeoutMs: 600_000, intervalMs: 500 }).catch(() => undefined);

    const byKey = new Map<string, Received[]>();
    for (const d of receiver.delivered()) {
      const k = (d.json as { payload: { k: string } }).payload.k;
      let l = byKey.get(k);
      if (!l) byKey.set(k, (l = []));
      l.push(d);
    }
    const outOfOrder: string[] = [];
    let duplicates = 0;
    for (const [k, ids] of accepted) {
      const got = (byKey.get(k) ?? []).map((d) => d.headers['webhook-id'] as string);
      const collapsed = got.filter((id, i) => i === 0 || got[i - 1] !== id);
      duplicates += got.length - collapsed.length;
      if (JSON.stringify(collapsed) !== JSON.stringify(ids)) outOfOrder.push(`${k}: accepted ${ids.length}, delivered ${collapsed.length}${collapsed.every((id, i) => id === ids[i]) ? ' (a prefix: missing the rest)' : ' (out of order or repeated)'}`);
    }
    const acceptedIds = new Set([...accepted.values()].flat());
    const delivered = deliveredIds();
    const missing = [...acceptedIds].filter((id) => !delivered.has(id));
    const ordered = new OrderedKeys(control.redis, control.rt.keys, 'ordered');
    // The last heads' advances follow their deliveries by a moment.
    await waitFor(async () => (await ordered.status()).keys === 0, { what: 'every key idle', timeoutMs: 30_000 }).catch(() => undefined);
    const status = await ordered.status();
    const summary =
      `ordering chaos: ${acceptedIds.size} events accepted over ${accepted.size} keys (${refusals} batch refusals retried), ` +
      `${workerKills} worker SIGKILLs, ${redisKills} Redis SIGKILLs, ${receiver.received.length} attempts, ${receiver.delivered().length} 2xx deliveries, ` +
      `${duplicates} duplicates, ${missing.length} missing, ${outOfOrder.length} keys out of order, ${((Date.now() - started) / 1000).toFixed(1)} s`;
    console.log(summary);
    await annotate(summary);

    expect(acceptedIds.size).toBe(total);
    expect(redisKills).toBeGreaterThanOrEqual(1);
    expect(missing).toEqual([]);
    expect(outOfOrder.slice(0, 10)).toEqual([]);
    expect(status).toMatchObject({ keys: 0, blocked: 0, waiting: 0 });
  });
});
