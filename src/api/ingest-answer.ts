import { z } from 'zod';
import { ValidationIssue } from './error-answer.js';

/** An event id as ingest hands it out: `evt_` and 32 hex digits. */
export const EventId = z.string().regex(/^evt_[0-9a-f]{32}$/).describe('the event id; the same in every delivery (webhook-id)');

/** The `Idempotency-Key` request header. */
export const IdempotencyKey = z.string().min(1).max(255).regex(/^[\x21-\x7e]+$/, 'Idempotency-Key must be 1-255 printable ASCII characters');

/** What an `X-Request-Id` a caller sends must look like to be echoed; as a RegExp for the hot path. */
export const REQUEST_ID_PATTERN = /^[\x21-\x7e]{1,128}$/;
/** The `X-Request-Id` a caller may send; echoed on the answer. Any other value is replaced by a fresh id. */
export const RequestId = z.string().regex(REQUEST_ID_PATTERN);

/** `POST /ingest` answered 202: the event is stored for every destination it goes to. */
export const IngestAccepted = z
  .object({
    id: EventId,
    destinations: z.int().min(0).describe('how many destinations the event was queued for; 0: no destination takes its type, and it was not stored'),
    duplicate: z.literal(true).optional().describe('present when an Idempotency-Key matched an earlier request: nothing new was stored, the id is the first one'),
  })
  .describe('the event is stored for every destination it goes to');
export type IngestAccepted = z.infer<typeof IngestAccepted>;

const index = z.int().min(0).describe("the event's position in the batch, from 0");

/** One event of a batch that was stored. */
export const BatchItemAccepted = z.object({ index, status: z.literal(202), id: EventId });
/** One event of a batch that was refused: not stored, the others are unaffected. */
export const BatchItemRejected = z.discriminatedUnion('status', [
  z.object({
    index,
    status: z.literal(400),
    error: z.object({ code: z.literal('invalid_event'), message: z.string(), issues: z.array(ValidationIssue) }),
  }),
  z.object({
    index,
    status: z.literal(403),
    error: z.object({ code: z.literal('type_forbidden'), message: z.string() }),
  }),
]);
export const BatchItemResult = z.union([BatchItemAccepted, BatchItemRejected]);
export type BatchItemResult = z.infer<typeof BatchItemResult>;

/** `POST /ingest/batch` answered 202: every event was stored. */
export const BatchAccepted = z
  .object({ accepted: z.int().min(1), rejected: z.literal(0), results: z.array(BatchItemAccepted).min(1) })
  .describe('every event of the batch is stored; results in batch order');
/** `POST /ingest/batch` answered 207: some events were stored, the others refused. */
export const BatchPartlyAccepted = z
  .object({ accepted: z.int().min(1), rejected: z.int().min(1), results: z.array(BatchItemResult).min(2) })
  .describe('some events are stored (status 202 in results), the others were refused and are not; results in batch order');
/** `POST /ingest/batch` answered 400 because no event of it was valid. */
export const BatchRejected = z
  .object({ accepted: z.literal(0), rejected: z.int().min(1), results: z.array(BatchItemRejected).min(1) })
  .describe('no event of the batch is valid; nothing was stored');

/** What `POST /ingest/batch` answers with per-event results (202, 207, or 400 when none was valid). */
export type BatchAnswer = z.infer<typeof BatchAccepted> | z.infer<typeof BatchPartlyAccepted> | z.infer<typeof BatchRejected>;
