import { z } from 'zod';
import { VERSION } from '../version.js';
import { ERROR_ANSWERS } from './error-answer.js';
import { IngestEvent } from './event.js';
import { EventLogEntry, EventPathParams, EventsPage, EventsQuery } from './event-log.js';
import { BatchAccepted, BatchPartlyAccepted, BatchRejected, IdempotencyKey, IngestAccepted, RequestId } from './ingest-answer.js';
import { buildOpenApi, json, type ApiDoc, type HeaderDoc, type ResponseDoc, type RouteDoc } from './openapi.js';
import { Health, NotReady, Ready } from './ops-answer.js';

/*
 * Every HTTP route Herald serves, as the OpenAPI document describes it. A route added to a server is
 * added here too: one RouteDoc naming the zod schemas the handler parses and answers with.
 */

const requestIdOut: HeaderDoc = { schema: RequestId, description: "the caller's X-Request-Id, or one made up; in Herald's log lines about the request" };
const retryAfter: HeaderDoc = { schema: z.string().regex(/^[0-9]+$/), description: 'seconds to wait before retrying', required: true };
const replayed: HeaderDoc = { schema: z.literal('true'), description: 'present when the Idempotency-Key matched an earlier request: nothing new was stored' };

/** An error answer of status `S`, with the headers it carries. */
function error(status: keyof typeof ERROR_ANSWERS, description: string, headers: Record<string, HeaderDoc> = {}): ResponseDoc {
  return { description, body: json(`Error${status}`, ERROR_ANSWERS[status]), headers: { 'X-Request-Id': requestIdOut, ...headers } };
}

/** Answered on any route while the process is still starting (the port is bound before Redis is reached). */
const startingUp = error(503, 'the server is starting up (code starting_up); retry', { 'Retry-After': retryAfter });

/** Answers to a request Node's HTTP parser refuses, whichever route it was for; the connection is then closed. */
const protocolErrors: Record<number, ResponseDoc> = {
  400: error(400, 'the request is not valid HTTP/1.1 (code bad_request)'),
  408: error(408, 'the request head or body did not arrive in time'),
  413: error(413, 'a chunk extension is too long (code body_too_large)'),
  431: error(431, 'the request head is too large'),
};

const ingestErrors: Record<number, ResponseDoc> = {
  ...protocolErrors,
  400: error(400, 'the body is empty, not JSON, not UTF-8 or not an event (issues say what is wrong), a compressed body does not inflate, the Idempotency-Key is malformed, or the request is not valid HTTP/1.1 (bad_request)'),
  401: error(401, 'no valid API key; answered before the body is read', { 'WWW-Authenticate': { schema: z.string(), description: 'Bearer realm="herald"', required: true } }),
  403: error(403, 'the API key may not send events of this type'),
  413: error(413, 'the body is over HERALD_MAX_BODY (default 1 MiB; the connection is then closed), a batch holds more than HERALD_MAX_BATCH events, more events than the API key may send at once (its burst), or a chunk extension too long'),
  415: error(415, 'the content type or content encoding is not one accepted here'),
  422: error(422, 'this Idempotency-Key was used with another body'),
  429: error(429, "the API key is over its rate limit; nothing was stored", { 'Retry-After': retryAfter }),
  500: error(500, 'a fault of the server; the event may not have been stored, retry it'),
  503: error(503, 'the event store is unavailable (nothing was stored), went away while writing (it may have been stored: retry with the same Idempotency-Key), or the server is starting up', { 'Retry-After': retryAfter }),
};

const ingestHeaders: Record<string, HeaderDoc> = {
  'Idempotency-Key': { schema: IdempotencyKey, description: 'the same key and body within HERALD_IDEMPOTENCY_TTL (default 24 h) get the same id and are delivered once; the same key with another body gets 422' },
  'Content-Encoding': { schema: z.enum(['identity', 'gzip', 'x-gzip', 'deflate', 'br']), description: 'a compressed body is inflated, within the same size limit; any other encoding gets 415' },
  'X-Request-Id': { schema: RequestId, description: 'echoed on the answer and logged; another value is replaced by a fresh id' },
};

