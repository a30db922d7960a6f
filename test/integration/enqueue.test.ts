import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryJobOptions, EVENT_STREAM_MAX_LEN, HERALD_BACKOFF, openDeliveryQueue, type DeliveryJobData } from '../../src/queue/delivery-queue.js';
import { DELIVERY_JOB_NAME, DeliveryEnqueuer } from '../../src/queue/enqueue.js';
import { QUEUE_NAME, RedisKeys } from '../../src/redis/keys.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { waitFor } from '../support/wait.js';

let server: RedisServer;
let redis: Redis;
const keys = new RedisKeys('enq');
const queues: Queue[] = [];
const conns: Redis[] = [];
/** BullMQ's blocking commands need a connection that retries forever. */
const bullConnection = () => {
  const c = new Redis(server.url, { maxRetriesPerRequest: null });
  conns.push(c);
  return c;
};
const open = (dest: string) => {
  const q = openDeliveryQueue(bullConnection(), keys, dest);
  queues.push(q);
  return q;
};
const key = (dest: string, suffix: string) => `${keys.queuePrefix(dest)}:${QUEUE_NAME}:${suffix}`;

beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
});

afterAll(async () => {
  await Promise.all(queues.map((q) => q.close()));
  for (const c of conns) c.disconnect();
  await server?.close();
});

/**
 * Everything a queue holds in Redis, with what legitimately differs between two adds (times) taken
 * out. The event stream is not part of it: Herald's script writes none (ADR 0005), see `events`.
 */
async function snapshot(dest: string, ids: string[]) {
  const jobs: Record<string, unknown> = {};
  for (const id of ids) {
    const { timestamp, opts, ...rest } = await redis.hgetall(key(dest, id));
    expect(Number(timestamp)).toBeGreaterThan(0);
    jobs[id] = { ...rest, opts: JSON.parse(opts!) };
  }
  return {
    jobs,
    wait: await redis.lrange(key(dest, 'wait'), 0, -1),
    marker: await redis.zrange(key(dest, 'marker'), '0', '-1', 'WITHSCORES'),
    id: await redis.get(key(dest, 'id')),
    meta: await redis.hget(key(dest, 'meta'), 'opts.maxLenEvents'),
  };
}
/** The queue's BullMQ event stream, as [event name, job id] pairs. */
const events = async (dest: string) => (await redis.xrange(key(dest, 'events'), '-', '+')).map(([, f]) => [f[1], f[3]]);

const jobs = (ids: string[]) => ids.map((id) => ({ id }));
/** A delivery body with what JSON escapes (quotes, backslashes, control and non-ASCII characters). */
const bodyOf = (id: string) => JSON.stringify({ id, type: 'order.created', payload: { note: 'a "quoted" \\ back\nslash', emoji: 'é😀\u0001' } });

