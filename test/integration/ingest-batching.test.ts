/**
 * Concurrent single-event requests share Redis writes (IngestService's micro-batching), yet each
 * answers 202 only once its own event is stored, and a failed shared write fails every request in it
 * and leaves nothing behind: the write is one script.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startHerald, type HeraldUnderTest } from '../support/herald.js';
import { QUEUE_NAME } from '../../src/redis/keys.js';
import { StoreUnavailableError } from '../../src/ingest/errors.js';
import { IngestService } from '../../src/ingest/ingest-service.js';
import { EventStore } from '../../src/event-store/event-store.js';
import { DestinationSpec } from '../../src/api/destination.js';
import { ingestMetrics } from '../../src/metrics/metrics.js';
import { Registry } from 'prom-client';
import { waitFor } from '../support/wait.js';

let redis: RedisServer;
let herald: HeraldUnderTest;

beforeAll(async () => {
  redis = await startRedis();
  herald = await startHerald({ redisUrl: redis.url, withWorkers: false });
  // No workers run: whatever is queued stays where ingest put it.
  await herald.publish('a', { url: 'http://127.0.0.1:9/a' });
  await herald.publish('b', { url: 'http://127.0.0.1:9/b' });
});

afterEach(() => {
  vi.restoreAllMocks();
});

afterAll(async () => {
  await herald?.close();
  await redis?.close();
});

const event = (n: number) => ({ event: { userID: 'u', payload: { n } } });

/** An IngestService of its own (an ingest replica) on the shared Redis, routing to `routes` (name, or name and type globs). */
function replica(routes: Array<string | [string, string[]]>) {
  const events = new EventStore(herald.redis, herald.rt.keys);
  const service = new IngestService({
    redis: herald.redis, keys: herald.rt.keys, events, writeRedis: herald.rt.queueConnection,
    metrics: ingestMetrics(new Registry()), idempotencyTtlMs: 60_000,
  });
  service.setDestinations(routes.map((r) => {
    const [name, types] = typeof r === 'string' ? [r, undefined] : r;
    return { name, spec: DestinationSpec.parse({ url: `http://127.0.0.1:9/${name}`, ...(types ? { filter: { types } } : {}) }) };
  }));
  return { service, events };
}
const jobKeyOf = (dest: string, id: string) => `${herald.rt.keys.queuePrefix(dest)}:${QUEUE_NAME}:${id}`;
const waitList = (dest: string) => herald.redis.lrange(`${herald.rt.keys.queuePrefix(dest)}:${QUEUE_NAME}:wait`, 0, -1);
const carried = async (dest: string, id: string) => {
  const data = await herald.redis.hget(jobKeyOf(dest, id), 'data');
  return data === null ? undefined : (JSON.parse(data) as { b?: string }).b;
};
const bodyKeys = async () => herald.redis.keys(`${herald.config.HERALD_REDIS_PREFIX}:{e:*`);
/** Whether the event's body and its delivery job in each destination's queue are in Redis. */
async function stored(id: string): Promise<boolean> {
  const jobKey = (dest: string) => `${herald.rt.keys.queuePrefix(dest)}:${QUEUE_NAME}:${id}`;
  const n = await herald.redis.exists(herald.rt.keys.event(id), jobKey('a'), jobKey('b'));
  return n === 3;
}

