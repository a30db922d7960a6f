import type { RedisClient } from '../redis/client.js';
import { ENQUEUE_FUNCTIONS_LUA } from '../queue/enqueue.js';
import { defineScript, type KeyedScriptCall, type ScriptCall } from '../redis/scripts.js';

/**
 * Lua shared by the one-script write and the per-slot write of a Redis Cluster (slot-write-script.ts):
 * - `fenced` / `recordApplied`: the writer's journal (WriteTracker): a write at or below the fence is
 *   refused before it writes anything; an applied one raises `a` and renews the journal's TTL.
 * - `checkIndex`: the delivery log's index must be a sorted set, checked before anything is written.
 * - `indexWrite`: the index entry of one destination's part of a write (ADR 0012): one member per
 *   write, the ids of the jobs it added (not the `duplicates`, indices into `args`), comma-separated,
 *   scored by the write's time; the index is trimmed to the retention and expires with it. An event
 *   indexed once per job costs Redis a sorted-set insert per job; a write's member costs one per write.
 */
export const WRITE_FUNCTIONS_LUA = `
local function fenced(journal, seq)
  return seq <= tonumber(rcall('HGET', journal, 'f') or '0')
end
local function recordApplied(journal, seq, ttl)
  if seq > tonumber(rcall('HGET', journal, 'a') or '0') then rcall('HSET', journal, 'a', seq) end
  rcall('PEXPIRE', journal, ttl)
end
local function checkIndex(index)
  local t = rcall('TYPE', index).ok
  if t ~= 'zset' and t ~= 'none' then return redis.error_reply('WRONGTYPE ' .. index .. ' is not a sorted set') end
  return false
end
local function indexWrite(index, ts, retention, args, first, count, stride, duplicates)
  local skip = {}
  for _, i in ipairs(duplicates) do skip[i] = true end
  local ids = {}
  for i = first, first + (count - 1) * stride, stride do
    if not skip[i] then ids[#ids + 1] = args[i] end
  end
  rcall('ZADD', index, ts, table.concat(ids, ','))
  rcall('ZREMRANGEBYSCORE', index, '-inf', '(' .. (tonumber(ts) - retention))
  rcall('PEXPIRE', index, retention)
end
`;

/**
 * Ingest's whole write in one script, so Redis applies it whole or not at all: the shared bodies, the
 * delivery jobs of every destination, the Idempotency-Key records marked done, and the writer's
 * journal (the last sequence number applied). Before, bodies went in a pipeline and jobs in one
 * script per destination; a Redis crash between them left a request answered 503 partly queued (and
 * delivered) and its bodies without jobs. Every queue is checked before anything is written, so a key
 * of the wrong type fails the write before it starts (a Lua error does not undo earlier writes); an
 * out-of-memory refusal comes at the first write, also before anything is written.
 *
 * The keys span several hash slots: the write needs one Redis (or a Cluster whose slots for one
 * request are on one node), which is what Herald runs on (ADR 0010).
 *
 * The delivery log's index goes in the same write (ADR 0012): one member per destination, the ids of
 * the events it queued there, scored by the write's time, in the destination's log index, which is
 * trimmed to the destination's retention and given a TTL in the same call, so nothing of the log
 * outlives it.
 *
 * KEYS: journal, then one per body, then (wait, meta, id, active, marker, log index) per destination,
 * then one per Idempotency-Key record.
 * ARGV: seq, timestamp, job name, event-stream cap, #bodies, #destinations, journal TTL (ms), #records;
 * per body: its layout (body-layout.ts, BODY_MODE_ARG: 's' shared, 'r' resumed: keep a body that is
 * there), body, accepted-at, #holders, holder fields; per destination: job-key prefix, name, log
 * retention (ms, 0: no log), ordering base ('' when the destination does not order deliveries), #jobs,
 * then (id, data, opts, body KEYS index of a resume or 0, ordering key or '') per job; per record: its
 * value. An ordered job whose key is busy is stored behind the key's head instead of in `wait`
 * (ADR 0013), in this same script, so the 202 covers its place in line.
 * Returns -1 when the write is fenced (its writer gave it up, see WriteTracker), else the number of
 * jobs added per destination.
 */
