import { Cluster, type Redis } from 'ioredis';

/** A Lua script Herald runs in Redis. */
export interface RedisScript {
  /** The command name it gets on a connection; unique across Herald (`herald…`). */
  name: string;
  /**
   * How many of the arguments are keys (they come first), or `varying` for a script whose calls
   * each name their own keys ({@link KeyedScriptCall}).
   */
  keys: number | 'varying';
  lua: string;
}

/** An argument of a script call; an array stands for its elements, in order (ioredis flattens it), so a long call is not spread. */
export type ScriptArg = string | number | readonly string[];

/** Runs a script with its keys then its other arguments. */
export type ScriptCall<R> = (...args: ScriptArg[]) => Promise<R>;

/** Runs a script of `varying` keys: `keys`, then the other arguments. */
export type KeyedScriptCall<R> = (keys: readonly string[], ...args: ScriptArg[]) => Promise<R>;

/**
 * The one way Herald loads a Lua script: ioredis's `defineCommand`, once per connection. ioredis
 * sends the full EVAL on a connection's first call (which loads the script) and EVALSHA after; after
 * a NOSCRIPT (a Redis restart, SCRIPT FLUSH) it sends the EVAL again. Returns a function that runs
 * it on `redis`.
 */
export function defineScript<R = unknown>(redis: Redis | Cluster, script: RedisScript & { keys: number }): ScriptCall<R>;
export function defineScript<R = unknown>(redis: Redis | Cluster, script: RedisScript & { keys: 'varying' }): KeyedScriptCall<R>;
export function defineScript<R = unknown>(redis: Redis | Cluster, script: RedisScript): ScriptCall<R> | KeyedScriptCall<R> {
  // Without numberOfKeys, ioredis takes the call's first argument as the number of keys.
  if (!(script.name in redis)) {
    redis.defineCommand(script.name, script.keys === 'varying' ? { lua: script.lua } : { numberOfKeys: script.keys, lua: script.lua });
    // ioredis' Cluster auto-pipelining fails a script of varying keys on its first calls ("All keys in
    // the pipeline should belong to the same slots allocation group"); sent on their own, they route
    // by their first key like any command.
    if (script.keys === 'varying' && redis instanceof Cluster) redis.options.autoPipeliningIgnoredCommands?.push(script.name);
  }
  const command = (redis as unknown as Record<string, (...args: ScriptArg[]) => Promise<R>>)[script.name]!;
  if (script.keys === 'varying') return (keys: readonly string[], ...args: ScriptArg[]) => command.call(redis, keys.length, keys, ...args);
  return (...args: ScriptArg[]) => command.apply(redis, args);
}
