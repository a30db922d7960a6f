import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { DEFAULT_EVENT_TYPE, IngestEvent } from '../api/event.js';
import { validationIssues, type ErrorAnswer } from '../api/error-answer.js';
import { heraldOpenApi } from '../api/http-routes.js';
import { IdempotencyKey, REQUEST_ID_PATTERN, type BatchAnswer, type BatchItemResult, type IngestAccepted } from '../api/ingest-answer.js';
import type { Logger } from '../log/logger.js';
import { childrenBy, type IngestMetrics } from '../metrics/metrics.js';
import { addOpsRoutes, type ReadinessCheck } from '../server/ops-routes.js';
import type { Counter, Registry } from 'prom-client';
import { IngestError } from './errors.js';
import { BodyReadError, isIdentityEncoded, readBody, readInflatedBody } from './request-body.js';
import { batchEventKey, type IngestRequest, type IngestService } from './ingest-service.js';
import { addEventRoutes } from './event-routes.js';
import type { EventLogReader } from '../event-log/event-log-reader.js';

/** Who sent a request, as decided by an authenticator (issue: API keys); absent means anonymous. */
export interface Principal {
  name: string;
  allowsType?: (type: string) => boolean;
  /**
   * Charges the caller's rate limit for `events` events, all or none; throws an IngestError (429 with
   * Retry-After, 413 past the burst) when they may not be accepted now. Absent: no limit.
   */
  admit?: (events: number) => Promise<void>;
}

export interface IngestAppDeps {
  service: IngestService;
  metrics: IngestMetrics;
  registry: Registry;
  logger: Logger;
  maxBodyBytes: number;
  maxBatch: number;
  readiness: ReadinessCheck[];
  isShuttingDown?: () => boolean;
  /** Resolves the caller or throws an IngestError (401), before the body is read. Omitted: no authentication. */
  authenticate?: (req: IncomingMessage) => Promise<Principal | undefined>;
  /** Serves `GET /events/{id}` and `GET /events` from the delivery log when given. */
  eventLog?: EventLogReader;
}

/** An ingest route's handler: Node's own request and response, and the request's id. */
type Handler = (req: IncomingMessage, res: ServerResponse, requestId: string) => Promise<void>;
/** An ingest route as served: its handler, timed, counted, its errors answered. */
type Route = (req: IncomingMessage, res: ServerResponse, requestId: string) => void;

/**
 * The ingest HTTP API, as the listener for an `http.Server`. Kept thin: one raw body read with a
 * size limit, one JSON parse, one zod validation, then the IngestService. All errors leave through
 * `answerError`, which never leaks a stack trace and never answers 500 for a client's mistake.
 *
 * `POST /ingest` and `POST /ingest/batch` are answered before express sees the request; express
 * serves everything else (other spellings of those paths, the ops routes, 404). Express gives every
 * request and response its own prototype (`Object.setPrototypeOf`), after which Node's HTTP code
 * runs on objects of a shape it was not optimised for: measured on this project's bench machine, a
 * handler that reads a body and answers costs about 14 µs of CPU per request on a plain
 * `http.Server`, 40 µs once the prototypes are swapped, 65 µs behind express's whole dispatch.
 */
