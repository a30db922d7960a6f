import type { RedisClient } from '../redis/client.js';
import { QUEUE_NAME, type RedisKeys } from '../redis/keys.js';
import { defineScript, type ScriptCall } from '../redis/scripts.js';
import { APPEND_ORDERED_LUA } from '../ordering/ordered-lua.js';
import { deliveryJobDataJson, deliveryJobOptions, EVENT_STREAM_MAX_LEN, type DeliveryJobData } from './delivery-queue.js';

/** BullMQ job name of every delivery; nothing reads it, so it is as short as it can be. */
export const DELIVERY_JOB_NAME = 'd';

/**
 * Adds many delivery jobs to one destination's queue in one script call, writing what BullMQ's own
 * `addStandardJob` writes for each (job hash, wait list, id counter, marker; a job id that exists gets
 * nothing), so BullMQ workers, getters and dashboards cannot tell the difference.
 * `test/integration/enqueue.test.ts` compares the two byte for byte, so a BullMQ upgrade that changes
 * its layout fails there, not in production.
 *
 * Why not `Queue.addBulk`: it runs BullMQ's generic add script once per job (parents, deduplication,
 * priorities, delays, none of which Herald uses) and msgpacks each job's arguments in JavaScript.
 * Measured per job (docs/performance.md): 42–51 µs of client CPU and 27–37 µs of Redis CPU with
 * `addBulk`, 10–11 µs and 13–19 µs with this script. The batch is also atomic, where `addBulk` is a
 * pipeline.
 *
 * Two differences (ADR 0005):
 * - No event-stream entries (`added`, `waiting`, `duplicated`). They are for `QueueEvents`
 *   listeners, which Herald does not run (its workers wake on the marker), and the two `XADD`s were
 *   a third of Redis' work per job. Workers still write their own (`active`, `completed`, …).
 * - A queue that no `Queue` handle has opened yet gets Herald's event-stream cap
 *   (EVENT_STREAM_MAX_LEN) where BullMQ would write its default of 10,000, so ingest needs no handles.
 *
 * KEYS: wait, meta, id, active, marker. ARGV: job-key prefix, timestamp, job name, event-stream
 * cap, then (id, data JSON, opts JSON) per job. Returns the number added, then the ids that existed.
 */
/**
 * The Lua of an enqueue into one destination's queue, as two functions shared by {@link ENQUEUE_LUA}
 * and ingest's one-script write (src/ingest/write-script.ts), so both write exactly what the contract
 * test checks. `checkQueue` only reads (it fails on a key of the wrong type before anything is
 * written, so a script that checks every queue first fails whole); `enqueueJobs` writes. Jobs are
 * read from `args` at `first`, `first + stride`, … as (id, data JSON, opts JSON, …).
 */
export const ENQUEUE_FUNCTIONS_LUA = `
local rcall = redis.call
${APPEND_ORDERED_LUA}
local function checkQueue(wait, meta, idKey, marker)
  rcall('HMGET', meta, 'paused', 'concurrency', 'opts.maxLenEvents')
  local t = rcall('TYPE', wait).ok
  if t ~= 'list' and t ~= 'none' then return redis.error_reply('WRONGTYPE ' .. wait .. ' is not a list') end
  t = rcall('TYPE', idKey).ok
  if t ~= 'string' and t ~= 'none' then return redis.error_reply('WRONGTYPE ' .. idKey .. ' is not a string') end
  t = rcall('TYPE', marker).ok
  if t ~= 'zset' and t ~= 'none' then return redis.error_reply('WRONGTYPE ' .. marker .. ' is not a sorted set') end
  return false
end
-- Runs cmd(key, ...) with the elements of list as its trailing arguments, a thousand at a time
-- (Lua's unpack is limited to a few thousand values).
local function variadic(cmd, key, list)
  for i = 1, #list, 1000 do rcall(cmd, key, unpack(list, i, math.min(i + 999, #list))) end
end
-- With an ordering base (ordBase, ADR 0013), a job whose ordering key (args[i + keyAt]) is not empty
-- goes live only if its key is idle; otherwise it waits behind the key's head (appendOrdered).
-- The jobs that go live are pushed to wait in one LPUSH, and new heads added to since in one ZADD,
-- after the loop: what one command per job would leave, for a fraction of Redis' per-call cost.
local function enqueueJobs(wait, meta, idKey, active, marker, prefix, ts, name, cap, args, first, count, stride, ordBase, keyAt)
  if rcall('HEXISTS', meta, 'opts.maxLenEvents') == 0 then rcall('HSET', meta, 'opts.maxLenEvents', cap) end
  rcall('INCRBY', idKey, count)
  -- A paused queue, or one at its global concurrency, gets the jobs but no marker: no worker may wake.
  local attrs = rcall('HMGET', meta, 'paused', 'concurrency')
  local blocked = attrs[1] ~= false or (attrs[2] ~= false and rcall('LLEN', active) >= tonumber(attrs[2]))
  local added = 0
  local live = {}
  local heads = {}
  local duplicates = {}
  for i = first, first + (count - 1) * stride, stride do
    local id = args[i]
    local jobKey = prefix .. id
    if rcall('EXISTS', jobKey) == 1 then
      duplicates[#duplicates + 1] = i
    else
      rcall('HMSET', jobKey, 'name', name, 'data', args[i + 1], 'opts', args[i + 2], 'timestamp', ts, 'delay', 0, 'priority', 0)
      local okey = ordBase and args[i + keyAt] or ''
      if okey == '' then
        live[#live + 1] = id
      elseif appendOrdered(ordBase, okey, id) then
        live[#live + 1] = id
        heads[#heads + 1] = ts
        heads[#heads + 1] = okey
      end
      added = added + 1
    end
  end
  if #live > 0 then variadic('LPUSH', wait, live) end
  if #heads > 0 then variadic('ZADD', ordBase .. 'since', heads) end
  if added > #live then rcall('INCRBY', ordBase .. 'waiting', added - #live) end
  if not blocked and #live > 0 then rcall('ZADD', marker, 0, '0') end
  return added, duplicates
end
`;

