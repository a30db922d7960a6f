import { execCommands, type CommandArgs, type RedisClient } from '../redis/client.js';
import { globToRegExp, typeMatcher, type ResolvedDestination } from '../api/destination.js';
import type { EventDelivery, EventLogEntry, EventsPage, EventsQuery } from '../api/event-log.js';
import { timeOfEventId } from '../api/event.js';
import type { DeliveryJobData } from '../redis/delivery-job.js';
import { QUEUE_NAME, type RedisKeys } from '../redis/keys.js';
import { decodeCursor, encodeCursor, isAfter, newestFirst, type LogPosition } from './cursor.js';
import { attemptField, attemptHistory, bucketOf, deliveryState, parseDeliveryRecord, type DeliveryRecord } from './delivery-record.js';
import { eventFacts, visibleTo, type EventFacts, type Viewer } from './event-facts.js';
import { logRetentionMs } from './retention.js';

/** A `cursor` that no page of this log handed out. */
export class InvalidCursorError extends Error {
  readonly code = 'invalid_cursor';
}

export interface EventLogReaderDeps {
  redis: RedisClient;
  keys: RedisKeys;
  /** The destination set now (ingest's watcher, or the registry for the CLI): names, filters, pause and retention. */
  destinations: () => readonly ResolvedDestination[] | Promise<readonly ResolvedDestination[]>;
  /** HERALD_EVENT_LOG_RETENTION (ms), for destinations that do not set their own. */
  defaultRetentionMs: number;
  clock?: () => number;
}

/** Events a page looks at, per item asked for, before it answers with what it found (and a cursor to go on). */
const SCAN_FACTOR = 5;
const MAX_SCAN = 2_000;

/** An event at the destinations whose index holds it, as found. */
interface Found {
  id: string;
  at: number;
  dests: string[];
}

/** What was read of one event: each destination's record, and the event's facts. */
interface Loaded {
  records: Array<DeliveryRecord | undefined>;
  facts: EventFacts | undefined;
}

/**
 * Reads the delivery log: one event with every attempt, or pages of events newest first. The
 * decisions (state, visibility, cursor, record format) are pure functions of their own modules; this
 * class fetches. One event is found from the time its id carries, pages through each destination's
 * index; an event's type and producer come from its records, or, before its first attempt, from its
 * queued job.
 */
export class EventLogReader {
  constructor(private readonly deps: EventLogReaderDeps) {}

  /**
   * The event with its state and attempts at every destination; undefined when it is not in the log
   * (never accepted, past its retention, an id without its time) or `viewer` may not see it. Its
   * records are found from the time in its id; a destination without one has the event when its job
   * is there (queued, not yet attempted).
   */
  async get(id: string, viewer?: Viewer): Promise<EventLogEntry | undefined> {
    const at = timeOfEventId(id, (this.deps.clock ?? Date.now)());
    if (at === undefined) return undefined;
    const dests = await this.deps.destinations();
    const view = this.view(dests);
    const names = dests.map((d) => d.name).filter((n) => view.logged(n) && at >= view.oldest(n));
    const [loaded] = await this.load([{ id, at, dests: names }], false);
    const jobs = await pipelined(this.deps.redis, names.map((n) => ['hexists', this.jobKey(n, id), 'data']));
    const has = names.map((_, i) => loaded!.records[i] !== undefined || jobs[i] === 1);
    if (!has.some(Boolean)) return undefined;
    const found: Found = { id, at, dests: names.filter((_, i) => has[i]) };
    const l: Loaded = { records: loaded!.records.filter((_, i) => has[i]), facts: loaded!.facts ?? (await this.queuedFacts([found]))[0] };
    if (!visibleTo(l.facts, viewer)) return undefined;
    const entry = entryOf(found, l, view.paused, await this.histories(found, l.records));
    // Destinations whose filter, as it is now, does not take the event's type.
    if (l.facts) {
      for (const d of dests) {
        if (!found.dests.includes(d.name) && view.logged(d.name) && !typeMatcher(d.spec)(l.facts.type)) entry.deliveries.push({ destination: d.name, state: 'filtered', attempts: 0 });
      }
    }
    return entry;
  }

