import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../src/auth/api-keys.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { startHerald, type HeraldUnderTest } from '../support/herald.js';
import { streamRequest } from '../support/raw-http.js';

// A client may declare or stream any amount; ingest must answer as soon as it knows the answer
// (no key, a declared length over the limit, a chunked body past it) and close the connection,
// reading no more than it must.
let redis: RedisServer;
let herald: HeraldUnderTest;
let port: number;
const KEY = 'hk_early_key_for_tests_0123456789abcdefghijklmn';
const LIMIT = 64 * 1024;
const TEN_GIB = String(10 * 1024 ** 3);
/** Far below what an unbounded read takes (streamRequest stops at 256 MiB), far above the socket buffers. */
const BOUND = 48 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 'x');

beforeAll(async () => {
  redis = await startRedis();
  const dir = await mkdtemp(join(tmpdir(), 'herald-keys-'));
  const keysFile = join(dir, 'api-keys.yaml');
  await writeFile(keysFile, JSON.stringify([{ name: 'early', hash: hashApiKey(KEY) }]));
  herald = await startHerald({ redisUrl: redis.url, withWorkers: false, env: { HERALD_API_KEYS_FILE: keysFile, HERALD_INGEST_AUTH: 'required', HERALD_MAX_BODY: String(LIMIT) } });
  port = herald.ingest.port;
});

afterAll(async () => {
  await herald?.close();
  await redis?.close();
});

const json = [['content-type', 'application/json']] as Array<[string, string]>;
const auth = [['authorization', `Bearer ${KEY}`]] as Array<[string, string]>;
const chunked = [['transfer-encoding', 'chunked']] as Array<[string, string]>;

describe.each(['/ingest', '/ingest/batch'])('%s refuses before reading the body', (path) => {
  it('401 without a key, before any of a declared 10 GiB body is sent, and closes', async () => {
    const res = await streamRequest(port, { path, headers: [...json, ['content-length', TEN_GIB]] });
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).error.code).toBe('HERALD_AUTH_MISSING');
    expect(res.headers['connection']).toBe('close');
    expect(res.bodyBytesSent).toBe(0);
  });

  it('401 without a key for an endless chunked body, having read a bounded part of it', async () => {
    const res = await streamRequest(port, { path, headers: [...json, ...chunked], chunk: CHUNK });
    expect(res.status).toBe(401);
    expect(res.bodyBytesSent).toBeLessThan(BOUND);
  });

  it('413 with a JSON error for a declared length over the limit, before the body is sent, and closes', async () => {
    const res = await streamRequest(port, { path, headers: [...json, ...auth, ['content-length', TEN_GIB]] });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).error.code).toBe('body_too_large');
    expect(res.headers['connection']).toBe('close');
    expect(res.bodyBytesSent).toBe(0);
  });

  it('413 for an endless chunked body once it passes the limit, and closes', async () => {
    const res = await streamRequest(port, { path, headers: [...json, ...auth, ...chunked], chunk: CHUNK });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).error.code).toBe('body_too_large');
    expect(res.headers['connection']).toBe('close');
    expect(res.bodyBytesSent).toBeLessThan(BOUND);
  });

  it('413 for an endless chunked compressed body, without inflating or reading past the limit', async () => {
    const res = await streamRequest(port, { path, headers: [...json, ...auth, ...chunked, ['content-encoding', 'gzip']], chunk: CHUNK });
    expect([400, 413]).toContain(res.status); // 64 KiB of "x" is not gzip: refused as invalid or as too large
    expect(res.headers['connection']).toBe('close');
    expect(res.bodyBytesSent).toBeLessThan(BOUND);
  });
});
