import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startHerald, type HeraldUnderTest } from '../support/herald.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { waitFor } from '../support/wait.js';

let redis: RedisServer;
let herald: HeraldUnderTest;
let receiver: Receiver;

beforeAll(async () => {
  redis = await startRedis();
  receiver = await startReceiver();
  herald = await startHerald({ redisUrl: redis.url, env: { HERALD_MAX_BODY: '1kib', HERALD_MAX_BATCH: '3' } });
  await herald.publish('sink', { url: receiver.url });
});

afterAll(async () => {
  await herald?.close();
  await receiver?.close();
  await redis?.close();
});

describe('bad input gets a clear error and stores nothing', () => {
  it('400 for malformed JSON, naming the problem', async () => {
    const res = await herald.postRaw('{"userID": "u", "payload": ');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('malformed_json');
    expect(res.body.error.message).toMatch(/not valid JSON/);
  });

  it('400 with the zod issues for a schema violation', async () => {
    const res = await herald.post({ userID: 42, payload: 'x', extra: true });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_event');
    const paths = res.body.error.issues.map((i: { path: string[]; keys?: string[] }) => i.path.join('.') || i.keys?.join(','));
    expect(paths).toContain('userID');
    expect(paths).toContain('extra');
  });

  it('400 when payload is missing', async () => {
    const res = await herald.post({ userID: 'u' });
    expect(res.status).toBe(400);
    expect(res.body.error.issues[0].message).toMatch(/payload is required/);
  });

  it('400 for an empty body and for a bad Idempotency-Key', async () => {
    expect((await herald.postRaw('')).status).toBe(400);
    const res = await herald.post({ userID: 'u', payload: 1 }, { 'idempotency-key': 'x'.repeat(300) });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_idempotency_key');
  });

  it('415 for a non-JSON content type', async () => {
    const res = await herald.postRaw('userID=u', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(res.status).toBe(415);
    expect(res.body.error.code).toBe('unsupported_media_type');
  });

  it('400 for bytes that are not UTF-8, single, batch and NDJSON, never rewritten', async () => {
    const bad = (text: string) => Buffer.concat([Buffer.from(text.slice(0, text.indexOf('@'))), Buffer.from([0xff, 0xfe]), Buffer.from(text.slice(text.indexOf('@') + 1))]);
    const answers = [
      await herald.postRaw(bad('{"userID": "u", "payload": "utf8-single-@"}')),
      await herald.postRaw(bad('[{"userID": "u", "payload": "utf8-batch-@"}]'), {}, '/ingest/batch'),
      await herald.postRaw(bad('{"userID": "u", "payload": "utf8-ndjson-@"}\n'), { 'content-type': 'application/x-ndjson' }, '/ingest/batch'),
    ];
    for (const res of answers) {
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_utf8');
      expect(res.body.error.message).toMatch(/not valid UTF-8/);
    }
  });

  it('413 for a body over the limit, and for a batch over the event limit', async () => {
    const res = await herald.post({ userID: 'u', payload: 'x'.repeat(2_000) });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('body_too_large');
    const batch = await herald.postRaw(JSON.stringify([1, 2, 3, 4].map((n) => ({ userID: 'u', payload: n }))), {}, '/ingest/batch');
    expect(batch.status).toBe(413);
    expect(batch.body.error.code).toBe('batch_too_large');
  });

  it('404 in JSON for unknown paths, security headers everywhere, no stack traces', async () => {
    const res = await herald.postRaw('{}', {}, '/nope');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-powered-by')).toBeNull();
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.js:\d+/);
  });

  it('none of the rejected requests stored an event', async () => {
    expect(receiver.received).toHaveLength(0);
    const keys = await herald.redis.keys(`${herald.config.HERALD_REDIS_PREFIX}:{e:*`);
    expect(keys).toEqual([]);
  });
});

