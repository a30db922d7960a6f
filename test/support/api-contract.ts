import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { heraldOpenApi } from '../../src/api/http-routes.js';

/** One HTTP answer as a client saw it. */
export interface Answer {
  method: string;
  /** The request path, with or without a query string. */
  path: string;
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
}

interface Operation {
  responses: Record<string, { headers?: Record<string, { required?: boolean; schema: object }>; content?: Record<string, { schema: object }> }>;
}

/**
 * Holds answers to the OpenAPI document with a real JSON Schema 2020-12 validator (ajv): the status
 * is one the route documents, the media type is one documented for that status, the body matches
 * its schema, required headers are present and every documented header has a valid value.
 */
export class ApiContract {
  private readonly ajv: Ajv2020;
  private readonly routes: Array<{ method: string; pattern: RegExp; template: string; op: Operation }> = [];
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(readonly document: Record<string, any> = heraldOpenApi()) {
    // The document itself is registered as a schema so `#/components/schemas/X` references resolve;
    // its OpenAPI members are not JSON Schema keywords, hence strictSchema off.
    this.ajv = new Ajv2020({ allErrors: true, strictSchema: false, allowUnionTypes: true, validateFormats: true });
    this.ajv.addFormat('date-time', { type: 'string', validate: (s: string) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s) && !Number.isNaN(Date.parse(s)) });
    this.ajv.addSchema(document, 'openapi');
    for (const [template, item] of Object.entries(document.paths as Record<string, Record<string, Operation>>)) {
      const pattern = new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}$`);
      for (const [method, op] of Object.entries(item)) this.routes.push({ method: method.toUpperCase(), pattern, template, op });
    }
    // Literal paths before templated ones, so /events/{id} does not take a literal sibling's answers.
    this.routes.sort((a, b) => Number(a.template.includes('{')) - Number(b.template.includes('{')));
  }

  /** Whether the document describes `method path` (answers to other requests are not checked). */
  describes(method: string, path: string): boolean {
    return this.route(method, path) !== undefined;
  }

  /** What is wrong with `value` as the document's schema `components.schemas.<name>`: empty when it conforms. */
  checkSchema(name: string, value: unknown): string[] {
    const validate = this.validator(`#/components/schemas/${escape(name)}`);
    return validate(value) ? [] : [`${name}: ${this.ajv.errorsText(validate.errors)}`];
  }

  /** What is wrong with `answer` by the document: empty when it conforms. */
  check(answer: Answer): string[] {
    const route = this.route(answer.method, answer.path);
    if (!route) return [];
    const where = `${answer.method} ${answer.path} → ${answer.status}`;
    const pointer = `#/paths/${escape(route.template)}/${answer.method.toLowerCase()}/responses/${answer.status}`;
    const response = route.op.responses[String(answer.status)];
    if (!response) return [`${where}: status ${answer.status} is not documented for ${answer.method} ${route.template} (documented: ${Object.keys(route.op.responses).join(', ')}); body ${answer.body.slice(0, 300)}`];
    const problems: string[] = [];
    for (const [name, h] of Object.entries(response.headers ?? {})) {
      const value = answer.headers[name.toLowerCase()];
      if (value === undefined) {
        if (h.required) problems.push(`${where}: header ${name} is required`);
        continue;
      }
      const validate = this.validator(`${pointer}/headers/${escape(name)}/schema`);
      if (!validate(value)) problems.push(`${where}: header ${name}: ${JSON.stringify(value)} ${this.ajv.errorsText(validate.errors)}`);
    }
    const content = response.content ?? {};
    const mediaTypes = Object.keys(content);
    if (mediaTypes.length === 0) {
      if (answer.body !== '') problems.push(`${where}: documented without a body, got ${answer.body.slice(0, 200)}`);
      return problems;
    }
    const type = (answer.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (!mediaTypes.includes(type)) return [...problems, `${where}: content-type ${JSON.stringify(answer.headers['content-type'])} is not one documented (${mediaTypes.join(', ')}); body ${answer.body.slice(0, 200)}`];
    let value: unknown = answer.body;
    if (type.endsWith('json')) {
      try {
        value = JSON.parse(answer.body);
      } catch {
        return [...problems, `${where}: the body is not JSON: ${answer.body.slice(0, 200)}`];
      }
    }
    const validate = this.validator(`${pointer}/content/${escape(type)}/schema`);
    if (!validate(value)) problems.push(`${where}: the body does not match ${JSON.stringify(content[type]!.schema)}: ${this.ajv.errorsText(validate.errors)}; body ${answer.body.slice(0, 300)}`);
    return problems;
  }

  private route(method: string, path: string) {
    const bare = path.split('?')[0]!;
    return this.routes.find((r) => r.method === method.toUpperCase() && r.pattern.test(bare));
  }

  private validator(pointer: string): ValidateFunction {
    let v = this.validators.get(pointer);
    if (!v) {
      v = this.ajv.getSchema(`openapi${pointer}`);
      if (!v) throw new Error(`no schema at ${pointer}`);
      this.validators.set(pointer, v);
    }
    return v;
  }
}

/** A JSON Pointer segment (RFC 6901) in a URI fragment. */
function escape(segment: string): string {
  return encodeURIComponent(segment.replace(/~/g, '~0').replace(/\//g, '~1'));
}

let shared: ApiContract | undefined;

/** The contract of the document the code generates, made once per test file. */
export function apiContract(): ApiContract {
  return (shared ??= new ApiContract());
}
