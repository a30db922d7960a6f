import { primariesOf, type RedisClient } from './client.js';

/** The smallest `hash-max-listpack-value` at which a queued delivery's job and body hashes stay compact. */
export const COMPACT_HASH_VALUE_BYTES = 512;

/**
 * How Herald wants its Redis run, as `redis-server` arguments: what `herald dev` and the test harness
 * start, and what the chart's StatefulSet passes. AOF with an fsync a second, so a Redis crash loses at
 * most a second of acknowledged writes (docs/guarantees.md); `noeviction`, because an evicted job is a
 * lost event; and hashes with values up to 512 bytes kept as listpacks. BullMQ's job hash holds a
 * ~110-byte `opts` JSON and Herald's body hash the payload, both over Redis' default of 64, which turns
 * both into hashtables: 960 instead of 537 bytes per queued event per destination (docs/performance.md).
 * `hash-max-ziplist-value` is the spelling Redis 6 knows and Redis 7 keeps as an alias.
 */
export const REDIS_SERVER_ARGS: readonly string[] = [
  '--appendonly', 'yes',
  '--appendfsync', 'everysec',
  '--maxmemory-policy', 'noeviction',
  '--hash-max-ziplist-value', String(COMPACT_HASH_VALUE_BYTES),
];

/**
 * A warning for an operator whose Redis stores queued deliveries in the bigger hash encoding, or
 * undefined when it does not (or when CONFIG is not allowed, as on some managed services). Not a refusal
 * like an evicting policy: it costs memory, never events.
 */
export async function compactHashWarning(redis: RedisClient): Promise<string | undefined> {
  let value = Infinity;
  try {
    for (const server of primariesOf(redis)) {
      const reply = (await server.config('GET', 'hash-max-ziplist-value')) as string[];
      if (reply[1] !== undefined) value = Math.min(value, Number(reply[1]));
    }
  } catch {
    return undefined;
  }
  if (value >= COMPACT_HASH_VALUE_BYTES) return undefined;
  return (
    `Redis hash-max-listpack-value is ${value}: every queued delivery takes about 1.8× the memory it needs. ` +
    `Set \`hash-max-listpack-value ${COMPACT_HASH_VALUE_BYTES}\` in redis.conf or run \`CONFIG SET hash-max-listpack-value ${COMPACT_HASH_VALUE_BYTES}\`.`
  );
}
