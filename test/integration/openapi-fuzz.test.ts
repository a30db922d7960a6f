/**
 * Property-based fuzzing generated from the OpenAPI document: for every operation it lists, fast-check
 * builds requests from the operation's own schemas (bodies per media type, documented headers) and
 * then breaks them (wrong types, huge strings, bad JSON, bytes that are not UTF-8, other content
 * types and encodings, odd or missing API keys and headers), and sends 3,000 (four at a time) to a real
 * ingest server on a real Redis, with API keys, a type-restricted key and a rate-limited one.
 * Whatever arrives: no 5xx, the server stays up, and every answer is one the document describes
 * for that operation, its body matching the schema. Undocumented paths and methods get the
 * document's 404. A failing run prints its seed; FUZZ_SEED=<seed> replays it.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey } from '../../src/auth/api-keys.js';
import { heraldOpenApi } from '../../src/api/http-routes.js';
import { apiContract } from '../support/api-contract.js';
import { startHerald, type HeraldUnderTest } from '../support/herald.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { arbitraryOf } from '../support/schema-arbitrary.js';

const LIMIT = 32 * 1024;
const MAX_BATCH = 8;
const RUNS = 3_000;
const PARALLEL = 4;
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() % 2 ** 31;

const KEYS = { open: generateApiKey(), orders: generateApiKey(), limited: generateApiKey() };
const doc = heraldOpenApi() as Record<string, any>;
const contract = apiContract();

let redis: RedisServer;
let herald: HeraldUnderTest;
let keyDir: string;

beforeAll(async () => {
  redis = await startRedis();
  keyDir = await mkdtemp(join(tmpdir(), 'herald-openapi-fuzz-'));
  const keysFile = join(keyDir, 'api-keys.json');
  await writeFile(keysFile, JSON.stringify([
    { name: 'open', hash: hashApiKey(KEYS.open) },
    { name: 'orders', hash: hashApiKey(KEYS.orders), types: ['order.*'] },
    { name: 'limited', hash: hashApiKey(KEYS.limited), rateLimit: { perSecond: 0.1, burst: 3 } },
  ]));
  herald = await startHerald({ redisUrl: redis.url, withWorkers: false, env: { HERALD_API_KEYS_FILE: keysFile, HERALD_INGEST_AUTH: 'required', HERALD_MAX_BODY: String(LIMIT), HERALD_MAX_BATCH: String(MAX_BATCH), HERALD_LOG_LEVEL: 'info' } });
  // Events are stored and queued (nobody delivers them); some types go nowhere (destinations: 0).
  await herald.publish('plain', { url: 'http://127.0.0.1:9/never', filter: { types: ['event', 'a*', 'b*', 'c*', 'A*', '0*', '_*'] } });
  await herald.publish('orders', { url: 'http://127.0.0.1:9/never', filter: { types: ['order.*', 'a*'] } });
});

afterAll(async () => {
  await herald?.close();
  await redis?.close();
  if (keyDir) await rm(keyDir, { recursive: true, force: true });
});

// ---------- requests, from the document ----------

interface Req {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Built only from what the document says is valid, with the open key: must be accepted. */
  valid: boolean;
}

/** What fetch can send as a header value. */
const sendable = (s: string) => !/[\0-\x1f\x7f]/.test(s) && s.trim() === s;

/** A value of another JSON type than `v`. */
const otherType = (v: unknown) => fc.constantFrom<unknown>(42, -1.5, true, null, 'text', [], {}, [1, 'a'], { nested: { deep: [null] } }).filter((x) => typeof x !== typeof v || Array.isArray(x) !== Array.isArray(v) || (x === null) !== (v === null));

/** Breaks one member of an object (or each event of an array): another type, a huge string, gone, or one too many. */
function mutateValue(v: unknown): fc.Arbitrary<unknown> {
  if (Array.isArray(v)) {
    if (v.length === 0) return fc.constant(v);
    return fc.nat(v.length - 1).chain((i) => mutateValue(v[i]).map((m) => v.map((x, j) => (j === i ? m : x))));
  }
  if (v === null || typeof v !== 'object') return otherType(v);
  const keys = Object.keys(v);
  if (keys.length === 0) return fc.constant({ unexpected: 1 });
  return fc.tuple(fc.constantFrom(...keys), fc.nat(3)).chain(([k, how]) => {
    const copy: Record<string, unknown> = { ...(v as Record<string, unknown>) };
    if (how === 0) return otherType(copy[k]).map((x) => ({ ...copy, [k]: x }));
    if (how === 1) return fc.integer({ min: 200, max: LIMIT + 2_000 }).map((n) => ({ ...copy, [k]: 'x'.repeat(n) }));
    if (how === 2) {
      delete copy[k];
      return fc.constant(copy);
    }
    return fc.constantFrom('extra', '__proto__', 'constructor', '').map((extra) => JSON.parse(`{${JSON.stringify(extra)}:1,${JSON.stringify(copy).slice(1)}`) as unknown);
  });
}

