import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../src/auth/api-keys.js';
import { generateSecret } from '../../src/signing/standard-webhooks.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startHerald, type HeraldUnderTest } from '../support/herald.js';
import { always, ok, startReceiver, type Receiver } from '../support/receiver.js';
import { runHerald } from '../support/cli.js';
import { waitFor } from '../support/wait.js';

let redis: RedisServer;
let herald: HeraldUnderTest;
let secretsDir: string;
const receivers: Receiver[] = [];
const SHOP_KEY = 'hk_shop_key_for_tests_0123456789abcdefghijklmnop';
const CRM_KEY = 'hk_crm_key_for_tests_0123456789abcdefghijklmnopq';
const SLOW_KEY = 'hk_slow_key_for_tests_0123456789abcdefghijklmnop';
const BATCH_KEY = 'hk_batch_key_for_tests_0123456789abcdefghijklmno';

async function receiver(b = ok): Promise<Receiver> {
  const r = await startReceiver(b);
  receivers.push(r);
  return r;
}

beforeAll(async () => {
  redis = await startRedis();
  secretsDir = await mkdtemp(join(tmpdir(), 'herald-secrets-'));
  const keysFile = join(secretsDir, 'api-keys.yaml');
  await writeFile(
    keysFile,
    JSON.stringify([
      { name: 'shop', hash: hashApiKey(SHOP_KEY), types: ['order.*'] },
      { name: 'crm', hash: hashApiKey(CRM_KEY) },
      { name: 'slow', hash: hashApiKey(SLOW_KEY), rateLimit: { perSecond: 0.5, burst: 2 } },
      // One token per ten seconds: nothing refills noticeably while a test runs.
      { name: 'batchy', hash: hashApiKey(BATCH_KEY), rateLimit: { perSecond: 0.1, burst: 5 } },
    ]),
  );
  herald = await startHerald({ redisUrl: redis.url, env: { HERALD_API_KEYS_FILE: keysFile, HERALD_INGEST_AUTH: 'required', HERALD_SECRETS_DIR: secretsDir } });
});

afterAll(async () => {
  await herald?.close();
  await Promise.all(receivers.map((r) => r.close()));
  await redis?.close();
});

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe('authenticated ingest', () => {
  it('401 without a key or with a wrong one, with WWW-Authenticate', async () => {
    const none = await herald.post({ userID: 'u', payload: 1 });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    expect(none.body.error.message).toMatch(/Authorization header required/);
    const wrong = await herald.post({ userID: 'u', payload: 1 }, bearer('hk_not_a_key'));
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('HERALD_AUTH_INVALID');
  });

  it('403 for an event type the key may not send, alone or in a batch; the producer is recorded on accepted events', async () => {
    const r = await receiver();
    await herald.publish('auth-sink', { url: r.url });
    const forbidden = await herald.post({ userID: 'u', payload: 1, type: 'user.deleted' }, bearer(SHOP_KEY));
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe('type_forbidden');
    // A batch answers the same per event; an event without a type has the default type, "event".
    const batch = await herald.postRaw(JSON.stringify([{ userID: 'u', payload: 2, type: 'order.paid' }, { userID: 'u', payload: 3, type: 'user.deleted' }, { userID: 'u', payload: 4 }]), bearer(SHOP_KEY), '/ingest/batch');
    expect(batch.status).toBe(207);
    expect(batch.body.results.map((x: { status: number; error?: { code: string; message: string } }) => [x.status, x.error?.code, x.error?.message])).toEqual([
      [202, undefined, undefined],
      [403, 'type_forbidden', forbidden.body.error.message],
      [403, 'type_forbidden', 'this key may not send events of type "event"'],
    ]);
    const res = await herald.post({ userID: 'u', payload: 1, type: 'order.paid' }, bearer(SHOP_KEY));
    expect(res.status).toBe(202);
    const got = await waitFor(() => r.delivered().find((x) => x.json.id === res.body.id), { what: 'the delivery' });
    expect(got.json.producer).toBe('shop');
    expect(res.headers.get('x-request-id')).toMatch(/.+/);
    await herald.unpublish('auth-sink');
  });

  it('rate-limits a noisy key with 429 + Retry-After without slowing other keys', async () => {
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await herald.post({ userID: 'u', payload: i }, bearer(SLOW_KEY)));
    expect(answers.slice(0, 2).map((a) => a.status)).toEqual([202, 202]);
    const limited = answers.slice(2);
    expect(limited.map((a) => a.status)).toEqual([429, 429]);
    expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(limited[0]!.body.error.code).toBe('rate_limited');
    const other = await Promise.all(Array.from({ length: 10 }, (_, i) => herald.post({ userID: 'u', payload: i }, bearer(CRM_KEY))));
    expect(other.every((o) => o.status === 202)).toBe(true);
  });

  it('counts events, not requests: a batch costs one token per event and one over the budget is refused whole', async () => {
    const batch = (n: number) => herald.postRaw(JSON.stringify(Array.from({ length: n }, (_, i) => ({ userID: 'u', payload: i }))), bearer(BATCH_KEY), '/ingest/batch');
    const first = await batch(3);
    expect(first.status).toBe(202);
    expect(first.body.accepted).toBe(3);
    const over = await batch(3); // 2 tokens left
    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(over.body.error.code).toBe('rate_limited');
    expect(over.body.error.message).toMatch(/holds 3 events and 2 may be sent now; none of them was accepted/);
    expect((await batch(2)).status).toBe(202);
    const single = await herald.post({ userID: 'u', payload: 'one more' }, bearer(BATCH_KEY));
    expect(single.status).toBe(429);
    const tooBig = await batch(6);
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.error.code).toBe('batch_over_rate_burst');
  });

  it('scopes Idempotency-Key per API key', async () => {
    const a = await herald.post({ userID: 'u', payload: 'same' }, { ...bearer(CRM_KEY), 'idempotency-key': 'shared-key' });
    const b = await herald.post({ userID: 'u', payload: 'same', type: 'order.x' }, { ...bearer(SHOP_KEY), 'idempotency-key': 'shared-key' });
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    expect(b.body.id).not.toBe(a.body.id);
  });

  it('`herald ingest` refuses to start without API keys unless auth is explicitly off', async () => {
    const { code, out } = await runHerald(['ingest'], { REDIS_URL: redis.url, HERALD_HTTP_PORT: '0' });
    expect(code).toBe(2);
    expect(out).toContain('HERALD_API_KEYS_FILE');
    expect(out).toContain('HERALD_INGEST_AUTH=off');
  });
});

