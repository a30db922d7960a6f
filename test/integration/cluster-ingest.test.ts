/**
 * Ingest and delivery on a real Redis Cluster (ADR 0015): each destination's part of a write is a
 * script in its own slot, every job carries its body, and a shard that is down answers 503 saying
 * where the event was and was not stored; a retry with the Idempotency-Key completes it, once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster } from 'ioredis';
import { QUEUE_NAME, RedisKeys } from '../../src/redis/keys.js';
import type { DeliveryJobData } from '../../src/queue/delivery-queue.js';
import { startHerald, type HeraldUnderTest } from '../support/herald.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { startRedisCluster, type RedisClusterUnderTest } from '../support/redis-cluster.js';
import type { RedisServer } from '../support/redis.js';
import { waitFor } from '../support/wait.js';

let cluster: RedisClusterUnderTest;
let herald: HeraldUnderTest<Cluster>;
const receivers: Receiver[] = [];

async function receiver(): Promise<Receiver> {
  const r = await startReceiver(() => ({ status: 200 }));
  receivers.push(r);
  return r;
}

/** Destination names whose slots are on `n` different primaries, one each, with the primary of each. */
async function namesOnDistinctShards(keys: RedisKeys, n: number, tag: string): Promise<Array<{ name: string; primary: RedisServer }>> {
  const found: Array<{ name: string; primary: RedisServer }> = [];
  for (let i = 0; found.length < n && i < 200; i++) {
    const name = `${tag}-${i}`;
    const primary = await cluster.primaryOf(`${keys.queuePrefix(name)}:${QUEUE_NAME}:wait`);
    if (!found.some((f) => f.primary === primary)) found.push({ name, primary });
  }
  if (found.length < n) throw new Error(`no ${n} destinations on distinct shards`);
  return found;
}

const jobKey = (keys: RedisKeys, destination: string, id: string) => `${keys.queuePrefix(destination)}:${QUEUE_NAME}:${id}`;

beforeAll(async () => {
  // No replicas, and slots keep serving while another shard is down, so one shard can be stopped.
  cluster = await startRedisCluster({ primaries: 3, replicasPerPrimary: 0, serverArgs: ['--cluster-require-full-coverage', 'no'] });
  herald = await startHerald({ redisUrl: '', clusterNodes: cluster.nodesEnv });
});

afterAll(async () => {
  await herald?.close();
  await Promise.all(receivers.map((r) => r.close()));
  await cluster?.close();
});