export function createIngestApp(deps: IngestAppDeps): RequestListener {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  // Compressed bodies (Content-Encoding) are rare; they are inflated with the same limit.
  const readRequestBody = (req: IncomingMessage): Promise<Buffer> =>
    isIdentityEncoded(req) ? readBody(req, deps.maxBodyBytes) : readInflatedBody(req, deps.maxBodyBytes);
  // Metric children bound once per route and status code, not looked up by labels per request.
  const routeMetrics = (route: string): RouteMetrics => ({
    duration: deps.metrics.duration.labels({ route }),
    requests: childrenBy((code: number) => deps.metrics.requests.labels({ route, code: String(code) })),
  });
  const answerError = errorAnswerer(deps);
  /**
   * Runs an ingest handler, answers its error if it throws, then counts the answer. Timed here rather
   * than from the response's 'finish' event: a listener and a timer closure per request showed in the
   * profile, and the two differ by the microseconds a small response takes to reach the socket.
   */
  const run = (route: string, handler: Handler): Route => {
    const m = routeMetrics(route);
    return (req, res, requestId) => {
      const started = performance.now();
      handler(req, res, requestId)
        .catch((err: unknown) => answerError(err, req, res, requestId))
        .then(() => {
          if (!res.headersSent) return;
          m.duration.observe((performance.now() - started) / 1000);
          m.requests(res.statusCode).inc();
        })
        .catch((err: unknown) => deps.logger.error({ err, requestId }, 'Ingest request failed'));
    };
  };

  const single: Handler = async (req, res, requestId) => {
    // Who is asking and what they send are checked before a byte of the body is read.
    const principal = await deps.authenticate?.(req);
    requireContentType(req, SINGLE_TYPES);
    const body = await readRequestBody(req);
    const event = parseEvent(parseJson(body));
    const forbidden = typeForbidden(principal, event);
    if (forbidden) throw forbidden;
    const idempotencyKey = headerKey(req);
    if (principal?.admit) await principal.admit(1);
    const result = await deps.service.accept(withOrderingHeaders(ingestRequest(event, principal, idempotencyKey), req, deps.service.orderingHeaders));
    if (deps.logger.isLevelEnabled('debug')) {
      deps.logger.debug({ eventId: result.id, requestId, producer: principal?.name, destinations: result.destinations, duplicate: result.duplicate }, 'Accepted event');
    }
    if (result.duplicate) sendJson<IngestAccepted>(res, requestId, 202, { id: result.id, destinations: result.destinations, duplicate: true }, REPLAYED);
    else sendJson<IngestAccepted>(res, requestId, 202, { id: result.id, destinations: result.destinations });
  };

  const batch: Handler = async (req, res, requestId) => {
    const principal = await deps.authenticate?.(req);
    requireContentType(req, BATCH_TYPES);
    const body = await readRequestBody(req);
    const items = parseBatch(body, req.headers['content-type'] ?? '', deps.maxBatch);
    // Scoped to the whole batch: the same batch again gets the same ids and answers, another gets 422.
    const idempotencyKey = headerKey(req);
    const results: BatchItemResult[] = [];
    const valid: Array<{ index: number; req: IngestRequest }> = [];
    items.forEach((item, index) => {
      const parsed = IngestEvent.safeParse(item);
      let forbidden: IngestError | undefined;
      if (!parsed.success) {
        results[index] = { index, status: 400, error: { code: 'invalid_event', message: INVALID_EVENT, issues: validationIssues(parsed.error.issues) } };
        deps.metrics.events.inc({ result: 'invalid' });
      } else if ((forbidden = typeForbidden(principal, parsed.data))) {
        results[index] = { index, status: 403, error: { code: 'type_forbidden', message: forbidden.message } };
      } else {
        valid.push({ index, req: withOrderingHeaders(ingestRequest(parsed.data, principal, idempotencyKey === undefined ? undefined : batchEventKey(idempotencyKey, index)), req, deps.service.orderingHeaders) });
      }
    });
    // Every event the batch would store costs a token; a batch over the key's budget is refused whole.
    if (valid.length > 0 && principal?.admit) await principal.admit(valid.length);
    if (idempotencyKey !== undefined) await deps.service.claimBatchKey(principal?.name, idempotencyKey, items);
    let replayed = false;
    if (valid.length > 0) {
      const accepted = await deps.service.acceptMany(valid.map((v) => v.req));
      replayed = accepted.every((r) => r.duplicate);
      accepted.forEach((r, i) => {
        const index = valid[i]!.index;
        results[index] = { index, status: 202, id: r.id };
      });
    }
    const acceptedCount = valid.length;
    // The three shapes (all accepted, some, none) are the three answers the document gives this route.
    const answer = { accepted: acceptedCount, rejected: items.length - acceptedCount, results } as BatchAnswer;
    sendJson(res, requestId, acceptedCount === items.length ? 202 : acceptedCount === 0 ? 400 : 207, answer, replayed ? REPLAYED : []);
  };

  // The ingest routes, by path: served before express on an exact match, and by express for any
  // other spelling it matches ("/ingest/", "/Ingest?x"), so what is served where does not depend on
  // the shortcut. The path is also the route's metric label.
  const routes = new Map<string, Route>([
    ['/ingest', run('/ingest', single)],
    ['/ingest/batch', run('/ingest/batch', batch)],
  ]);
  // Every answer gets the base headers: the ingest handlers write them with their answer (sendJson,
  // answerError), everything else gets them here.
  app.use((req, res, next) => {
    res.locals.requestId = requestIdOf(req);
    setBaseHeaders(res, res.locals.requestId as string);
    next();
  });
  for (const [path, route] of routes) app.post(path, (req, res) => route(req, res, res.locals.requestId as string));

  if (deps.eventLog) addEventRoutes(app, { reader: deps.eventLog, ...(deps.authenticate ? { authenticate: deps.authenticate } : {}) });
  addOpsRoutes(app, { registry: deps.registry, readiness: deps.readiness, isShuttingDown: deps.isShuttingDown });
  let openApiText: string | undefined;
  app.get('/openapi.json', (_req, res) => {
    res.type('application/json').send((openApiText ??= JSON.stringify(heraldOpenApi())));
  });
  app.use((_req, res) => {
    res.status(404).json({ error: { code: 'not_found', message: 'no such endpoint; events go to POST /ingest or POST /ingest/batch and are looked up at GET /events/{id} and GET /events; the API is described at GET /openapi.json' } } satisfies ErrorAnswer);
  });
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => answerError(err, req, res, (res.locals.requestId as string | undefined) ?? requestIdOf(req)));

  return (req, res) => {
    const route = req.method === 'POST' ? routes.get(req.url!) : undefined;
    if (route) return route(req, res, requestIdOf(req));
    app(req, res);
  };
}

