import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_ANSWERS, ERROR_CODES } from '../../src/api/error-answer.js';
import { buildOpenApi, json, type ApiDoc } from '../../src/api/openapi.js';
import { HERALD_API, heraldOpenApi, heraldOpenApiJson, OPENAPI_PATH } from '../../src/api/http-routes.js';
import { ApiContract } from '../support/api-contract.js';
import { z } from 'zod';

const doc = heraldOpenApi() as Record<string, any>;

describe('the OpenAPI document', () => {
  it('is committed exactly as the route catalog generates it', () => {
    const fresh = heraldOpenApiJson();
    if (process.env.HERALD_UPDATE_OPENAPI === '1') writeFileSync(OPENAPI_PATH, fresh);
    const committed = readFileSync(OPENAPI_PATH, 'utf8');
    expect(committed === fresh, `${OPENAPI_PATH} is stale: a route or a zod schema changed. Run \`npm run gen:openapi\` (or HERALD_UPDATE_OPENAPI=1 npx vitest run test/unit/openapi-document.test.ts) and commit the result.`).toBe(true);
  });

  it('is OpenAPI 3.1 with JSON Schema 2020-12, and every schema in it compiles in a 2020-12 validator', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.jsonSchemaDialect).toBe('https://json-schema.org/draft/2020-12/schema');
    const contract = new ApiContract(doc);
    // Every body and header schema of every answer is reachable and valid JSON Schema (ajv compiles it on check).
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [method, op] of Object.entries(item)) {
        for (const status of Object.keys(op.responses)) {
          expect(() => contract.check({ method, path, status: Number(status), headers: {}, body: '' }), `${method} ${path} ${status}`).not.toThrow();
        }
      }
    }
  });

  it('lists every route the servers serve, each with an operation id and its answers', () => {
    const routes = Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([p, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${p}`));
    expect(routes.sort()).toEqual(['GET /events', 'GET /events/{id}', 'GET /healthz', 'GET /metrics', 'GET /openapi.json', 'GET /readyz', 'POST /ingest', 'POST /ingest/batch']);
    const ids = HERALD_API.routes.map((r) => r.operationId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('documents every error code of a status in that status\'s error schema', () => {
    for (const [status, codes] of Object.entries(ERROR_CODES)) {
      expect(doc.components.schemas[`Error${status}`]?.properties.error.properties.code.enum, `Error${status}`).toEqual([...codes]);
    }
  });

  it('documents Retry-After on 429 and 503, and WWW-Authenticate on 401, as required headers', () => {
    for (const path of ['/ingest', '/ingest/batch']) {
      const r = doc.paths[path].post.responses;
      expect(r['429'].headers['Retry-After'].required).toBe(true);
      expect(r['503'].headers['Retry-After'].required).toBe(true);
      expect(r['401'].headers['WWW-Authenticate'].required).toBe(true);
      expect(doc.paths[path].post.security).toEqual([{ apiKey: [] }]);
    }
    expect(doc.paths['/healthz'].get.security).toEqual([]);
  });

  it('refuses two different schemas under one name, and a route listed twice', () => {
    const base: ApiDoc = { ...HERALD_API, routes: [] };
    const route = (schema: z.ZodType) => ({ method: 'get' as const, path: '/x', operationId: 'x', summary: 'x', tags: [], responses: { 200: { description: 'x', body: json('Same', schema) } } });
    expect(() => buildOpenApi({ ...base, routes: [route(z.string()), { ...route(z.number()), path: '/y' }] })).toThrow(/two schemas are named Same/);
    const s = z.string();
    expect(() => buildOpenApi({ ...base, routes: [route(s), route(s)] })).toThrow(/listed twice/);
  });

  it('takes path and query parameters from zod objects (optional ones not required)', () => {
    const out = buildOpenApi({
      ...HERALD_API,
      routes: [{
        method: 'get', path: '/things/{id}', operationId: 'thing', summary: 's', tags: [],
        params: z.object({ id: z.string().describe('the id') }),
        query: z.object({ limit: z.coerce.number().int().min(1).optional(), since: z.string() }),
        responses: { 200: { description: 'ok', body: json('Thing', z.object({ id: z.string() })) }, 404: { description: 'none', body: json('Error404', ERROR_ANSWERS[404]) } },
      }],
    }) as Record<string, any>;
    const params = out.paths['/things/{id}'].get.parameters;
    expect(params.map((p: any) => [p.name, p.in, p.required])).toEqual([['id', 'path', true], ['limit', 'query', false], ['since', 'query', true]]);
    expect(params[0].description).toBe('the id');
    expect(out.components.schemas.Thing).toEqual({ type: 'object', properties: { id: { type: 'string' } }, required: ['id'], additionalProperties: false });
  });
});

describe('the contract check the integration tests run every answer through', () => {
  const contract = new ApiContract(doc);
  const json = { 'content-type': 'application/json; charset=utf-8' };
  const error = (code: string) => JSON.stringify({ error: { code, message: 'm' } });

  it('passes answers the document describes', () => {
    expect(contract.check({ method: 'POST', path: '/ingest', status: 202, headers: json, body: JSON.stringify({ id: `evt_${'a'.repeat(32)}`, destinations: 1 }) })).toEqual([]);
    expect(contract.check({ method: 'POST', path: '/ingest/batch', status: 400, headers: json, body: error('empty_batch') })).toEqual([]);
    expect(contract.check({ method: 'GET', path: '/metrics', status: 200, headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }, body: 'x 1\n' })).toEqual([]);
    expect(contract.check({ method: 'GET', path: '/nowhere', status: 500, headers: {}, body: '' })).toEqual([]);
  });

  it('finds an undocumented status, a body of the wrong shape, an unknown code, a missing Retry-After and a wrong media type', () => {
    const problems = (a: Parameters<ApiContract['check']>[0]) => contract.check(a).join('\n');
    expect(problems({ method: 'POST', path: '/ingest', status: 418, headers: json, body: '{}' })).toMatch(/status 418 is not documented/);
    expect(problems({ method: 'POST', path: '/ingest', status: 202, headers: json, body: JSON.stringify({ id: 'evt_1', destinations: 1 }) })).toMatch(/does not match/);
    expect(problems({ method: 'POST', path: '/ingest', status: 400, headers: json, body: error('made_up') })).toMatch(/does not match/);
    expect(problems({ method: 'POST', path: '/ingest', status: 400, headers: json, body: JSON.stringify({ error: 'bad' }) })).toMatch(/does not match/);
    expect(problems({ method: 'POST', path: '/ingest', status: 429, headers: json, body: error('rate_limited') })).toMatch(/Retry-After is required/);
    expect(problems({ method: 'POST', path: '/ingest', status: 429, headers: { ...json, 'retry-after': 'soon' }, body: error('rate_limited') })).toMatch(/header Retry-After/);
    expect(problems({ method: 'GET', path: '/healthz', status: 200, headers: { 'content-type': 'text/html' }, body: '<p>ok</p>' })).toMatch(/content-type "text\/html" is not one documented/);
    expect(problems({ method: 'GET', path: '/healthz', status: 200, headers: json, body: 'ok' })).toMatch(/not JSON/);
  });
});

describe('values the fuzz generates from the document', () => {
  it('are valid by the schemas they come from (IngestEvent, a batch, every header parameter)', async () => {
    const fc = (await import('fast-check')).default;
    const { arbitraryOf } = await import('../support/schema-arbitrary.js');
    const contract = new ApiContract(doc);
    for (const name of ['IngestEvent', 'IngestEventArray', 'IngestAccepted', 'BatchAccepted', 'BatchRefused', 'Error400', 'Ready']) {
      for (const v of fc.sample(arbitraryOf({ $ref: `#/components/schemas/${name}` }, doc), { numRuns: 200, seed: 1 })) {
        expect(contract.checkSchema(name, v), `${name}: ${JSON.stringify(v)}`).toEqual([]);
      }
    }
  });
});