  /**
   * A page of events newest first, by the time they were accepted. Looks at most `limit × 5` events
   * (2,000) of the indexes: when filters leave fewer than `limit`, the page is short and `next`
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
    const view = this.view(dests);
    const names = q.destination !== undefined ? [q.destination] : dests.map((d) => d.name);
    const budget = Math.min(q.limit * SCAN_FACTOR, MAX_SCAN);
    const { found: candidates, more: beyond } = await this.candidates(names, q, after, budget, view.oldest);
    const typeRe = q.type !== undefined ? globToRegExp(q.type) : undefined;

    const items: EventLogEntry[] = [];
    let last: LogPosition | undefined;
    let stoppedEarly = false;
    // Read in chunks, so a page that fills early reads little more than it shows.
    for (let start = 0; start < candidates.length && !stoppedEarly; start += q.limit) {
      const chunk = candidates.slice(start, start + q.limit);
      const loaded = await this.load(chunk);
      for (let i = 0; i < chunk.length; i++) {
        const l = loaded[i]!;
        last = chunk[i]!;
        if (!visibleTo(l.facts, viewer) || (typeRe && !(l.facts && typeRe.test(l.facts.type)))) continue;
        const entry = entryOf(chunk[i]!, l, view.paused);
        if (q.status !== undefined && !entry.deliveries.some((d) => d.state === q.status)) continue;
        items.push(entry);
        if (items.length === q.limit) {
          stoppedEarly = i < chunk.length - 1 || start + chunk.length < candidates.length;
          break;
        }
      }
    }
    // More may follow when the page filled before the candidates ran out, or the scan used its whole budget.
    const more = stoppedEarly || beyond;
    return { items, ...(more && last ? { next: encodeCursor(last) } : {}) };
  }

  /** Per destination now: paused or not, whether it keeps a log, and the oldest time its log still holds. */
  private view(dests: readonly ResolvedDestination[]) {
    const now = (this.deps.clock ?? Date.now)();
    const retention = new Map(dests.map((d) => [d.name, logRetentionMs(d.spec, this.deps.defaultRetentionMs)]));
    const paused = new Set(dests.filter((d) => d.spec.paused).map((d) => d.name));
    return {
      paused,
      logged: (name: string) => (retention.get(name) ?? this.deps.defaultRetentionMs) > 0,
      // The index is trimmed only when events arrive: entries past the retention are skipped here.
      oldest: (name: string) => now - (retention.get(name) ?? this.deps.defaultRetentionMs),
    };
  }

  /**
   * Up to `budget` events after `after` in [since, until), newest first (ties by id), from the given
   * indexes, each event once with its destinations. An index member is one ingest write: its events
   * share its time.
   */
  private async candidates(names: readonly string[], q: EventsQuery, after: LogPosition | undefined, budget: number, oldest: (name: string) => number): Promise<{ found: Found[]; more: boolean }> {
    const max = Math.min(after?.at ?? Infinity, q.until !== undefined ? q.until - 1 : Infinity);
    const maxArg = max === Infinity ? '+inf' : String(max);
    const minOf = (name: string) => String(Math.max(q.since ?? -Infinity, oldest(name)));
    const commands: CommandArgs[] = [];
    for (const name of names) {
      const key = this.deps.keys.deliveryLogIndex(name);
      // Writes in the cursor's millisecond may hold events not yet shown: count them, fetch them all.
      commands.push(['zcount', key, maxArg, maxArg], ['zrevrangebyscore', key, maxArg, minOf(name), 'WITHSCORES', 'LIMIT', 0, budget]);
    }
    const replies = await execCommands(this.deps.redis, commands);
    const seen = new Map<string, Found>();
    let more = false;
    for (let n = 0; n < names.length; n++) {
      const ties = Number(replies[2 * n]?.[1] ?? 0);
      let flat = (replies[2 * n + 1]?.[1] as string[] | undefined) ?? [];
      if (after !== undefined && ties > 0 && flat.length >= 2 * budget) {
        flat = await this.deps.redis.zrevrangebyscore(this.deps.keys.deliveryLogIndex(names[n]!), maxArg, minOf(names[n]!), 'WITHSCORES', 'LIMIT', 0, budget + ties);
      }
      if (flat.length >= 2 * budget) more = true;
      for (let i = 0; i < flat.length; i += 2) {
        const at = Number(flat[i + 1]);
        for (const id of flat[i]!.split(',')) {
          const p = { id, at };
          if (after !== undefined && !isAfter(p, after)) continue;
          const had = seen.get(id);
          if (!had) seen.set(id, { ...p, dests: [names[n]!] });
          else if (!had.dests.includes(names[n]!)) had.dests.push(names[n]!);
        }
      }
    }
    const sorted = [...seen.values()].sort(newestFirst);
    return { found: sorted.slice(0, budget), more: more || sorted.length > budget };
  }

