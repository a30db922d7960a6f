/**
 * The states of an ordering key (ADR 0013), step by step on a real Redis: the append that ingest's
 * write script runs, and the advance the worker, the sweep and `herald dlq` run. BullMQ's side (a
 * job delivered, retried or dead-lettered) is set up by hand, as BullMQ leaves it.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../support/redis.js';
import { ENQUEUE_FUNCTIONS_LUA, pushJobArgs } from '../../src/queue/enqueue.js';
import { OrderedKeys } from '../../src/ordering/ordered-keys.js';
import { QUEUE_NAME, RedisKeys } from '../../src/redis/keys.js';

let server: RedisServer;
let redis: Redis;
const keys = new RedisKeys('okt');
const D = 'd1';
const q = `${keys.queuePrefix(D)}:${QUEUE_NAME}:`;
const base = keys.ordering(D);
let ordered: OrderedKeys;

/** Ingest's enqueue with an ordering base, as the write script calls it: jobs (id, data, opts, key). */
const APPEND = `${ENQUEUE_FUNCTIONS_LUA}
local n = (#ARGV - 3) / 4
local added = enqueueJobs(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1], ARGV[2], 'd', '100', ARGV, 4, n, 4, ARGV[3], 3)
return added`;

async function append(...events: Array<[id: string, key: string]>): Promise<void> {
  const args: string[] = [q, String(Date.now()), base];
  for (const [id, key] of events) {
    pushJobArgs(args, id, 'body', 5, key || undefined);
    args.push(key);
  }
  await redis.eval(APPEND, 5, `${q}wait`, `${q}meta`, `${q}id`, `${q}active`, `${q}marker`, ...args);
}

const wait = () => redis.lrange(`${q}wait`, 0, -1).then((l) => l.reverse()); // oldest first
/** The key's head: the first element of its list. */
const head = (key: string) => redis.lindex(`${base}q:${key}`, 0);
/** The events waiting behind the head: the rest of the list. */
const behind = (key: string) => redis.lrange(`${base}q:${key}`, 1, -1);
/** What BullMQ does to a delivered job (removeOnComplete): the hash goes. */
const delivered = async (id: string) => void (await redis.multi().lrem(`${q}wait`, 0, id).del(`${q}${id}`).exec());
/** A dead letter: in the failed set, hash kept. */
const deadLettered = async (id: string) => void (await redis.multi().lrem(`${q}wait`, 0, id).zadd(`${q}failed`, Date.now(), id).exec());
/** A retry scheduled: in the delayed set. */
const delayed = async (id: string) => void (await redis.multi().lrem(`${q}wait`, 0, id).zadd(`${q}delayed`, Date.now() + 60_000, id).exec());

/** Calls per Redis command since the last CONFIG RESETSTAT (INFO commandstats), by lower-case name. */
async function commandCalls(): Promise<Record<string, number>> {
  const calls: Record<string, number> = {};
  for (const m of (await redis.info('commandstats')).matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) calls[m[1]!] = Number(m[2]);
  return calls;
}

beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
  ordered = new OrderedKeys(redis, keys, D);
});

afterAll(async () => {
  await server?.close();
});

beforeEach(async () => {
  await redis.flushall();
});

