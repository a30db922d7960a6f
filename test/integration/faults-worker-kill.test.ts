/**
 * Fault injection: `herald worker` processes die by SIGKILL (OOM killer, node loss) while events are
 * in flight. Proves docs/guarantees.md's at-least-once claim and its duplicate window. The
 * 5,000-event version of the first test is test/chaos/worker-kill.test.ts (`make test-chaos`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startHerald, type HeraldUnderTest } from '../support/herald.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { processEnv, startWorkerProcess, type RunningHerald } from '../support/fleet.js';
import { startRedisProxy, type RedisProxy } from '../support/redis-proxy.js';
import { describeReport, runWorkerKillScenario } from '../support/worker-kill.js';
import { waitFor } from '../support/wait.js';
import { openDeliveryQueue } from '../../src/queue/delivery-queue.js';

describe('SIGKILLed workers under load', () => {
  it('delivers every accepted event at least once while workers are SIGKILLed repeatedly; duplicates keep their webhook-id', async ({ annotate }) => {
    const report = await runWorkerKillScenario(
      { events: 500, kills: 3, workersPerDestination: 2, destinations: 1, concurrency: 4, ingestRate: 60, drainTimeoutMs: 30_000 },
      (m) => console.log(m),
    );
    const summary = describeReport(report);
    console.log(`worker-kill: ${summary}`);
    await annotate(summary);
    expect(report.refused).toBe(0);
    expect(report.accepted).toBe(500);
    expect(report.kills).toBe(3);
    // At least one kill must have interrupted deliveries, or the run proved nothing.
    expect(report.killsMidDelivery).toBeGreaterThan(0);
    expect(report.missing).toEqual([]);
    expect(report.unknown).toEqual([]);
    expect(report.mismatched).toEqual([]);
    expect(report.deliveries).toBe(report.accepted + report.duplicates);
    expect(report.leftover).toEqual({ 'kill-0': { waiting: 0, active: 0, delayed: 0, failed: 0, prioritized: 0 } });
    expect(report.bodiesLeft).toBe(0);
  }, 90_000);
});

describe('the duplicate window, hit exactly', () => {
  let redis: RedisServer;
  let proxy: RedisProxy;
  let herald: HeraldUnderTest;
  const receivers: Receiver[] = [];
  const procs: RunningHerald[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    proxy = await startRedisProxy(redis.port);
    herald = await startHerald({ redisUrl: redis.url, withWorkers: false });
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill()));
    await herald?.close();
    await Promise.all(receivers.map((r) => r.close()));
    await proxy?.close();
    await redis?.close();
  });

  /** A worker whose Redis traffic passes through the proxy, so the test can act between two of its commands. */
  async function worker(destination: string, through: 'proxy' | 'direct'): Promise<RunningHerald> {
    const w = await startWorkerProcess(destination, processEnv(through === 'proxy' ? proxy.url : redis.url, herald.config.HERALD_REDIS_PREFIX));
    procs.push(w);
    return w;
  }

  async function receiver(onRequest?: () => void): Promise<Receiver> {
    const r = await startReceiver(() => {
      onRequest?.();
      return { status: 200 };
    });
    receivers.push(r);
    return r;
  }

  it('a worker killed after the receiver answered 2xx but before the ack: the event is redelivered under the same webhook-id', async () => {
    let answered = false;
    const r = await receiver(() => (answered = true));
    await herald.publish('window', { url: r.url, concurrency: 1 });
    const first = await worker('window', 'proxy');
    let id = '';
    let killedBeforeAck = false;
    // The first thing a worker sends about the event after a 2xx is its bookkeeping or the ack (the
    // event goes to this destination only, so its job carries the body and there is nothing to
    // release). Swallow it and die: Redis never hears the delivery succeeded.
    proxy.setTap((chunk) => {
      if (!answered || killedBeforeAck) return undefined;
      const text = chunk.toString('latin1');
      if (!text.includes(`:{d:window}:stats`) && !text.includes(id)) return undefined;
      killedBeforeAck = true;
      return { verdict: 'swallow', after: () => first.proc.kill('SIGKILL') };
    });

    const res = await herald.post({ userID: 'u', payload: 'exactly once, twice' });
    expect(res.status).toBe(202);
    id = res.body.id;
    await first.exited;
    expect(killedBeforeAck).toBe(true);
    expect(r.delivered()).toHaveLength(1);

    proxy.setTap(undefined);
    await worker('window', 'direct');
    await waitFor(() => r.delivered().length === 2, { what: 'the redelivery after the lock expired', timeoutMs: 20_000 });
    for (const got of r.delivered()) {
      expect(got.headers['webhook-id']).toBe(id);
      expect(got.json).toMatchObject({ id, payload: 'exactly once, twice' });
    }
    const q = openDeliveryQueue(herald.redis, herald.rt.keys, 'window');
    await waitFor(async () => (await q.getJobCounts('waiting', 'active', 'delayed', 'failed')).active === 0, { what: 'the redelivered job to complete' });
    expect(await q.getJobCounts('waiting', 'active', 'delayed', 'failed')).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0 });
    await q.close();
  });

  // Regression: a redelivery used to release the shared body a second time, deleting it while another
  // destination still needed it. Releases are now per (event, destination), so they are idempotent.
  /**
   * Publishes `<group>-a` and `<group>-b` for events of type `<group>`, runs `<group>-a`'s worker
   * through the proxy, posts one event to both, and SIGKILLs that worker as soon as its release of the
   * shared body has reached Redis, before its ack.
   */
  async function killAfterRelease(group: string, payload: string): Promise<{ id: string; a: Receiver; b: Receiver }> {
    const a = await receiver();
    const b = await receiver();
    await herald.publish(`${group}-a`, { url: a.url, concurrency: 1, filter: { types: [group] } });
    await herald.publish(`${group}-b`, { url: b.url, concurrency: 1, filter: { types: [group] } });
    const first = await worker(`${group}-a`, 'proxy');
    let id = '';
    let killedAfterRelease = false;
    proxy.setTap((chunk) => {
      if (!id || killedAfterRelease) return undefined;
      const text = chunk.toString('latin1').toLowerCase();
      // The release is a script call (EVAL the first time, EVALSHA after) on the event's key.
      const isScript = text.includes('\r\neval\r\n') || text.includes('\r\nevalsha\r\n');
      if (!isScript || !text.includes(herald.rt.keys.event(id).toLowerCase())) return undefined;
      killedAfterRelease = true;
      return { verdict: 'forward', after: () => first.proc.kill('SIGKILL') };
    });
    const res = await herald.post({ userID: 'u', payload, type: group });
    expect(res.body.destinations).toBe(2);
    id = res.body.id;
    await first.exited;
    expect(killedAfterRelease).toBe(true);
    proxy.setTap(undefined);
    return { id, a, b };
  }

  it('a redelivery to one destination does not take the event body from another destination', async () => {
    await herald.unpublish('window'); // the previous test's catch-all destination
    const { id, a, b } = await killAfterRelease('fan', 'for both');
    // fan-a has let go of the body, fan-b still holds it.
    await waitFor(async () => (await herald.redis.hkeys(herald.rt.keys.event(id))).filter((k) => k.startsWith('h:')).join() === 'h:fan-b', { what: 'only fan-b to hold the body' });

    await worker('fan-a', 'direct');
    await waitFor(() => a.delivered().length === 2, { what: 'fan-a redelivering after its worker died', timeoutMs: 20_000 });
    const qa = openDeliveryQueue(herald.redis, herald.rt.keys, 'fan-a');
    await waitFor(async () => (await qa.getJobCounts('active', 'waiting')).active === 0, { what: 'fan-a to finish' });
    await qa.close();

    const wb = await worker('fan-b', 'direct');
    const q = openDeliveryQueue(herald.redis, herald.rt.keys, 'fan-b');
    await waitFor(async () => (await q.getJobCounts('waiting', 'active')).waiting === 0, { what: 'fan-b to take its job' });
    await waitFor(async () => (await q.getJobCounts('active')).active === 0, { what: 'fan-b to finish its job' });
    await q.close();
    expect(wb.output()).not.toMatch(/purged|Already delivered/);
    const got = await waitFor(() => b.delivered()[0], { what: 'fan-b to deliver the event', timeoutMs: 5_000 });
    expect(got.json).toMatchObject({ id, payload: 'for both' });
  });

  it('a worker killed after releasing the body of a delivered event says on restart that it was already delivered', async () => {
    for (const d of ['window', 'fan-a', 'fan-b']) await herald.unpublish(d);
    const { id, a, b } = await killAfterRelease('gone', 'delivered, then killed');
    // gone-b delivers and lets go of the body too: nothing is left of it when gone-a's job comes back.
    await worker('gone-b', 'direct');
    await waitFor(async () => b.delivered().length === 1 && (await herald.redis.exists(herald.rt.keys.event(id))) === 0, { what: 'gone-b to deliver and the body to go' });

    // At info, where the account of an already-delivered event is logged.
    const again = await startWorkerProcess('gone-a', processEnv(redis.url, herald.config.HERALD_REDIS_PREFIX, { HERALD_LOG_LEVEL: 'info' }));
    procs.push(again);
    const line = await waitFor(() => again.output().split('\n').find((l) => l.includes(id) && l.includes('already-delivered')), { what: 'the restarted worker to account for the event', timeoutMs: 20_000 });
    expect(JSON.parse(line)).toMatchObject({ level: 'info', eventId: id, destination: 'gone-a', outcome: 'already-delivered' });
    expect(again.output()).not.toContain('purged');
    expect(a.delivered()).toHaveLength(1);
  });
});
