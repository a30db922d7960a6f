/**
 * The Lua of ordered delivery (docs/adr/0013-ordered-delivery.md). A key's events form a FIFO; only its
 * head is a BullMQ job in the queue's lists, the rest wait in `q:<key>` as job hashes no list names.
 * Every function takes the destination's ordering base (`RedisKeys.ordering`), so all of it stays in
 * the destination's hash slot `{d:<name>}`.
 */

/**
 * `appendOrdered(base, key, id, ts)`: queues a new job (its hash already written) behind its key.
 * Returns true when the key was idle and the job is its head (the caller pushes it to `wait`), false
 * when it waits behind the head (the caller adds those to `waiting`, once per write). Shared by ingest's write script (src/ingest/write-script.ts), so the
 * append happens in the same script as the write the 202 answers for.
 */
export const APPEND_ORDERED_LUA = `
local function appendOrdered(base, okey, id, ts)
  if redis.call('HSETNX', base .. 'head', okey, id) == 0 then
    redis.call('RPUSH', base .. 'q:' .. okey, id)
    return false
  end
  redis.call('ZADD', base .. 'since', ts, okey)
  return true
end
`;

/**
 * `waiting` counts the events in all `q:<key>` lists, so the status need not walk every key.
 *
 * Advances keys whose head is done, a level-triggered step: it reads what BullMQ says about the head
 * and changes nothing while the head is waiting, active or delayed, so running it twice, late, or from
 * several workers at once is harmless.
 * - head's job hash gone (delivered: jobs are removed on completion; or purged/skipped): the next
 *   waiting event becomes the head and is pushed to `wait`;
 * - head in the failed set (dead-lettered): with `continue`, likewise; with `block`, the key is marked
 *   blocked and stays;
 * - mode `off` (ordering switched off): every waiting event of the key is pushed to `wait`, in order.
 * Waiting ids whose job hash is gone (the queue was obliterated) are skipped.
 *
 * KEYS: head, since, blocked, wait, meta, active, marker, failed.
 * ARGV: job-key prefix, mode (continue | block | off), then the ordering keys.
 * Returns how many jobs were pushed to `wait`.
 */
export const ADVANCE_LUA = `
local rcall = redis.call
local head, since, blocked, wait, meta, active, marker, failed = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local prefix, mode = ARGV[1], ARGV[2]
local base = string.sub(head, 1, #head - 4)
local pushed, taken = 0, 0
for i = 3, #ARGV do
  local okey = ARGV[i]
  local q = base .. 'q:' .. okey
  local id = rcall('HGET', head, okey)
  while id do
    if mode == 'off' then
      local all = rcall('LRANGE', q, 0, -1)
      for _, nxt in ipairs(all) do
        if rcall('EXISTS', prefix .. nxt) == 1 then rcall('LPUSH', wait, nxt); pushed = pushed + 1 end
      end
      rcall('DEL', q)
      taken = taken + #all
      rcall('HDEL', head, okey); rcall('ZREM', since, okey); rcall('HDEL', blocked, okey)
      break
    end
    local live = rcall('EXISTS', prefix .. id) == 1
    local dead = live and rcall('ZSCORE', failed, id)
    if live and not dead then rcall('HDEL', blocked, okey); break end
    if dead and mode == 'block' then rcall('HSET', blocked, okey, id); break end
    rcall('HDEL', blocked, okey)
    local nxt = rcall('LPOP', q)
    if nxt then taken = taken + 1 end
    while nxt and rcall('EXISTS', prefix .. nxt) == 0 do
      nxt = rcall('LPOP', q)
      if nxt then taken = taken + 1 end
    end
    if not nxt then
      rcall('HDEL', head, okey); rcall('ZREM', since, okey)
      break
    end
    rcall('HSET', head, okey, nxt)
    rcall('ZADD', since, rcall('HGET', prefix .. nxt, 'timestamp') or 0, okey)
    rcall('LPUSH', wait, nxt)
    pushed = pushed + 1
    id = nxt
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