describe('micro-batched ingest', () => {
  it('writes events accepted in the same turn with one script call, and resolves each only once it is stored', async () => {
    const monitor = await herald.redis.monitor();
    const scriptCalls: string[][] = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source !== 'lua' && /^eval/i.test(args[0]!)) scriptCalls.push(args);
    });
    try {
      const storedWhenResolved: boolean[] = [];
      const calls = Array.from({ length: 20 }, (_, i) => herald.ingest.service.accept(event(i)).then(async (r) => {
        storedWhenResolved.push(await stored(r.id));
        return r;
      }));
      const results = await Promise.all(calls);
      const ids = results.map((r) => r.id);
      expect(new Set(ids).size).toBe(20);
      expect(storedWhenResolved).toEqual(Array(20).fill(true));
      // One write for the turn: 20 bodies and the jobs of both destinations in one script.
      const writes = await waitFor(() => {
        const ours = scriptCalls.filter((args) => ids.some((id) => args.includes(id)));
        return ids.every((id) => ours.some((args) => args.includes(id))) ? ours : undefined;
      }, { what: 'the writes to show up in MONITOR' });
      expect(writes).toHaveLength(1);
    } finally {
      monitor.disconnect();
    }
  });

  it('sends a write as one command, so Redis applies all of it or none of it', async () => {
    const monitor = await herald.redis.monitor();
    const seen: Array<{ command: string; args: string[]; source: string }> = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => source !== 'lua' && seen.push({ command: args[0]!.toLowerCase(), args, source }));
    try {
      const results = await Promise.all(Array.from({ length: 5 }, (_, i) => herald.ingest.service.accept(event(200 + i))));
      const ids = results.map((r) => r.id);
      const carries = (c: { args: string[] }) => ids.some((id) => c.args.some((a) => a.includes(id)));
      const ours = await waitFor(() => {
        const mine = seen.filter(carries);
        return mine.length > 0 ? mine : undefined;
      }, { what: 'the write to show up in MONITOR' });
      expect(ours.map((c) => c.command)).toEqual(['evalsha']);
      for (const id of ids) expect(ours[0]!.args.filter((a) => a === id).length).toBe(2); // one job each at a and b
    } finally {
      monitor.disconnect();
    }
  });

  it('answers 202 over HTTP only for events whose body and jobs are already in Redis', async () => {
    const answers = await Promise.all(Array.from({ length: 40 }, async (_, i) => {
      const res = await herald.post({ userID: 'u', payload: { http: i } });
      return { status: res.status, id: res.body.id as string, storedAtAnswer: res.status === 202 && (await stored(res.body.id)) };
    }));
    expect(answers.map((a) => a.status)).toEqual(Array(40).fill(202));
    expect(answers.filter((a) => !a.storedAtAnswer)).toEqual([]);
  });

  it('fails every event of a write that Redis refuses, and stores none of it', async () => {
    // A real Redis error after the bodies are written: destination c's wait list is not a list.
    await herald.redis.set(`${herald.rt.keys.queuePrefix('c')}:${QUEUE_NAME}:wait`, 'not a list');
    await herald.publish('c', { url: 'http://127.0.0.1:9/c' });
    const before = (await bodyKeys()).length;
    try {
      const outcomes = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => herald.ingest.service.accept(event(100 + i))));
      expect(outcomes.map((o) => o.status)).toEqual(Array(10).fill('rejected'));
      for (const o of outcomes) expect((o as PromiseRejectedResult).reason).toBeInstanceOf(StoreUnavailableError);

      const http = await Promise.all(Array.from({ length: 10 }, (_, i) => herald.post({ userID: 'u', payload: { failing: i } })));
      expect(http.map((r) => r.status)).toEqual(Array(10).fill(503));
      expect(http.every((r) => r.body.error.code === 'store_unavailable')).toBe(true);
      expect((await bodyKeys()).length).toBe(before);
    } finally {
      await herald.unpublish('c');
    }
    // The next write is a fresh one and succeeds.
    const after = await herald.post({ userID: 'u', payload: 'after' });
    expect(after.status).toBe(202);
    expect(await stored(after.body.id)).toBe(true);
  });

  it('keeps Idempotency-Key semantics when duplicates share a write: one event, one job per destination', async () => {
    const req = { ...event(7), idempotencyKey: 'same-turn' };
    const results = await Promise.all([herald.ingest.service.accept(req), herald.ingest.service.accept(req), herald.ingest.service.accept(req)]);
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(await stored(results[0]!.id)).toBe(true);
    for (const dest of ['a', 'b']) {
      expect(await herald.redis.lrange(`${herald.rt.keys.queuePrefix(dest)}:${QUEUE_NAME}:wait`, 0, -1)).toContain(results[0]!.id);
      const waiting = await herald.redis.lrange(`${herald.rt.keys.queuePrefix(dest)}:${QUEUE_NAME}:wait`, 0, -1);
      expect(waiting.filter((id) => id === results[0]!.id)).toHaveLength(1);
    }
    await expect(herald.ingest.service.accept({ ...req, event: { userID: 'u', payload: 'other' } })).rejects.toMatchObject({ status: 422 });
  });

  it('leaves nothing of a failed write of an Idempotency-Key request; its retry (on another replica) completes it with the same id', async () => {
    // Replica one routes to a and to broken (whose wait list is not a list, a real Redis error);
    // replica two has not seen broken yet and routes to a only.
    await herald.redis.set(`${herald.rt.keys.queuePrefix('broken')}:${QUEUE_NAME}:wait`, 'not a list');
    const one = replica(['a', 'broken']);
    const two = replica(['a']);
    const req = { ...event(9), idempotencyKey: 'replicas-race' };
    const before = await waitList('a');
    await expect(one.service.accept(req)).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(await waitList('a')).toEqual(before);

    const retry = await two.service.accept(req);
    expect(retry).toMatchObject({ duplicate: true, destinations: 1 });
    expect(await herald.redis.exists(jobKeyOf('a', retry.id))).toBe(1);
    expect(await herald.redis.hkeys(herald.rt.keys.event(retry.id))).toEqual(expect.arrayContaining(['b', 't', 'h:a']));
    expect(await herald.redis.hexists(herald.rt.keys.event(retry.id), 'h:broken')).toBe(0);
    expect(JSON.parse((await herald.redis.get(herald.rt.keys.idempotency('anonymous', 'replicas-race')))!)).toMatchObject({ id: retry.id, done: true });
    expect(await two.events.release(retry.id, 'a')).toBeLessThanOrEqual(0);
    expect(await herald.redis.exists(herald.rt.keys.event(retry.id))).toBe(0);
  });

  it('still deletes the body of a failed Idempotency-Key request that nothing resumed', async () => {
    const before = (await bodyKeys()).length;
    await herald.redis.set(`${herald.rt.keys.queuePrefix('c')}:${QUEUE_NAME}:wait`, 'not a list');
    await herald.publish('c', { url: 'http://127.0.0.1:9/c' });
    try {
      await expect(herald.ingest.service.accept({ ...event(10), idempotencyKey: 'fails-alone' })).rejects.toBeInstanceOf(StoreUnavailableError);
      expect((await bodyKeys()).length).toBe(before);
    } finally {
      await herald.unpublish('c');
    }
  });
});

