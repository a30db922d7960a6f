/**
 * The Lua of ordered delivery (docs/adr/0013-ordered-delivery.md). A key's events form a FIFO, the
 * list `q:<key>`: its first element is the key's head, the one event BullMQ's lists know about; the
 * rest wait behind it as job hashes no BullMQ list names. `since` holds exactly the keys that have a
 * head. Every function takes the destination's ordering base (`RedisKeys.ordering`), so all of it
 * stays in the destination's hash slot `{d:<name>}`.
 */

/**
 * `appendOrdered(base, key, id)`: queues a new job (its hash already written) at the end of its key's
 * list. Returns true when the list was empty (the key was idle) and the job is its head: the caller
 * gives the key its `since` entry and pushes the job to `wait`, as it does for an unordered job (in
 * one command each per write). Returns false when the job waits behind the head (the caller adds
 * those to `waiting`, once per write). A busy key thus costs one `RPUSH`. Used by the enqueue
 * functions (src/queue/enqueue.ts) that ingest's write script runs, so the append happens in the same
 * script as the write the 202 answers for.
 */
export const APPEND_ORDERED_LUA = `
local function appendOrdered(base, okey, id)
  return redis.call('RPUSH', base .. 'q:' .. okey, id) == 1
end
`;

/**
 * `waiting` counts the events behind the heads (every element of the `q:<key>` lists but the first),
 * so the status need not walk every key.
 *
 * Advances keys whose head is done, a level-triggered step: it reads what BullMQ says about the head
 * and changes nothing while the head is waiting, active or delayed, so running it twice, late, or from
 * several workers at once is harmless.
 * - head's job hash gone (delivered: jobs are removed on completion; or purged/skipped): the head is
 *   popped; the next event, now first in the list, becomes the head and is pushed to `wait`;
 * - head in the failed set (dead-lettered): with `continue`, likewise; with `block`, the key is marked
 *   blocked and stays;
 * - mode `off` (ordering switched off): every event behind the head is pushed to `wait`, in order, and
 *   the key is forgotten (its head is an ordinary job by then).
 * Waiting ids whose job hash is gone (the queue was obliterated) are skipped.
 *
 * KEYS: since, blocked, wait, meta, active, marker, failed.
 * ARGV: job-key prefix, mode (continue | block | off), then the ordering keys.
 * Returns how many jobs were pushed to `wait`.
 */
export const ADVANCE_LUA = `
local rcall = redis.call
local since, blocked, wait, meta, active, marker, failed = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local prefix, mode = ARGV[1], ARGV[2]
local base = string.sub(since, 1, #since - 5)
local pushed, taken = 0, 0
for i = 3, #ARGV do
  local okey = ARGV[i]
  local q = base .. 'q:' .. okey
  local id = rcall('LINDEX', q, 0)
  if id and mode == 'off' then
    local behind = rcall('LRANGE', q, 1, -1)
    for _, nxt in ipairs(behind) do
      if rcall('EXISTS', prefix .. nxt) == 1 then rcall('LPUSH', wait, nxt); pushed = pushed + 1 end
    end
    taken = taken + #behind
    rcall('DEL', q); rcall('ZREM', since, okey); rcall('HDEL', blocked, okey)
  elseif id then
    local live = rcall('EXISTS', prefix .. id) == 1
    local dead = live and rcall('ZSCORE', failed, id)
    if live and not dead then
      rcall('HDEL', blocked, okey)
    elseif dead and mode == 'block' then
      rcall('HSET', blocked, okey, id)
    else
      rcall('HDEL', blocked, okey)
      rcall('LPOP', q)
      local nxt = rcall('LINDEX', q, 0)
      while nxt and rcall('EXISTS', prefix .. nxt) == 0 do
        rcall('LPOP', q)
        taken = taken + 1
        nxt = rcall('LINDEX', q, 0)
      end
      if nxt then
        -- It stays first in the list: the key's new head.
        taken = taken + 1
        rcall('ZADD', since, rcall('HGET', prefix .. nxt, 'timestamp') or 0, okey)
        rcall('LPUSH', wait, nxt)
        pushed = pushed + 1
      else
        rcall('ZREM', since, okey)
      end
    end
  end
end
if taken > 0 then
  local left = rcall('DECRBY', base .. 'waiting', taken)
  if left <= 0 then rcall('DEL', base .. 'waiting') end
end
if pushed > 0 then
  -- As BullMQ's add: a paused queue, or one at its global concurrency, gets no marker.
  local attrs = rcall('HMGET', meta, 'paused', 'concurrency')
  if attrs[1] == false and (attrs[2] == false or rcall('LLEN', active) < tonumber(attrs[2])) then rcall('ZADD', marker, 0, '0') end
end
return pushed
`;
