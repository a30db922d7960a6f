import type { Cluster, Redis } from 'ioredis';

/** A Lua script Herald runs in Redis. */
export interface RedisScript {
  /** The command name it gets on a connection; unique across Herald (`herald…`). */
  name: string;
  /** How many of the arguments are keys (they come first). */
  keys: number;
  lua: string;
}

/** Runs a script with its keys then its other arguments. */
export type ScriptCall<R> = (...args: Array<string | number>) => Promise<R>;

/**
 * The one way Herald loads a Lua script: ioredis's `defineCommand`, once per connection. Each call
 * sends EVALSHA; after a NOSCRIPT (first use, a Redis restart, SCRIPT FLUSH) ioredis sends the full
 * EVAL once, which loads the script again. Returns a function that runs it on `redis`.
 */
export function defineScript<R = unknown>(redis: Redis | Cluster, script: RedisScript): ScriptCall<R> {
  if (!(script.name in redis)) redis.defineCommand(script.name, { numberOfKeys: script.keys, lua: script.lua });
  const command = (redis as unknown as Record<string, (...args: Array<string | number>) => Promise<R>>)[script.name]!;
  return (...args) => command.apply(redis, args);
}
