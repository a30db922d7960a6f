import { Redis } from 'ioredis';

/** Redis did not answer a bounded connection attempt: one line naming the URL and what to do. */
export class RedisUnreachableError extends Error {
  readonly code = 'HERALD_REDIS_UNREACHABLE';
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
export async function assertRedisReachable(url: string, timeoutMs = 3_000): Promise<void> {
  const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: timeoutMs });
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

/** The URL as it may be printed: any password replaced. */
export function withoutCredentials(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, (_, auth: string) => (auth.includes(':') ? `//${auth.split(':')[0]}:***@` : '//***@'));
}