describe('an ordering key', () => {
  it('Idle → Live: the first event of a key goes to wait and becomes its head; later ones wait behind it', async () => {
    await append(['e1', 'a'], ['e2', 'b'], ['e3', 'a'], ['e4', ''], ['e5', 'a']);
    expect(await wait()).toEqual(['e1', 'e2', 'e4']);
    expect(await head('a')).toBe('e1');
    expect(await behind('a')).toEqual(['e3', 'e5']);
    expect(await ordered.status()).toMatchObject({ keys: 2, blocked: 0, waiting: 2 });
    expect(await redis.zscore(`${q}marker`, '0')).toBe('0');
  });

  it('an event behind a busy key costs Redis one RPUSH and nothing else of its own', async () => {
    await append(['e1', 'a'], ['u1', '']);
    await redis.config('RESETSTAT');
    await append(['u2', ''], ['u3', ''], ['u4', '']);
    const unordered = await commandCalls();
    await redis.config('RESETSTAT');
    await append(['e2', 'a'], ['e3', 'a'], ['e4', 'a']);
    const { rpush, incrby, ...rest } = await commandCalls();
    expect(rpush).toBe(3);
    // Per write, not per event: the waiting counter. Nothing goes live, so no LPUSH to wait and no marker.
    expect(incrby).toBe(unordered.incrby! + 1);
    const { lpush, incrby: _, zadd, ...unorderedRest } = unordered;
    expect([lpush, zadd]).toEqual([1, 1]);
    expect(rest).toEqual(unorderedRest);
  });

  it('new heads of one write go to since in one ZADD and to wait in one LPUSH, in order, however many', async () => {
    await redis.config('RESETSTAT');
    const events: Array<[string, string]> = [];
    for (let n = 0; n < 2500; n++) events.push([`n${n}`, n % 5 === 0 ? '' : `k${n}`]);
    await append(...events);
    const calls = await commandCalls();
    expect(calls.rpush).toBe(2000);
    // A thousand values a command: LPUSH 2,500 ids in 3, ZADD 2,000 (score, key) pairs in 4, and the marker.
    expect([calls.lpush, calls.zadd]).toEqual([3, 5]);
    expect(await wait()).toEqual(events.map(([id]) => id));
    expect(await ordered.status()).toMatchObject({ keys: 2000, waiting: 0 });
    expect(await head('k2499')).toBe('n2499');
  });

  it('Live stays Live while its head waits, runs or is delayed for a retry', async () => {
    await append(['e1', 'a'], ['e2', 'a']);
    expect(await ordered.advance(['a'], 'continue')).toBe(0);
    await delayed('e1');
    expect(await ordered.advance(['a'], 'continue')).toBe(0);
    expect(await head('a')).toBe('e1');
    expect(await behind('a')).toEqual(['e2']);
  });

  it('Done → Live(next): a delivered head lets the next event go, once, however often advance runs', async () => {
    await append(['e1', 'a'], ['e2', 'a'], ['e3', 'a']);
    await delivered('e1');
    expect(await ordered.advance(['a', 'a'], 'continue')).toBe(1);
    expect(await ordered.advance(['a'], 'block')).toBe(0);
    expect(await wait()).toEqual(['e2']);
    expect(await head('a')).toBe('e2');
    expect(await ordered.status()).toMatchObject({ keys: 1, waiting: 1 });
  });

  it('Done → Idle: the last event delivered leaves nothing behind', async () => {
    await append(['e1', 'a']);
    await delivered('e1');
    await ordered.advance(['a'], 'continue');
    expect(await redis.keys(`${base}*`)).toEqual([]);
    expect(await ordered.status()).toEqual({ keys: 0, blocked: 0, waiting: 0 });
  });

  it('Dead with continue: the next event goes; the dead letter stays in the failed set', async () => {
    await append(['e1', 'a'], ['e2', 'a']);
    await deadLettered('e1');
    expect(await ordered.advance(['a'], 'continue')).toBe(1);
    expect(await head('a')).toBe('e2');
    expect(await redis.zscore(`${q}failed`, 'e1')).not.toBeNull();
  });

  it('Dead with block → Blocked; replayed (back in wait) → Live; skipped (deleted) → the next goes', async () => {
    await append(['e1', 'a'], ['e2', 'a']);
    await deadLettered('e1');
    expect(await ordered.advance(['a'], 'block')).toBe(0);
    expect(await ordered.blockedKeys()).toEqual([{ key: 'a', eventId: 'e1' }]);
    // Replayed: BullMQ moves it from failed back to wait.
    await redis.multi().zrem(`${q}failed`, 'e1').lpush(`${q}wait`, 'e1').exec();
    await ordered.advance(['a'], 'block');
    expect((await ordered.status()).blocked).toBe(0);
    expect(await head('a')).toBe('e1');
    // Dead-lettered again, then skipped: deleted, and the key moves on.
    await deadLettered('e1');
    await ordered.advance(['a'], 'block');
    expect((await ordered.status()).blocked).toBe(1);
    await redis.multi().zrem(`${q}failed`, 'e1').del(`${q}e1`).exec();
    expect(await ordered.advance(['a'], 'block')).toBe(1);
    expect(await head('a')).toBe('e2');
    expect((await ordered.status()).blocked).toBe(0);
  });

  it('Blocked → continue: switching onDeadLetter lets a blocked key go at the next advance', async () => {
    await append(['e1', 'a'], ['e2', 'a']);
    await deadLettered('e1');
    await ordered.advance(['a'], 'block');
    expect(await ordered.advance(['a'], 'continue')).toBe(1);
    expect(await ordered.status()).toMatchObject({ blocked: 0, keys: 1 });
  });

  it('off: every waiting event goes to wait, in order, and the key is forgotten', async () => {
    await append(['e1', 'a'], ['e2', 'a'], ['e3', 'a'], ['e4', 'b']);
    await delayed('e1');
    expect(await ordered.sweep('off')).toBe(2);
    expect(await wait()).toEqual(['e4', 'e2', 'e3']);
    expect(await ordered.status()).toEqual({ keys: 0, blocked: 0, waiting: 0 });
  });

  it('skips waiting ids whose job is gone (an obliterated queue) rather than queueing a job that does not exist', async () => {
    await append(['e1', 'a'], ['e2', 'a'], ['e3', 'a']);
    await delivered('e1');
    await redis.del(`${q}e2`);
    expect(await ordered.advance(['a'], 'continue')).toBe(1);
    expect(await wait()).toEqual(['e3']);
    expect(await ordered.status()).toMatchObject({ keys: 1, waiting: 0 });
  });

  it('the sweep advances every key whose head finished, in pages', async () => {
    const events: Array<[string, string]> = [];
    for (let k = 0; k < 450; k++) events.push([`h${k}`, `k${k}`], [`n${k}`, `k${k}`]);
    await append(...events);
    for (let k = 0; k < 450; k++) await delivered(`h${k}`);
    expect(await ordered.sweep('continue')).toBe(450);
    expect(await ordered.status()).toMatchObject({ keys: 450, waiting: 0 });
    expect(await head('k449')).toBe('n449');
  });

  it('a paused queue gets the promoted event but no marker, as BullMQ adds to a paused queue', async () => {
    await append(['e1', 'a'], ['e2', 'a']);
    await redis.multi().hset(`${q}meta`, 'paused', '1').del(`${q}marker`).exec();
    await delivered('e1');
    expect(await ordered.advance(['a'], 'continue')).toBe(1);
    expect(await redis.exists(`${q}marker`)).toBe(0);
  });
});
