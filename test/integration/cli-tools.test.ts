/**
 * The operator's small commands and the laptop tools, run as real processes against a real Redis:
 * `herald keys`, `herald resume`, `herald dev`'s receiver and its hot reload of the YAML file.
 */
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { parseApiKeyFile } from '../../src/auth/api-key-file.js';
import { hashApiKey } from '../../src/auth/api-keys.js';
import { DeliveryStatsStore } from '../../src/delivery/delivery-stats.js';
import { devReceiver } from '../../src/dev/receiver.js';
import { openDeliveryQueue } from '../../src/queue/delivery-queue.js';
import { RedisKeys } from '../../src/redis/keys.js';
import { parseSecret } from '../../src/signing/standard-webhooks.js';
import { runHerald, spawnHerald, type HeraldProcess } from '../support/cli.js';
import { memoryLogger, startHerald } from '../support/herald.js';
import { freePort } from '../support/net.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { waitFor } from '../support/wait.js';

let redis: RedisServer;
let dir: string;

beforeAll(async () => {
  redis = await startRedis();
  dir = await mkdtemp(join(tmpdir(), 'herald-cli-'));
});
afterAll(async () => {
  await redis?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('herald keys', () => {
  it('api-key prints a key once and a key-file entry with only its hash, which ingest then accepts for the allowed types', async () => {
    const { code, out } = await runHerald(['keys', 'api-key', '--name', 'shop', '--types', 'order.*,cart.*']);
    expect(code).toBe(0);
    const key = /^# (hk_\S+)$/m.exec(out)?.[1];
    expect(key).toBeDefined();
    const entries = parseApiKeyFile(out);
    expect(entries).toEqual([expect.objectContaining({ name: 'shop', hash: hashApiKey(key!), types: ['order.*', 'cart.*'] })]);
    expect(out.replace(/^#.*$/gm, '')).not.toContain(key!);

    // The printed entry, as an operator would paste it into the key file, lets the key in.
    const keysFile = join(dir, 'keys.yaml');
    await writeFile(keysFile, out);
    const herald = await startHerald({ redisUrl: redis.url, withWorkers: false, env: { HERALD_API_KEYS_FILE: keysFile, HERALD_INGEST_AUTH: 'required' } });
    try {
      const auth = { authorization: `Bearer ${key}` };
      expect((await herald.post({ userID: 'u', payload: 1, type: 'order.paid' }, auth)).status).toBe(202);
      expect((await herald.post({ userID: 'u', payload: 1, type: 'user.deleted' }, auth)).status).toBe(403);
      expect((await herald.post({ userID: 'u', payload: 1, type: 'order.paid' }, { authorization: 'Bearer hk_other' })).status).toBe(401);
    } finally {
      await herald.close();
    }
  });

  it('two api-keys differ; signing-secret prints a whsec_ secret of 24 random bytes or more', async () => {
    const keyOf = async () => /^# (hk_\S+)$/m.exec((await runHerald(['keys', 'api-key', '--name', 'x'])).out)?.[1];
    const [a, b] = await Promise.all([keyOf(), keyOf()]);
    expect(a).not.toBe(b);
    const { code, out } = await runHerald(['keys', 'signing-secret']);
    expect(code).toBe(0);
    const secret = out.trim();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]+$/);
    expect(parseSecret(secret).length).toBeGreaterThanOrEqual(24);
  });

  it('says what is missing, with exit code 2', async () => {
    const noName = await runHerald(['keys', 'api-key']);
    expect(noName.code).toBe(2);
    expect(noName.out).toContain('api-key needs --name');
    const unknown = await runHerald(['keys', 'password']);
    expect(unknown.code).toBe(2);
    expect(unknown.out).toContain('unknown keys action "password"');
  });
});

describe('herald resume', () => {
  it('re-enables a destination disabled by 410 Gone and resumes its queue', async () => {
    const prefix = 'resume';
    const keys = new RedisKeys(prefix);
    const client = redis.client();
    const stats = new DeliveryStatsStore(client, keys);
    const queue = openDeliveryQueue(client, keys, 'retired');
    try {
      await stats.disable('retired', 'https://old.example.com/hook', '410 Gone', Date.now());
      await queue.pause();
      expect(await stats.disabled('retired', 'https://old.example.com/hook')).toBe(true);

      const { code, out } = await runHerald(['resume', '--destination', 'retired'], { REDIS_URL: redis.url, HERALD_REDIS_PREFIX: prefix });
      expect({ code, out: out.trim() }).toEqual({ code: 0, out: 'resumed retired' });
      expect(await stats.disabled('retired', 'https://old.example.com/hook')).toBe(false);
      expect(await queue.isPaused()).toBe(false);
    } finally {
      await queue.close();
      await stats.close();
    }
  });

  it('needs --destination (exit code 2) and reports an unreachable Redis (exit code 1)', async () => {
    const missing = await runHerald(['resume'], { REDIS_URL: redis.url });
    expect(missing.code).toBe(2);
    expect(missing.out).toContain('--destination is required');
    const down = await runHerald(['resume', '--destination', 'x'], { REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    expect(down.code).toBe(1);
    expect(down.out).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+/);
  });
});

describe('the dev receiver', () => {
  it('answers by path: /ok 200, /fail 500, /gone 410, /flaky by the random number; it logs each delivery', async () => {
    const { logger, lines } = memoryLogger();
    let r = 0.9;
    const server = createServer(devReceiver(logger, { random: () => r }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const post = async (path: string) => (await fetch(base + path, { method: 'POST', body: '{"id":"evt_1"}', headers: { 'webhook-id': 'evt_1' } })).status;
    try {
      expect(await post('/ok/audit')).toBe(200);
      expect(await post('/fail/partner')).toBe(500);
      expect(await post('/gone/old')).toBe(410);
      expect(await post('/flaky/orders')).toBe(200);
      r = 0.1;
      expect(await post('/flaky/orders')).toBe(503);
      expect(await post('/anything-else')).toBe(200);
      const logged = lines.filter((l) => l.msg === 'Receiver got a delivery');
      expect(logged.map((l) => [l.path, l.status])).toEqual([
        ['/ok/audit', 200], ['/fail/partner', 500], ['/gone/old', 410], ['/flaky/orders', 200], ['/flaky/orders', 503], ['/anything-else', 200],
      ]);
      expect(logged[0]).toMatchObject({ eventId: 'evt_1', bytes: 14 });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('herald dev', () => {
  let dev: HeraldProcess | undefined;
  let receiver: Receiver;
  afterAll(async () => {
    dev?.proc.kill('SIGTERM');
    await dev?.exited;
    await receiver?.close();
  });

  const destination = (name: string, path: string, types: string[]) =>
    stringify({ apiVersion: 'herald.dev/v1alpha1', kind: 'Destination', metadata: { name }, spec: { url: receiver.url + path, filter: { types } } });

  it('delivers through its own receiver, and picks up edits of the YAML file while it runs, saved in place or by rename (an invalid edit keeps the last good set)', async () => {
    receiver = await startReceiver(() => ({ status: 200 }));
    const file = join(dir, 'destinations.yaml');
    await writeFile(file, destination('first', '/first', ['a.*']));
    const [port, receiverPort] = [await freePort(), await freePort()];
    const url = `http://127.0.0.1:${port}`;
    dev = spawnHerald(['dev', '--destinations', file, '--port', String(port), '--receiver', String(receiverPort)], {
      REDIS_URL: redis.url,
      HERALD_REDIS_PREFIX: 'dev',
      HERALD_HTTP_HOST: '127.0.0.1',
      HERALD_SHUTDOWN_TIMEOUT: '5s',
    });
    const d = dev;
    await waitFor(async () => d.proc.exitCode !== null || (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200, { what: 'herald dev to be ready', timeoutMs: 60_000 });
    expect(d.proc.exitCode).toBeNull();
    const send = async (type: string) => {
      const res = await fetch(`${url}/ingest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userID: 'u', payload: 1, type }) });
      expect(res.status).toBe(202);
      return ((await res.json()) as { id: string; destinations: number }).destinations;
    };
    const deliveredTo = (path: string) => receiver.delivered().filter((x) => x.path === path).length;

    expect(await send('a.one')).toBe(1);
    await waitFor(() => deliveredTo('/first') === 1, { what: 'delivery to first' });

    // Add a destination (its own receiver path and type): routed and delivered without a restart.
    await writeFile(file, `${destination('first', '/first', ['a.*'])}---\n${destination('second', '/second', ['b.*'])}`);
    await waitFor(async () => (await send('b.probe')) === 1, { what: 'the new destination to be routed', timeoutMs: 30_000 });
    await waitFor(() => deliveredTo('/second') >= 1, { what: 'delivery to second' });

    // Editors save by writing a new file and renaming it over the old one; later edits still count.
    const save = async (text: string) => {
      await writeFile(`${file}.swp`, text);
      await rename(`${file}.swp`, file);
    };
    await save(`${destination('first', '/first', ['a.*'])}---\n${destination('second', '/second', ['b.*'])}---\n${destination('third', '/third', ['c.*'])}`);
    await waitFor(async () => (await send('c.probe')) === 1, { what: 'a destination saved by rename to be routed', timeoutMs: 30_000 });
    await save(`${destination('first', '/first', ['a.*'])}---\n${destination('second', '/second', ['b.*'])}`);
    await waitFor(async () => (await send('c.probe')) === 0, { what: 'a second save by rename to be seen', timeoutMs: 30_000 });

    // A broken edit is refused with a log line; the last good set stays.
    await writeFile(file, 'apiVersion: herald.dev/v1alpha1\nkind: Destination\nmetadata: {name: third}\nspec: {url: 42}\n');
    await waitFor(() => d.output().includes('Ignoring invalid destinations file'), { what: 'the invalid file to be reported', timeoutMs: 30_000 });
    expect(await send('b.after-bad-edit')).toBe(1);

    // The dev receiver (--receiver) answers on loopback, as the demo file expects.
    const res = await fetch(`http://127.0.0.1:${receiverPort}/ok/demo`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(200);
    expect(parse(await res.text())).toEqual({ received: true });
  }, 120_000);
});
