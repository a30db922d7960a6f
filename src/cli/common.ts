import type { Registry } from 'prom-client';
import type { Redis } from 'ioredis';
import { loadConfig, type Config } from '../config/config.js';
import { Shutdown } from '../lifecycle/shutdown.js';
import { createLogger, type Logger } from '../log/logger.js';
import { createRegistry } from '../metrics/metrics.js';
import { VERSION } from '../version.js';

export type Env = Record<string, string | undefined>;

/** Raised for a wrong command line; main prints it with the command's help and exits 2. */
export class UsageError extends Error {
  readonly code = 'HERALD_USAGE';
}

export interface ProcessContext {
  config: Config;
  logger: Logger;
  registry: Registry;
  shutdown: Shutdown;
  version: string;
}

/** What every long-running subcommand needs: config, root logger, metrics registry, signal handling. */
export function bootstrap(component: string, env: Env, overrides: Parameters<typeof loadConfig>[1] = {}): ProcessContext {
  const config = loadConfig(env, overrides);
  // `process` names the subcommand; modules below add their own `component`.
  const logger = createLogger({ level: config.HERALD_LOG_LEVEL }).child({ process: component });
  const registry = createRegistry(component, VERSION);
  const shutdown = new Shutdown(logger, config.HERALD_SHUTDOWN_TIMEOUT);
  return { config, logger, registry, shutdown, version: VERSION };
}

/** Parses `--since` / `--until`: an ISO time, or a duration back from now such as `2h`. */
export function parseTime(value: string, now = Date.now()): number {
  if (/^[0-9]+(ms|s|m|h|d)$/.test(value)) {
    const m = /^([0-9]+)(ms|s|m|h|d)$/.exec(value)!;
    const unit = { ms: 1, s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
    return now - Number(m[1]) * unit;
  }
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new UsageError(`"${value}" is not a time: use ISO 8601 (2026-11-29T10:00:00Z) or a duration ago (30m, 2h, 1d)`);
  return t;
}

/**
 * Resolves once `redis` is connected; rejects naming the URL (credentials left out) after
 * `timeoutMs`, so a one-shot command against an unreachable Redis fails instead of hanging.
 */
export async function waitForRedis(redis: Pick<Redis, 'status' | 'once' | 'off'>, url: string, timeoutMs = 5_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const onReady = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`cannot reach Redis at ${url.replace(/\/\/[^@]*@/, '//')} within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    redis.once('ready', onReady);
  });
}