describe('signed deliveries (Standard Webhooks)', () => {
  it('signs every delivery so an independent verifier accepts it, and one changed byte fails', async () => {
    const secret = generateSecret();
    await mkdir(join(secretsDir, 'sign-1'), { recursive: true });
    await writeFile(join(secretsDir, 'sign-1', 'secret'), secret);
    const r = await receiver();
    await herald.publish('signed', { url: r.url, signing: { secretRef: { name: 'sign-1' } } });
    await waitFor(() => herald.workers.running.includes('signed'), { what: 'the signed worker' });
    const res = await herald.post({ userID: 'u', payload: { amount: 5 } }, bearer(CRM_KEY));
    const got = await waitFor(() => r.delivered().find((x) => x.json.id === res.body.id), { what: 'the signed delivery' });
    const headers = { 'webhook-id': String(got.headers['webhook-id']), 'webhook-timestamp': String(got.headers['webhook-timestamp']), 'webhook-signature': String(got.headers['webhook-signature']) };
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/=]+$/);
    expect(new Webhook(secret).verify(got.body, headers)).toMatchObject({ id: res.body.id });
    const tampered = got.body.replace('"amount":5', '"amount":6');
    expect(() => new Webhook(secret).verify(tampered, headers)).toThrow();
    expect(() => new Webhook(secret).verify(got.body, { ...headers, 'webhook-id': `${headers['webhook-id']}x` })).toThrow();
    await herald.unpublish('signed');
  });

  it('sends both signatures while a rotated-out secret is in its grace period', async () => {
    const [oldSecret, newSecret] = [generateSecret(), generateSecret()];
    await mkdir(join(secretsDir, 'sign-2'), { recursive: true });
    await writeFile(join(secretsDir, 'sign-2', 'secret'), newSecret);
    await writeFile(join(secretsDir, 'sign-2', 'previous'), oldSecret);
    await writeFile(join(secretsDir, 'sign-2', 'previous-expires-at'), new Date(Date.now() + 3_600_000).toISOString());
    const r = await receiver();
    await herald.publish('rotating', { url: r.url, signing: { secretRef: { name: 'sign-2' } } });
    await waitFor(() => herald.workers.running.includes('rotating'), { what: 'the worker' });
    const res = await herald.post({ userID: 'u', payload: 1 }, bearer(CRM_KEY));
    const got = await waitFor(() => r.delivered().find((x) => x.json.id === res.body.id), { what: 'the delivery' });
    const headers = { 'webhook-id': String(got.headers['webhook-id']), 'webhook-timestamp': String(got.headers['webhook-timestamp']), 'webhook-signature': String(got.headers['webhook-signature']) };
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(new Webhook(oldSecret).verify(got.body, headers)).toBeTruthy();
    expect(new Webhook(newSecret).verify(got.body, headers)).toBeTruthy();
    await herald.unpublish('rotating');
  });
});

