import { randomFillSync } from 'node:crypto';
import { EVENT_ID_TIME_HEX } from '../api/event.js';

/** Random bytes drawn at once, enough for 409 ids: one system call per 409 events instead of per event. */
const POOL_BYTES = 4090;
const RANDOM_BYTES = 10;
const pool = Buffer.allocUnsafeSlow(POOL_BYTES);
let offset = POOL_BYTES;

/**
 * A new event id: `evt_` and 32 hex digits, the first 12 the time it was made (ms since the epoch)
 * and the other 20 random (80 bits, drawn from a pool refilled from the CSPRNG, since ids are made on
 * ingest's hot path, up to a hundred per batch request). The time lets the delivery log find an
 * event's records without an index lookup (timeOfEventId); ids made in the same millisecond differ
 * in 80 random bits.
 */
export function newEventId(now = Date.now()): string {
  if (offset === POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = `evt_${now.toString(16).padStart(EVENT_ID_TIME_HEX, '0')}${pool.toString('hex', offset, offset + RANDOM_BYTES)}`;
  offset += RANDOM_BYTES;
  return id;
}
