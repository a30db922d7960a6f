import { z } from 'zod';
import { durationString, parseDuration } from '../api/duration.js';

const SIZE_RE = /^([0-9]+)(b|kb|kib|mb|mib)?$/i;
const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1000, kib: 1024, mb: 1_000_000, mib: 1024 * 1024 };

/** Parses `1mb`, `512kib`, `65536` into bytes. */
export function parseSize(text: string): number {
  const m = SIZE_RE.exec(text.trim());
  if (!m) throw new Error(`invalid size "${text}": use bytes or a unit (kb, kib, mb, mib), e.g. "1mib"`);
  return Number(m[1]) * SIZE_UNITS[(m[2] ?? 'b').toLowerCase()]!;
}

const ms = durationString.transform(parseDuration);
const bytes = z.string().regex(SIZE_RE, 'must be a size such as "1mib" or "65536"').transform(parseSize);
const port = z.coerce.number().int().min(0).max(65535);
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const HOST_PORT_RE = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):([0-9]{1,5})$/;

/** Parses `host:port,host:port` (IPv6 in brackets) into a list of addresses. */
export function parseHostPorts(text: string): Array<{ host: string; port: number }> {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      const m = HOST_PORT_RE.exec(s);
      if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new Error(`invalid address "${s}": use host:port`);
      return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
    });
}

const hostPorts = z
  .string()
  .refine((v) => {
    try {
      return parseHostPorts(v).length > 0;
    } catch {
      return false;
    }
  }, 'must be a comma-separated list of host:port, e.g. "sentinel-0:26379,sentinel-1:26379"')
  .transform(parseHostPorts);

/**
 * Every environment variable Herald reads, in one place. Parsed once per process, frozen,
 * and any error lists every bad variable so a misconfigured pod fails with one readable message.
 */
export const ConfigSchema = z.object({
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  /**
   * Sentinels to ask for the current primary, instead of REDIS_URL: every connection follows a
   * failover. Needs HERALD_REDIS_SENTINEL_NAME; REDIS_URL must then be unset.
   */
  HERALD_REDIS_SENTINELS: hostPorts.optional(),
  /** The master group name the sentinels monitor (`sentinel monitor <name> ...`). */
  HERALD_REDIS_SENTINEL_NAME: z.string().regex(/^[A-Za-z0-9._-]+$/, 'must be a Sentinel master name').optional(),
  /**
   * Seed nodes of a Redis Cluster, instead of REDIS_URL: Herald asks them for the slot map and follows
   * it (and its changes after a failover). Destinations spread across the shards by their hash tag.
   * Not with HERALD_REDIS_SENTINELS.
   */
  HERALD_REDIS_CLUSTER_NODES: hostPorts.optional(),
  /** Username (Redis ACL) and password of the Redis servers found through the sentinels or the cluster's seed nodes. */
  HERALD_REDIS_USERNAME: z.string().optional(),
  HERALD_REDIS_PASSWORD: z.string().optional(),
  /** Username and password of the sentinels themselves (`requirepass` in sentinel.conf), if any. */
  HERALD_REDIS_SENTINEL_USERNAME: z.string().optional(),
  HERALD_REDIS_SENTINEL_PASSWORD: z.string().optional(),
  /** TLS to the sentinels, the cluster's nodes, and the Redis servers they name (certificates checked against Node's CAs and NODE_EXTRA_CA_CERTS). */
  HERALD_REDIS_TLS: bool.default(false),
  /** Key prefix for everything Herald stores, so several installations can share one Redis. */
  HERALD_REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+$/).default('herald'),
  HERALD_HTTP_PORT: port.default(8080),
  HERALD_HTTP_HOST: z.string().default('0.0.0.0'),
  HERALD_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `json` (one object a line), `pretty` (readable lines), or `auto`: pretty for `herald dev` on a terminal, else JSON. */
  HERALD_LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
  HERALD_MAX_BODY: bytes.default(parseSize('1mib')),
  HERALD_MAX_BATCH: z.coerce.number().int().min(1).max(100_000).default(1000),
  HERALD_IDEMPOTENCY_TTL: ms.default(parseDuration('24h')),
  /**
   * `strict`: a 202 waits until Redis has the event on disk (`appendfsync always`, or WAITAOF on Redis
   * 7.2+), so no acknowledged event is lost to a crash; ingest refuses to start on a Redis that cannot.
   * `fast`: Redis' own pace (`appendfsync everysec`): a crash can lose about the last 2 s of 202s.
   */
  HERALD_DURABILITY: z.enum(['strict', 'fast']).default('fast'),
  /**
   * Replicas that must have each write before ingest answers 202 (Redis `WAIT`); 0: do not wait.
   * With 1 and one replica, a failover loses no acknowledged event.
   */
  HERALD_ACK_REPLICAS: z.coerce.number().int().min(0).max(16).default(0),
  /** How long ingest waits for HERALD_ACK_REPLICAS replicas before it answers 503 `replication_unconfirmed`. */
  HERALD_ACK_REPLICAS_TIMEOUT: ms.refine((v) => v >= 1, 'must be at least 1ms (WAIT with 0 would wait forever)').default(parseDuration('1s')),
  /** How often ingest sweeps event bodies no job references, and how old a body must be to be swept. */
  HERALD_BODY_SWEEP_INTERVAL: ms.default(parseDuration('10m')),
  /** Ingest answers 503 once Redis uses this share of maxmemory, keeping room for workers to finish. */
  HERALD_REDIS_HIGH_WATER: z.coerce.number().gt(0).max(1).default(0.9),
  HERALD_SHUTDOWN_TIMEOUT: ms.default(parseDuration('25s')),
  HERALD_SECRETS_DIR: z.string().default('/var/run/herald/secrets'),
  /** A killed worker's in-flight deliveries are handed to another worker after about this long. */
  HERALD_LOCK_DURATION: ms.default(parseDuration('30s')),
  /** While a destination is throttled (10 failed attempts in a row), its attempts start this far apart; 0ms: no pacing. */
  HERALD_THROTTLED_ATTEMPT_INTERVAL: ms.default(parseDuration('100ms')),
  /** Loopback and private destinations are refused outside `herald dev` unless allowed here. */
  HERALD_ALLOW_PRIVATE_DESTINATIONS: bool.default(false),
  /** Comma-separated CIDRs deliveries may reach although they are private (an operator's own network). */
  HERALD_DELIVERY_ALLOW_CIDRS: z.string().default(''),
  /** Comma-separated CIDRs deliveries may never reach, e.g. the cluster's API server and Redis. */
  HERALD_DELIVERY_DENY_CIDRS: z.string().default(''),
  /** Verify receivers' TLS certificates (turn off only for testing). */
  HERALD_TLS_VERIFY: bool.default(true),
  /** YAML/JSON list of API keys as hashes (`herald keys hash`); required by `herald ingest` unless auth is off. */
  HERALD_API_KEYS_FILE: z.string().optional(),
  /** `required` (default for `herald ingest`) or `off` (default for `herald dev` without a keys file). */
  HERALD_INGEST_AUTH: z.enum(['required', 'off']).default('required'),
  SMTP_URL: z.string().optional(),
  ALERT_EMAIL_TO: z.string().optional(),
  ALERT_EMAIL_FROM: z.string().default('herald@localhost'),
  HERALD_DIGEST_WINDOW: ms.default(parseDuration('1m')),
  HERALD_DIGEST_SUPPRESS: ms.default(parseDuration('1h')),
  /**
   * How long the delivery log keeps an event (its state and attempts at every destination), counted
   * from when it was accepted; `0s` turns the log off. A Destination's `spec.eventLog.retention` overrides it.
   */
  HERALD_EVENT_LOG_RETENTION: ms.default(parseDuration('24h')),
  /** Shown in digest emails so the replay command works where the reader runs it. */
  HERALD_NAMESPACE: z.string().optional(),
});

