import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DestinationSpec } from '../../../src/api/destination.js';
import { CEL_RULES, CRD_PATH, DESCRIPTIONS, destinationCrd, destinationCrdYaml, schemaAt, specSchema, toStructural, zodSpecJsonSchema, type SchemaNode } from '../../../src/controller/crd.js';

const committedText = readFileSync(CRD_PATH, 'utf8');
const committed = parse(committedText) as ReturnType<typeof destinationCrd> & { spec: any };
const committedSpec = committed.spec.versions[0].schema.openAPIV3Schema.properties.spec as SchemaNode;

/** Keywords that describe validity; descriptions and CEL are CRD-only additions. */
const LIMITS = ['type', 'default', 'enum', 'format', 'pattern', 'minimum', 'maximum', 'minLength', 'maxLength', 'minItems', 'maxItems', 'required'] as const;

/** Flattens a schema into `path -> limits`, e.g. `retry.maxAttempts -> {type: integer, minimum: 1, ...}`. */
function flatten(node: Record<string, any>, path = '', out = new Map<string, Record<string, unknown>>()): Map<string, Record<string, unknown>> {
  const limits: Record<string, unknown> = {};
  for (const k of LIMITS) if (node[k] !== undefined) limits[k] = k === 'required' ? [...node[k]].sort() : node[k];
  out.set(path || '(spec)', limits);
  for (const [k, v] of Object.entries(node.properties ?? {})) flatten(v as Record<string, any>, path ? `${path}.${k}` : k, out);
  if (node.items) flatten(node.items, `${path}[]`, out);
  if (node.additionalProperties && typeof node.additionalProperties === 'object') flatten(node.additionalProperties, `${path}.*`, out);
  return out;
}

/** The API server's defaulting: fill in `default` for absent properties, recursing into objects (defaulted ones included). */
function applyDefaults(schema: SchemaNode, value: unknown): unknown {
  if (schema.type !== 'object' || value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const obj = { ...(value as Record<string, unknown>) };
  for (const [k, prop] of Object.entries(schema.properties ?? {})) {
    if (obj[k] === undefined && prop.default !== undefined) obj[k] = structuredClone(prop.default);
    if (obj[k] !== undefined) obj[k] = applyDefaults(prop, obj[k]);
  }
  return obj;
}

/** zod messages, including those nested in record-key issues ("Invalid key in record" wraps the real one). */
function messages(issues: ReadonlyArray<{ message: string; issues?: unknown }>): string[] {
  return issues.flatMap((i) => [i.message, ...(Array.isArray(i.issues) ? messages(i.issues as never) : [])]);
}

describe('Destination CRD', () => {
  it('is committed exactly as the generator produces it', () => {
    const fresh = destinationCrdYaml();
    if (process.env.HERALD_UPDATE_CRD === '1') writeFileSync(CRD_PATH, fresh);
    expect(committedText === fresh, `${CRD_PATH} is stale: the zod schema or crd.ts changed. Run \`npm run gen:crd\` (or HERALD_UPDATE_CRD=1 npx vitest run test/unit/controller/crd.test.ts) and commit the result.`).toBe(true);
  });

  it('has exactly the fields of the zod schema, with the same types, defaults and limits (both ways)', () => {
    // Below a pass-through object (affinity, a topology spread constraint) the CRD keeps unknown fields
    // and the API server validates them on the worker pods; zod describes only their map shape.
    const passThrough = (k: string) => k.startsWith('workers.affinity.') || k.startsWith('workers.topologySpreadConstraints[].');
    const fromZod = new Map([...flatten(zodSpecJsonSchema())].filter(([k]) => !passThrough(k)));
    const fromCrd = flatten(committedSpec as Record<string, any>);
    const onlyInZod = [...fromZod.keys()].filter((k) => !fromCrd.has(k));
    const onlyInCrd = [...fromCrd.keys()].filter((k) => !fromZod.has(k));
    expect({ onlyInZod, onlyInCrd }).toEqual({ onlyInZod: [], onlyInCrd: [] });
    for (const [path, limits] of fromZod) expect({ path, ...fromCrd.get(path) }).toEqual({ path, ...limits });
  });

  it('defaults a minimal spec exactly as zod does', () => {
    const minimal = { url: 'https://example.com/hook' };
    expect(applyDefaults(committedSpec, minimal)).toEqual(DestinationSpec.parse(minimal));
    const partial = { url: 'https://example.com/hook', retry: { maxAttempts: 5 }, scaling: {}, circuitBreaker: {} };
    expect(applyDefaults(committedSpec, partial)).toEqual(DestinationSpec.parse(partial));
  });

  it('is a structural schema: no $schema, no closed objects, a type on every node', () => {
    const walk = (node: Record<string, any>, path: string): void => {
      expect(node.$schema, path).toBeUndefined();
      expect(node.additionalProperties === false, `${path} closes its object`).toBe(false);
      expect(typeof node.type, `${path} has no type`).toBe('string');
      for (const [k, v] of Object.entries(node.properties ?? {})) walk(v as Record<string, any>, `${path}.${k}`);
      if (node.items) walk(node.items, `${path}[]`);
      if (node.additionalProperties && typeof node.additionalProperties === 'object') walk(node.additionalProperties, `${path}.*`);
    };
    walk(committed.spec.versions[0].schema.openAPIV3Schema, '');
  });

  it('refuses zod output a structural schema cannot express', () => {
    expect(() => toStructural({ type: 'object', properties: { a: { anyOf: [{ type: 'string' }, { type: 'number' }] } } })).toThrow(/spec\.a: zod emitted "anyOf"/);
  });

  it('documents and validates only fields that exist', () => {
    const spec = specSchema();
    for (const path of [...Object.keys(DESCRIPTIONS), ...Object.keys(CEL_RULES)]) expect(schemaAt(spec, path), path).toBeDefined();
  });

  it('mirrors each zod refinement with a CEL rule carrying the same message', () => {
    const cases: Array<[string, unknown]> = [
      ['initialDelay must not exceed maxDelay', { url: 'https://x.test', retry: { initialDelay: '3h', maxDelay: '2h' } }],
      ['minReplicas must not exceed maxReplicas', { url: 'https://x.test', scaling: { minReplicas: 5, maxReplicas: 2 } }],
      ['header names must be HTTP tokens', { url: 'https://x.test', headers: { 'bad name': 'v' } }],
      ['must come from headersFrom.secretRef', { url: 'https://x.test', headers: { Authorization: 'Bearer x' } }],
      ['headers must not override', { url: 'https://x.test', headers: { 'Content-Type': 'text/plain' } }],
      ['url must be an absolute http:// or https:// URL', { url: 'ftp://x.test' }],
    ];
    const celMessages = Object.values(CEL_RULES).flat().map((r) => r.message);
    for (const [message, spec] of cases) {
      const result = DestinationSpec.safeParse(spec);
      expect(result.success, message).toBe(false);
      expect(messages(result.error!.issues).join('\n')).toContain(message);
      expect(celMessages.some((m) => m.includes(message)), `no CEL rule says "${message}"`).toBe(true);
    }
  });

  it('declares the status subresource, a short name and the printer columns kubectl shows', () => {
    const v = committed.spec.versions[0];
    expect(v.subresources).toEqual({ status: {} });
    expect(committed.spec.names.shortNames).toEqual(['dest']);
    expect(v.additionalPrinterColumns.filter((c: { priority?: number }) => !c.priority).map((c: { name: string }) => c.name)).toEqual(['URL', 'Ready', 'Reason', 'Health', 'Workers', 'Backlog', 'Dead', 'Delivered', 'Age']);
  });
});
