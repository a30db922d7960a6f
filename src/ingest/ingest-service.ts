import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { DEFAULT_EVENT_TYPE, type DeliveryBody, type IngestEvent } from '../api/event.js';
import { typeMatcher, type ResolvedDestination } from '../api/destination.js';
import { resolveRetryPolicy } from '../delivery/retry-policy.js';
import type { EventStore } from '../events/event-store.js';
import type { IngestMetrics } from '../metrics/metrics.js';
import { deliveryJobOptions, type DeliveryQueues } from '../queue/delivery-queue.js';
import type { RedisKeys } from '../redis/keys.js';
import { IdempotencyConflictError, IngestError, StoreUnavailableError } from './errors.js';

export interface AcceptResult {
  id: string;
  /** How many destinations the event was queued for. */
  destinations: number;
  /** True when an Idempotency-Key matched an earlier request and nothing new was stored. */
  duplicate: boolean;
}

export interface IngestRequest {
  event: IngestEvent;
  idempotencyKey?: string;
  /** Whose key scopes idempotency (the API key's principal; "anonymous" without auth). */
  scope?: string;
  /** Recorded on the event so receivers and operators can tell producers apart. */
  producer?: string;
}

interface Route {
  name: string;
  matches: (type: string) => boolean;
  maxAttempts: number;
}

interface IdemRecord {
  id: string;
  /** Hash of the event, so the same key with a different body is refused rather than silently deduplicated. */
  h: string;
  done: boolean;
}

/**
 * Accepts events: stores each body once, then queues one delivery per matching destination.
 * It returns only after every write succeeded, so a 202 always means the event is durable in Redis.
 */
export class IngestService {
  private routes: Route[] = [];

  constructor(
    private readonly deps: {
      redis: Redis;
      keys: RedisKeys;
      events: EventStore;
      queues: DeliveryQueues;
      metrics: IngestMetrics;
      idempotencyTtlMs: number;
      /** Refuses new events while Redis is nearly full. */
      isStoreNearlyFull?: () => boolean;
      clock?: () => number;
      newId?: () => string;
    },
  ) {}

  /** Replaces the routing table; compiled once per change, not per event. */
  setDestinations(dests: readonly ResolvedDestination[]): void {
    this.routes = dests.map((d) => ({ name: d.name, matches: typeMatcher(d.spec), maxAttempts: resolveRetryPolicy(d.spec.retry).maxAttempts }));
    void this.deps.queues.retain(new Set(dests.map((d) => d.name)));
  }

  get destinationCount(): number {
    return this.routes.length;
  }

  async accept(req: IngestRequest): Promise<AcceptResult> {
    const [result] = await this.acceptMany([req]);
    return result!;
  }

  /**
   * Accepts several events with one round of Redis writes per destination (batch ingest).
   * All-or-nothing per call: on a Redis error nothing is reported as accepted.
   */
  async acceptMany(reqs: IngestRequest[]): Promise<AcceptResult[]> {
    const now = (this.deps.clock ?? Date.now)();
    const newId = this.deps.newId ?? (() => `evt_${randomUUID().replaceAll('-', '')}`);
    if (this.deps.isStoreNearlyFull?.()) throw new StoreUnavailableError(new Error('Redis is above its high-water mark'));
    try {
      const prepared = await Promise.all(reqs.map((r) => this.prepare(r, now, newId)));
      const fresh = prepared.filter((p) => !p.result.duplicate || p.resume);
      if (fresh.length > 0) await this.store(fresh, now);
      await Promise.all(prepared.filter((p) => p.idemKey && !p.result.duplicate).map((p) => this.markDone(p.idemKey!, p.record!)));
      for (const p of prepared) this.deps.metrics.events.inc({ result: p.result.duplicate ? 'duplicate' : 'accepted' });
      return prepared.map((p) => p.result);
    } catch (err) {
      if (err instanceof IngestError) throw err;
      throw new StoreUnavailableError(err);
    }
  }