describe('destination protection', () => {
  it('disables a destination whose receiver answers 410 Gone: queue paused, events kept', async () => {
    const r = await receiver(always(410));
    await herald.publish('gone', { url: r.url, retry: { initialDelay: '50ms', maxDelay: '100ms', maxAttempts: 3 } });
    await herald.post({ userID: 'u', payload: 1 }, bearer(CRM_KEY));
    await waitFor(async () => (await herald.redis.hget(herald.rt.keys.stats('gone'), 'disabledReason')) !== null, { what: 'the destination to be disabled' });
    await herald.post({ userID: 'u', payload: 2 }, bearer(CRM_KEY));
    const waiting = await waitFor(async () => {
      const n = await herald.redis.llen(`${herald.rt.keys.queuePrefix('gone')}:deliveries:wait`);
      return n >= 1 ? n : undefined;
    }, { what: 'the second event to wait' });
    expect(waiting).toBe(1);
    expect(r.received).toHaveLength(1);
    await herald.exporter.refresh();
    expect(await herald.registry.metrics()).toContain('herald_destination_disabled{destination="gone"} 1');
    await herald.unpublish('gone');
  });

  it('opens the circuit after repeated failures: events wait without using attempts, probes resume delivery', async () => {
    let healthy = false;
    const r = await receiver(() => (healthy ? { status: 200 } : { status: 503 }));
    const spec = {
      url: r.url,
      retry: { schedule: ['20ms'], maxAttempts: 5 },
      circuitBreaker: { failureThreshold: 3, probeInterval: '300ms', maxProbeInterval: '600ms' },
    };
    // Queued while paused, so all five first attempts go out together (one event alone, arriving
    // first on a slow machine, would spend its attempts before the circuit opens).
    await herald.publish('breaker', { ...spec, paused: true });
    for (let i = 0; i < 5; i++) expect((await herald.post({ userID: 'u', payload: i }, bearer(CRM_KEY))).status).toBe(202);
    await herald.publish('breaker', spec);
    await waitFor(async () => (await herald.redis.hget(herald.rt.keys.breaker('breaker'), 'open')) === '1', { what: 'the circuit to open' });
    // While open only probes go out, one at a time: after two probes, fewer requests than the
    // 5 events × 5 attempts a worker without a breaker would have made, and nothing dead-lettered.
    const atOpen = r.received.length;
    await waitFor(() => r.received.length >= atOpen + 2, { what: 'two probes', timeoutMs: 10_000 });
    expect(r.received.length).toBeLessThan(25);
    expect(await herald.redis.zcard(`${herald.rt.keys.queuePrefix('breaker')}:deliveries:failed`)).toBe(0);
    healthy = true;
    await waitFor(() => new Set(r.delivered().map((x) => x.json.id)).size === 5, { what: 'all five delivered after recovery', timeoutMs: 20_000 });
    expect(await herald.redis.hget(herald.rt.keys.breaker('breaker'), 'open')).toBe('0');
    const dead = await herald.redis.zcard(`${herald.rt.keys.queuePrefix('breaker')}:deliveries:failed`);
    expect(dead).toBe(0);
    await herald.unpublish('breaker');
  });

  it('enforces spec.rateLimit across the destination', async () => {
    const r = await receiver();
    await herald.publish('limited', { url: r.url, rateLimit: { perSecond: 5 } });
    await waitFor(() => herald.workers.running.includes('limited'), { what: 'the worker' });
    await herald.postRaw(JSON.stringify(Array.from({ length: 15 }, (_, i) => ({ userID: 'u', payload: i }))), bearer(CRM_KEY), '/ingest/batch');
    await waitFor(() => r.delivered().length === 15, { what: '15 deliveries', timeoutMs: 20_000 });
    const times = r.received.map((x) => x.at);
    // No one-second window may hold more than the limit (plus one for window edges).
    const worst = Math.max(...times.map((t) => times.filter((u) => u >= t && u < t + 1000).length));
    expect(worst).toBeLessThanOrEqual(6);
    await herald.unpublish('limited');
  });
});

describe('SSRF guard at send time', () => {
  it('dead-letters deliveries to loopback when private destinations are not allowed', async () => {
    const guarded = await startHerald({ redisUrl: redis.url, env: { HERALD_ALLOW_PRIVATE_DESTINATIONS: 'false' } });
    try {
      const r = await receiver();
      await guarded.publish('internal', { url: r.url.replace('127.0.0.1', 'localhost') });
      await guarded.post({ userID: 'u', payload: 1 });
      await waitFor(async () => (await guarded.redis.zcard(`${guarded.rt.keys.queuePrefix('internal')}:deliveries:failed`)) === 1, { what: 'the blocked delivery to be dead-lettered' });
      expect(r.received).toHaveLength(0);
      const line = guarded.logs.find((l) => l.msg === 'Delivery dead-lettered');
      expect(String(line?.error)).toMatch(/blocked/);
    } finally {
      await guarded.close();
    }
  });
});
