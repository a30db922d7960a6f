import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { EventStore } from '../event-store/event-store.js';
import { DeadLetters, UnknownCursorError, type BatchResult, type DeadLetter, type DeadLetterDetail, type Selection } from '../dead-letters/dead-letters.js';
import { openDeliveryQueue } from '../queue/delivery-queue.js';
import { openCliRedis } from './cli-redis.js';
import { OrderedKeys } from '../ordering/ordered-keys.js';
import { Interrupted, intFlag, NotFoundError, parseTime, UsageError, type Env } from './common.js';
import { count, terminalProgress } from './progress.js';

export const dlqHelp = `Usage: herald dlq <list|show|replay|purge|skip> --destination NAME [options]

Inspects and redrives a destination's dead letters (events that exhausted their retries or failed
permanently). Replayed events keep their id, so receivers can deduplicate on webhook-id.

  list     --destination NAME [--since T] [--until T] [--limit N] [--after ID] [--json]
           newest first, N at a time (default 100); --after ID continues after the last one shown
  show     --destination NAME --id ID [--json]   attempts with status, error and timing, and the body
  replay   --destination NAME [--id ID] [--since T] [--until T] [--rate N] [--dry-run]
  purge    --destination NAME (--id ID | --since T [--until T] | --all [--yes]) [--dry-run]
  skip     --destination NAME --id ID   deletes the dead letter and lets the next event of its
           ordering key go (a key held by spec.ordering.onDeadLetter: block); replay sends it instead

  T is an ISO time (2026-11-29T10:00:00Z) or a duration ago (30m, 2h, 1d). Times print as ISO 8601 (UTC).
  --rate N sends at most N events per second (default 50), so a receiver that just recovered is not flattened.
  --dry-run lists what would be replayed or purged and changes nothing.
  purge --all asks for confirmation on a terminal; --yes confirms in scripts.
  replay and purge show their progress on stderr when it is a terminal; Ctrl-C stops them with a summary.

Exit status: 0 done, 1 failure or unknown destination / dead letter, 2 wrong usage, 130 interrupted.
Environment: REDIS_URL, HERALD_REDIS_PREFIX.`;

/** Where a dlq command writes and reads; the process' streams unless a test passes its own. */
export interface DlqIo {
  out: (line: string) => void;
  err: { isTTY?: boolean; write(s: string): unknown };
  /** Asks a yes/no question; undefined when there is no terminal to ask on. */
  confirm?: (question: string) => Promise<boolean>;
  /** Installs a Ctrl-C handler for the duration of a replay or purge; returns its removal. */
  onInterrupt: (fn: () => void) => () => void;
}

const processIo = (): DlqIo => ({
  out: (l) => process.stdout.write(`${l}\n`),
  err: process.stderr,
  ...(process.stdin.isTTY ? { confirm: askOnTerminal } : {}),
  onInterrupt: (fn) => {
    process.once('SIGINT', fn);
    return () => process.off('SIGINT', fn);
  },
});

