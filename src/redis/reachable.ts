import { Redis, type RedisOptions } from 'ioredis';
import { describeTarget, sentinelOptions, withoutCredentials, type RedisTarget } from './redis-target.js';

/** Redis did not answer a bounded connection attempt: one line naming the URL and what to do. */
export class RedisUnreachableError extends Error {
  readonly code = 'HERALD_REDIS_UNREACHABLE';
  /** `url` is the URL tried, or a Sentinel target's description (see describeTarget). */
  constructor(readonly url: string, reason: string, hint = 'start Redis, run `make dev` (the CLI finds its Redis by itself), or set REDIS_URL') {
    super(`cannot reach Redis at ${withoutCredentials(url)} (${reason}): ${hint}`);
  }
}

/**
 * Tries once to connect to `url` and PING, giving up after `timeoutMs`, without ioredis' reconnect
 * loop (which would log an error per attempt). A command-line tool calls it before opening its real
 * connections, so an absent Redis costs one line and a couple of seconds rather than a stack-trace flood.
 * @throws RedisUnreachableError
 */
export async function assertRedisReachable(target: string | RedisTarget, timeoutMs = 3_000): Promise<void> {
  const t: RedisTarget = typeof target === 'string' ? { kind: 'url', url: target } : target;
  const once = { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: timeoutMs };
  const probe = t.kind === 'url' ? new Redis(t.url, once) : t.kind === 'cluster' ? new Redis({ ...seedNodeOptions(t), ...once }) : new Redis({ ...sentinelOptions(t), ...once, sentinelRetryStrategy: () => null, failoverDetector: false });
  const url = describeTarget(t);
  let last: Error | undefined;
  probe.on('error', (err: Error) => (last = err));
  const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs).unref());
  try {
    await Promise.race([probe.connect().then(() => probe.ping()), timer]);
  } catch (err) {
    throw new RedisUnreachableError(url, reasonOf(last ?? (err as Error)));
  } finally {
    probe.disconnect();
  }
}

function reasonOf(err: Error & { code?: string }): string {
  if (err.code === 'ECONNREFUSED') return 'connection refused';
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return 'unknown host';
  return err.code ?? err.message;
}

/** The first seed node of a cluster target, as one server: if it answers, the client finds the others through it. */
function seedNodeOptions(t: Extract<RedisTarget, { kind: 'cluster' }>): RedisOptions {
  const seed = t.nodes[0]!;
  return {
    host: seed.host,
    port: seed.port,
    ...(t.username !== undefined ? { username: t.username } : {}),
    ...(t.password !== undefined ? { password: t.password } : {}),
    ...(t.tls ? { tls: {} } : {}),
  };
}
