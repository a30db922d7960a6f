import { randomUUID } from 'node:crypto';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { IngestEvent } from '../api/event.js';
import type { Logger } from '../log/logger.js';
import type { IngestMetrics } from '../metrics/metrics.js';
import { addOpsRoutes, type ReadinessCheck } from '../server/ops-routes.js';
import type { Counter, Registry } from 'prom-client';
import { IngestError } from './errors.js';
import { isIdentityEncoded, readBody } from './request-body.js';
import type { IngestRequest, IngestService } from './ingest-service.js';

/** Who sent a request, as decided by an authenticator (issue: API keys); absent means anonymous. */
export interface Principal {
  name: string;
  allowsType?: (type: string) => boolean;
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
  /** Resolves the caller or throws an IngestError (401/403/429). Omitted: no authentication. */
  authenticate?: (req: Request) => Promise<Principal | undefined>;
}

const IDEMPOTENCY_KEY = z.string().min(1).max(255).regex(/^[\x21-\x7e]+$/, 'Idempotency-Key must be 1-255 printable ASCII characters');

/**
 * The ingest HTTP API. Kept thin: one raw body read with a size limit, one JSON parse, one zod
 * validation, then the IngestService. All errors leave through `errorHandler`, which never leaks a
 * stack trace and never answers 500 for a client's mistake.
 *
 * The two ingest routes are single handlers rather than chains of middleware: at thousands of
 * requests per second every router layer, `res.set` and `res.json` shows up in the profile.
 */
export function createIngestApp(deps: IngestAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  // Compressed bodies (Content-Encoding) are rare; body-parser inflates them, with the same limit.
  const inflating = express.raw({ type: () => true, limit: deps.maxBodyBytes });
  const readRequestBody = (req: Request, res: Response): Promise<Buffer | undefined> =>
    isIdentityEncoded(req) ? readBody(req, deps.maxBodyBytes) : viaMiddleware(inflating, req, res);
  // Metric children bound once per route and status code, not looked up by labels per request.
  const routeMetrics = (route: string) => {
    const byCode = new Map<number, Counter.Internal>();
    return {
      duration: deps.metrics.duration.labels({ route }),
      requests: (code: number) => {
        let c = byCode.get(code);
        if (!c) byCode.set(code, (c = deps.metrics.requests.labels({ route, code: String(code) })));
        return c;
      },
    };
  };
  const metricsOf = { '/ingest': routeMetrics('/ingest'), '/ingest/batch': routeMetrics('/ingest/batch') };
  const timed = (route: keyof typeof metricsOf, res: Response) => {
    const m = metricsOf[route];
    const end = m.duration.startTimer();
    res.once('finish', () => {
      end();
      m.requests(res.statusCode).inc();
    });
  };

  const single = async (req: Request, res: Response) => {
    timed('/ingest', res);
    requireContentType(req, SINGLE_TYPES);
    const body = await readRequestBody(req, res);
    const principal = await deps.authenticate?.(req);
    const event = parseEvent(parseJson(body));
    checkType(principal, event);
    const idempotencyKey = headerKey(req);
    const result = await deps.service.accept(ingestRequest(event, principal, idempotencyKey));
    if (result.duplicate) res.setHeader('idempotent-replayed', 'true');
    if (deps.logger.isLevelEnabled('debug')) {
      deps.logger.debug({ eventId: result.id, requestId: res.locals.requestId, producer: principal?.name, destinations: result.destinations, duplicate: result.duplicate }, 'Accepted event');
    }
    sendJson(res, 202, { id: result.id, destinations: result.destinations, ...(result.duplicate ? { duplicate: true } : {}) });
  };

  const batch = async (req: Request, res: Response) => {
    timed('/ingest/batch', res);
    requireContentType(req, BATCH_TYPES);
    const body = await readRequestBody(req, res);
    const principal = await deps.authenticate?.(req);
    const items = parseBatch(body, req.headers['content-type'] ?? '', deps.maxBatch);
    const results: Array<{ index: number; status: number; id?: string; error?: unknown }> = [];
    const valid: Array<{ index: number; req: IngestRequest }> = [];
    items.forEach((item, index) => {
      const parsed = IngestEvent.safeParse(item);
      if (!parsed.success) {
        results[index] = { index, status: 400, error: { code: 'invalid_event', issues: parsed.error.issues } };
        deps.metrics.events.inc({ result: 'invalid' });
      } else if (principal?.allowsType && !principal.allowsType(parsed.data.type ?? 'event')) {
        results[index] = { index, status: 403, error: { code: 'type_forbidden', message: `this key may not send events of type "${parsed.data.type ?? 'event'}"` } };
      } else {
        valid.push({ index, req: ingestRequest(parsed.data, principal) });
      }
    });
    if (valid.length > 0) {
      const accepted = await deps.service.acceptMany(valid.map((v) => v.req));
      accepted.forEach((r, i) => {
        const index = valid[i]!.index;
        results[index] = { index, status: 202, id: r.id };
      });
    }
    const acceptedCount = valid.length;
    sendJson(res, acceptedCount === items.length ? 202 : acceptedCount === 0 ? 400 : 207, { accepted: acceptedCount, rejected: items.length - acceptedCount, results });
  };

  // Every answer gets the base headers. The exact ingest paths then skip the router's matching and
  // dispatch (about a tenth of the CPU of a single-event request); any other spelling express matches
  // ("/ingest/", "/Ingest?x") takes the routes below, so what is served where does not change.
  app.use((req, res, next) => {
    setBaseHeaders(req, res);
    if (req.method === 'POST' && (req.url === '/ingest' || req.url === '/ingest/batch')) {
      (req.url === '/ingest' ? single : batch)(req, res).catch(next);
      return;
    }
    next();
  });
  app.post('/ingest', single);
  app.post('/ingest/batch', batch);

  addOpsRoutes(app, { registry: deps.registry, readiness: deps.readiness, isShuttingDown: deps.isShuttingDown });
  app.use((_req, res) => {
    res.status(404).json({ error: { code: 'not_found', message: 'no such endpoint; events go to POST /ingest or POST /ingest/batch' } });
  });
  app.use(errorHandler(deps));
  return app;
}

