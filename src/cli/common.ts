import type { Registry } from 'prom-client';
import { loadConfig, type Config } from '../config/config.js';
import { Shutdown } from '../server/shutdown.js';
import { createLogger, type Logger } from '../log/logger.js';
import { prettyStream } from '../log/pretty.js';
import { createRegistry } from '../metrics/metrics.js';
import { VERSION } from '../version.js';

export type Env = Record<string, string | undefined>;

/** Raised for a wrong command line; main prints it with the command's help and exits 2. */
export class UsageError extends Error {
  readonly code = 'HERALD_USAGE';
}

/** The thing asked for does not exist (a destination, a dead letter); main prints one line and exits 1. */
export class NotFoundError extends Error {
  readonly code = 'HERALD_NOT_FOUND';
}

/** The user stopped a command (Ctrl-C: exit 130, or declined to confirm: exit 1) after it printed what it did. */
export class Interrupted extends Error {
  readonly code = 'HERALD_INTERRUPTED';
  constructor(message = '', readonly exitCode = 130) {
    super(message);
  }
}

/** Parses a flag that takes a whole number in [min, max], naming the flag when it is not one. */
export function intFlag(flag: string, value: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^[0-9]+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag}: "${value}" is not ${max === 65535 && min === 0 ? 'a port number (0-65535)' : `a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ' up'}`}`);
  }
  return n;
}

/** Parses a port flag (0 picks a free port). */
export function portFlag(flag: string, value: string): number {
  return intFlag(flag, value, 0, 65535);
}

export interface ProcessContext {
  config: Config;
  logger: Logger;
  registry: Registry;
  shutdown: Shutdown;
  version: string;
}

/**
 * What every long-running subcommand needs: config, root logger, metrics registry, signal handling.
 * `terminal` says whether stdout is a terminal: logs are readable lines there when HERALD_LOG_FORMAT
 * is `pretty`, or `auto` in `herald dev`; JSON everywhere else.
 */
export function bootstrap(component: string, env: Env, overrides: Parameters<typeof loadConfig>[1] = {}, terminal = false): ProcessContext {
  const config = loadConfig(env, overrides);
  const pretty = config.HERALD_LOG_FORMAT === 'pretty' || (config.HERALD_LOG_FORMAT === 'auto' && component === 'dev' && terminal);
  // `process` names the subcommand; modules below add their own `component`.
  const logger = createLogger({ level: config.HERALD_LOG_LEVEL }, pretty ? prettyStream(process.stdout, { colour: terminal }) : undefined).child({ process: component });
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