export type Config = Readonly<z.output<typeof ConfigSchema>>;

export class ConfigError extends Error {
  readonly code = 'HERALD_CONFIG';
  constructor(readonly issues: string[]) {
    super(`invalid configuration:\n  ${issues.join('\n  ')}`);
  }
}

/** Reads configuration from an environment (process.env in cmd/, a literal object in tests). */
export function loadConfig(env: Record<string, string | undefined>, overrides: Partial<Record<keyof z.input<typeof ConfigSchema>, string>> = {}): Config {
  const input: Record<string, string> = {};
  for (const key of Object.keys(ConfigSchema.shape)) {
    const v = (overrides as Record<string, string | undefined>)[key] ?? env[key];
    if (v !== undefined && v !== '') input[key] = v;
  }
  const parsed = ConfigSchema.safeParse(input);
  const issues = [...(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)), ...crossFieldIssues(input)];
  if (!parsed.success || issues.length > 0) throw new ConfigError(issues);
  return Object.freeze(parsed.data);
}

/** Rules between variables, checked on the raw input so they are listed beside the per-field errors. */
function crossFieldIssues(input: Record<string, string>): string[] {
  const issues: string[] = [];
  const sentinel = input.HERALD_REDIS_SENTINELS !== undefined;
  const cluster = input.HERALD_REDIS_CLUSTER_NODES !== undefined;
  if (sentinel && cluster) issues.push('HERALD_REDIS_CLUSTER_NODES: set either HERALD_REDIS_CLUSTER_NODES (Redis Cluster) or HERALD_REDIS_SENTINELS (one primary promoted by Sentinel), not both');
  if (sentinel && input.REDIS_URL !== undefined) issues.push('REDIS_URL: set either REDIS_URL or HERALD_REDIS_SENTINELS, not both');
  if (cluster && input.REDIS_URL !== undefined) issues.push('REDIS_URL: set either REDIS_URL or HERALD_REDIS_CLUSTER_NODES, not both');
  if (sentinel && input.HERALD_REDIS_SENTINEL_NAME === undefined) issues.push('HERALD_REDIS_SENTINEL_NAME: required with HERALD_REDIS_SENTINELS (the name in `sentinel monitor <name> ...`)');
  for (const key of ['HERALD_REDIS_SENTINEL_NAME', 'HERALD_REDIS_SENTINEL_USERNAME', 'HERALD_REDIS_SENTINEL_PASSWORD']) {
    if (!sentinel && input[key] !== undefined) issues.push(`${key}: only used with HERALD_REDIS_SENTINELS`);
  }
  for (const key of ['HERALD_REDIS_USERNAME', 'HERALD_REDIS_PASSWORD', 'HERALD_REDIS_TLS']) {
    // With REDIS_URL these would be silently ignored: its credentials and scheme (rediss://) say it all.
    if (!sentinel && !cluster && input[key] !== undefined) issues.push(`${key}: only used with HERALD_REDIS_SENTINELS or HERALD_REDIS_CLUSTER_NODES; with REDIS_URL put credentials and TLS (rediss://) in the URL`);
  }
  return issues;
}