const ingest: RouteDoc = {
  method: 'post',
  path: '/ingest',
  operationId: 'ingestEvent',
  summary: 'Send one event',
  description: 'Answers 202 only once the event is stored for every destination whose type filter matches it. An event no destination takes is answered 202 with `destinations: 0` and is not stored.',
  tags: ['ingest'],
  auth: true,
  headers: ingestHeaders,
  body: { description: 'one event', required: true, content: [json('IngestEvent', IngestEvent)] },
  responses: {
    202: { description: 'stored for every destination it goes to', body: json('IngestAccepted', IngestAccepted), headers: { 'X-Request-Id': requestIdOut, 'Idempotent-Replayed': replayed } },
    ...ingestErrors,
  },
};

const ingestBatch: RouteDoc = {
  method: 'post',
  path: '/ingest/batch',
  operationId: 'ingestBatch',
  summary: 'Send a batch of events',
  description: 'Each event is accepted or refused on its own, in one write: `results` holds one answer per event, in batch order. An Idempotency-Key covers the whole batch: the same batch again gets the same ids, another batch with the key gets 422.',
  tags: ['ingest'],
  auth: true,
  headers: ingestHeaders,
  body: {
    description: 'at most HERALD_MAX_BATCH (default 1000) events',
    required: true,
    content: [
      json('IngestEventArray', z.array(IngestEvent).min(1), 'a JSON array of events'),
      { name: 'IngestEventLines', schema: z.string(), mediaType: 'application/x-ndjson', description: 'one JSON event per line (NDJSON); blank lines are skipped' },
    ],
  },
  responses: {
    202: { description: 'every event is stored', body: json('BatchAccepted', BatchAccepted), headers: { 'X-Request-Id': requestIdOut, 'Idempotent-Replayed': replayed } },
    207: { description: 'some events are stored, the others refused (see each result)', body: json('BatchPartlyAccepted', BatchPartlyAccepted), headers: { 'X-Request-Id': requestIdOut, 'Idempotent-Replayed': replayed } },
    ...ingestErrors,
    400: {
      ...ingestErrors[400]!,
      description: 'no event of the batch is valid (per-event results), or the batch as a whole is refused (an error)',
      body: json('BatchRefused', z.union([BatchRejected, ERROR_ANSWERS[400]])),
    },
  },
};

const healthz: RouteDoc = {
  method: 'get',
  path: '/healthz',
  operationId: 'health',
  summary: 'Liveness: the process is alive',
  tags: ['operations'],
  responses: { 200: { description: 'alive', body: json('Health', Health), headers: { 'X-Request-Id': requestIdOut } }, ...protocolErrors, 503: startingUp },
};

const readyz: RouteDoc = {
  method: 'get',
  path: '/readyz',
  operationId: 'readiness',
  summary: 'Readiness: Redis reachable and not evicting, durability as configured',
  tags: ['operations'],
  responses: {
    200: { description: 'ready', body: json('Ready', Ready), headers: { 'X-Request-Id': requestIdOut } },
    ...protocolErrors,
    500: error(500, 'a fault of the server'),
    503: { description: 'a check failed, the process is shutting down, or it is starting up', body: json('NotReady', z.union([NotReady, ERROR_ANSWERS[503]])), headers: { 'X-Request-Id': requestIdOut } },
  },
};

const metrics: RouteDoc = {
  method: 'get',
  path: '/metrics',
  operationId: 'metrics',
  summary: 'Prometheus metrics (text exposition format)',
  description: 'Every series is prefixed `herald_`; docs/metrics.md lists them.',
  tags: ['operations'],
  responses: {
    200: { description: 'the metrics', body: { name: 'PrometheusText', schema: z.string(), mediaType: 'text/plain' }, headers: { 'X-Request-Id': requestIdOut } },
    ...protocolErrors,
    500: error(500, 'a fault of the server'),
    503: startingUp,
  },
};

