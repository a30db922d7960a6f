/**
 * Spec changes a running worker applies without a restart (SPEC_FIELD_EFFECTS): a concurrency change
 * resizes BullMQ's concurrency and the HTTP pool while deliveries are in flight, and the stand-in
 * filter a drain publishes leaves the worker alone.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DRAINING_FILTER } from '../../src/controller/registry-entry.js';
import { startHerald, type HeraldUnderTest } from '../support/herald.js';
import { startTestRedis, type TestRedis } from '../support/test-redis.js';
import type { RedisClient } from '../../src/redis/client.js';
import { waitFor } from '../support/wait.js';

/** A receiver that holds every request open until the test releases them. */
interface HoldingReceiver {
  url: string;
  held: Array<{ id: string; res: ServerResponse }>;
  /** webhook-id of every request that arrived, in order. */
  arrived: string[];
  release(): void;
  server: Server;
}

async function holdingReceiver(): Promise<HoldingReceiver> {
  const r = { held: [], arrived: [] } as unknown as HoldingReceiver;
  r.server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    const id = String(req.headers['webhook-id']);
    r.arrived.push(id);
    r.held.push({ id, res });
  });
  r.release = () => {
    for (const h of r.held.splice(0)) h.res.writeHead(200).end();
  };
  await new Promise<void>((resolve) => r.server.listen(0, '127.0.0.1', resolve));
  r.url = `http://127.0.0.1:${(r.server.address() as AddressInfo).port}/hook`;
  return r;
}

let redis: TestRedis;
let herald: HeraldUnderTest<RedisClient>;
let receiver: HoldingReceiver;

beforeAll(async () => {
  redis = await startTestRedis();
  herald = await startHerald({ ...redis.target });
  receiver = await holdingReceiver();
});

afterAll(async () => {
  receiver?.release();
  receiver?.server.closeAllConnections();
  await new Promise((resolve) => receiver?.server.close(resolve));
  await herald?.close();
  await redis?.close();
});

const logsOf = (destination: string, msg: string) => herald.logs.filter((l) => l.destination === destination && l.msg === msg);

describe('live spec changes', () => {
  it('raises and lowers concurrency (HTTP pool included) while deliveries are in flight, losing none', async () => {
    // A long timeout: the held requests must not time out on a slow machine.
    const spec = { url: receiver.url, timeout: '60s' };
    await herald.publish('live', { ...spec, concurrency: 2 });
    await waitFor(() => herald.workers.running.includes('live'), { what: 'the worker' });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await herald.post({ userID: 'u', payload: i });
      expect(res.status).toBe(202);
      ids.push(res.body.id as string);
    }
    await waitFor(() => receiver.held.length === 2, { what: 'two deliveries in flight' });

    // Four at once needs BullMQ's concurrency and the pool's connections raised: with the pool of
    // two the worker started with, the other two would wait inside undici.
    await herald.publish('live', { ...spec, concurrency: 4 });
    await waitFor(() => receiver.held.length === 4, { what: 'four deliveries in flight' });

    // Lowering it retires the pool those four run on; they still complete.
    await herald.publish('live', { ...spec, concurrency: 1 });
    receiver.release();
    await waitFor(async () => (await herald.registry.metrics()).includes('herald_deliveries_total{destination="live",outcome="success"} 4'), { what: 'four deliveries counted' });
    expect([...receiver.arrived].sort()).toEqual([...ids].sort());
    expect(logsOf('live', 'Delivery failed; will retry')).toEqual([]);
    expect(herald.logs.filter((l) => l.msg === 'Restarting delivery worker for a changed spec')).toEqual([]);
    expect(logsOf('live', 'Started delivery worker')).toHaveLength(1);
  });

  it('keeps the worker running when a drain publishes its stand-in filter, and restarts it for a rate limit', async () => {
    await herald.publish('live', { url: receiver.url, timeout: '60s', concurrency: 1, filter: DRAINING_FILTER });
    // The stand-in filter routes nothing new; the worker must still be the one started above.
    await herald.publish('live', { url: receiver.url, timeout: '60s', concurrency: 1, filter: DRAINING_FILTER, rateLimit: { perSecond: 5 } });
    const restart = await waitFor(() => herald.logs.find((l) => l.msg === 'Restarting delivery worker for a changed spec' && l.destination === 'live'), { what: 'the restart for rateLimit' });
    expect(restart.fields).toEqual(['rateLimit']);
    expect(herald.logs.filter((l) => l.msg === 'Restarting delivery worker for a changed spec')).toHaveLength(1);
    await waitFor(() => logsOf('live', 'Started delivery worker').length === 2, { what: 'the worker started again' });
  });
});