/** A body sent with a documented Content-Encoding is compressed with it (any other value is sent as is). */
const COMPRESSORS = new Map<string, (b: Buffer) => Buffer>([['gzip', gzipSync], ['x-gzip', gzipSync], ['deflate', deflateSync], ['br', brotliCompressSync]]);

type Corruption = 'none' | 'truncate' | 'garbage' | 'utf8' | 'empty' | 'bom';
const corruption = fc.oneof({ weight: 12, arbitrary: fc.constant<Corruption>('none') }, fc.constantFrom<Corruption>('truncate', 'garbage', 'utf8', 'empty', 'bom'));

/** Breaks the bytes of a body: cut short, garbage inserted, bytes that are not UTF-8, emptied, a BOM. */
function corrupt(text: string, how: Corruption, at: number): Buffer {
  const b = Buffer.from(text, 'utf8');
  const pos = b.length === 0 ? 0 : at % b.length;
  switch (how) {
    case 'none':
      return b;
    case 'truncate':
      return b.subarray(0, pos);
    case 'garbage':
      return Buffer.concat([b.subarray(0, pos), Buffer.from(',}]{"'), b.subarray(pos)]);
    case 'utf8':
      return Buffer.concat([b.subarray(0, pos), Buffer.from([[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]][at % 4]!), b.subarray(pos)]);
    case 'empty':
      return Buffer.alloc(0);
    case 'bom':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), b]);
  }
}

/** The body of one media type of an operation, valid by its schema; NDJSON lines are the JSON array's items. */
function validBody(op: Record<string, any>, mediaType: string): fc.Arbitrary<unknown> {
  const content = op.requestBody.content as Record<string, { schema: Record<string, unknown> }>;
  if (mediaType === 'application/x-ndjson') return arbitraryOf(content['application/json']!.schema, doc);
  return arbitraryOf(content[mediaType]!.schema, doc);
}

const serialise = (value: unknown, mediaType: string) => (mediaType === 'application/x-ndjson' && Array.isArray(value) ? value.map((v) => JSON.stringify(v)).join('\n') : JSON.stringify(value));

/** The documented request headers of an operation: absent, valid by schema, or any other sendable text. */
function headerValues(op: Record<string, any>): fc.Arbitrary<{ headers: Record<string, string>; valid: boolean }> {
  const params = ((op.parameters ?? []) as Array<{ name: string; in: string; schema: Record<string, unknown> }>).filter((p) => p.in === 'header');
  const one = (p: (typeof params)[number]) =>
    fc.oneof(
      { weight: 6, arbitrary: fc.constant<[string, string | undefined, boolean]>([p.name, undefined, true]) },
      { weight: 2, arbitrary: arbitraryOf(p.schema, doc).map((v): [string, string | undefined, boolean] => [p.name, String(v), p.name !== 'Idempotency-Key']) },
      { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 300, unit: 'binary-ascii' }), fc.constantFrom('', 'x'.repeat(300), 'GZIP', 'gzip, br', '__proto__')).filter(sendable).map((v): [string, string | undefined, boolean] => [p.name, v, false]) },
    );
  return fc.tuple(...params.map(one)).map((hs) => ({
    headers: Object.fromEntries(hs.filter(([, v]) => v !== undefined).map(([k, v]) => [k, v!])),
    valid: hs.every(([, , ok]) => ok),
  }));
}

const auth = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom<[string | undefined, boolean]>([`Bearer ${KEYS.open}`, true], [`bearer   ${KEYS.open}`, true]) },
  { weight: 2, arbitrary: fc.constant<[string | undefined, boolean]>([`Bearer ${KEYS.orders}`, false]) },
  { weight: 2, arbitrary: fc.constant<[string | undefined, boolean]>([`Bearer ${KEYS.limited}`, false]) },
  { weight: 2, arbitrary: fc.constantFrom<[string | undefined, boolean]>([undefined, false], ['Bearer hk_nope', false], ['Basic dXNlcjpwYXNz', false], [`Bearer ${'k'.repeat(600)}`, false]) },
);

const contentType = (documented: string[]) =>
  fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom(...documented).map((t) => [t, true] as const) },
    { weight: 2, arbitrary: fc.constantFrom('application/json; charset=utf-8', 'Application/JSON', 'application/x-ndjson', 'application/json').map((t) => [t, false] as const) },
    { weight: 2, arbitrary: fc.constantFrom('', 'text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/jsonx', '*/*').map((t) => [t, false] as const) },
  );

