import type { Redis } from 'ioredis';
import { QUEUE_NAME, type RedisKeys } from '../redis/keys.js';
import { defineScript, type ScriptCall } from '../redis/scripts.js';
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
const ENQUEUE_LUA = `
local rcall = redis.call
if rcall('HEXISTS', KEYS[2], 'opts.maxLenEvents') == 0 then rcall('HSET', KEYS[2], 'opts.maxLenEvents', ARGV[4]) end
rcall('INCRBY', KEYS[3], (#ARGV - 4) / 3)
-- A paused queue, or one at its global concurrency, gets the jobs but no marker: no worker may wake.
local attrs = rcall('HMGET', KEYS[2], 'paused', 'concurrency')
local blocked = attrs[1] ~= false or (attrs[2] ~= false and rcall('LLEN', KEYS[4]) >= tonumber(attrs[2]))
local name = ARGV[3]
local result = {0}
for i = 5, #ARGV, 3 do
  local id = ARGV[i]
  local jobKey = ARGV[1] .. id
  if rcall('EXISTS', jobKey) == 1 then
    result[#result + 1] = id
  else
    rcall('HMSET', jobKey, 'name', name, 'data', ARGV[i + 1], 'opts', ARGV[i + 2], 'timestamp', ARGV[2], 'delay', 0, 'priority', 0)
    rcall('LPUSH', KEYS[1], id)
    result[1] = result[1] + 1
  end
end
if not blocked and result[1] > 0 then rcall('ZADD', KEYS[5], 0, '0') end
return result
`;

/**
 * Takes back jobs of a write that failed, while they are still waiting: ingest answered 503, so the
 * client will send the event again and this copy must not be delivered too. A job a worker already
 * took is left to run (at-least-once). What BullMQ's `removeJob` does to a waiting job without
 * parents, deduplication or logs, less the `removed` event (its `added` was never written either).
 *
 * KEYS: wait. ARGV: job-key prefix, then the ids. Returns how many were removed.
 */
const UNQUEUE_LUA = `
local removed = 0
for i = 2, #ARGV do
  if redis.call('LREM', KEYS[1], 1, ARGV[i]) == 1 then
    redis.call('DEL', ARGV[1] .. ARGV[i], ARGV[1] .. ARGV[i] .. ':logs')
    removed = removed + 1
  end
end
return removed
`;

const EVENT_STREAM_MAX_LEN_ARG = String(EVENT_STREAM_MAX_LEN);

/** One delivery to queue: the event, and its body when the job carries it (see DeliveryJobData). */
export interface QueuedDelivery {
  id: string;
  body?: string | undefined;
}

/** What {@link DeliveryEnqueuer.enqueue} did: how many jobs are new, and which ids had one already. */
export interface EnqueueResult {
  added: number;
  duplicates: string[];
}

/** Enqueues delivery jobs through {@link ENQUEUE_LUA}; one per connection, which holds the script. */
export class DeliveryEnqueuer {
  private readonly redis: Redis;
  private readonly enqueueScript: ScriptCall<[number, ...string[]]>;
  private readonly unqueueScript: ScriptCall<number>;
  private readonly enqueueKeys = new Map<string, readonly string[]>();

  constructor(redis: Redis, private readonly keys: RedisKeys) {
    this.redis = redis;
    this.enqueueScript = defineScript(redis, { name: 'heraldEnqueue', keys: 5, lua: ENQUEUE_LUA });
    this.unqueueScript = defineScript(redis, { name: 'heraldUnqueue', keys: 1, lua: UNQUEUE_LUA });
  }

  /** Queues one delivery of each event to `destination`; an id that has a job there already gets none. */
  async enqueue(destination: string, jobs: readonly QueuedDelivery[], maxAttempts: number, now = Date.now()): Promise<EnqueueResult> {
    if (jobs.length === 0) return { added: 0, duplicates: [] };
    const args = [...this.keysOf(destination), String(now), DELIVERY_JOB_NAME, EVENT_STREAM_MAX_LEN_ARG];
    const opts = optsTemplate(maxAttempts);
    for (const { id, body } of jobs) args.push(id, deliveryJobDataJson(id, body), `${opts[0]}${JSON.stringify(id)}${opts[1]}`);
    const [added, ...duplicates] = await this.enqueueScript(...args);
    return { added, duplicates };
  }

  /** Removes the jobs of `ids` that are still waiting (clean-up after a failed write); returns how many. */
  async unqueue(destination: string, ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const base = this.base(destination);
    return this.unqueueScript(`${base}wait`, base, ...ids);
  }

  /** Whether the job of `id` in `destination`'s queue carries its body (false when there is no such job). */
  async carriesBody(destination: string, id: string): Promise<boolean> {
    const data = await this.redis.hget(`${this.base(destination)}${id}`, 'data');
    return data !== null && typeof (JSON.parse(data) as DeliveryJobData).b === 'string';
  }

  private base(destination: string): string {
    return `${this.keys.queuePrefix(destination)}:${QUEUE_NAME}:`;
  }

  /** The script's keys and key prefix for `destination`, built once: a lone event is a write of its own. */
  private keysOf(destination: string): readonly string[] {
    let k = this.enqueueKeys.get(destination);
    if (!k) {
      const base = this.base(destination);
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