const SINGLE_TYPES = ['application/json'];
const BATCH_TYPES = ['application/json', 'application/x-ndjson'];

/** What `res.json` sends (same bytes and headers), without its content negotiation and ETag machinery. */
function sendJson(res: Response, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

function viaMiddleware(middleware: (req: Request, res: Response, next: (err?: unknown) => void) => void, req: Request, res: Response): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => middleware(req, res, (err?: unknown) => (err ? reject(err) : resolve(req.body as Buffer | undefined))));
}

/** What the service is asked to accept; built in one literal, since batches make one per event. */
function ingestRequest(event: IngestEvent, principal: Principal | undefined, idempotencyKey?: string): IngestRequest {
  const req: IngestRequest = principal ? { event, scope: principal.name, producer: principal.name } : { event };
  if (idempotencyKey !== undefined) req.idempotencyKey = idempotencyKey;
  return req;
}

function checkType(principal: Principal | undefined, event: IngestEvent): void {
  const type = event.type ?? 'event';
  if (principal?.allowsType && !principal.allowsType(type)) {
    throw new IngestError(403, 'type_forbidden', `this key may not send events of type "${type}"`);
  }
}

function headerKey(req: Request): string | undefined {
  const v = req.headers['idempotency-key'];
  if (v === undefined) return undefined;
  const parsed = IDEMPOTENCY_KEY.safeParse(Array.isArray(v) ? v[0] : v);
  if (!parsed.success) throw new IngestError(400, 'invalid_idempotency_key', parsed.error.issues[0]!.message);
  return parsed.data;
}

function requireContentType(req: Request, allowed: string[]): void {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (!allowed.includes(type)) throw new IngestError(415, 'unsupported_media_type', `content-type must be ${allowed.join(' or ')}, got "${type || 'none'}"`);
}

function parseJson(body: Buffer | undefined): unknown {
  if (!body || body.length === 0) throw new IngestError(400, 'empty_body', 'the request body is empty; send a JSON event');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new IngestError(400, 'malformed_json', `the body is not valid JSON: ${(err as Error).message}`);
  }
}

function parseEvent(value: unknown): IngestEvent {
  const parsed = IngestEvent.safeParse(value);
  if (!parsed.success) {
    throw new IngestError(400, 'invalid_event', 'the event does not match the schema {"userID": string, "payload": any JSON, "type"?: string}', parsed.error.issues);
  }
  return parsed.data;
}

function parseBatch(body: Buffer | undefined, contentType: string, max: number): unknown[] {
  let items: unknown[];
  if (contentType.toLowerCase().startsWith('application/x-ndjson')) {
    const lines = (body ?? Buffer.alloc(0)).toString('utf8').split('\n').filter((l) => l.trim() !== '');
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

const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * Headers on every answer: browser hardening (nothing here is meant for a browser), and the caller's
 * X-Request-Id echoed (or one made up) so a request can be followed through logs. `setHeader`
 * directly, since `res.set` re-examines every value.
 */
function setBaseHeaders(req: Request, res: Response): void {
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('cache-control', 'no-store');
  res.setHeader('x-frame-options', 'DENY');
  res.setHeader('content-security-policy', "default-src 'none'");
  res.setHeader('referrer-policy', 'no-referrer');
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
  res.locals.requestId = id;
  res.setHeader('x-request-id', id);
}

/** Maps every error to a JSON answer; only a genuine server fault becomes 500, and even then without a stack. */
function errorHandler(deps: IngestAppDeps) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    let status = 500;
    let body: Record<string, unknown> = { code: 'internal', message: 'internal error; the event may not have been stored, retry it' };
    let headers: Record<string, string> = {};
    if (err instanceof IngestError) {
      status = err.status;
      body = { code: err.code, message: err.message, ...(err.details !== undefined ? { issues: err.details } : {}) };
      headers = err.headers;
    } else if (isHttpError(err)) {
      // body-parser's errors: 413 entity.too.large, 400 for aborted or badly encoded bodies.
      status = err.status;
      body = err.type === 'entity.too.large'
        ? { code: 'body_too_large', message: `the body exceeds the limit of ${deps.maxBodyBytes} bytes` }
        : { code: err.type ?? 'bad_request', message: err.message };
    }
    if (status === 503) deps.logger.warn({ err: (err as Error).cause ?? err, requestId: res.locals.requestId }, 'Event store unavailable; answered 503');
    else if (status >= 500) deps.logger.error({ err, path: req.path, requestId: res.locals.requestId }, 'Ingest request failed');
    if (status === 503 || (status >= 400 && status < 500)) deps.metrics.events.inc({ result: status === 503 ? 'unavailable' : 'invalid' });
    if (res.headersSent) return;
    res.status(status).set(headers).json({ error: body });
  };
}

function isHttpError(err: unknown): err is { status: number; type?: string; message: string } {
  return typeof err === 'object' && err !== null && typeof (err as { status?: unknown }).status === 'number' && (err as { status: number }).status >= 400 && (err as { status: number }).status < 500;
}