/** Requests to one documented operation with a body (POST). */
function bodyRequests(path: string, method: string, op: Record<string, any>): fc.Arbitrary<Req> {
  const mediaTypes = Object.keys(op.requestBody.content as object);
  return fc
    .record({ media: fc.constantFrom(...mediaTypes), ct: contentType(mediaTypes), headers: headerValues(op), auth, how: corruption, at: fc.nat(), mutate: fc.boolean() })
    .chain((r) =>
      validBody(op, r.media)
        .chain((value): fc.Arbitrary<[unknown, boolean]> => (r.mutate ? mutateValue(value).map((m): [unknown, boolean] => [m, false]) : fc.constant<[unknown, boolean]>([value, true])))
        .map(([value, intact]) => ({ r, value, intact })),
    )
    .map(({ r, value, intact }) => {
      const headers: Record<string, string> = { ...r.headers.headers };
      // The content type sent, and whether it is the one this body was made for.
      const [ct, ctOk] = r.ct[0] === r.media || !r.ct[1] ? r.ct : [r.media, true];
      if (ct !== '') headers['content-type'] = ct;
      if (r.auth[0] !== undefined) headers.authorization = r.auth[0];
      const plain = corrupt(serialise(value, r.media), r.how, r.at);
      const compress = COMPRESSORS.get(headers['Content-Encoding'] ?? 'identity');
      const body = compress ? compress(plain) : plain;
      const valid = intact && ctOk && r.headers.valid && r.auth[1] && r.how === 'none' && plain.length <= LIMIT && ct === r.media;
      return { method: method.toUpperCase(), path, headers, body, valid };
    });
}

/** Path and query parameters of an operation: valid by their schema, absent when optional, or junk. */
function parameterValues(op: Record<string, any>, where: 'path' | 'query'): fc.Arbitrary<Array<[string, string | undefined, boolean]>> {
  const params = ((op.parameters ?? []) as Array<{ name: string; in: string; required: boolean; schema: Record<string, unknown> }>).filter((p) => p.in === where);
  const junk = fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom('', '-1', '1e400', 'null', '__proto__', '%', 'x'.repeat(2_000)));
  return fc.tuple(
    ...params.map((p) =>
      fc.oneof(
        { weight: 4, arbitrary: arbitraryOf(p.schema, doc).map((v): [string, string | undefined, boolean] => [p.name, String(v), true]) },
        { weight: p.required ? 0 : 2, arbitrary: fc.constant<[string, string | undefined, boolean]>([p.name, undefined, true]) },
        { weight: 1, arbitrary: junk.map((v): [string, string | undefined, boolean] => [p.name, v, false]) },
      ),
    ),
  );
}

