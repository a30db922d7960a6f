import { parseArgs } from 'node:util';
import { EVENTS_MAX_LIMIT, EventId, EventsQuery, LISTED_STATES, type AttemptRecord, type EventDelivery, type EventLogEntry } from '../api/event-log.js';
import { DestinationRegistry } from '../redis/destination-registry.js';
import { EventLogReader, InvalidCursorError } from '../event-log/event-log-reader.js';
import { openCliRedis } from './cli-redis.js';
import { intFlag, NotFoundError, parseTime, UsageError, type Env } from './common.js';

export const eventsHelp = `Usage: herald events <show|list> [options]

Reads the delivery log: what happened to each event at each destination (queued, retrying, delivered,
dead, paused, filtered) and every attempt, kept for HERALD_EVENT_LOG_RETENTION (24h) after an event
was accepted (a Destination's spec.eventLog.retention overrides it).

  show ID [--json]
           the event's type, producer and time, its state at every destination, and each attempt
           (time, duration, HTTP status or error, the start of the answer)
  list     [--destination NAME] [--status S] [--since T] [--until T] [--type T] [--limit N]
           [--cursor C] [--json]
           events newest first, N at a time (default 50, at most ${EVENTS_MAX_LIMIT}); --cursor C
           continues where the last page stopped

  S is one of ${LISTED_STATES.join(', ')} (at the destination given, or at any of the event's destinations).
  T for --since/--until is an ISO time (2026-11-29T10:00:00Z) or a duration ago (30m, 2h, 1d).
  T for --type is an event type or a glob (order.*).
  A page may show fewer than N events and still offer more: a page looks at no more than 5×N events.

Examples:
  herald events show evt_0123456789abcdef0123456789abcdef
  herald events list --destination billing --status retrying
  herald events list --since 1h --type 'order.*' --json

Exit status: 0 done, 1 failure or unknown event / destination, 2 wrong usage.
Environment: REDIS_URL, HERALD_REDIS_PREFIX.`;

/** Where an events command writes; the process' stdout unless a test passes its own. */
export interface EventsIo {
  out: (line: string) => void;
}

const processIo = (): EventsIo => ({ out: (l) => process.stdout.write(`${l}\n`) });

export async function runEvents(argv: string[], env: Env, io: EventsIo = processIo()): Promise<void> {
  const [action, ...rest] = argv;
  if (action !== 'show' && action !== 'list') throw new UsageError(`unknown events action "${action ?? ''}": use show or list`);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      destination: { type: 'string' },
      status: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      type: { type: 'string' },
      limit: { type: 'string' },
      cursor: { type: 'string' },
      json: { type: 'boolean' },
    },
    strict: true,
  });
  // Every usage check comes before Redis is touched.
  if (action === 'show') {
    if (positionals.length !== 1) throw new UsageError('show takes one event id: herald events show ID');
    const id = EventId.safeParse(positionals[0]);
    if (!id.success) throw new UsageError(`"${positionals[0]}": ${id.error.issues[0]!.message}`);
    const listOnly = Object.entries(values).filter(([k, v]) => k !== 'json' && v !== undefined);
    if (listOnly.length > 0) throw new UsageError(`--${listOnly[0]![0]} belongs to list, not show`);
    return show(id.data, values.json === true, env, io);
  }
  if (positionals.length > 0) throw new UsageError(`list takes no arguments, got "${positionals[0]}"; use --destination, --status, --type`);
  const query = listQuery(values);
  const conn = await openCliRedis(env, 'events', query.destination);
  try {
    const reader = readerOf(conn);
    const page = await reader.list(query).catch((err: unknown) => {
      throw err instanceof InvalidCursorError ? new UsageError(`--cursor: ${err.message}`) : err;
    });
    if (values.json) {
      io.out(JSON.stringify(page, null, 2));
      return;
    }
    if (page.items.length === 0) io.out(page.next ? 'no matching events in this stretch of the log' : 'no matching events in the log');
    else for (const l of table(page.items)) io.out(l);
    if (page.next) io.out(`more: herald events list${argsAgain(rest)} --cursor ${page.next}`);
  } finally {
    await conn.close();
  }
}

async function show(id: string, json: boolean, env: Env, io: EventsIo): Promise<void> {
  const conn = await openCliRedis(env, 'events', undefined);
  try {
    const entry = await readerOf(conn).get(id);
    if (!entry) throw new NotFoundError(`no event ${id} in the delivery log (never accepted, or past its retention)`);
    if (json) io.out(JSON.stringify(entry, null, 2));
    else for (const l of showLines(entry)) io.out(l);
  } finally {
    await conn.close();
  }
}

