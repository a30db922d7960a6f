import type { RedisClient } from '../redis/client.js';
import type { Counter } from 'prom-client';
import type { Logger } from '../log/logger.js';
import { QUEUE_NAME, type RedisKeys } from '../redis/keys.js';
import { defineScript, type ScriptCall } from '../redis/scripts.js';

// One body, atomically: drop each holder whose destination has no job for the event any more (in any
// state: waiting, delayed, active, completed-but-kept or dead-lettered), and delete the body when no
// holder is left. Bodies younger than the cut-off are left alone. ARGV: cut-off (ms), job-key parts
// (prefix, middle), event id. Returns the holders dropped, or -1 when the body was deleted.
const SWEEP_LUA = `
local t = tonumber(redis.call('HGET', KEYS[1], 't') or '0')
if t > tonumber(ARGV[1]) then return 0 end
local dropped = 0
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(f, 1, 2) == 'h:' and redis.call('EXISTS', ARGV[2] .. string.sub(f, 3) .. ARGV[3] .. ARGV[4]) == 0 then
    redis.call('HDEL', KEYS[1], f)
    dropped = dropped + 1
  end
end
if redis.call('HLEN', KEYS[1]) - 2 - redis.call('HEXISTS', KEYS[1], 'r') <= 0 then
  redis.call('DEL', KEYS[1])
  return -1
end
return dropped`;

/** What one sweep did. */
export interface SweepResult {
  scanned: number;
  /** Bodies deleted because no job referenced them. */
  removed: number;
}

/** Dependencies and settings of a {@link BodySweeper}. */
export interface BodySweeperDeps {
  redis: RedisClient;
  keys: RedisKeys;
  /** Counts bodies removed (herald_event_bodies_swept_total). */
  swept: Counter;
  logger: Logger;
  /** Time between sweeps, ms; one replica sweeps per interval. Default 10 minutes. */
  intervalMs?: number;
  /** A body younger than this is never swept, ms. Default 10 minutes. */
  graceMs?: number;
  clock?: () => number;
}

/**
 * The safety net under event bodies: a body must not outlive the jobs that need it. Ingest writes a
 * body and its jobs in one script, but a worker that delivered an event while Redis went away cannot
 * release the body (it acks, or retries and releases later, but not always), and an operator can
 * delete jobs by hand. The sweeper scans bodies, drops holders whose job is gone and deletes bodies
 * nobody holds, counting them so the leak is visible rather than silent.
 */
export class BodySweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  private readonly sweepBody: ScriptCall<number>;

  constructor(private readonly deps: BodySweeperDeps) {
    this.sweepBody = defineScript(deps.redis, { name: 'heraldSweepBody', keys: 1, lua: SWEEP_LUA });
  }

  /** Sweeps every interval (after a first interval), taking a lock so replicas do not sweep together. */
  start(): void {
    const interval = this.deps.intervalMs ?? 600_000;
    this.timer = setInterval(() => {
      this.running = this.sweepIfLeader(interval).catch((err: unknown) => this.deps.logger.warn({ err: (err as Error).message }, 'Body sweep failed; will try again'));
    }, interval);
    this.timer.unref();
  }

  private async sweepIfLeader(interval: number): Promise<void> {
    const lock = `${this.deps.keys.prefix}:sweep-lock`;
    if ((await this.deps.redis.set(lock, '1', 'PX', Math.max(1_000, interval - 1_000), 'NX')) === null) return;
    const r = await this.sweep();
    if (r.removed > 0) this.deps.logger.warn({ scanned: r.scanned, removed: r.removed }, 'Removed event bodies no job referenced');
  }

  /** One pass over every body. */
  async sweep(): Promise<SweepResult> {
    const cutoff = String((this.deps.clock ?? Date.now)() - (this.deps.graceMs ?? 600_000));
    const { prefix } = this.deps.keys;
    const jobPrefix = `${prefix}:{d:`;
    const jobMiddle = `}:${QUEUE_NAME}:`;
    const match = `${prefix}:{e:*`;
    const idStart = `${prefix}:{e:`.length;
    const redis = this.deps.redis;
    let cursor = '0';
    let scanned = 0;
    let removed = 0;
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        scanned++;
        const id = key.slice(idStart, -1);
        if ((await this.sweepBody(key, cutoff, jobPrefix, jobMiddle, id)) === -1) removed++;
      }
    } while (cursor !== '0');
    if (removed > 0) this.deps.swept.inc(removed);
    return { scanned, removed };
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