describe('DeliveryEnqueuer writes what BullMQ writes', () => {
  it('stores jobs, lists, marker, counter and events exactly as Queue.add does', async () => {
    const ids = ['evt_a', 'evt_b', 'evt_c'];
    const viaBull = open('bull');
    for (const id of ids) await viaBull.add(DELIVERY_JOB_NAME, { e: id }, deliveryJobOptions(id, { maxAttempts: 7 }));
    await viaBull.add(DELIVERY_JOB_NAME, { e: 'evt_a' }, deliveryJobOptions('evt_a', { maxAttempts: 7 })); // a duplicate
    open('herald'); // the same Queue handle every process opens, which writes the queue's meta
    await waitFor(async () => (await redis.hget(key('herald', 'meta'), 'opts.maxLenEvents')) !== null, { what: 'queue meta' });
    const enqueuer = new DeliveryEnqueuer(redis, keys);
    expect(await enqueuer.enqueue('herald', jobs(ids), 7)).toEqual({ added: 3, duplicates: [] });
    expect(await enqueuer.enqueue('herald', jobs(['evt_a']), 7)).toEqual({ added: 0, duplicates: ['evt_a'] });

    expect(await snapshot('herald', ids)).toEqual(await snapshot('bull', ids));
    // BullMQ announces each add to QueueEvents listeners; Herald runs none, and skips the two XADDs.
    expect(await events('bull')).toEqual([...ids.flatMap((id) => [['added', id], ['waiting', id]]), ['duplicated', 'evt_a']]);
    expect(await events('herald')).toEqual([]);
  });

  it('stores a job that carries its body exactly as Queue.add stores data { e, b }', async () => {
    const ids = ['evt_i1', 'evt_i2'];
    const viaBull = open('bull-inline');
    for (const id of ids) await viaBull.add(DELIVERY_JOB_NAME, { e: id, b: bodyOf(id) }, deliveryJobOptions(id, { maxAttempts: 5 }));
    open('herald-inline');
    await waitFor(async () => (await redis.hget(key('herald-inline', 'meta'), 'opts.maxLenEvents')) !== null, { what: 'queue meta' });
    const enqueuer = new DeliveryEnqueuer(redis, keys);
    expect(await enqueuer.enqueue('herald-inline', ids.map((id) => ({ id, body: bodyOf(id) })), 5)).toEqual({ added: 2, duplicates: [] });

    expect(await snapshot('herald-inline', ids)).toEqual(await snapshot('bull-inline', ids));
  });

  it('gives a queue no Queue handle has opened Herald\'s event-stream cap, not BullMQ\'s default of 10,000', async () => {
    await new DeliveryEnqueuer(redis, keys).enqueue('fresh', jobs(['evt_x']), 3);
    expect(await redis.hget(key('fresh', 'meta'), 'opts.maxLenEvents')).toBe(String(EVENT_STREAM_MAX_LEN));
  });

  it('is processed by a real BullMQ Worker: retried with the custom backoff, completed and removed, or failed and kept', async () => {
    const enqueuer = new DeliveryEnqueuer(redis, keys);
    const ids = Array.from({ length: 50 }, (_, i) => `evt_w${i}`);
    expect((await enqueuer.enqueue('work', jobs(ids), 3)).added).toBe(50);
    const attempts = new Map<string, number>();
    const worker = new Worker<DeliveryJobData>(
      QUEUE_NAME,
      async (job: Job<DeliveryJobData>) => {
        attempts.set(job.data.e, job.attemptsMade + 1);
        // Every tenth event always fails; the rest fail once and then succeed.
        if (job.data.e.endsWith('0') || job.attemptsMade === 0) throw new Error('receiver said 503');
      },
      {
        connection: bullConnection(),
        prefix: keys.queuePrefix('work'),
        concurrency: 10,
        settings: { backoffStrategy: (_n: number, type?: string) => (type === HERALD_BACKOFF ? 10 : 60_000) },
      },
    );
    try {
      const q = open('work');
      await waitFor(async () => {
        const c = await q.getJobCounts('completed', 'failed', 'wait', 'delayed', 'active');
        return c.failed === 5 && (c.wait ?? 0) + (c.delayed ?? 0) + (c.active ?? 0) === 0;
      }, { timeoutMs: 20_000, what: 'all 50 settled' });
      expect(attempts.get('evt_w10')).toBe(3);
      expect(attempts.get('evt_w11')).toBe(2);
      // removeOnComplete: only the five dead letters are left as job hashes.
      const left = ids.filter((id) => id.endsWith('0'));
      for (const id of ids) expect(await redis.exists(key('work', id)), id).toBe(left.includes(id) ? 1 : 0);
      expect((await q.getFailed()).map((j) => j.id).sort()).toEqual([...left].sort());
    } finally {
      await worker.close();
    }
  });

  it('adds to a queue at its global concurrency without waking a worker, as Queue.add does, and the job runs once a slot frees', async () => {
    const q = open('global');
    await q.setGlobalConcurrency(1);
    let release!: () => void;
    const done: string[] = [];
    const worker = new Worker<DeliveryJobData>(
      QUEUE_NAME,
      async (job: Job<DeliveryJobData>) => {
        if (job.data.e === 'evt_g0') await new Promise<void>((r) => (release = r));
        done.push(job.data.e);
      },
      // One slot here too: a worker with a free slot would sit on the marker and hide whether one was written.
      { connection: bullConnection(), prefix: keys.queuePrefix('global'), concurrency: 1 },
    );
    try {
      const enqueuer = new DeliveryEnqueuer(redis, keys);
      await enqueuer.enqueue('global', jobs(['evt_g0']), 3);
      await waitFor(async () => (await redis.llen(key('global', 'active'))) === 1, { what: 'the first job active' });
      // The worker may have fetched it without consuming its marker; start from none.
      await redis.del(key('global', 'marker'));

      // At the global concurrency: the job is queued, but no marker wakes a worker. BullMQ's own add agrees.
      expect(await enqueuer.enqueue('global', jobs(['evt_g1']), 3)).toEqual({ added: 1, duplicates: [] });
      expect(await redis.exists(key('global', 'marker'))).toBe(0);
      await q.add(DELIVERY_JOB_NAME, { e: 'evt_g2' }, deliveryJobOptions('evt_g2', { maxAttempts: 3 }));
      expect(await redis.exists(key('global', 'marker'))).toBe(0);
      expect((await redis.lrange(key('global', 'wait'), 0, -1)).sort()).toEqual(['evt_g1', 'evt_g2']);
      expect(done).toEqual([]);

      release();
      await waitFor(() => done.length === 3, { what: 'all three processed once the slot freed' });
      expect(done[0]).toBe('evt_g0');
      expect(done.slice(1).sort()).toEqual(['evt_g1', 'evt_g2']);
    } finally {
      release?.();
      await worker.close();
    }
  });

  it('adds to a paused queue without waking a worker, and the jobs run once it resumes', async () => {
    const q = open('paused');
    await q.pause();
    await redis.del(key('paused', 'marker'));
    await new DeliveryEnqueuer(redis, keys).enqueue('paused', jobs(['evt_p1', 'evt_p2']), 3);
    expect(await redis.exists(key('paused', 'marker'))).toBe(0);
    const done: string[] = [];
    const worker = new Worker<DeliveryJobData>(QUEUE_NAME, async (job: Job<DeliveryJobData>) => void done.push(job.data.e), {
      connection: bullConnection(),
      prefix: keys.queuePrefix('paused'),
    });
    try {
      await q.resume();
      await waitFor(() => done.length === 2, { what: 'both processed after resume' });
      expect(done.sort()).toEqual(['evt_p1', 'evt_p2']);
    } finally {
      await worker.close();
    }
  });
});
