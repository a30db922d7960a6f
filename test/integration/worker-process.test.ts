import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startHerald, type HeraldUnderTest } from '../support/herald.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { spawnHerald, runHerald, type HeraldProcess } from '../support/cli.js';
import { freePort } from '../support/net.js';
import { waitFor } from '../support/wait.js';

let redis: RedisServer;
let herald: HeraldUnderTest;
const receivers: Receiver[] = [];
const procs: HeraldProcess[] = [];

beforeAll(async () => {
  redis = await startRedis();
  herald = await startHerald({ redisUrl: redis.url, withWorkers: false });
});

afterAll(async () => {
  for (const p of procs) p.proc.kill('SIGKILL');
  await herald?.close();
  await Promise.all(receivers.map((r) => r.close()));
  await redis?.close();
});

async function worker(destination: string): Promise<HeraldProcess & { port: number }> {
  const port = await freePort();
  const p = spawnHerald(['worker', '--destination', destination], {
    REDIS_URL: redis.url,
    HERALD_REDIS_PREFIX: herald.config.HERALD_REDIS_PREFIX,
    HERALD_HTTP_PORT: String(port),
    HERALD_HTTP_HOST: '127.0.0.1',
    HERALD_LOCK_DURATION: '2s',
    // Receivers run on loopback, which the SSRF guard refuses unless an operator allows it.
    HERALD_DELIVERY_ALLOW_CIDRS: '127.0.0.0/8',
    HERALD_SHUTDOWN_TIMEOUT: '10s',
  });
  procs.push(p);
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200, { what: `worker ${destination} ready\n${p.output()}` });
  return { ...p, port };
}

describe('herald worker as a process', () => {
  it('serves /healthz, /readyz and herald_ metrics', async () => {
    const r = await startReceiver();
    receivers.push(r);
    await herald.publish('ops', { url: r.url });
    const w = await worker('ops');
    expect((await fetch(`http://127.0.0.1:${w.port}/healthz`)).status).toBe(200);
    await herald.post({ userID: 'u', payload: 1 });
    await waitFor(() => r.delivered().length === 1, { what: 'a delivery' });
    const metrics = await (await fetch(`http://127.0.0.1:${w.port}/metrics`)).text();
    expect(metrics).toMatch(/herald_deliveries_total\{destination="ops",outcome="success"\} 1/);
    expect(metrics).toContain('herald_redis_up 1');
    w.proc.kill('SIGTERM');
    expect(await w.exited).toBe(0);
  });

  it('loses no event when a worker is SIGKILLed mid-delivery: another worker redelivers it with the same webhook-id', async () => {
    // The first request hangs (the worker dies while waiting); later ones succeed.
    const r = await startReceiver((n) => (n === 0 ? 'hang' : { status: 200 }));
    receivers.push(r);
    await herald.publish('crash', { url: r.url, timeout: '60s' });
    const first = await worker('crash');
    const res = await herald.post({ userID: 'u', payload: 'survives' });
    await waitFor(() => r.received.length === 1, { what: 'the first (hanging) delivery' });
    first.proc.kill('SIGKILL');
    await first.exited;

    await worker('crash');
    const redelivered = await waitFor(() => r.delivered()[0], { what: 'redelivery by the second worker', timeoutMs: 30_000 });
    expect(redelivered.headers['webhook-id']).toBe(res.body.id);
    expect(r.received[0]!.headers['webhook-id']).toBe(res.body.id);
    expect(redelivered.json.payload).toBe('survives');
  });

  it('finishes in-flight deliveries on SIGTERM and exits 0 without redelivery', async () => {
    const r = await startReceiver(() => ({ status: 200, delayMs: 1_500 }));
    receivers.push(r);
    await herald.publish('graceful', { url: r.url });
    const w = await worker('graceful');
    await herald.post({ userID: 'u', payload: 'in flight' });
    await waitFor(() => r.received.length === 1, { what: 'the delivery to start' });
    w.proc.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    expect(w.output()).toContain('Shutting down');
    // The job completed before exit: nothing is left to redeliver.
    const counts = await waitFor(async () => {
      const c = await herald.redis.llen(`${herald.rt.keys.queuePrefix('graceful')}:deliveries:wait`);
      const active = await herald.redis.llen(`${herald.rt.keys.queuePrefix('graceful')}:deliveries:active`);
      return c === 0 && active === 0 ? { c, active } : undefined;
    }, { what: 'an empty queue' });
    expect(counts).toEqual({ c: 0, active: 0 });
    expect(r.received).toHaveLength(1);
    // The delivery finished during shutdown; its count was written before the Redis connection closed.
    expect(await herald.redis.hget(herald.rt.keys.stats('graceful'), 'delivered')).toBe('1');
  });

  it('refuses to start against a Redis that may evict keys, saying how to fix it', async () => {
    const c = redis.client();
    await c.config('SET', 'maxmemory-policy', 'volatile-lru');
    try {
      const { code, out } = await runHerald(['worker', '--destination', 'x'], { REDIS_URL: redis.url, HERALD_HTTP_PORT: '0' });
      expect(code).toBe(1);
      expect(out).toContain('maxmemory-policy is "volatile-lru"');
      expect(out).toContain('noeviction');
    } finally {
      await c.config('SET', 'maxmemory-policy', 'noeviction');
    }
  });
});

describe('herald CLI', () => {
  it('--help lists every subcommand, and each has its own help', async () => {
    const { code, out } = await runHerald(['--help']);
    expect(code).toBe(0);
    for (const cmd of ['dev', 'ingest', 'worker', 'dlq']) expect(out).toMatch(new RegExp(`^  ${cmd} `, 'm'));
    const dlq = await runHerald(['dlq', '--help']);
    expect(dlq.out).toContain('replay');
    expect(dlq.out).toContain('--dry-run');
  });

  it('exits 2 with the usage for unknown commands and missing flags', async () => {
    expect((await runHerald(['nope'])).code).toBe(2);
    const w = await runHerald(['worker']);
    expect(w.code).toBe(2);
    expect(w.out).toContain('--destination is required');
  });

  it('lists and replays dead letters', async () => {
    const r = await startReceiver((n) => (n === 0 ? { status: 404 } : { status: 200 }));
    receivers.push(r);
    await herald.publish('cli-dlq', { url: r.url });
    const w = await worker('cli-dlq');
    const res = await herald.post({ userID: 'u', payload: 'dead' });
    const env = { REDIS_URL: redis.url, HERALD_REDIS_PREFIX: herald.config.HERALD_REDIS_PREFIX };
    const listed = await waitFor(async () => {
      const out = await runHerald(['dlq', 'list', '--destination', 'cli-dlq'], env);
      return out.out.includes(res.body.id) ? out : undefined;
    }, { what: 'the dead letter in `dlq list`' });
    expect(listed.code).toBe(0);
    expect(listed.out).toContain('HTTP 404');
    const dry = await runHerald(['dlq', 'replay', '--destination', 'cli-dlq', '--dry-run'], env);
    expect(dry.out).toContain('would replay 1 dead letter');
    const replay = await runHerald(['dlq', 'replay', '--destination', 'cli-dlq', '--since', '1h'], env);
    expect(replay.out).toContain('replayed 1 of 1 dead letter');
    await waitFor(() => r.delivered().length === 1, { what: 'the replayed delivery' });
    expect(r.delivered()[0]!.headers['webhook-id']).toBe(res.body.id);
    w.proc.kill('SIGTERM');
    await w.exited;
  });
});