describe('an event for one destination', () => {
  it('is one job that carries its body: no body of its own, one script call for the write', async () => {
    const { service } = replica(['solo-only']);
    const monitor = await herald.redis.monitor();
    const seen: string[][] = [];
    // What the client sent, not the commands a script ran (MONITOR shows those too, from "lua").
    monitor.on('monitor', (_time: string, args: string[], source: string) => source !== 'lua' && seen.push(args));
    try {
      const results = await Promise.all([service.accept(event(1)), service.accept(event(2))]);
      const carrying = (id: string) => seen.filter((args) => args.some((a) => a.includes(id)));
      await waitFor(() => results.every((r) => carrying(r.id).length > 0), { what: 'the writes to show up in MONITOR' });
      monitor.disconnect();
      // Usually one write holds both events; on a loaded machine they may take a write each. Either
      // way each event travels in exactly one command, and that command is the script call.
      for (const r of results) expect(carrying(r.id).map((args) => args[0]!.toLowerCase())).toEqual(['evalsha']);
      for (const r of results) {
        expect(r.destinations).toBe(1);
        expect(await herald.redis.exists(herald.rt.keys.event(r.id))).toBe(0);
        expect(JSON.parse((await carried('solo-only', r.id))!)).toMatchObject({ id: r.id, type: 'event', userID: 'u', payload: { n: expect.any(Number) } });
      }
    } finally {
      monitor.disconnect();
    }
  });

  it('is not queued when the write it shared fails, with or without an Idempotency-Key; the key\'s retry keeps the id', async () => {
    // Two event types: "ok" goes to solo-ok alone, "bad" to solo-bad, whose wait list is not a list.
    await herald.redis.set(`${herald.rt.keys.queuePrefix('solo-bad')}:${QUEUE_NAME}:wait`, 'not a list');
    const { service } = replica([['solo-ok', ['ok']], ['solo-bad', ['bad']]]);
    const ok = (n: number, idempotencyKey?: string) => ({ event: { userID: 'u', type: 'ok', payload: { n } }, ...(idempotencyKey ? { idempotencyKey } : {}) });
    const bad = { event: { userID: 'u', type: 'bad', payload: 'x' } };
    const before = await waitList('solo-ok');

    // One call, so the three share one write.
    await expect(service.acceptMany([ok(1), ok(2, 'kept-for-retry'), bad])).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(await waitList('solo-ok')).toEqual(before);
    const record = JSON.parse((await herald.redis.get(herald.rt.keys.idempotency('anonymous', 'kept-for-retry')))!) as { id: string; done: boolean };
    expect(record.done).toBe(false);

    const retry = await service.accept(ok(2, 'kept-for-retry'));
    expect(retry).toMatchObject({ id: record.id, duplicate: true, destinations: 1 });
    expect((await waitList('solo-ok')).filter((id) => id === record.id)).toHaveLength(1);
    // A resume stores a shared body (an earlier attempt's jobs might need it), held by solo-ok's job.
    expect(JSON.parse((await herald.redis.hget(herald.rt.keys.event(record.id), 'b'))!)).toMatchObject({ id: record.id, payload: { n: 2 } });
    expect(await carried('solo-ok', record.id)).toBeUndefined();
  });

  it('a retry that now routes to more destinations shares a body with exactly the destinations that need it', async () => {
    const first = replica([['grow-a', ['grow']]]);
    const later = replica([['grow-a', ['grow']], ['grow-b', ['grow']]]);
    const req = { event: { userID: 'u', type: 'grow', payload: 'g' }, idempotencyKey: 'grows' };
    const original = await first.service.accept(req);
    // The first attempt stopped before it was marked done (its process died): the record says so.
    const idemKey = herald.rt.keys.idempotency('anonymous', 'grows');
    const record = JSON.parse((await herald.redis.get(idemKey))!) as { done: boolean };
    await herald.redis.set(idemKey, JSON.stringify({ ...record, done: false }), 'KEEPTTL');

    const retry = await later.service.accept(req);
    expect(retry).toMatchObject({ id: original.id, duplicate: true, destinations: 2 });
    expect(await carried('grow-a', original.id)).toBeDefined();
    expect(await carried('grow-b', original.id)).toBeUndefined();
    expect(await herald.redis.exists(jobKeyOf('grow-b', original.id))).toBe(1);
    // grow-b's job reads the shared body; grow-a's carries its own and holds nothing.
    const fields = await herald.redis.hkeys(herald.rt.keys.event(original.id));
    expect(fields.filter((f) => f.startsWith('h:'))).toEqual(['h:grow-b']);
    expect(await later.events.release(original.id, 'grow-b')).toBeLessThanOrEqual(0);
    expect(await herald.redis.exists(herald.rt.keys.event(original.id))).toBe(0);
  });
});