  private async prepare(req: IngestRequest, now: number, newId: () => string) {
    const type = req.event.type ?? DEFAULT_EVENT_TYPE;
    const routes = this.routes.filter((r) => r.matches(type));
    let id = newId();
    let duplicate = false;
    let resume = false;
    let idemKey: string | undefined;
    let record: IdemRecord | undefined;
    if (req.idempotencyKey !== undefined) {
      idemKey = this.deps.keys.idempotency(req.scope ?? 'anonymous', req.idempotencyKey);
      record = { id, h: hashEvent(req.event), done: false };
      const set = await this.deps.redis.set(idemKey, JSON.stringify(record), 'PX', this.deps.idempotencyTtlMs, 'NX');
      if (set === null) {
        const existing = await this.deps.redis.get(idemKey);
        if (existing !== null) {
          const prev = JSON.parse(existing) as IdemRecord;
          if (prev.h !== record.h) throw new IdempotencyConflictError();
          id = prev.id;
          duplicate = true;
          // A request that died between storing and marking done is completed now; delivery jobs use the
          // event id as job id, so queues that already have it are not given a second copy.
          resume = !prev.done;
          record = prev;
        }
      }
    }
    const body: DeliveryBody & { producer?: string } = {
      id,
      type,
      timestamp: new Date(now).toISOString(),
      userID: req.event.userID,
      payload: req.event.payload,
      ...(req.producer ? { producer: req.producer } : {}),
    };
    return { result: { id, destinations: routes.length, duplicate }, routes, body: JSON.stringify(body), idemKey, record, resume };
  }

  private async store(items: Array<{ result: AcceptResult; routes: Route[]; body: string; resume: boolean }>, now: number): Promise<void> {
    const routed = items.filter((i) => i.routes.length > 0);
    if (routed.length === 0) return;
    // Bodies first: a worker must never pick up a job whose body is not there yet.
    const m = this.deps.redis.multi();
    const fresh: string[] = [];
    for (const i of routed) {
      const names = i.routes.map((r) => r.name);
      if (i.resume) await this.deps.events.put(i.result.id, { body: i.body, acceptedAt: now }, names);
      else {
        this.deps.events.putNew(m, i.result.id, { body: i.body, acceptedAt: now }, names);
        fresh.push(i.result.id);
      }
    }
    try {
      const res = await m.exec();
      for (const [err] of res ?? []) if (err) throw err;
      await this.enqueue(routed);
    } catch (err) {
      // The client is told nothing was stored, so leave nothing behind: a delivery job that did get
      // queued finds no body and is dropped, and the client's retry is a new event (or, with an
      // Idempotency-Key, completes this one from scratch).
      await this.deps.events.discard(fresh).catch(() => undefined);
      throw err;
    }
  }

  private async enqueue(routed: Array<{ result: AcceptResult; routes: Route[] }>): Promise<void> {
    const perDest = new Map<string, { maxAttempts: number; ids: string[] }>();
    for (const i of routed) {
      for (const r of i.routes) {
        const entry = perDest.get(r.name) ?? { maxAttempts: r.maxAttempts, ids: [] };
        entry.ids.push(i.result.id);
        perDest.set(r.name, entry);
      }
    }
    await Promise.all(
      [...perDest].map(async ([name, { maxAttempts, ids }]) => {
        const q = this.deps.queues.get(name);
        if (ids.length === 1) await q.add('d', { e: ids[0]! }, deliveryJobOptions(ids[0]!, { maxAttempts }));
        else await q.addBulk(ids.map((id) => ({ name: 'd', data: { e: id }, opts: deliveryJobOptions(id, { maxAttempts }) })));
        this.deps.metrics.enqueued.inc({ destination: name }, ids.length);
      }),
    );
  }

  private async markDone(key: string, record: IdemRecord): Promise<void> {
    await this.deps.redis.set(key, JSON.stringify({ ...record, done: true }), 'KEEPTTL', 'XX');
  }
}

function hashEvent(e: IngestEvent): string {
  return createHash('sha256').update(JSON.stringify([e.userID, e.type ?? null, e.payload])).digest('base64url');
}
