/**
 * Property-based fuzzing of the ingest API with fast-check: thousands of random bodies and headers
 * (random JSON and bytes, wrong content types and encodings, bodies around the size limit, random
 * Idempotency-Keys, prototype-pollution keys). Whatever arrives, ingest answers with a 4xx or a 2xx,
 * never a 5xx, keeps running with bounded memory, and every 202 carries a well-formed id for an
 * event stored exactly as sent. A failing run prints fast-check's seed; set FUZZ_SEED to replay it.
 */
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startHerald, type HeraldUnderTest } from '../support/herald.js';
import { rawRequest } from '../support/raw-http.js';

const LIMIT = 64 * 1024;
const MAX_BATCH = 20;
const ID = /^evt_[0-9a-f]{32}$/;
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;

let redis: RedisServer;
let herald: HeraldUnderTest;
let port: number;

beforeAll(async () => {
  redis = await startRedis();
  herald = await startHerald({ redisUrl: redis.url, withWorkers: false, env: { HERALD_MAX_BODY: `${LIMIT}`, HERALD_MAX_BATCH: String(MAX_BATCH), HERALD_LOG_LEVEL: 'info' } });
  // One destination, so accepted events are really stored and queued (no worker delivers them).
  await herald.publish('fuzz', { url: 'http://127.0.0.1:9/never' });
  port = herald.ingest.port;
});

afterAll(async () => {
  await herald?.close();
  await redis?.close();
});

/** A real GC when the runtime allows it (`--expose-gc` turned on at run time); heap numbers are then exact. */
function collectGarbage(): boolean {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as undefined | (() => void);
    if (typeof gc !== 'function') return false;
    gc();
    gc();
    return true;
  } catch {
    return false;
  }
}

// ---------- generators ----------

/** What fetch can put in a header value (control characters are left to the raw-socket test below). */
const sendable = (s: string) => !/[\0-\x08\x0a-\x1f\x7f]/.test(s) && s.trim() === s;

/** Keys that have broken JavaScript services before: prototype pollution and built-in names. */
const nastyKey = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'userID', 'payload', 'type', '');
const key = fc.oneof(nastyKey, fc.string({ maxLength: 12, unit: 'binary' }));

