import type { Redis } from 'ioredis';
import { globToRegExp, type ResolvedDestination } from '../api/destination.js';
import type { EventDelivery, EventLogEntry, EventsPage, EventsQuery } from '../api/event-log.js';
import type { RedisKeys } from '../redis/keys.js';
import { decodeCursor, encodeCursor, isAfter, newestFirst, type LogPosition } from './cursor.js';
import { deliveryState, parseDeliveryRecord } from './delivery-record.js';
import { parseEventMeta, visibleTo, type EventMeta, type Viewer } from './event-meta.js';

/** A `cursor` that no page of this log handed out. */
export class InvalidCursorError extends Error {
  readonly code = 'invalid_cursor';
}

export interface EventLogReaderDeps {
  redis: Redis;
  keys: RedisKeys;
  /** The destination set now (ingest's watcher, or the registry for the CLI): names to list and which are paused. */
  destinations: () => readonly ResolvedDestination[] | Promise<readonly ResolvedDestination[]>;
}

/** Events a page looks at, per item asked for, before it answers with what it found (and a cursor to go on). */
const SCAN_FACTOR = 5;
const MAX_SCAN = 2_000;

/**
 * Reads the delivery log: one event with every attempt, or pages of events newest first. Pure
 * decisions (state, visibility, cursor) live in their own modules; this class only fetches.
 */
export class EventLogReader {
  constructor(private readonly deps: EventLogReaderDeps) {}

  /** The event with its state and attempts at every destination; undefined when it is not in the log or `viewer` may not see it. */
  async get(id: string, viewer?: Viewer): Promise<EventLogEntry | undefined> {
    const meta = parseEventMeta(await this.deps.redis.get(this.deps.keys.eventLog(id)));
    if (!meta || !visibleTo(meta, viewer)) return undefined;
    const paused = pausedSet(await this.deps.destinations());
    const pipe = this.deps.redis.pipeline();
    for (const d of meta.routed) pipe.hgetall(this.deps.keys.deliveryLog(d, id));
    const hashes = ((await pipe.exec()) ?? []).map(([err, v]) => (err ? undefined : (v as Record<string, string>)));
    return entryOf(id, meta, hashes, paused, true);
  }

  /**
   * A page of events newest first, by the time they were accepted. Looks at most `limit × 5` events
   * (2,000) of the index: when filters leave fewer than `limit`, the page is short and `next`
   * continues where it stopped, so a page never takes long however sparse the matches.
   * @throws InvalidCursorError
   */
  async list(q: EventsQuery, viewer?: Viewer): Promise<EventsPage> {
    let after: LogPosition | undefined;
    if (q.cursor !== undefined) {
      after = decodeCursor(q.cursor);
      if (!after) throw new InvalidCursorError('cursor is not one a page of GET /events handed out; start again without it');
    }
    const dests = await this.deps.destinations();
    const names = q.destination !== undefined ? [q.destination] : dests.map((d) => d.name);
    const paused = pausedSet(dests);
    const budget = Math.min(q.limit * SCAN_FACTOR, MAX_SCAN);
    const candidates = await this.candidates(names, q, after, budget);
    const typeRe = q.type !== undefined ? globToRegExp(q.type) : undefined;

    const items: EventLogEntry[] = [];
    let last: LogPosition | undefined;
    let stoppedEarly = false;
    // Metas and records in chunks, so a page that fills early reads little more than it shows.
    for (let start = 0; start < candidates.length && !stoppedEarly; start += q.limit) {
      const chunk = candidates.slice(start, start + q.limit);
      const loaded = await this.load(chunk, q.destination);
      for (let i = 0; i < chunk.length; i++) {
        const { meta, hashes } = loaded[i]!;
        last = chunk[i]!;
        if (!meta || !visibleTo(meta, viewer) || (typeRe && !typeRe.test(meta.type))) continue;
        const entry = entryOf(chunk[i]!.id, meta, hashes, paused, false, q.destination);
        if (q.status !== undefined && !entry.deliveries.some((d) => d.state === q.status)) continue;
        items.push(entry);
        if (items.length === q.limit) {
          stoppedEarly = i < chunk.length - 1 || start + chunk.length < candidates.length;
          break;
        }
      }
    }
    // More may follow when the page filled before the candidates ran out, or the scan used its whole budget.
    const more = stoppedEarly || candidates.length === budget;
    return { items, ...(more && last ? { next: encodeCursor(last) } : {}) };
  }

