import type { Cluster, Redis } from 'ioredis';
import { defineScript, type ScriptCall } from '../redis/scripts.js';

/** Limits of one bucket. */
export interface BucketLimits {
  /** Tokens added per second; > 0. Fractions allowed (0.5 = one every two seconds). */
  ratePerSec: number;
  /** Capacity: tokens available after a quiet period; an integer ≥ 1. */
  burst: number;
  /** Tokens this call takes; default 1, an integer from 0 (peek) to `burst`. */
  cost?: number;
}

/** Result of {@link TokenBucket.take}. */
export interface TakeResult {
  allowed: boolean;
  /** When denied, milliseconds until `cost` tokens will be there; 0 when allowed. */
  retryAfterMs: number;
  /** Whole tokens left after this call. */
  remaining: number;
}

/** Limits that cannot describe a bucket (non-positive rate, cost above burst, …). Terminal: a configuration bug. */
export class TokenBucketLimitsError extends Error {
  readonly code = 'HERALD_RATELIMIT_LIMITS';
  override readonly name = 'TokenBucketLimitsError';
}

// One script, so read-refill-take-write is atomic across every replica using the bucket. Time comes
// from Redis TIME, not from the callers, so replicas whose clocks disagree still agree on the refill.
// (Redis ≥ 5 replicates scripts by effects, which is what makes TIME legal in a writing script.)
// State is a hash {tokens, ts}; it expires once the bucket would be full again, because a missing
// bucket and a full one mean the same thing, so idle keys never linger.
const SCRIPT = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
else
  tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
end
local allowed = 0
local retry = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry = math.ceil((cost - tokens) * 1000 / rate)
end
local ttl = math.ceil((burst - tokens) * 1000 / rate)
if ttl > 0 then
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
  redis.call('PEXPIRE', KEYS[1], string.format('%d', ttl))
else
  redis.call('DEL', KEYS[1])
end
return {allowed, retry, math.floor(tokens)}
`;

/** Dependencies of {@link TokenBucket}. */
export interface TokenBucketDeps {
  redis: Redis | Cluster;
  /** Installation prefix, as for every other Herald key (e.g. `herald`). */
  prefix: string;
}

/**
 * A token bucket kept in Redis and shared by every process that names the same key: per-API-key
 * ingest limits across ingest replicas, per-destination delivery rates across worker replicas.
 * Each bucket is one key, `<prefix>:{rl:<key>}`; the hash tag keeps it a single-slot operation on
 * Redis Cluster.
 */
export class TokenBucket {
  private readonly takeScript: ScriptCall<[number, number, number]>;

  constructor(private readonly deps: TokenBucketDeps) {
    this.takeScript = defineScript(deps.redis, { name: 'heraldTokenBucketTake', keys: 1, lua: SCRIPT });
  }

  /** The Redis key holding bucket `key`. */
  redisKey(key: string): string {
    return `${this.deps.prefix}:{rl:${key}}`;
  }

  /**
   * Takes `cost` tokens from bucket `key` if it has them. A denied call takes nothing.
   * @throws TokenBucketLimitsError for limits that cannot be satisfied, before touching Redis.
   * Redis errors propagate unchanged (callers decide whether to fail open or closed).
   */
  async take(key: string, limits: BucketLimits): Promise<TakeResult> {
    const cost = limits.cost ?? 1;
    assertLimits(limits.ratePerSec, limits.burst, cost);
    const [allowed, retryAfterMs, remaining] = await this.takeScript(this.redisKey(key), limits.ratePerSec, limits.burst, cost);
    return { allowed: allowed === 1, retryAfterMs, remaining };
  }
}

function assertLimits(ratePerSec: number, burst: number, cost: number): void {
  const problems: string[] = [];
  if (!(Number.isFinite(ratePerSec) && ratePerSec > 0)) problems.push(`ratePerSec must be a positive number, got ${ratePerSec}`);
  if (!(Number.isSafeInteger(burst) && burst >= 1)) problems.push(`burst must be a whole number ≥ 1, got ${burst}`);
  if (!(Number.isSafeInteger(cost) && cost >= 0)) problems.push(`cost must be a whole number ≥ 0, got ${cost}`);
  else if (Number.isSafeInteger(burst) && cost > burst) problems.push(`cost ${cost} exceeds burst ${burst}, so it could never be allowed`);
  if (problems.length > 0) throw new TokenBucketLimitsError(problems.join('; '));
}