const ENQUEUE_LUA = `${ENQUEUE_FUNCTIONS_LUA}
local bad = checkQueue(KEYS[1], KEYS[2], KEYS[3], KEYS[5])
if bad then return bad end
local added, duplicates = enqueueJobs(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV, 5, (#ARGV - 4) / 3, 3)
local result = {added}
for _, i in ipairs(duplicates) do result[#result + 1] = ARGV[i] end
return result
`;

const EVENT_STREAM_MAX_LEN_ARG = String(EVENT_STREAM_MAX_LEN);

/** One delivery to queue: the event, and its body when the job carries it (see DeliveryJobData). */
export interface QueuedDelivery {
  id: string;
  body?: string | undefined;
  /** Its ordering key at this destination (ADR 0013); only ingest's write script reads it. */
  orderingKey?: string;
}

/** What {@link DeliveryEnqueuer.enqueue} did: how many jobs are new, and which ids had one already. */
export interface EnqueueResult {
  added: number;
  duplicates: string[];
}

/** Enqueues delivery jobs through {@link ENQUEUE_LUA}; one per connection, which holds the script. */
export class DeliveryEnqueuer {
  private readonly enqueueScript: ScriptCall<[number, ...string[]]>;
  private readonly enqueueKeys = new Map<string, readonly string[]>();

  constructor(redis: RedisClient, private readonly keys: RedisKeys) {
    this.enqueueScript = defineScript(redis, { name: 'heraldEnqueue', keys: 5, lua: ENQUEUE_LUA });
  }

  /** Queues one delivery of each event to `destination`; an id that has a job there already gets none. */
  async enqueue(destination: string, jobs: readonly QueuedDelivery[], maxAttempts: number, now = Date.now()): Promise<EnqueueResult> {
    if (jobs.length === 0) return { added: 0, duplicates: [] };
    const args = [...this.keysOf(destination), String(now), DELIVERY_JOB_NAME, EVENT_STREAM_MAX_LEN_ARG];
    for (const { id, body } of jobs) pushJobArgs(args, id, body, maxAttempts);
    const [added, ...duplicates] = await this.enqueueScript(...args);
    return { added, duplicates };
  }

  /** The script's keys (wait, meta, id, active, marker) and job-key prefix for `destination`, built once: a lone event is a write of its own. */
  keysOf(destination: string): readonly string[] {
    let k = this.enqueueKeys.get(destination);
    if (!k) {
      const base = `${this.keys.queuePrefix(destination)}:${QUEUE_NAME}:`;
      if (this.enqueueKeys.size >= 1024) this.enqueueKeys.clear();
      this.enqueueKeys.set(destination, (k = [`${base}wait`, `${base}meta`, `${base}id`, `${base}active`, `${base}marker`, base]));
    }
    return k;
  }
}

/**
 * Job data (`DeliveryJobData`) and options differ between jobs only in the event id, so they are spliced from strings
 * rather than built and serialised per job (at five destinations that was a tenth of batch ingest's
 * CPU). The enqueue contract test compares the result with `Queue.add` byte for byte.
 */
const ID_MARK = '\u0000id\u0000';
const optsTemplates = new Map<number, readonly [string, string]>();
function optsTemplate(maxAttempts: number): readonly [string, string] {
  let t = optsTemplates.get(maxAttempts);
  if (!t) {
    const [before, after] = JSON.stringify(deliveryJobOptions(ID_MARK, { maxAttempts })).split(JSON.stringify(ID_MARK));
    optsTemplates.set(maxAttempts, (t = [before!, after!]));
  }
  return t;
}

/**
 * Appends one job's fields as the enqueue Lua reads them (id, data JSON, opts JSON): what
 * {@link DeliveryEnqueuer.enqueue} sends per job, for scripts that enqueue as part of a larger write.
 */
export function pushJobArgs(args: string[], id: string, body: string | undefined, maxAttempts: number, orderingKey?: string): void {
  const opts = optsTemplate(maxAttempts);
  args.push(id, deliveryJobDataJson(id, body, orderingKey), `${opts[0]}${JSON.stringify(id)}${opts[1]}`);
}