interface RouteMetrics {
  duration: ReturnType<IngestMetrics['duration']['labels']>;
  requests: (code: number) => Counter.Internal;
}

const SINGLE_TYPES = ['application/json'];
const BATCH_TYPES = ['application/json', 'application/x-ndjson'];

/**
 * Browser hardening on every answer (nothing here is meant for a browser), as header name/value pairs
 * in the flat form `writeHead` takes.
 */
const BASE_HEADERS = ['x-content-type-options', 'nosniff', 'cache-control', 'no-store', 'x-frame-options', 'DENY', 'content-security-policy', "default-src 'none'", 'referrer-policy', 'no-referrer'] as const;
const REPLAYED = ['idempotent-replayed', 'true'] as const;
const CLOSE = ['connection', 'close'] as const;

/**
 * What `res.json` sends (same bytes), with the base headers and the request id, in one `writeHead`:
 * a header list handed over whole skips what `setHeader` does per header (lower-casing, one array
 * each, a map to walk again when the head is written), a few percent of a single-event request.
 */
function sendJson<T>(res: ServerResponse, requestId: string, status: number, value: T, extra: readonly string[] = []): void {
  const text = JSON.stringify(value);
  res.writeHead(status, [...BASE_HEADERS, 'x-request-id', requestId, 'content-type', 'application/json; charset=utf-8', 'content-length', String(Buffer.byteLength(text)), ...extra]);
  res.end(text);
}

/** What the service is asked to accept; built in one literal, since batches make one per event. */
function ingestRequest(event: IngestEvent, principal: Principal | undefined, idempotencyKey?: string): IngestRequest {
  const req: IngestRequest = principal ? { event, scope: principal.name, producer: principal.name } : { event };
  if (idempotencyKey !== undefined) req.idempotencyKey = idempotencyKey;
  return req;
}

/**
 * Copies the request headers some destination takes its ordering key from (none unless one does): a
 * batch's events share its headers, so they share a key.
 */
function withOrderingHeaders(ingest: IngestRequest, req: IncomingMessage, names: readonly string[]): IngestRequest {
  if (names.length === 0) return ingest;
  const headers: Record<string, string> = {};
  for (const name of names) {
    const v = req.headers[name];
    if (typeof v === 'string') headers[name] = v;
  }
  ingest.headers = headers;
  return ingest;
}

/** The refusal of an event whose type the caller's key may not send, or undefined when it may. */
function typeForbidden(principal: Principal | undefined, event: IngestEvent): IngestError | undefined {
  if (!principal?.allowsType) return undefined;
  const type = event.type ?? DEFAULT_EVENT_TYPE;
  return principal.allowsType(type) ? undefined : new IngestError(403, 'type_forbidden', `this key may not send events of type "${type}"`);
}

function headerKey(req: IncomingMessage): string | undefined {
  const v = req.headers['idempotency-key'];
  if (v === undefined) return undefined;
  const parsed = IdempotencyKey.safeParse(Array.isArray(v) ? v[0] : v);
  if (!parsed.success) throw new IngestError(400, 'invalid_idempotency_key', parsed.error.issues[0]!.message);
  return parsed.data;
}

function requireContentType(req: IncomingMessage, allowed: string[]): void {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (!allowed.includes(type)) throw new IngestError(415, 'unsupported_media_type', `content-type must be ${allowed.join(' or ')}, got "${type || 'none'}"`);
}

function parseJson(body: Buffer | undefined): unknown {
  if (!body || body.length === 0) throw new IngestError(400, 'empty_body', 'the request body is empty; send a JSON event');
  const text = utf8(body);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new IngestError(400, 'malformed_json', `the body is not valid JSON: ${(err as Error).message}`);
  }
}

const INVALID_EVENT = 'the event does not match the schema {"userID": string, "payload": any JSON, "type"?: string}';