/** JSON text rather than values, so `"__proto__"` keys and odd numbers reach the server verbatim. */
const jsonText: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('null', 'true', 'false', '0', '-0', '1e400', '-1e-400', '123456789012345678901234567890', '3.14', '"\\ud800"', '"\\u0000"'),
    fc.string({ maxLength: 40, unit: 'binary' }).map((s) => JSON.stringify(s)),
    fc.double().map((d) => (Number.isFinite(d) ? JSON.stringify(d) : '0')),
    fc.array(tie('value'), { maxLength: 5 }).map((a) => `[${a.join(',')}]`),
    fc.array(fc.tuple(key, tie('value')), { maxLength: 5 }).map((kv) => `{${kv.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
  ),
})).value;

/** Nested arrays/objects a few hundred levels deep (deeper ones are the separate test below). */
const deepText = fc.tuple(fc.integer({ min: 1, max: 1_000 }), fc.boolean()).map(([d, obj]) => (obj ? '{"a":'.repeat(d) + '1' + '}'.repeat(d) : '['.repeat(d) + ']'.repeat(d)));

/** Mostly-valid events, to get past validation and into storage; some fields wrong on purpose. */
const eventText = fc
  .record({
    userID: fc.oneof({ weight: 6, arbitrary: fc.string({ minLength: 1, maxLength: 40, unit: 'binary' }) }, nastyKey, fc.constant('u'.repeat(257)), fc.constantFrom('42', 'null', '{}')),
    userIDRaw: fc.boolean(),
    payload: fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 10, arbitrary: jsonText }, { weight: 2, arbitrary: deepText }),
    type: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.:/-]{1,20}$/) }, { weight: 1, arbitrary: fc.string({ maxLength: 20, unit: 'binary' }) }),
    extra: fc.oneof({ weight: 6, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.tuple(key, jsonText) }),
  })
  .map(({ userID, userIDRaw, payload, type, extra }) => {
    const parts = [`"userID":${userIDRaw && /^(42|null|\{\})$/.test(userID) ? userID : JSON.stringify(userID)}`];
    if (payload !== null) parts.push(`"payload":${payload}`);
    if (type !== null) parts.push(`"type":${JSON.stringify(type)}`);
    if (extra !== null) parts.push(`${JSON.stringify(extra[0])}:${extra[1]}`);
    return `{${parts.join(',')}}`;
  });

/** Bodies whose size is within 64 bytes of the limit, either side. */
const nearLimit = fc.integer({ min: -64, max: 64 }).map((delta) => {
  const shell = '{"userID":"edge","payload":""}';
  return `{"userID":"edge","payload":"${'x'.repeat(LIMIT - shell.length + delta)}"}`;
});

const batchText = fc.oneof(
  fc.array(fc.oneof({ weight: 4, arbitrary: eventText }, jsonText), { maxLength: MAX_BATCH + 3 }).map((items) => ({ text: `[${items.join(',')}]`, ndjson: false })),
  fc.array(fc.oneof({ weight: 4, arbitrary: eventText }, jsonText, fc.string({ maxLength: 10 })), { minLength: 1, maxLength: MAX_BATCH + 3 }).map((items) => ({ text: items.join('\n'), ndjson: true })),
);

const bodyText = fc.oneof(
  { weight: 8, arbitrary: eventText },
  { weight: 2, arbitrary: jsonText },
  { weight: 1, arbitrary: nearLimit },
  { weight: 1, arbitrary: fc.string({ maxLength: 200, unit: 'binary' }) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '{', '{"userID":"u","payload":1}{"userID":"u","payload":2}', '{"userID":"a","userID":"b","payload":1}', '\uFEFF{"userID":"u","payload":1}') },
);

const contentType = fc.oneof(
  { weight: 10, arbitrary: fc.constant('application/json') },
  { weight: 3, arbitrary: fc.constantFrom('application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json;charset=utf-16', 'application/x-ndjson', 'text/plain', 'application/jsonx', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', '*/*', '') },
  { weight: 1, arbitrary: fc.string({ maxLength: 30, unit: 'binary-ascii' }).filter(sendable) },
);

const BOMB = gzipSync(Buffer.from(`{"userID":"u","payload":"${'a'.repeat(20 * 1024 * 1024)}"}`));
type Encoding = 'none' | 'gzip' | 'deflate' | 'br' | 'gzip-garbage' | 'gzip-bomb' | 'unknown';
const encoding = fc.oneof({ weight: 20, arbitrary: fc.constant<Encoding>('none') }, fc.constantFrom<Encoding>('gzip', 'deflate', 'br', 'gzip-garbage', 'gzip-bomb', 'unknown'));

/** Idempotency-Key values: valid ones that repeat (so replays and conflicts happen), too long, empty, odd bytes. */
const idemKey = fc.option(
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('k1', 'k2', 'k3', 'order-1') },
    { weight: 4, arbitrary: fc.string({ minLength: 1, maxLength: 40, unit: 'binary-ascii' }).filter(sendable) },
    { weight: 1, arbitrary: fc.constantFrom('x'.repeat(256), 'x'.repeat(255), ' ', '__proto__', 'constructor') },
    { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 20 }).map((s) => Buffer.from(s, 'utf8').toString('latin1')).filter((s) => s.length > 0 && sendable(s)) },
  ),
  { freq: 3 },
);

const request = fc.record({
  batch: fc.integer({ min: 0, max: 9 }).map((n) => n < 3),
  single: bodyText,
  batchBody: batchText,
  contentType,
  encoding,
  idempotencyKey: idemKey,
});

// ---------- the oracle ----------

function encode(text: string, enc: Encoding): { body: Buffer; header?: string } {
  const raw = Buffer.from(text, 'utf8');
  switch (enc) {
    case 'none':
      return { body: raw };
    case 'gzip':
      return { body: gzipSync(raw), header: 'gzip' };
    case 'deflate':
      return { body: deflateSync(raw), header: 'deflate' };
    case 'br':
      return { body: brotliCompressSync(raw), header: 'br' };
    case 'gzip-garbage':
      return { body: raw, header: 'gzip' };
    case 'gzip-bomb':
      return { body: BOMB, header: 'gzip' };
    case 'unknown':
      return { body: raw, header: 'x-squash' };
  }
}

interface Checked {
  status: number;
  accepted: number;
}

/** Posts one request and checks everything that must hold for any input; returns the status. */
async function check(path: '/ingest' | '/ingest/batch', text: string, ct: string, enc: Encoding, key: string | null): Promise<Checked> {
  const { body, header } = encode(text, enc);
  const headers: Record<string, string> = { 'content-type': ct };
  if (header) headers['content-encoding'] = header;
  if (key !== null) headers['idempotency-key'] = key;
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', body, headers });
  const answer = await res.text();
  const ctx = `${res.status} for POST ${path} (${ct}, ${enc}, key ${JSON.stringify(key)}): ${text.slice(0, 200)}\n→ ${answer.slice(0, 300)}`;
  expect(res.status, ctx).toBeLessThan(500);
  expect([202, 207, 400, 413, 415, 422], ctx).toContain(res.status);
  expect(res.headers.get('content-type'), ctx).toMatch(/^application\/json/);
  const json = JSON.parse(answer) as { id?: string; destinations?: number; results?: Array<{ status: number; id?: string }>; error?: { code: string } };
  expect(answer, ctx).not.toMatch(/at [^ ]+\.[jt]s:\d+/);
  if (res.status >= 400) {
    // A batch in which no event was valid answers 400 with the per-event results instead.
    if (path === '/ingest/batch' && res.status === 400 && json.results) expect(json.results.every((r) => r.status >= 400 && r.status < 500), ctx).toBe(true);
    else expect(typeof json.error?.code, ctx).toBe('string');
    return { status: res.status, accepted: 0 };
  }
  if (path === '/ingest') {
    expect(json.id, ctx).toMatch(ID);
    expect(json.destinations, ctx).toBe(1);
    // Stored exactly as sent (fresh events only: a replayed key returns the first body's id).
    if (res.headers.get('idempotent-replayed') !== 'true') {
      const sent = JSON.parse(text) as { userID: string; payload: unknown; type?: string };
      const stored = JSON.parse((await herald.storedBody(json.id!))!) as typeof sent & { id: string };
      expect(stored.id, ctx).toBe(json.id);
      expect(stored.userID, ctx).toBe(sent.userID);
      expect(stored.type, ctx).toBe(sent.type ?? 'event');
      expect(JSON.stringify(stored.payload), ctx).toBe(JSON.stringify(sent.payload));
    }
    return { status: res.status, accepted: 1 };
  }
  const ok = (json.results ?? []).filter((r) => r.status === 202);
  for (const r of ok) expect(r.id, ctx).toMatch(ID);
  expect(ok.length, ctx).toBeGreaterThan(0);
  return { status: res.status, accepted: ok.length };
}

describe('ingest under fuzzing', () => {
  it('answers thousands of random requests with 2xx/4xx only, each 202 with a well-formed id of an event stored as sent, in bounded memory', async ({ annotate }) => {
    const counts: Record<number, number> = {};
    let accepted = 0;
    const run = async (n: number) =>
      fc.assert(
        fc.asyncProperty(request, async (r) => {
          const path = r.batch ? '/ingest/batch' : '/ingest';
          const text = r.batch ? r.batchBody.text : r.single;
          const ct = r.batch && r.batchBody.ndjson && r.contentType === 'application/json' ? 'application/x-ndjson' : r.contentType;
          const out = await check(path, text, ct, r.encoding, r.idempotencyKey);
          counts[out.status] = (counts[out.status] ?? 0) + 1;
          accepted += out.accepted;
          // The size limit is exact: a plain body within it is never 413, one over it always is.
          const size = Buffer.byteLength(text);
          if (r.encoding === 'none' && /^application\/json$/i.test(ct)) expect(out.status === 413, `${size} bytes → ${out.status}`).toBe(size > LIMIT);
        }),
        { numRuns: n, ...(SEED !== undefined ? { seed: SEED } : {}) },
      );

    await run(200); // warm-up: JIT, connection pools, Redis scripts
    herald.logs.length = 0;
    const exact = collectGarbage();
    const heapBefore = process.memoryUsage().heapUsed;
    const started = Date.now();
    await run(2_500);
    const elapsed = Date.now() - started;

    const failures = herald.logs.filter((l) => l.level === 'error' || l.level === 'fatal');
    herald.logs.length = 0;
    collectGarbage();
    const heapAfter = process.memoryUsage().heapUsed;
    const growth = heapAfter - heapBefore;
    const summary = `fuzz: 2,500 requests in ${(elapsed / 1000).toFixed(1)} s, answers ${JSON.stringify(counts)}, ${accepted} events accepted, heap ${(growth / 2 ** 20).toFixed(1)} MiB growth (${exact ? 'after GC' : 'no GC available'})`;
    console.log(summary);
    await annotate(summary);

    expect(failures.map((l) => l.msg)).toEqual([]);
    // Every kind of answer showed up, so the generators reach past each check.
    for (const s of [202, 400, 413, 415, 422]) expect(counts[s] ?? 0, `no ${s} in ${JSON.stringify(counts)}`).toBeGreaterThan(0);
    expect(growth).toBeLessThan((exact ? 16 : 64) * 2 ** 20);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect((await herald.post({ userID: 'after', payload: 'fuzz' })).status).toBe(202);
  }, 60_000);

  it('header bytes that fetch would refuse to send get a 4xx, and the server keeps serving', async () => {
    const header = fc.tuple(
      fc.constantFrom('idempotency-key', 'content-type', 'content-encoding', 'x-anything', 'transfer-encoding', '__proto__', 'constructor'),
      fc.oneof(
        fc.uint8Array({ minLength: 0, maxLength: 300 }).map((a) => Buffer.from(a.filter((b) => b !== 10 && b !== 13))),
        fc.string({ minLength: 1, maxLength: 300, unit: 'binary-ascii' }).map((v) => Buffer.from(v.replace(/[\0-\x1f\x7f]/g, ''), 'latin1')),
        fc.constantFrom('application/json', 'gzip', 'chunked', 'k1', 'x'.repeat(256)).map((v) => Buffer.from(v)),
      ),
    );
    const counts: Record<number, number> = {};
    await fc.assert(
      fc.asyncProperty(fc.array(header, { maxLength: 4 }), fc.oneof(eventText, fc.string({ maxLength: 100 })), async (headers, text) => {
        const hasType = headers.some(([k]) => k === 'content-type');
        const res = await rawRequest(port, { path: '/ingest', headers: [...(hasType ? [] : ([['content-type', 'application/json']] as Array<[string, string]>)), ...headers], body: Buffer.from(text) });
        counts[res.status] = (counts[res.status] ?? 0) + 1;
        const ctx = `${res.status} for headers ${JSON.stringify(headers.map(([k, v]) => [k, v.toString('latin1')]))}: ${res.body.slice(0, 200)}`;
        expect(res.status, ctx).toBeGreaterThanOrEqual(200);
        expect(res.status, ctx).toBeLessThan(500);
        if (res.status === 202) expect(JSON.parse(res.body).id, ctx).toMatch(ID);
      }),
      { numRuns: 500, ...(SEED !== undefined ? { seed: SEED } : {}) },
    );
    console.log(`fuzz raw headers: answers ${JSON.stringify(counts)}`);
    expect(counts[202] ?? 0).toBeGreaterThan(0);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
  }, 60_000);

  it('keeps prototype-pollution keys as plain data and pollutes nothing', async () => {
    const text = '{"userID":"u","payload":{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"a":[{"__proto__":{"isAdmin":true}}]}}';
    const res = await herald.postRaw(text);
    expect(res.status).toBe(202);
    const stored = (await herald.storedBody(res.body.id))!;
    expect(stored).toContain('"__proto__":{"polluted":"yes"}');
    expect(stored).toContain('"constructor":{"prototype":{"polluted":"yes"}}');
    expect(stored).toContain('"__proto__":{"isAdmin":true}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    expect(Object.keys(Object.prototype)).toEqual([]);
    // A top-level __proto__ is an unknown field, not a way in.
    const top = await herald.postRaw('{"userID":"u","payload":1,"__proto__":{"polluted":"yes"}}');
    expect(top.status).toBe(400);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  // Regression (was: deep JSON → 503): a payload nested more than ~4,000 levels (about 10 KB of "[[[…]]]")
  // parses, but serialising it for storage throws RangeError (stack overflow), which
  // IngestService.acceptMany reports as StoreUnavailableError: 503 "retry later", for a request that
  // will fail the same way forever (and poisons a whole batch the same way).
  it('answers 400, not 503, to a payload nested too deep to store', async () => {
    for (const depth of [5_000, 20_000, 30_000]) { // all under the 64 KiB body limit of this file
      const res = await herald.postRaw(`{"userID":"u","payload":${'['.repeat(depth)}${']'.repeat(depth)}}`);
      expect(res.status, `depth ${depth}: ${JSON.stringify(res.body)}`).toBe(400);
    }
    const batch = await herald.postRaw(`[{"userID":"u","payload":1},{"userID":"u","payload":${'['.repeat(5_000)}${']'.repeat(5_000)}}]`, {}, '/ingest/batch');
    expect(batch.status).toBe(207);
  });
});