const openapi: RouteDoc = {
  method: 'get',
  path: '/openapi.json',
  operationId: 'openApiDocument',
  summary: 'This document',
  tags: ['operations'],
  responses: {
    200: { description: 'the OpenAPI 3.1 document of this API', body: json('OpenApiDocument', z.looseObject({ openapi: z.string(), info: z.looseObject({}), paths: z.record(z.string(), z.unknown()) })), headers: { 'X-Request-Id': requestIdOut } },
    ...protocolErrors,
    503: startingUp,
  },
};

const readErrors: Record<number, ResponseDoc> = {
  ...protocolErrors,
  401: ingestErrors[401]!,
  500: error(500, 'a fault of the server'),
  503: error(503, 'the event store is unavailable, or the server is starting up; retry', { 'Retry-After': retryAfter }),
};

const getEvent: RouteDoc = {
  method: 'get',
  path: '/events/{id}',
  operationId: 'getEvent',
  summary: 'What happened to one event: its state and every attempt at each destination',
  description: 'Read from the delivery log, kept for HERALD_EVENT_LOG_RETENTION (default 24 h). An API key sees only the events sent with a key of its name and of types it may send; any other id is answered 404, as an unknown one.',
  tags: ['events'],
  auth: true,
  params: EventPathParams,
  responses: {
    200: { description: 'the event and its deliveries', body: json('EventLogEntry', EventLogEntry), headers: { 'X-Request-Id': requestIdOut } },
    ...readErrors,
    400: error(400, 'the id is not an event id (code invalid_event_id)'),
    404: error(404, 'no such event: never accepted, past its retention, or not visible to this API key (code event_not_found)'),
  },
};

const listEvents: RouteDoc = {
  method: 'get',
  path: '/events',
  operationId: 'listEvents',
  summary: 'Events in the delivery log, newest first, paged by cursor',
  description: 'A page may hold fewer than `limit` events and still have a `next`; follow `next` until it is absent.',
  tags: ['events'],
  auth: true,
  query: EventsQuery,
  responses: {
    200: { description: 'a page of events', body: json('EventsPage', EventsPage), headers: { 'X-Request-Id': requestIdOut } },
    ...readErrors,
    400: error(400, 'a query parameter is invalid or given twice (invalid_query), or the cursor is not one this server gave (invalid_cursor)'),
  },
};

/** The HTTP API of Herald: the ingest server's routes (workers and the controller serve the operations routes alone). */
export const HERALD_API: ApiDoc = {
  title: 'Herald',
  version: VERSION,
  description: [
    'Herald stores the events it is sent and delivers each to the webhooks (Destinations) whose type filter matches it, with retries and dead letters.',
    '',
    'The ingest server serves every route here; worker and controller processes serve the operations routes. Any other path is answered `404` with an `Error404` body.',
    'Every error answer is JSON `{"error": {"code", "message"}}` with a stable `code` per status (listed in each `ErrorNNN` schema).',
    'API keys: in a cluster ingest requires `Authorization: Bearer <key>` (HERALD_API_KEYS_FILE); `herald dev` and HERALD_INGEST_AUTH=off accept anonymous events.',
  ].join('\n'),
  tags: [
    { name: 'ingest', description: 'sending events' },
    { name: 'events', description: 'the delivery log: what happened to an event' },
    { name: 'operations', description: 'probes, metrics and this document' },
  ],
  securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'an API key made by `herald keys api-key`; its hash is in the key file' } },
  routes: [ingest, ingestBatch, getEvent, listEvents, healthz, readyz, metrics, openapi],
  answers: [json('Error404', ERROR_ANSWERS[404])],
};

let document: Record<string, unknown> | undefined;

/** The OpenAPI document of {@link HERALD_API}; built on first use, then kept. */
export function heraldOpenApi(): Record<string, unknown> {
  return (document ??= buildOpenApi(HERALD_API));
}

/** The document as committed under docs/ (`npm run gen:openapi`). */
export function heraldOpenApiJson(): string {
  return `${JSON.stringify(heraldOpenApi(), null, 2)}\n`;
}

export const OPENAPI_PATH = 'docs/openapi.json';