/** Requests to one documented operation without a body (GET): its parameters, an API key when it needs one, odd extras. */
function plainRequests(template: string, method: string, op: Record<string, any>): fc.Arbitrary<Req> {
  const secured = ((op.security ?? []) as unknown[]).length > 0;
  return fc
    .record({
      path: parameterValues(op, 'path'),
      query: parameterValues(op, 'query'),
      extra: fc.constantFrom('', 'x=1', '__proto__=1', `q=${'q'.repeat(2_000)}`),
      auth: secured ? auth : fc.constant<[string | undefined, boolean]>([undefined, true]),
      junk: fc.option(fc.string({ maxLength: 100, unit: 'binary-ascii' }).filter(sendable)),
    })
    .map(({ path, query, extra, auth: [authorization], junk }): Req => {
      let p = template;
      for (const [name, v] of path) p = p.replace(`{${name}}`, encodeURIComponent(v ?? ''));
      const qs = [...query.filter(([, v]) => v !== undefined).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v!)}`), ...(extra ? [extra] : [])].join('&');
      const headers: Record<string, string> = junk === null ? {} : { 'x-anything': junk, accept: junk };
      if (authorization !== undefined) headers.authorization = authorization;
      return { method: method.toUpperCase(), path: qs ? `${p}?${qs}` : p, headers, valid: true };
    });
}

/** Paths and methods the document does not list: the other spellings express takes are allowed to answer as the route. */
const elsewhere: fc.Arbitrary<Req> = fc
  .tuple(fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'POST', 'OPTIONS'), fc.constantFrom('/', '/ingest/x', '/events', '/events/evt_1', '/%zz', '/ingest%2Fbatch', '/..%2f..%2fetc/passwd', `/${'a'.repeat(3_000)}`, '/healthz/x', '/openapi.yaml'))
  .map(([method, path]) => ({ method, path, headers: { 'content-type': 'application/json', authorization: `Bearer ${KEYS.open}` }, ...(method === 'GET' || method === 'OPTIONS' ? {} : { body: Buffer.from('{"userID":"u","payload":1}') }), valid: false }));

const operations = Object.entries(doc.paths as Record<string, Record<string, Record<string, any>>>).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ path, method, op })));
const request: fc.Arbitrary<Req> = fc.oneof(
  ...operations.map(({ path, method, op }) => ({ weight: op.requestBody ? 10 : op.parameters ? 4 : 1, arbitrary: op.requestBody ? bodyRequests(path, method, op) : plainRequests(path, method, op) })),
  { weight: 1, arbitrary: elsewhere },
);

// ---------- the oracle ----------

describe('the API under requests generated from its OpenAPI document', () => {
  it(`answers ${RUNS} generated requests, valid and broken, only as the document says, never 5xx`, async ({ annotate }) => {
    const counts: Record<string, number> = {};
    const send = async (r: Req): Promise<void> => {
      const res = await fetch(`${herald.url}${r.path}`, { method: r.method, headers: r.headers, ...(r.body ? { body: r.body } : {}) });
      const body = await res.text();
      const ctx = `${r.method} ${r.path.slice(0, 80)} ${JSON.stringify(r.headers).slice(0, 300)} ${r.body?.toString('latin1').slice(0, 200) ?? ''}\n→ ${res.status} ${body.slice(0, 300)}`;
      counts[res.status] = (counts[res.status] ?? 0) + 1;
      expect(res.status, ctx).toBeLessThan(500);
      // What the server sees: fetch resolves dot segments ("/events/." is "/events/"), and express
      // routes a path with a trailing slash as the path without it ("/events/" is "/events").
      const url = new URL(r.path, herald.url);
      const sent = url.pathname + url.search;
      const path = contract.describes(r.method, sent) ? sent : sent.replace(/\/(\?|$)/, '$1');
      if (contract.describes(r.method, path)) {
        expect(contract.check({ method: r.method, path, status: res.status, headers: Object.fromEntries(res.headers), body }), ctx).toEqual([]);
      } else {
        expect(res.status, ctx).toBe(404);
        expect(contract.checkSchema('Error404', JSON.parse(body)), ctx).toEqual([]);
      }
      // Built only from what the document calls valid: stored (or, for a batch, every event stored).
      if (r.valid && r.method === 'POST') expect(res.status, ctx).toBe(202);
    };
    // A few requests at a time, as clients send them; the run takes a fraction of the time.
    const property = fc.asyncProperty(fc.array(request, { minLength: PARALLEL, maxLength: PARALLEL }), async (rs) => {
      await Promise.all(rs.map(send));
    });
    const started = Date.now();
    try {
      await fc.assert(property, { numRuns: RUNS / PARALLEL, seed: SEED });
    } catch (err) {
      const cause = (err as Error).cause;
      throw new Error(`OpenAPI fuzz failed with seed ${SEED} (replay: FUZZ_SEED=${SEED} npx vitest run test/integration/openapi-fuzz.test.ts)\n${(err as Error).message}${cause instanceof Error ? `\n${cause.message}` : ''}`);
    }
    const summary = `openapi fuzz: ${RUNS} requests (${PARALLEL} at a time) in ${((Date.now() - started) / 1000).toFixed(1)} s, seed ${SEED}, answers ${JSON.stringify(counts)}`;
    console.log(summary);
    await annotate(summary);
    expect(herald.logs.filter((l) => l.level === 'error' || l.level === 'fatal').map((l) => l.msg)).toEqual([]);
    // The generators reach every kind of answer, so each check above was exercised.
    for (const s of [200, 202, 207, 400, 401, 403, 404, 413, 415, 429]) expect(counts[s] ?? 0, `no ${s} in ${JSON.stringify(counts)}`).toBeGreaterThan(0);
    expect((await fetch(`${herald.url}/healthz`)).status).toBe(200);
  }, 120_000);

  it('serves the document it is checked against at GET /openapi.json', async () => {
    const res = await fetch(`${herald.url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual(doc);
  });

  // Regression (was: 500): the inflaters were looked up in an object literal, so Content-Encoding
  // "__proto__" or "constructor" found Object's own members and calling them threw.
  it('answers 415 to a Content-Encoding named like a member of Object', async () => {
    for (const encoding of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const res = await fetch(`${herald.url}/ingest`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': encoding, authorization: `Bearer ${KEYS.open}` }, body: '{"userID":"u","payload":1}' });
      expect(res.status, encoding).toBe(415);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('encoding.unsupported');
    }
  });

  it('answers a request head too large for Node with the documented JSON 431', async () => {
    const res = await fetch(`${herald.url}/ingest`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-big': 'b'.repeat(20_000) }, body: '{}' });
    expect(res.status).toBe(431);
    const body = (await res.json()) as { error: { code: string } };
    expect(body.error.code).toBe('headers_too_large');
  });
});