async function askOnTerminal(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

export async function runDlq(argv: string[], env: Env, io: DlqIo = processIo()): Promise<void> {
  const [action, ...rest] = argv;
  if (!action || !['list', 'show', 'replay', 'purge', 'skip'].includes(action)) throw new UsageError(`unknown dlq action "${action ?? ''}": use list, show, replay, purge or skip`);
  const { values } = parseArgs({
    args: rest,
    options: {
      destination: { type: 'string' },
      id: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      limit: { type: 'string' },
      after: { type: 'string' },
      rate: { type: 'string' },
      'dry-run': { type: 'boolean' },
      all: { type: 'boolean' },
      yes: { type: 'boolean' },
      json: { type: 'boolean' },
    },
    strict: true,
  });
  // Every usage check comes before Redis is touched.
  const destination = values.destination;
  if (!destination) throw new UsageError('--destination is required');
  const limit = values.limit !== undefined ? intFlag('--limit', values.limit, 1, 10_000) : 100;
  const rate = values.rate !== undefined ? Number(values.rate) : 50;
  if (!(rate > 0) || !Number.isFinite(rate)) throw new UsageError(`--rate: "${values.rate}" is not a positive number of events per second`);
  if (action === 'show' && !values.id) throw new UsageError('show needs --id');
  if (action === 'skip' && !values.id) throw new UsageError('skip needs --id: the dead letter whose key should move on');
  if (action === 'purge' && !values.id && !values.since && !values.all) throw new UsageError('purge needs --id, --since or --all, so nothing is deleted by accident');
  const sel: Selection = {
    ...(values.id ? { id: values.id } : {}),
    ...(values.since ? { since: parseTime(values.since) } : {}),
    ...(values.until ? { until: parseTime(values.until) } : {}),
  };

  const conn = await openCliRedis(env, 'dlq', destination);
  const queue = openDeliveryQueue(conn.redis, conn.keys, destination);
  const dlq = new DeadLetters(queue, new EventStore(conn.redis, conn.keys), { ordered: new OrderedKeys(conn.redis, conn.keys, destination) });
  const { out } = io;
  try {
    switch (action) {
      case 'list': {
        const page = await dlq.page(sel, { limit, ...(values.after ? { after: values.after } : {}) }).catch((err: unknown) => {
          throw err instanceof UnknownCursorError ? new NotFoundError(err.message) : err;
        });
        if (values.json) {
          out(JSON.stringify({ total: page.total, items: page.items.map(isoTimes), ...(page.next ? { next: page.next } : {}) }, null, 2));
          break;
        }
        if (page.total === 0) {
          out(`no dead letters for ${destination}${sel.since !== undefined || sel.until !== undefined ? ' in that time window' : ''}`);
          break;
        }
        out(`showing ${count(page.items.length)} of ${count(page.total)} dead letter${page.total === 1 ? '' : 's'} for ${destination}, newest first`);
        for (const i of page.items) out(listLine(i));
        if (page.next) out(`more: herald dlq list --destination ${destination}${values.since ? ` --since ${values.since}` : ''}${values.until ? ` --until ${values.until}` : ''} --limit ${limit} --after ${page.next}`);
        break;
      }
      case 'show': {
        const d = await dlq.show(values.id!);
        if (!d) throw new NotFoundError(`no dead letter ${values.id} for destination ${destination}`);
        if (values.json) out(JSON.stringify({ ...isoTimes(d), history: d.history, ...(d.body !== undefined ? { body: d.body } : {}) }, null, 2));
        else for (const l of showLines(destination, d)) out(l);
        break;
      }
      case 'skip': {
        const result = await dlq.skip(sel);
        if (result.done === 0) throw new NotFoundError(`no dead letter ${values.id} for destination ${destination}`);
        out(`skipped dead letter ${values.id} of ${destination}: deleted; the next event of its ordering key goes`);
        break;
      }
      case 'replay':
      case 'purge': {
        const verb = action === 'replay' ? 'replayed' : 'purged';
        if (values['dry-run']) {
          const items = await dlq.list(sel, Number.MAX_SAFE_INTEGER);
          for (const i of items) out(listLine(i));
          out(`would ${action} ${count(items.length)} dead letter${items.length === 1 ? '' : 's'} ${action === 'replay' ? 'to' : 'of'} ${destination} (dry run: nothing changed)`);
          break;
        }
        if (action === 'purge' && values.all && !values.yes) {
          const n = await dlq.count();
          const all = n === 1 ? 'the 1 dead letter' : `all ${count(n)} dead letters`;
          if (!io.confirm) throw new UsageError(`purge --all deletes ${all} of ${destination} for good; pass --yes to confirm`);
          if (!(await io.confirm(`Delete ${all} of ${destination} for good? [y/N] `))) {
            out('nothing purged');
            throw new Interrupted('', 1);
          }
        }
        const abort = new AbortController();
        const off = io.onInterrupt(() => abort.abort());
        const progress = terminalProgress(verb, io.err);
        let result: BatchResult;
        try {
          const opts = { onProgress: progress.update, signal: abort.signal };
          result = action === 'replay' ? await dlq.replay(sel, { ...opts, rate }) : await dlq.purge(sel, opts);
        } finally {
          progress.end();
          off();
        }
        const what = `${verb} ${count(result.done)} of ${count(result.total)} dead letter${result.total === 1 ? '' : 's'} ${action === 'replay' ? 'to' : 'of'} ${destination}`;
        if (result.interrupted) {
          out(`interrupted: ${what}; the rest are still dead letters`);
          throw new Interrupted();
        }
        out(what);
        break;
      }
    }
  } finally {
    await queue.close();
    await conn.close();
  }
}

function iso(ms: number): string | null {
  return ms > 0 ? new Date(ms).toISOString() : null;
}

function isoTimes(d: DeadLetter): Omit<DeadLetter, 'queuedAt' | 'failedAt'> & { queuedAt: string | null; failedAt: string | null } {
  return { id: d.id, queuedAt: iso(d.queuedAt), failedAt: iso(d.failedAt), attempts: d.attempts, reason: d.reason };
}

function listLine(i: DeadLetter): string {
  return `${i.id}  failed ${iso(i.failedAt) ?? '-'}  attempts ${i.attempts}  ${i.reason}`;
}

/** `dlq show` for a person: the summary, each attempt on a line, then the body. */
function showLines(destination: string, d: DeadLetterDetail): string[] {
  return [
    `dead letter ${d.id} of ${destination}`,
    `  queued    ${iso(d.queuedAt) ?? '-'}`,
    `  failed    ${iso(d.failedAt) ?? '-'}`,
    `  attempts  ${d.attempts}`,
    `  reason    ${d.reason}`,
    '',
    d.history.length ? 'attempts:' : 'attempts: none recorded',
    // The error repeats the status for a plain HTTP failure; say it once.
    ...d.history.map((a) => `  #${a.attempt}  ${a.at}  ${a.durationMs} ms  ${a.error ?? (a.status !== undefined ? `HTTP ${a.status}` : '-')}${a.response ? `  response: ${a.response}` : ''}`),
    '',
    d.body !== undefined ? 'body:' : 'body: gone (purged)',
    ...(d.body !== undefined ? JSON.stringify(d.body, null, 2).split('\n').map((l) => `  ${l}`) : []),
  ];
}
