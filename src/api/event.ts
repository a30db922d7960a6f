import { z } from 'zod';

/** Event type names route events to destinations; kept short and printable so they are safe as log fields. */
export const EVENT_TYPE_PATTERN = '^[A-Za-z0-9_.:/-]{1,128}$';

/**
 * Deepest nesting accepted. JSON.parse copes with far deeper input than JSON.stringify (recursive)
 * can write back, so without a bound a valid-looking event could never be stored.
 */
export const MAX_PAYLOAD_DEPTH = 512;

/** Iterative, so checking a hostile payload cannot itself overflow the stack. */
function depthWithin(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d > max) return false;
    for (const child of Object.values(v as object)) stack.push([child, d + 1]);
  }
  return true;
}

/**
 * The ingest contract. `{"userID", "payload"}` is the original (seed) format and must keep working;
 * `type` is optional and used for routing. Unknown fields are rejected so typos are noticed.
 */
export const IngestEvent = z
  .object({
    userID: z.string().min(1, 'userID must not be empty').max(256),
    // Bodies arrive through JSON.parse, so any defined value is JSON; only absence is an error.
    payload: z
      .unknown()
      .refine((v) => v !== undefined, 'payload is required: any JSON value (string, number, object, array, true/false or null)')
      .refine((v) => depthWithin(v, MAX_PAYLOAD_DEPTH), `payload nests deeper than ${MAX_PAYLOAD_DEPTH} levels`),
    type: z.string().regex(new RegExp(EVENT_TYPE_PATTERN), 'type must be 1-128 characters of A-Z a-z 0-9 _ . : / -').optional(),
  })
  .strict();
export type IngestEvent = z.infer<typeof IngestEvent>;

/** Type used when a producer sends none; filters with `*` match it like any other. */
export const DEFAULT_EVENT_TYPE = 'event';

/** The JSON body POSTed to every destination. Serialised once at ingest and stored once. */
export interface DeliveryBody {
  id: string;
  type: string;
  timestamp: string;
  userID: string;
  payload: unknown;
}

/** Hex digits of an event id (after `evt_`) that hold the time it was made, in ms since the epoch. */
export const EVENT_ID_TIME_HEX = 12;
const ID_TIME_RE = /^evt_([0-9a-f]{12})[0-9a-f]{20}$/;
/** Ids older than this (2020-01-01) are not time-stamped ones: ids made before ids carried their time. */
const EARLIEST_ID_MS = 1_577_836_800_000;

/**
 * When the event with this id was accepted (ms since the epoch), read from the id; undefined for an
 * id that does not carry its time (made by an earlier version, or by hand).
 */
export function timeOfEventId(id: string, now = Date.now()): number | undefined {
  const m = ID_TIME_RE.exec(id);
  if (!m) return undefined;
  const t = parseInt(m[1]!, 16);
  return t >= EARLIEST_ID_MS && t <= now + 86_400_000 ? t : undefined;
}