function readerOf(conn: Awaited<ReturnType<typeof openCliRedis>>): EventLogReader {
  const registry = new DestinationRegistry(conn.redis, conn.keys);
  return new EventLogReader({ redis: conn.redis, keys: conn.keys, destinations: () => registry.list(), defaultRetentionMs: conn.config.HERALD_EVENT_LOG_RETENTION });
}

/** The list flags as the API's query, validated by the same schema; a bad flag is a usage error naming it. */
function listQuery(values: Record<string, string | boolean | undefined>): EventsQuery {
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const input: Record<string, unknown> = {};
  for (const k of ['destination', 'status', 'type', 'cursor']) if (str(k) !== undefined) input[k] = str(k);
  for (const k of ['since', 'until']) if (str(k) !== undefined) input[k] = new Date(parseTime(str(k)!)).toISOString();
  if (str('limit') !== undefined) input.limit = intFlag('--limit', str('limit')!, 1, EVENTS_MAX_LIMIT);
  const parsed = EventsQuery.safeParse(input);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new UsageError(`--${String(i.path[0] ?? 'since')}: ${i.message}`);
  }
  return parsed.data;
}

/** The list's flags without --cursor, to print the command for the next page. */
function argsAgain(args: string[]): string {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--cursor') i++;
    else if (!args[i]!.startsWith('--cursor=')) out.push(/^[A-Za-z0-9_.:/=@-]+$/.test(args[i]!) ? args[i]! : `'${args[i]!.replace(/'/g, `'\\''`)}'`);
  }
  return out.length ? ` ${out.join(' ')}` : '';
}

/** One line per event: id, time accepted, type, and each destination's state. */
function table(items: readonly EventLogEntry[]): string[] {
  const typeWidth = Math.max(4, ...items.map((i) => (i.type ?? '-').length));
  const header = `${'ID'.padEnd(36)}  ${'ACCEPTED'.padEnd(24)}  ${'TYPE'.padEnd(typeWidth)}  DELIVERIES`;
  return [header, ...items.map((i) => `${i.id.padEnd(36)}  ${i.acceptedAt.padEnd(24)}  ${(i.type ?? '-').padEnd(typeWidth)}  ${i.deliveries.map(brief).join('  ')}`)];
}

function brief(d: EventDelivery): string {
  return `${d.destination}:${d.state}${d.attempts > 1 ? `(${d.attempts})` : ''}`;
}

/** `events show` for a person: the event, a table of destinations, then each destination's attempts as a timeline. */
function showLines(e: EventLogEntry): string[] {
  const width = Math.max(11, ...e.deliveries.map((d) => d.destination.length));
  const lines = [
    `event ${e.id}`,
    `  type      ${e.type ?? '- (records lost)'}`,
    ...(e.producer !== undefined ? [`  producer  ${e.producer}`] : []),
    `  accepted  ${e.acceptedAt}`,
    '',
    `${'DESTINATION'.padEnd(width)}  ${'STATE'.padEnd(9)}  ATTEMPTS  LAST / NEXT`,
    ...e.deliveries.map((d) => `${d.destination.padEnd(width)}  ${d.state.padEnd(9)}  ${String(d.attempts).padEnd(8)}  ${lastOrNext(d)}`),
  ];
  for (const d of e.deliveries) {
    if (!d.history || d.history.length === 0) continue;
    lines.push('', `${d.destination}:`);
    for (const a of d.history) lines.push(attemptLine(a));
    if (d.nextAttemptAt) lines.push(`  next attempt at ${d.nextAttemptAt}`);
  }
  return lines;
}

function lastOrNext(d: EventDelivery): string {
  if (d.state === 'filtered') return 'its type filter does not take this type';
  const last = d.lastAttempt ? `${outcome(d.lastAttempt)} at ${d.lastAttempt.at}` : '-';
  return d.nextAttemptAt ? `${last}; next ${d.nextAttemptAt}` : last;
}

function outcome(a: AttemptRecord): string {
  // The error repeats the status for a plain HTTP failure; say it once.
  return a.error ?? (a.status !== undefined ? `HTTP ${a.status}` : 'ok');
}

function attemptLine(a: AttemptRecord): string {
  return `  #${a.attempt}  ${a.at}  ${String(a.durationMs).padStart(5)} ms  ${outcome(a)}${a.response ? `  response: ${JSON.stringify(a.response)}` : ''}`;
}
