import fc from 'fast-check';

type Schema = Record<string, any>;

/** Any JSON value, a few levels deep: what `{}` (no constraint) admits. */
export const anyJson: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 3 });

/**
 * Values that a JSON Schema (2020-12, the subset zod emits: type, const, enum, properties/required/
 * additionalProperties, items/minItems/maxItems, minLength/maxLength/pattern, minimum/maximum,
 * anyOf/oneOf, `$ref` into the document) accepts, for fast-check. Throws on a keyword it does not
 * know rather than generate values the schema may refuse.
 */
export function arbitraryOf(schema: Schema, document: Schema): fc.Arbitrary<unknown> {
  if (schema.$ref) return arbitraryOf(resolve(schema.$ref as string, document), document);
  if ('const' in schema) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...(schema.enum as unknown[]));
  if (schema.anyOf || schema.oneOf) return fc.oneof(...((schema.anyOf ?? schema.oneOf) as Schema[]).map((s) => arbitraryOf(s, document)));
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case undefined:
      return anyJson;
    case 'string':
      return stringOf(schema);
    case 'integer':
      return fc.integer({ min: Math.max(schema.minimum ?? -1e6, -1e6), max: Math.min(schema.maximum ?? 1e6, 1e6) });
    case 'number':
      return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(arbitraryOf(schema.items ?? {}, document), { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 5, 5) });
    case 'object':
      return objectOf(schema, document);
    default:
      throw new Error(`schema-arbitrary: type ${String(type)} is not supported`);
  }
}

function stringOf(schema: Schema): fc.Arbitrary<string> {
  const min = schema.minLength ?? 0;
  const max = schema.maxLength ?? Math.max(min, 40);
  if (schema.format === 'date-time') return fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString());
  if (schema.format) throw new Error(`schema-arbitrary: format ${String(schema.format)} is not supported`);
  if (schema.pattern) {
    const re = new RegExp(schema.pattern as string, 'u');
    return fc.stringMatching(re).filter((s) => s.length >= min && s.length <= max);
  }
  // Lengths are UTF-16 code units, as JSON Schema and zod count them; a grapheme may be several.
  return fc.string({ minLength: min, maxLength: Math.min(max, 60), unit: 'grapheme' }).filter((s) => s.length >= min && s.length <= max);
}

function objectOf(schema: Schema, document: Schema): fc.Arbitrary<Record<string, unknown>> {
  const required = new Set<string>(schema.required ?? []);
  const props = Object.entries((schema.properties ?? {}) as Record<string, Schema>);
  const record = fc.record(Object.fromEntries(props.map(([k, s]) => [k, arbitraryOf(s, document)])), { requiredKeys: props.map(([k]) => k).filter((k) => required.has(k)) });
  return record as fc.Arbitrary<Record<string, unknown>>;
}

function resolve(ref: string, document: Schema): Schema {
  if (!ref.startsWith('#/')) throw new Error(`schema-arbitrary: only local references, got ${ref}`);
  return ref
    .slice(2)
    .split('/')
    .reduce<Schema>((node, part) => node[part.replace(/~1/g, '/').replace(/~0/g, '~')] as Schema, document);
}