const WRITE_LUA = `${ENQUEUE_FUNCTIONS_LUA}
${WRITE_FUNCTIONS_LUA}
local journal = KEYS[1]
local seq = tonumber(ARGV[1])
if fenced(journal, seq) then return -1 end
local nb, nd, ni = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[8])
local k = 2 + nb
for d = 1, nd do
  local bad = checkQueue(KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 4]) or checkIndex(KEYS[k + 5])
  if bad then return bad end
  k = k + 6
end
local a = 9
for b = 1, nb do
  local key = KEYS[1 + b]
  local n = tonumber(ARGV[a + 3])
  if ARGV[a] == 's' then
    local fields = {'b', ARGV[a + 1], 't', ARGV[a + 2]}
    for h = a + 4, a + 3 + n do fields[#fields + 1] = ARGV[h]; fields[#fields + 1] = '1' end
    rcall('HSET', key, unpack(fields))
  else
    if rcall('HSETNX', key, 'b', ARGV[a + 1]) == 1 then rcall('HSET', key, 't', ARGV[a + 2]) end
    for h = a + 4, a + 3 + n do rcall('HSET', key, ARGV[h], '1') end
  end
  a = a + 4 + n
end
local added = {}
k = 2 + nb
for d = 1, nd do
  local prefix, dest, retention, ordBase, nj = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2]), ARGV[a + 3], tonumber(ARGV[a + 4])
  if ordBase == '' then ordBase = nil end
  local first = a + 5
  local n, duplicates = enqueueJobs(KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4], prefix, ARGV[2], ARGV[3], ARGV[4], ARGV, first, nj, 5, ordBase, 4)
  added[d] = n
  if retention > 0 and n > 0 then indexWrite(KEYS[k + 5], ARGV[2], retention, ARGV, first, nj, 5, duplicates) end
  -- A resume holds its shared body for every destination it routes to; where the earlier attempt's
  -- job is there already and carries its own body, nothing would ever release that hold.
  for _, i in ipairs(duplicates) do
    local bi = tonumber(ARGV[i + 3])
    if bi > 0 then
      local data = rcall('HGET', prefix .. ARGV[i], 'data')
      if data and string.find(data, '"b":', 1, true) then
        local bk = KEYS[bi]
        rcall('HDEL', bk, 'h:' .. dest)
        if rcall('HLEN', bk) - 2 - rcall('HEXISTS', bk, 'r') <= 0 then rcall('DEL', bk) end
      end
    end
  end
  a = first + nj * 5
  k = k + 6
end
for i = 0, ni - 1 do rcall('SET', KEYS[k + i], ARGV[a + i], 'KEEPTTL', 'XX') end
recordApplied(journal, seq, ARGV[7])
return added
`;

/**
 * After a connection was lost with writes in flight: raises the fence to `ARGV[1]` (a write of a lower
 * sequence number that reaches Redis later is refused) and returns the last sequence number applied.
 * Writes on one connection run in order, so those in flight up to it were applied, the others not.
 */
export const CHECK_LUA = `
if tonumber(ARGV[1]) > tonumber(redis.call('HGET', KEYS[1], 'f') or '0') then redis.call('HSET', KEYS[1], 'f', ARGV[1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return tonumber(redis.call('HGET', KEYS[1], 'a') or '0')
`;

/** Ingest's write scripts, as defined on one connection. */
export interface WriteScripts {
  /** The whole write ({@link WRITE_LUA}): its keys, then its arguments. */
  write: KeyedScriptCall<number | number[]>;
  /** The settling check ({@link CHECK_LUA}): journal, fence, journal TTL (ms). */
  check: ScriptCall<number>;
}

/** Defines the write scripts on `redis` (defineScript: once per connection). */
export function writeScripts(redis: RedisClient): WriteScripts {
  return {
    write: defineScript(redis, { name: 'heraldWrite', keys: 'varying', lua: WRITE_LUA }),
    check: defineScript(redis, { name: 'heraldWriteCheck', keys: 1, lua: CHECK_LUA }),
  };
}
