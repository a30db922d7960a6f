import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/** Paths pino blanks out wherever they appear; credentials travel in headers and URLs. */
export const REDACT_PATHS = [
  'headers.authorization',
  'headers["proxy-authorization"]',
  'headers.cookie',
  'headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  '*.password',
  '*.secret',
  '*.token',
  'smtpUrl',
  'redisUrl',
];

/** Builds the one root logger of a process; components take `logger.child({ component })`. */
export function createLogger(opts: { level: string; name?: string }, stream?: DestinationStream): Logger {
  return pino(
    {
      name: opts.name ?? 'herald',
      level: opts.level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
}

/** Removes credentials and query (tokens often ride there) from a URL before it is logged. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = 'redacted';
    if (u.search) u.search = '?redacted';
    return u.toString();
  } catch {
    return '[unparseable url]';
  }
}
