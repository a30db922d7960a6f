/**
 * HERALD_ACK_REPLICAS: ingest answers 202 only once a replica has the write (Redis WAIT), and says
 * 503 replication_unconfirmed, honestly, when no replica confirms in time: the event is stored on the
 * primary, and a retry with the same Idempotency-Key is answered 202 once a replica has it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { startHerald, type HeraldUnderTest } from '../support/herald.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { waitFor } from '../support/wait.js';

describe('acknowledge after replication (HERALD_ACK_REPLICAS=1)', () => {
  let primary: RedisServer;
  let replica: RedisServer;
  let replicaClient: Redis;
  let herald: HeraldUnderTest;
  let receiver: Receiver;

  const replicasOnline = async () => [...(await herald.redis.info('replication')).matchAll(/^slave\d+:.*state=online/gm)].length;

  beforeAll(async () => {
    primary = await startRedis();
    replica = await startRedis(['--replicaof', '127.0.0.1', String(primary.port)]);
    replicaClient = replica.client();
    herald = await startHerald({ redisUrl: primary.url, env: { HERALD_ACK_REPLICAS: '1', HERALD_ACK_REPLICAS_TIMEOUT: '300ms' } });
    await waitFor(async () => (await replicasOnline()) === 1, { what: 'the replica in sync' });
    receiver = await startReceiver(() => ({ status: 200 }));
    await herald.publish('r1', { url: receiver.url });
    await herald.publish('r2', { url: receiver.url });
  });

  afterAll(async () => {
    await herald?.close();
    await receiver?.close();
    await replica?.close();
    await primary?.close();
  });

  it('answers 202 once the replica has the event', async () => {
    const res = await herald.post({ userID: 'u', payload: { n: 1 } });
    expect(res.status).toBe(202);
    // WAIT returned, so the replica has it now, not later.
    expect(await replicaClient.exists(herald.rt.keys.event(res.body.id))).toBe(1);
  });

  it('answers 503 replication_unconfirmed without a replica, stores the event anyway, and a retry with the key is 202 once a replica is back', async () => {
    await replica.stop();
    await waitFor(async () => (await replicasOnline()) === 0, { what: 'the primary to see its replica gone' });
    const headers = { 'idempotency-key': 'k-unconfirmed' };
    const first = await herald.post({ userID: 'u', payload: { n: 2 } }, headers);
    expect({ status: first.status, code: first.body.error?.code, retryAfter: first.headers.get('retry-after') }).toEqual({ status: 503, code: 'replication_unconfirmed', retryAfter: '1' });
    expect(first.body.error.message).toMatch(/stored on the Redis primary/);
    // Stored on the primary, as the answer says: it is delivered.
    await waitFor(() => receiver.delivered().some((d) => d.json?.payload?.n === 2), { what: 'the unconfirmed event delivered' });

    const refused = await herald.post({ userID: 'u', payload: { n: 2 } }, headers);
    expect(refused.body.error?.code).toBe('replication_unconfirmed');

    await replica.start();
    await waitFor(async () => (await replicasOnline()) === 1, { what: 'the replica back in sync', timeoutMs: 30_000 });
    const retry = await herald.post({ userID: 'u', payload: { n: 2 } }, headers);
    expect(retry.status).toBe(202);
    // One event, however often it was sent: every delivery of payload 2 carries the same id.
    const ids = new Set(receiver.delivered().filter((d) => d.json?.payload?.n === 2).map((d) => String(d.headers['webhook-id'])));
    expect(ids).toEqual(new Set([retry.body.id]));
  });
});