function parseEvent(value: unknown): IngestEvent {
  const parsed = IngestEvent.safeParse(value);
  if (!parsed.success) {
    throw new IngestError(400, 'invalid_event', INVALID_EVENT, parsed.error.issues);
  }
  return parsed.data;
}

function parseBatch(body: Buffer | undefined, contentType: string, max: number): unknown[] {
  let items: unknown[];
  if (contentType.toLowerCase().startsWith('application/x-ndjson')) {
    const lines = utf8(body ?? Buffer.alloc(0)).split('\n').filter((l) => l.trim() !== '');
    items = lines.map((line, i) => {
      try {
        return JSON.parse(line);
      } catch (err) {
        throw new IngestError(400, 'malformed_json', `line ${i + 1} is not valid JSON: ${(err as Error).message}`);
      }
    });
  } else {
    const v = parseJson(body);
    if (!Array.isArray(v)) throw new IngestError(400, 'invalid_batch', 'a batch is a JSON array of events (or NDJSON with content-type application/x-ndjson)');
    items = v;
  }
  if (items.length === 0) throw new IngestError(400, 'empty_batch', 'the batch contains no events');
  if (items.length > max) throw new IngestError(413, 'batch_too_large', `a batch holds at most ${max} events, got ${items.length}`);
  return items;
}

/**
 * The body as text. Bytes that are not UTF-8 are refused rather than replaced with U+FFFD, which would
 * deliver something other than what was sent. `isUtf8` is a native scan, a fraction of JSON.parse.
 */
function utf8(body: Buffer): string {
  if (!isUtf8(body)) throw new IngestError(400, 'invalid_utf8', 'the body is not valid UTF-8; JSON must be sent as UTF-8 (escape other bytes as \\uXXXX)');
  return body.toString('utf8');
}

/** The caller's X-Request-Id (echoed so a request can be followed through logs), or one made up. */
function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID_PATTERN.test(given) ? given : randomUUID();
}

/** The base headers and the request id, for answers not written by {@link sendJson}. */
function setBaseHeaders(res: ServerResponse, requestId: string): void {
  for (let i = 0; i < BASE_HEADERS.length; i += 2) res.setHeader(BASE_HEADERS[i]!, BASE_HEADERS[i + 1]!);
  res.setHeader('x-request-id', requestId);
}

/** Maps every error to a JSON answer; only a genuine server fault becomes 500, and even then without a stack. */
function errorAnswerer(deps: IngestAppDeps) {
  return (err: unknown, req: IncomingMessage, res: ServerResponse, requestId: string): void => {
    let status = 500;
    let body: ErrorAnswer['error'] = { code: 'internal', message: 'internal error; the event may not have been stored, retry it' };
    let headers: Record<string, string> = {};
    if (err instanceof IngestError) {
      status = err.status;
      body = { code: err.code, message: err.message, ...(err.details !== undefined ? { issues: err.details } : {}) };
      headers = err.headers;
    } else if (err instanceof BodyReadError) {
      status = err.status;
      body = err.type === 'entity.too.large' ? { code: 'body_too_large', message: `the body exceeds the limit of ${deps.maxBodyBytes} bytes` } : { code: err.type, message: err.message };
    } else if (isHttpError(err)) {
      // Another client error raised by express: its message, under the one code the document gives it.
      status = 400;
      body = { code: 'bad_request', message: err.message };
    }
    if (status === 503) deps.logger.warn({ err: (err as Error).cause ?? err, requestId }, 'Event store unavailable; answered 503');
    else if (status >= 500) deps.logger.error({ err, path: req.url, requestId }, 'Ingest request failed');
    // Events refused, not reads of the delivery log (GET /events) that failed.
    if (req.method !== 'GET' && (status === 503 || (status >= 400 && status < 500))) deps.metrics.events.inc({ result: status === 503 ? 'unavailable' : 'invalid' });
    if (res.headersSent) return;
    // Refused before its body was read (no key, a declared length over the limit, a chunked body past
    // it): the rest of the body is not read, so the connection cannot carry another request. Node
    // closes it once the answer is written, and reads nothing more.
    const close = req.complete ? [] : CLOSE;
    sendJson<ErrorAnswer>(res, requestId, status, { error: body }, [...Object.entries(headers).flat(), ...close]);
  };
}

function isHttpError(err: unknown): err is { status: number; message: string } {
  return typeof err === 'object' && err !== null && typeof (err as { status?: unknown }).status === 'number' && (err as { status: number }).status >= 400 && (err as { status: number }).status < 500;
}
