import type { IncomingMessage } from 'node:http';
import type { Express, NextFunction, Request, Response } from 'express';
import type { z } from 'zod';
import { EventPathParams, EventsQuery } from '../api/event-log.js';
import { InvalidCursorError, type EventLogReader } from '../event-log/event-log-reader.js';
import type { Viewer } from '../event-log/event-facts.js';
import type { ErrorCode } from '../api/error-answer.js';
import { IngestError, StoreUnavailableError } from './errors.js';

export interface EventRoutesDeps {
  reader: EventLogReader;
  /** The ingest API's authenticator (401 without a valid key); absent: no authentication, every event visible. */
  authenticate?: (req: IncomingMessage) => Promise<Viewer | undefined>;
}

/**
 * `GET /events/{id}` and `GET /events`: the delivery log, read with the same API keys as ingest. A key
 * sees only events sent with a key of its name and of types it may send; any other id is a 404, the
 * same as an id that was never there, so a key learns nothing of other tenants' events. Served by
 * express: these are operators' reads, not the ingest hot path (ADR 0008), and express gives them
 * path parameters, the base headers and the one error handler.
 */
export function addEventRoutes(app: Express, deps: EventRoutesDeps): void {
  app.get('/events/:id', (req, res, next) => void showEvent(req, res, deps).catch(next));
  app.get('/events', (req, res, next) => void listEvents(req, res, deps).catch(next));
}

async function showEvent(req: Request, res: Response, deps: EventRoutesDeps): Promise<void> {
  const viewer = await deps.authenticate?.(req);
  const { id } = parse(EventPathParams, req.params, 'invalid_event_id');
  const entry = await read(() => deps.reader.get(id, viewer));
  if (!entry) throw new IngestError(404, 'event_not_found', `no event ${id} in the delivery log: never accepted, past its retention, or not visible to this API key`);
  res.status(200).json(entry);
}

async function listEvents(req: Request, res: Response, deps: EventRoutesDeps): Promise<void> {
  const viewer = await deps.authenticate?.(req);
  const query = parse(EventsQuery, queryParams(req.url), 'invalid_query');
  try {
    res.status(200).json(await read(() => deps.reader.list(query, viewer)));
  } catch (err) {
    if (err instanceof InvalidCursorError) throw new IngestError(400, 'invalid_cursor', err.message);
    throw err;
  }
}

/** The query string as one value per name; a name given twice is a 400 rather than a silent choice. */
function queryParams(url: string): Record<string, string> {
  const params = new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '');
  const out: Record<string, string> = {};
  for (const [name, value] of params) {
    if (Object.hasOwn(out, name)) throw new IngestError(400, 'invalid_query', `${name} is given more than once`);
    out[name] = value;
  }
  return out;
}

function parse<S extends z.ZodType>(schema: S, input: unknown, code: ErrorCode<400>): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const what = parsed.error.issues.map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
  throw new IngestError(400, code, what, parsed.error.issues);
}

/** A Redis failure while reading is a 503 with Retry-After, as on ingest; never a 500 with a stack. */
async function read<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof InvalidCursorError || err instanceof IngestError) throw err;
    throw new StoreUnavailableError(err);
  }
}