describe('ingest on a Redis Cluster', () => {
  it('delivers single and batch events to destinations on three shards, each job carrying its body, no shared body stored', async () => {
    const keys = herald.rt.keys;
    const dests = await namesOnDistinctShards(keys, 3, 'spread');
    const rs = await Promise.all(dests.map(() => receiver()));
    for (const [i, d] of dests.entries()) await herald.publish(d.name, { url: rs[i]!.url, filter: { types: ['event'] } });

    const single = await herald.post({ userID: 'u1', payload: { n: 1 } });
    expect(single.status).toBe(202);
    expect(single.body.destinations).toBe(3);
    const batch = await herald.postRaw(JSON.stringify(Array.from({ length: 20 }, (_, n) => ({ userID: 'u2', payload: { n } }))), {}, '/ingest/batch');
    expect(batch.status).toBe(202);
    const ids = [single.body.id as string, ...(batch.body.results as Array<{ id: string }>).map((r) => r.id)];
    expect(ids).toHaveLength(21);

    for (const r of rs) {
      await waitFor(() => ids.every((id) => r.received.some((x) => x.json?.id === id)), { what: `21 deliveries to ${r.url}` });
      expect(r.received.filter((x) => ids.includes(x.json?.id))).toHaveLength(21);
      expect(r.received.find((x) => x.json?.id === single.body.id)!.json).toEqual({ id: single.body.id, type: 'event', timestamp: expect.any(String), userID: 'u1', payload: { n: 1 } });
    }
    // Bodies travel in the jobs: no shard holds an event hash.
    for (const p of await cluster.primaries()) expect(await p.server.client().keys(`${keys.prefix}:{e:*`)).toEqual([]);
  });

  it('shows an event delivered at destinations on three shards, and lists it, in the delivery log', async () => {
    const dests = await namesOnDistinctShards(herald.rt.keys, 3, 'logged');
    const rs = await Promise.all(dests.map(() => receiver()));
    for (const [i, d] of dests.entries()) await herald.publish(d.name, { url: rs[i]!.url, filter: { types: ['logged'] } });
    const res = await herald.post({ type: 'logged', userID: 'u', payload: 1 });
    expect(res.status).toBe(202);
    const names = dests.map((d) => d.name).sort();
    const shown = await waitFor(
      async () => {
        const body = (await (await fetch(`${herald.url}/events/${res.body.id}`)).json()) as { deliveries?: Array<{ destination: string; state: string }> };
        const here = body.deliveries?.filter((d) => names.includes(d.destination)) ?? [];
        return here.length === 3 && here.every((d) => d.state === 'delivered') ? here : undefined;
      },
      { what: 'the event delivered at its three destinations in the log' },
    );
    expect(shown.map((d) => d.destination).sort()).toEqual(names);
    const list = (await (await fetch(`${herald.url}/events?type=logged`)).json()) as { items: Array<{ id: string }> };
    expect(list.items.map((e) => e.id)).toEqual([res.body.id]);
  });

  it('answers 503 partially_stored when one shard is down, keeps what was stored, and a retry with the key completes the rest without a second copy', async () => {
    const keys = herald.rt.keys;
    const [up, down] = await namesOnDistinctShards(keys, 2, 'partial');
    const [rUp, rDown] = await Promise.all([receiver(), receiver()]);
    // The destination on the shard that stays up is paused, so its job stays queued and countable.
    await herald.publish(up!.name, { url: rUp!.url, filter: { types: ['partial'] } });
    await herald.publish(down!.name, { url: rDown!.url, filter: { types: ['partial'] } });
    await herald.redis.hset(`${keys.queuePrefix(up!.name)}:${QUEUE_NAME}:meta`, 'paused', '1');

    // The Idempotency-Key's record must live on a shard that stays up (it is its own slot).
    let idem = '';
    for (let i = 0; idem === ''; i++) if ((await cluster.primaryOf(keys.idempotency('anonymous', `partial-${i}`))) !== down!.primary) idem = `partial-${i}`;
    await down!.primary.stop();
    const first = await herald.post({ type: 'partial', userID: 'u', payload: 'p' }, { 'idempotency-key': idem });
    expect(first.status).toBe(503);
    expect(first.body.error.code).toBe('partially_stored');
    expect(first.body.error.message).toContain(`stored for "${up!.name}"`);
    expect(first.body.error.message).toContain(`not stored for "${down!.name}"`);
    expect(first.headers.get('retry-after')).toBe('1');
    const record = JSON.parse((await herald.redis.get(keys.idempotency('anonymous', idem)))!) as { id: string; done: boolean; stored: string[] };
    expect(record).toMatchObject({ done: false, stored: [up!.name] });
    const queued = await herald.redis.hget(jobKey(keys, up!.name, record.id), 'data');
    expect((JSON.parse(queued!) as DeliveryJobData).b).toContain('"payload":"p"');

    // While the shard is down, a retry still cannot store the missing destination, and says the same.
    const again = await herald.post({ type: 'partial', userID: 'u', payload: 'p' }, { 'idempotency-key': idem });
    expect(again.status).toBe(503);
    expect(again.body.error.message).toBe(first.body.error.message);
    expect(await herald.redis.hlen(jobKey(keys, up!.name, record.id))).toBeGreaterThan(0);

    await down!.primary.start();
    await cluster.waitForOk();
    const retry = await waitFor(
      async () => {
        const r = await herald.post({ type: 'partial', userID: 'u', payload: 'p' }, { 'idempotency-key': idem });
        return r.status === 202 ? r : undefined;
      },
      { timeoutMs: 30_000, what: 'the retry to be accepted once the shard is back' },
    );
    expect(retry.body.id).toBe(record.id);
    expect(JSON.parse((await herald.redis.get(keys.idempotency('anonymous', idem)))!)).toMatchObject({ done: true });

    await herald.redis.hdel(`${keys.queuePrefix(up!.name)}:${QUEUE_NAME}:meta`, 'paused');
    await herald.redis.zadd(`${keys.queuePrefix(up!.name)}:${QUEUE_NAME}:marker`, 0, '0');
    for (const r of [rUp!, rDown!]) {
      await waitFor(() => r.received.some((x) => x.json?.id === record.id), { what: `delivery to ${r.url}`, timeoutMs: 60_000 }).catch((err: Error) => {
        throw new Error(`${err.message}\n${herald.logs.filter((l) => l.level !== 'debug' && l.level !== 'info').slice(-30).map((l) => JSON.stringify(l)).join('\n')}`);
      });
    }
    // Another retry after delivery changes nothing.
    const late = await herald.post({ type: 'partial', userID: 'u', payload: 'p' }, { 'idempotency-key': idem });
    expect(late.status).toBe(202);
    expect(late.body.id).toBe(record.id);
    await waitFor(async () => (await herald.redis.exists(jobKey(keys, up!.name, record.id))) + (await herald.redis.exists(jobKey(keys, down!.name, record.id))) === 0, { what: 'both jobs completed' });
    expect(rUp!.received.filter((x) => x.json?.id === record.id)).toHaveLength(1);
    expect(rDown!.received.filter((x) => x.json?.id === record.id)).toHaveLength(1);
  });
});
