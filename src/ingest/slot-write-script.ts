import type { Cluster } from 'ioredis';
import { ENQUEUE_FUNCTIONS_LUA } from '../queue/enqueue.js';
import { defineScript, type ScriptCall } from '../redis/scripts.js';
import { CHECK_LUA, WRITE_FUNCTIONS_LUA } from './write-script.js';

/**
 * One destination's part of an ingest write on a Redis Cluster, where a script may only touch keys
 * of one hash slot (ADR 0015): that destination's jobs, each carrying its event's body (no shared
 * `{e:<id>}` body, which would live in another slot), its delivery-log index entry, its ordering
 * appends, and the writer's journal for that slot. Redis applies it whole or not at all; the queue and
 * index are checked before anything is written, as in the one-script write (write-script.ts).
 *
 * KEYS: journal, wait, meta, id, active, marker, log index.
 * ARGV: seq, timestamp, job name, event-stream cap, journal TTL (ms), job-key prefix, log retention
 * (ms, 0: no log), ordering base ('' when the destination does not order), #jobs, then (id, data,
 * opts, ordering key or '') per job.
 * Returns -1 when the write is fenced (WriteTracker), else the number of jobs added. A job whose id
 * (the event id) is already queued is left as it is, so a retry of a partly stored request adds only
 * what is missing.
 */
const SLOT_WRITE_LUA = `${ENQUEUE_FUNCTIONS_LUA}
${WRITE_FUNCTIONS_LUA}
local journal = KEYS[1]
local seq = tonumber(ARGV[1])
if fenced(journal, seq) then return -1 end
local bad = checkQueue(KEYS[2], KEYS[3], KEYS[4], KEYS[6]) or checkIndex(KEYS[7])
if bad then return bad end
local retention, ordBase, nj = tonumber(ARGV[7]), ARGV[8], tonumber(ARGV[9])
if ordBase == '' then ordBase = nil end
local n, duplicates = enqueueJobs(KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], ARGV[6], ARGV[2], ARGV[3], ARGV[4], ARGV, 10, nj, 4, ordBase, 3)
if retention > 0 and n > 0 then indexWrite(KEYS[7], ARGV[2], retention, ARGV, 10, nj, 4, duplicates) end
recordApplied(journal, seq, ARGV[5])
return n
`;

/** The per-slot write scripts, as defined on a Cluster client (the names its pipelines call them by). */
export interface SlotWriteScripts {
  /** {@link SLOT_WRITE_LUA}: its 7 keys, then its arguments. */
  write: ScriptCall<number>;
  /** The settling check (write-script.ts): journal, fence, journal TTL (ms). */
  check: ScriptCall<number>;
  /** The command names, for a pipeline that sends the write with its WAITAOF/WAIT to the same node. */
  names: { write: string; check: string };
}

const NAMES = { write: 'heraldSlotWrite', check: 'heraldSlotWriteCheck' } as const;

/** Defines the per-slot write scripts on `redis` (defineScript: once per connection). */
export function slotWriteScripts(redis: Cluster): SlotWriteScripts {
  return {
    write: defineScript(redis, { name: NAMES.write, keys: 7, lua: SLOT_WRITE_LUA }),
    check: defineScript(redis, { name: NAMES.check, keys: 1, lua: CHECK_LUA }),
    names: NAMES,
  };
}