  /** Up to `budget` positions after `after` in [since, until), newest first, from every destination's index, each event once. */
  private async candidates(names: readonly string[], q: EventsQuery, after: LogPosition | undefined, budget: number): Promise<LogPosition[]> {
    const max = after !== undefined ? Math.min(after.at, q.until !== undefined ? q.until - 1 : Infinity) : q.until !== undefined ? q.until - 1 : Infinity;
    const maxArg = max === Infinity ? '+inf' : String(max);
    const minArg = q.since !== undefined ? String(q.since) : '-inf';
    const pipe = this.deps.redis.pipeline();
    for (const name of names) {
      const key = this.deps.keys.deliveryLogIndex(name);
      // Events accepted in the cursor's millisecond and not yet shown sort after it by id: fetch them too.
      pipe.zcount(key, maxArg, maxArg);
      pipe.zrevrangebyscore(key, maxArg, minArg, 'WITHSCORES', 'LIMIT', 0, budget);
    }
    const replies = (await pipe.exec()) ?? [];
    const seen = new Map<string, LogPosition>();
    for (let n = 0; n < names.length; n++) {
      const ties = Number(replies[2 * n]?.[1] ?? 0);
      let flat = (replies[2 * n + 1]?.[1] as string[] | undefined) ?? [];
      if (after !== undefined && ties > 0 && flat.length >= 2 * budget) {
        flat = (await this.deps.redis.zrevrangebyscore(this.deps.keys.deliveryLogIndex(names[n]!), maxArg, minArg, 'WITHSCORES', 'LIMIT', 0, budget + ties)) ?? [];
      }
      for (let i = 0; i < flat.length; i += 2) {
        const p = { id: flat[i]!, at: Number(flat[i + 1]) };
        if (after !== undefined && !isAfter(p, after)) continue;
        const had = seen.get(p.id);
        if (!had || p.at > had.at) seen.set(p.id, p);
      }
    }
    return [...seen.values()].sort(newestFirst).slice(0, budget);
  }

  /** Each position's event record and its delivery records (one destination's, or every routed one). */
  private async load(chunk: readonly LogPosition[], destination: string | undefined): Promise<Array<{ meta: EventMeta | undefined; hashes: Array<Record<string, string> | undefined> }>> {
    const metas = await this.deps.redis.mget(chunk.map((p) => this.deps.keys.eventLog(p.id)));
    const parsed = metas.map((m) => parseEventMeta(m));
    const pipe = this.deps.redis.pipeline();
    const counts: number[] = [];
    parsed.forEach((meta, i) => {
      const dests = meta ? (destination !== undefined ? [destination] : meta.routed) : [];
      counts.push(dests.length);
      for (const d of dests) pipe.hgetall(this.deps.keys.deliveryLog(d, chunk[i]!.id));
    });
    const replies = counts.some((c) => c > 0) ? ((await pipe.exec()) ?? []) : [];
    let r = 0;
    return parsed.map((meta, i) => {
      const hashes: Array<Record<string, string> | undefined> = [];
      for (let c = 0; c < counts[i]!; c++, r++) {
        const [err, v] = replies[r] ?? [null, undefined];
        hashes.push(err ? undefined : (v as Record<string, string>));
      }
      return { meta, hashes };
    });
  }
}

function pausedSet(dests: readonly ResolvedDestination[]): Set<string> {
  return new Set(dests.filter((d) => d.spec.paused).map((d) => d.name));
}

/**
 * The answer for one event: its deliveries (those routed, in `hashes` order, then those its filters
 * skipped; only `only` when given) with their derived states; `full` adds every attempt.
 */
function entryOf(id: string, meta: EventMeta, hashes: ReadonlyArray<Record<string, string> | undefined>, paused: ReadonlySet<string>, full: boolean, only?: string): EventLogEntry {
  const routed = only !== undefined ? [only] : meta.routed;
  const deliveries: EventDelivery[] = routed.map((destination, i) => {
    const record = parseDeliveryRecord(hashes[i]);
    const state = deliveryState({ filtered: false, record, paused: paused.has(destination) });
    const attempts = record?.attempts ?? [];
    const d: EventDelivery = { destination, state, attempts: attempts.length === 0 ? 0 : attempts[attempts.length - 1]!.attempt };
    if (state === 'retrying' && record?.nextAttemptAt !== undefined) d.nextAttemptAt = new Date(record.nextAttemptAt).toISOString();
    if (attempts.length > 0) d.lastAttempt = attempts[attempts.length - 1]!;
    if (full) d.history = attempts;
    return d;
  });
  if (only === undefined) for (const destination of meta.filtered) deliveries.push({ destination, state: 'filtered', attempts: 0 });
  return { id, type: meta.type, ...(meta.producer !== undefined ? { producer: meta.producer } : {}), acceptedAt: new Date(meta.acceptedAt).toISOString(), deliveries };
}
