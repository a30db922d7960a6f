import { z } from 'zod';
import { NAME_MAX, NAME_PATTERN } from './destination.js';
import { EVENT_TYPE_PATTERN } from './event.js';

/**
 * The delivery log's HTTP contract (`GET /events/{id}`, `GET /events`): the query and the answers,
 * as zod schemas, so the API validates with them and the OpenAPI document is generated from them.
 * docs/event-log.md explains the states and the retention.
 */

/**
 * Where an event stands at one destination:
 * - `queued`: stored and waiting for its first attempt (or in it);
 * - `retrying`: an attempt failed and the next is scheduled (`nextAttemptAt`);
 * - `delivered`: a receiver answered 2xx;
 * - `dead`: dead-lettered (permanent failure or retries exhausted; `herald dlq`);
 * - `paused`: not delivered yet and the destination is paused now;
 * - `filtered`: the destination's type filter, as it is now, does not take the event's type (shown by
 *   `GET /events/{id}` for destinations that did not get the event).
 */
export const DELIVERY_STATES = ['queued', 'retrying', 'delivered', 'dead', 'paused', 'filtered'] as const;
export const DeliveryState = z.enum(DELIVERY_STATES);
export type DeliveryState = z.infer<typeof DeliveryState>;

/** States `GET /events?status=` selects on; `filtered` events are not in a destination's index, so they are shown per event only. */
export const LISTED_STATES = ['queued', 'retrying', 'delivered', 'dead', 'paused'] as const;

/** Largest page `GET /events` answers; `limit` defaults to {@link EVENTS_DEFAULT_LIMIT}. */
export const EVENTS_MAX_LIMIT = 500;
export const EVENTS_DEFAULT_LIMIT = 50;

/** The event id pattern accepted in paths and cursors (ids are `evt_` and 32 hex digits; older or hand-made ones stay printable). */
export const EVENT_ID_PATTERN = '^[A-Za-z0-9_.:-]{1,128}$';
export const EventId = z.string().regex(new RegExp(EVENT_ID_PATTERN), 'an event id is 1-128 characters of A-Z a-z 0-9 _ . : -');

/** One delivery attempt, as kept in dead letters and the delivery log (src/delivery/attempt-record.ts). */
export const AttemptRecordSchema = z.object({
  attempt: z.number().int().min(1),
  /** ISO time the attempt finished. */
  at: z.string(),
  /** The receiver's HTTP status, absent when no answer came (a network error or a timeout). */
  status: z.number().int().optional(),
  /** Why the attempt failed, absent on success. */
  error: z.string().optional(),
  durationMs: z.number().min(0),
  /** The start of the receiver's answer (at most 256 bytes of UTF-8 in the log). */
  response: z.string().optional(),
});
export type AttemptRecord = z.infer<typeof AttemptRecordSchema>;

const isoTime = z.iso.datetime({ offset: true }).transform((t) => Date.parse(t));

/**
 * `GET /events` query. `since`/`until` (ISO 8601) select by the time an event was accepted, `since`
 * inclusive and `until` exclusive; `type` is an event type or a glob with `*`; `cursor` is the `next`
 * of the previous page.
 */
export const EventsQuery = z
  .object({
    destination: z.string().max(NAME_MAX).regex(new RegExp(NAME_PATTERN), 'destination must be a Destination name').optional(),
    status: z.enum(LISTED_STATES).optional(),
    since: isoTime.optional(),
    until: isoTime.optional(),
    type: z.string().regex(/^[A-Za-z0-9_.:/*-]{1,128}$/, 'type is an event type or a glob of A-Z a-z 0-9 _ . : / - and *').optional(),
    limit: z.coerce.number().int().min(1).max(EVENTS_MAX_LIMIT).default(EVENTS_DEFAULT_LIMIT),
    cursor: z.string().min(1).max(512).optional(),
  })
  .strict()
  .refine((q) => q.since === undefined || q.until === undefined || q.since < q.until, { message: 'since must be before until', path: ['since'] });
export type EventsQueryInput = z.input<typeof EventsQuery>;
/** A parsed query: times in ms since the epoch. */
export type EventsQuery = z.output<typeof EventsQuery>;

/** `GET /events/{id}` path parameters. */
export const EventPathParams = z.object({ id: EventId }).strict();

/** An event at one destination. */
export const EventDelivery = z.object({
  destination: z.string(),
  state: DeliveryState,
  /** Attempts made so far, as recorded. */
  attempts: z.number().int().min(0),
  /** When the next attempt is due (`retrying` only). */
  nextAttemptAt: z.string().optional(),
  lastAttempt: AttemptRecordSchema.optional(),
  /** Every recorded attempt, oldest first; in `GET /events/{id}` only. */
  history: z.array(AttemptRecordSchema).optional(),
});
export type EventDelivery = z.infer<typeof EventDelivery>;

/** An event in the delivery log. */
export const EventLogEntry = z.object({
  id: z.string(),
  /** Absent only when the log lost the event's records (a worker crashed before writing them) and its job is gone. */
  type: z.string().regex(new RegExp(EVENT_TYPE_PATTERN)).optional(),
  /** The API key name it was sent with; absent when ingest ran without keys. */
  producer: z.string().optional(),
  acceptedAt: z.string(),
  deliveries: z.array(EventDelivery),
});
export type EventLogEntry = z.infer<typeof EventLogEntry>;

/** A page of `GET /events`, newest first. A page may hold fewer than `limit` items and still have a `next`. */
export const EventsPage = z.object({
  items: z.array(EventLogEntry),
  /** Pass as `cursor` for the next page; absent on the last one. */
  next: z.string().optional(),
});
export type EventsPage = z.infer<typeof EventsPage>;