  /** Each event's records at its destinations and its facts: from a record, else (`queued`) from its queued job and shared body. */
  private async load(found: readonly Found[], queued = true): Promise<Loaded[]> {
    const { redis, keys } = this.deps;
    const commands: CommandArgs[] = [];
    for (const f of found) for (const d of f.dests) commands.push(['hget', keys.deliveryLog(d, bucketOf(timeOfEventId(f.id) ?? f.at)), f.id]);
    const replies = await execCommands(redis, commands);
    let r = 0;
    const loaded: Loaded[] = found.map((f) => {
      const records = f.dests.map(() => {
        const [err, v] = replies[r++] ?? [null, null];
        return err ? undefined : parseDeliveryRecord(v as string | null);
      });
      const known = records.find((x) => x !== undefined);
      return { records, facts: known ? { type: known.type, ...(known.producer !== undefined ? { producer: known.producer } : {}) } : undefined };
    });
    const unknown = loaded.flatMap((l, i) => (l.facts ? [] : [i]));
    if (queued && unknown.length > 0) {
      const facts = await this.queuedFacts(unknown.map((i) => found[i]!));
      unknown.forEach((i, j) => (loaded[i]!.facts = facts[j]));
    }
    return loaded;
  }

  /** The facts of events not attempted yet: their job is queued and holds the body, or names the shared one. */
  private async queuedFacts(found: readonly Found[]): Promise<Array<EventFacts | undefined>> {
    const { redis, keys } = this.deps;
    const out: Array<EventFacts | undefined> = found.map(() => undefined);
    const asked = found.flatMap((f, i) => (f.dests.length > 0 ? [i] : []));
    const jobs = await pipelined(redis, asked.map((i) => ['hget', this.jobKey(found[i]!.dests[0]!, found[i]!.id), 'data']));
    const shared: number[] = [];
    asked.forEach((i, j) => {
      const data = parseJobData(jobs[j]);
      if (data?.b !== undefined) out[i] = eventFacts(data.b);
      else if (data) shared.push(i);
    });
    if (shared.length > 0) {
      const bodies = await pipelined(redis, shared.map((i) => ['hget', keys.event(found[i]!.id), 'b']));
      shared.forEach((i, j) => {
        if (typeof bodies[j] === 'string') out[i] = eventFacts(bodies[j] as string);
      });
    }
    return out;
  }

  private jobKey(destination: string, id: string): string {
    return `${this.deps.keys.queuePrefix(destination)}:${QUEUE_NAME}:${id}`;
  }

  /** Every attempt of the event at each of its destinations, oldest first. */
  private async histories(found: Found, records: ReadonlyArray<DeliveryRecord | undefined>): Promise<Array<EventDelivery['history']>> {
    const commands: CommandArgs[] = [];
    const asked: boolean[] = records.map((rec, i) => {
      if (!rec || rec.attempts <= 1) return false;
      const fields = Array.from({ length: rec.attempts - 1 }, (_, n) => attemptField(found.id, n + 1));
      commands.push(['hmget', this.deps.keys.deliveryLog(found.dests[i]!, bucketOf(timeOfEventId(found.id) ?? found.at)), ...fields]);
      return true;
    });
    const replies = commands.length > 0 ? await execCommands(this.deps.redis, commands) : [];
    let r = 0;
    return records.map((rec, i) => {
      if (!rec) return [];
      const earlier = asked[i] ? ((replies[r++]?.[1] as Array<string | null> | undefined) ?? []) : [];
      return attemptHistory(rec, earlier);
    });
  }
}

async function pipelined(redis: RedisClient, commands: CommandArgs[]): Promise<unknown[]> {
  const replies = await execCommands(redis, commands);
  return replies.map(([err, v]) => (err ? undefined : v));
}

function parseJobData(v: unknown): DeliveryJobData | undefined {
  if (typeof v !== 'string') return undefined;
  try {
    return JSON.parse(v) as DeliveryJobData;
  } catch {
    return undefined;
  }
}

/** The answer for one event: its deliveries with their derived states; with `histories`, every attempt. */
function entryOf(found: Found, loaded: Loaded, paused: ReadonlySet<string>, histories?: ReadonlyArray<EventDelivery['history']>): EventLogEntry {
  const deliveries: EventDelivery[] = found.dests.map((destination, i) => {
    const record = loaded.records[i];
    const state = deliveryState({ record, paused: paused.has(destination) });
    const d: EventDelivery = { destination, state, attempts: record?.attempts ?? 0 };
    if (state === 'retrying' && record?.nextAttemptAt !== undefined) d.nextAttemptAt = new Date(record.nextAttemptAt).toISOString();
    if (record?.lastAttempt) d.lastAttempt = record.lastAttempt;
    if (histories) d.history = histories[i] ?? [];
    return d;
  });
  const { facts } = loaded;
  return { id: found.id, ...(facts ? { type: facts.type } : {}), ...(facts?.producer !== undefined ? { producer: facts.producer } : {}), acceptedAt: new Date(timeOfEventId(found.id) ?? found.at).toISOString(), deliveries };
}