describe('request bodies', () => {
  const chunked = (text: string) =>
    fetch(`${herald.url}/ingest`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      // A stream body is sent chunked: no Content-Length announces the size.
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < text.length; i += 100) c.enqueue(new TextEncoder().encode(text.slice(i, i + 100)));
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);

  it('413 for a chunked body that passes the limit while being read', async () => {
    const res = await chunked(JSON.stringify({ userID: 'u', payload: 'x'.repeat(2_000) }));
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('body_too_large');
  });

  it('stores multi-byte UTF-8 unchanged', async () => {
    const fine = await herald.post({ userID: 'u', payload: 'utf8-ok-é€😀' });
    expect(fine.status).toBe(202);
    // Read where it went: the worker may have delivered it (and dropped the job) before Redis is asked.
    const delivered = await waitFor(() => receiver.received.find((r) => r.json?.id === fine.body.id), { what: `delivery of ${fine.body.id}` });
    expect(delivered.json.payload).toBe('utf8-ok-é€😀');
  });

  it('accepts a chunked body under the limit, and a gzip-compressed one', async () => {
    const plain = await chunked(JSON.stringify({ userID: 'u', payload: 'chunked' }));
    expect(plain.status).toBe(202);
    const gzipped = await herald.postRaw(gzipSync(JSON.stringify({ userID: 'u', payload: 'gzipped' })), { 'content-encoding': 'gzip' });
    expect(gzipped.status).toBe(202);
    await waitFor(() => ['chunked', 'gzipped'].every((p) => receiver.delivered().some((r) => r.json.payload === p)), { what: 'both events delivered' });
  });

  it('answers the exact ingest paths with the same base headers, accepted or refused', async () => {
    const base = { 'x-content-type-options': 'nosniff', 'cache-control': 'no-store', 'x-frame-options': 'DENY', 'content-security-policy': "default-src 'none'", 'referrer-policy': 'no-referrer', 'x-request-id': 'req-2' };
    const answers = [
      await herald.postRaw(JSON.stringify({ userID: 'u', payload: 'exact' }), { 'x-request-id': 'req-2' }, '/ingest'),
      await herald.postRaw(JSON.stringify([{ userID: 'u', payload: 'exact' }]), { 'x-request-id': 'req-2' }, '/ingest/batch'),
      await herald.postRaw('{"userID": 1}', { 'x-request-id': 'req-2' }, '/ingest'),
    ];
    expect(answers.map((r) => r.status)).toEqual([202, 202, 400]);
    for (const res of answers) {
      expect(Object.fromEntries(Object.keys(base).map((k) => [k, res.headers.get(k)]))).toEqual(base);
      expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    }
  });

  it('counts every answer of the ingest routes by route and status code, and times it', async () => {
    const series = async () => {
      const text = await (await fetch(`${herald.url}/metrics`)).text();
      const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
      return {
        accepted: value(/^herald_ingest_requests_total\{route="\/ingest",code="202"\} (\d+)/m),
        invalid: value(/^herald_ingest_requests_total\{route="\/ingest",code="400"\} (\d+)/m),
        unsupported: value(/^herald_ingest_requests_total\{route="\/ingest",code="415"\} (\d+)/m),
        batch: value(/^herald_ingest_requests_total\{route="\/ingest\/batch",code="202"\} (\d+)/m),
        timed: value(/^herald_ingest_duration_seconds_count\{route="\/ingest"\} (\d+)/m),
      };
    };
    const before = await series();
    expect((await herald.post({ userID: 'u', payload: 'counted' })).status).toBe(202);
    expect((await herald.postRaw('{"userID": 1}')).status).toBe(400);
    expect((await herald.postRaw('x', { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await herald.postRaw(JSON.stringify([{ userID: 'u', payload: 'counted' }]), {}, '/ingest/batch')).status).toBe(202);
    const after = await series();
    expect({ accepted: after.accepted - before.accepted, invalid: after.invalid - before.invalid, unsupported: after.unsupported - before.unsupported, batch: after.batch - before.batch, timed: after.timed - before.timed }).toEqual({ accepted: 1, invalid: 1, unsupported: 1, batch: 1, timed: 3 });
  });

  it('serves the other spellings express routes to /ingest the same way, with the same headers', async () => {
    for (const path of ['/ingest/', '/Ingest', '/ingest?source=test', '/ingest/batch/']) {
      const body = path.startsWith('/ingest/batch') ? [{ userID: 'u', payload: path }] : { userID: 'u', payload: path };
      const res = await herald.postRaw(JSON.stringify(body), { 'x-request-id': 'req-1' }, path);
      expect({ path, status: res.status }).toEqual({ path, status: 202 });
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-request-id')).toBe('req-1');
    }
  });

  it('413 for a gzip body that inflates past the limit', async () => {
    const res = await herald.postRaw(gzipSync(JSON.stringify({ userID: 'u', payload: 'x'.repeat(5_000) })), { 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('body_too_large');
  });
});

describe('Redis outage', () => {
  it('answers 503 with Retry-After while Redis is down, never 202, and recovers by itself', async () => {
    await redis.stop();
    const during = await herald.post({ userID: 'u', payload: 'during outage' });
    expect(during.status).toBe(503);
    expect(during.headers.get('retry-after')).toBe('1');
    expect(during.body.error.code).toBe('store_unavailable');
    const ready = await fetch(`${herald.url}/readyz`);
    expect(ready.status).toBe(503);

    await redis.start();
    const after = await waitFor(
      async () => {
        const r = await herald.post({ userID: 'u', payload: 'after outage' });
        return r.status === 202 ? r : undefined;
      },
      { what: 'ingest to accept again', timeoutMs: 20_000 },
    );
    expect(after.body.id).toMatch(/^evt_/);
    await waitFor(() => receiver.delivered().some((r) => r.json.id === after.body.id), { what: 'delivery after recovery', timeoutMs: 20_000 });
    expect(receiver.received.map((r) => r.json.payload)).not.toContain('during outage');
  });

  it('refuses readiness when Redis may evict keys', async () => {
    const c = redis.client();
    await c.config('SET', 'maxmemory-policy', 'allkeys-lru');
    const res = await fetch(`${herald.url}/readyz`);
    expect(res.status).toBe(503);
    expect(JSON.stringify(await res.json())).toContain('noeviction');
    await c.config('SET', 'maxmemory-policy', 'noeviction');
    expect((await fetch(`${herald.url}/readyz`)).status).toBe(200);
  });

  it('answers 503 (not 500) when Redis is out of memory, and accepts again once there is room', async () => {
    const c = redis.client();
    await c.config('SET', 'maxmemory', '1');
    const res = await herald.post({ userID: 'u', payload: 'oom' });
    expect(res.status).toBe(503);
    await c.config('SET', 'maxmemory', '0');
    expect((await herald.post({ userID: 'u', payload: 'room' })).status).toBe(202);
  });
});
