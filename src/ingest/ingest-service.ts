import { createHash, randomUUID } from 'node:crypto';
import type { RedisClient } from '../redis/client.js';
import type { Counter } from 'prom-client';
import { DEFAULT_EVENT_TYPE, type IngestEvent } from '../api/event.js';
import { typeMatcher, type ResolvedDestination } from '../api/destination.js';
import { resolveRetryPolicy } from '../delivery/retry-policy.js';
import { EventStore } from '../event-store/event-store.js';
import { logRetentionMs } from '../event-log/retention.js';
import { childrenBy, type IngestMetrics } from '../metrics/metrics.js';
import { DELIVERY_JOB_NAME, DeliveryEnqueuer, pushJobArgs, type QueuedDelivery } from '../queue/enqueue.js';
import { EVENT_STREAM_MAX_LEN } from '../queue/delivery-queue.js';
import type { Logger } from '../log/logger.js';
import { writeScripts, type WriteScripts } from './write-script.js';
import { WriteTracker } from './write-tracker.js';
import { SlotWrites, type SlotWrite } from './slot-writes.js';
import { PartialWrite, partialAnswer } from './partial-write.js';
import { isCluster } from '../redis/client.js';
import type { RedisKeys } from '../redis/keys.js';
import { fencedWriteError, IdempotencyConflictError, IngestError, StoreUnavailableError } from './errors.js';
import { assertAofSynced, assertReplicated, type ReplicationPlan } from './durability.js';
import { deliveryBodyJson } from './delivery-body.js';
import { newEventId } from './event-id.js';
import { MicroBatch } from './micro-batch.js';
import { BODY_MODE_ARG, bodyLayout, jobCarriesBody, type BodyLayout, type EarlierAttempt } from './body-layout.js';
import { orderingKeyOf, parseKeySource, type OrderingKeySource, type RequestHeaders } from '../ordering/ordering-key.js';

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
  /** The request's headers an ordering key may come from ({@link IngestService.orderingHeaders}), by lower-case name. */
  headers?: RequestHeaders;
}

interface Route {
  name: string;
  matches: (type: string) => boolean;
  maxAttempts: number;
  /** How long the delivery log keeps this destination's events (ms); 0: not logged. */
  logRetentionMs: number;
  /** Where the destination's ordering key comes from, when it orders deliveries (ADR 0013). */
  ordering: OrderingKeySource | undefined;
  /** Its ordering keys' base (RedisKeys.ordering), or '' when it does not order. */
  orderingBase: string;
}

/** The destinations of one event type, and what storing an event for them writes; made once per type. */
interface Routing {
  routes: Route[];
  /** The holder fields a fresh body of this type is stored with (EventStore.holders). */
  holders: string[];
  /** The type as it appears in the delivery body. */
  typeJson: string;
}

/** Event types whose routing is remembered; past this the memo starts over (types are few in practice). */
const MAX_ROUTINGS = 1024;

/** An event ready to be written: its body serialised once and the destinations it goes to. */
interface Prepared {
  result: AcceptResult;
  routing: Routing;
  /** Read for ordering keys only. */
  req: IngestRequest;
  body: string;
  acceptedAt: number;
  idemKey: string | undefined;
  record: IdemRecord | undefined;
  /** Where the write puts the body (body-layout.ts); `none` is not written at all. */
  layout: BodyLayout;
}

/**
 * Events one Redis write carries at most; a write that reaches it goes out at once, not at the end of
 * the turn. At 100 a full batch request is a write of its own, which Redis runs while ingest parses
 * the next one. At 1,000 ten batches shared one write, and ingest and Redis took turns idling:
 * batch ingest at one destination ×1.36 events/s for the change (docs/performance.md).
 */
const MAX_WRITE_EVENTS = 100;

/** How long a replica's write journal outlives its last write: a day, far past any write in doubt. */
const JOURNAL_TTL_MS = 24 * 3600_000;
const JOURNAL_TTL_MS_ARG = String(JOURNAL_TTL_MS);
const SETTLE_TIMEOUT_MS = 30_000;
const WAITAOF_TIMEOUT_MS_ARG = '2000';
const EVENT_STREAM_MAX_LEN_ARG = String(EVENT_STREAM_MAX_LEN);

interface IdemRecord {
  id: string;
  /** Hash of the event, so the same key with a different body is refused rather than silently deduplicated. */
  h: string;
  done: boolean;
  /** On a Redis Cluster, after a partial failure: the destinations the event is stored for, which a retry skips. */
  stored?: string[];
}

/**
 * Accepts events: stores each body once, then queues one delivery per matching destination.
 * It returns only after every write succeeded, so a 202 always means the event is durable in Redis.
 */
export class IngestService {
  private routes: Route[] = [];
  private headerNames: readonly string[] = [];
  private readonly routings = new Map<string, Routing>();
  private readonly writes: MicroBatch<Prepared>;
  private readonly enqueuer: DeliveryEnqueuer;
  private readonly writeScripts: WriteScripts;
  /** This replica's write journal (WriteTracker). */
  private readonly journal: string;
  private readonly tracker: WriteTracker;
  /** On a Redis Cluster: the per-destination writes that replace the one-script write (ADR 0015). */
  private readonly slotWrites: SlotWrites | undefined;
  private readonly newId: () => string;
  private readonly metrics: { accepted: Counter.Internal; duplicate: Counter.Internal; unrouted: Counter };
  /** `enqueued` children by destination, so a write does not hash a label set per destination. */
  private readonly enqueuedCounter: (destination: string) => Counter.Internal;
  private lastTimestamp = { at: NaN, json: '' };

  constructor(
    private readonly deps: {
      redis: RedisClient;
      keys: RedisKeys;
      events: EventStore;
      /**
       * The connection bodies and delivery jobs are written on, one flush after the other with no wait
       * between them. It must not auto-pipeline (that would defer the jobs' write, not the bodies').
       */
      writeRedis: RedisClient;
      metrics: IngestMetrics;
      idempotencyTtlMs: number;
      /** HERALD_EVENT_LOG_RETENTION (ms): how long the delivery log keeps events, unless a destination says otherwise; default 0, no log. */
      eventLogRetentionMs?: number;
      /** Refuses new events while Redis is nearly full. */
      isStoreNearlyFull?: () => boolean;
      clock?: () => number;
      newId?: () => string;
      /** After each write, WAITAOF until the local AOF has it on disk (HERALD_DURABILITY=strict on Redis 7.2+ without appendfsync always). */
      waitAof?: boolean;
      /** After each write (and its WAITAOF), WAIT until this many replicas have it (HERALD_ACK_REPLICAS). */
      replication?: ReplicationPlan;
      /** How long a write interrupted by a lost connection waits for Redis to say whether it was applied; default 30 s. */
      settleTimeoutMs?: number;
      logger?: Logger;
    },
  ) {
    this.writes = new MicroBatch((items) => this.store(items), { maxItems: MAX_WRITE_EVENTS });
    this.enqueuer = new DeliveryEnqueuer(deps.writeRedis, deps.keys);
    this.writeScripts = writeScripts(deps.writeRedis);
    const instance = randomUUID();
    this.journal = deps.keys.ingestWrites(instance);
    const plan = deps.replication;
    this.slotWrites = isCluster(deps.writeRedis)
      ? new SlotWrites({
          redis: deps.writeRedis,
          keys: deps.keys,
          instance,
          journalTtlMs: JOURNAL_TTL_MS,
          settleTimeoutMs: deps.settleTimeoutMs ?? SETTLE_TIMEOUT_MS,
          waitAof: deps.waitAof ?? false,
          waitAofTimeoutMs: Number(WAITAOF_TIMEOUT_MS_ARG),
          ...(plan ? { replication: plan } : {}),
          ...(deps.logger ? { logger: deps.logger } : {}),
        })
      : undefined;
    this.tracker = new WriteTracker({
      redis: deps.writeRedis,
      check: this.writeScripts.check,
      journal: this.journal,
      journalTtlMs: JOURNAL_TTL_MS,
      settleTimeoutMs: deps.settleTimeoutMs ?? SETTLE_TIMEOUT_MS,
      // A write settled as applied after a failover is on the new primary, maybe on no replica yet.
      ...(plan ? { confirmSettled: () => this.waitForReplicas(deps.writeRedis, plan) } : {}),
      ...(deps.logger ? { logger: deps.logger } : {}),
    });
    this.newId = deps.newId ?? newEventId;
    this.metrics = { accepted: deps.metrics.events.labels({ result: 'accepted' }), duplicate: deps.metrics.events.labels({ result: 'duplicate' }), unrouted: deps.metrics.unrouted };
    this.enqueuedCounter = childrenBy((destination: string) => deps.metrics.enqueued.labels({ destination }));
  }

  /** Opens what the write needs before the first event: on a Redis Cluster, a connection to every primary. */
  async connect(): Promise<void> {
    await this.slotWrites?.connect();
  }

  /**
   * Claims a batch's Idempotency-Key for `items` (the batch as parsed): the first request with the key
   * records a hash of the whole batch; a later one with the same batch goes on (each event then has
   * its own key, `batchEventKey`, which gives it its first id again); one with another batch gets 422.
   * One round trip (two for a repeat), only for batches that carry the header.
   * @throws IdempotencyConflictError, StoreUnavailableError
   */
  async claimBatchKey(scope: string | undefined, key: string, items: readonly unknown[]): Promise<void> {
    const redisKey = this.deps.keys.batchIdempotency(scope ?? 'anonymous', key);
    const h = createHash('sha256').update(JSON.stringify(items)).digest('base64url');
    let previous: string | null = null;
    try {
      // Not SET NX GET: that needs Redis 7; a repeat costs a second round trip instead.
      if ((await this.deps.redis.set(redisKey, h, 'PX', this.deps.idempotencyTtlMs, 'NX')) === null) previous = await this.deps.redis.get(redisKey);
    } catch (err) {
      throw new StoreUnavailableError(err);
    }
    if (previous !== null && previous !== h) throw new IdempotencyConflictError();
  }

  /** Replaces the routing table; compiled once per change, not per event. */
  setDestinations(dests: readonly ResolvedDestination[]): void {
    const defaultRetention = this.deps.eventLogRetentionMs ?? 0;
    this.routes = dests.map((d) => {
      const ordering = d.spec.ordering ? parseKeySource(d.spec.ordering.key) : undefined;
      return { name: d.name, matches: typeMatcher(d.spec), maxAttempts: resolveRetryPolicy(d.spec.retry).maxAttempts, logRetentionMs: logRetentionMs(d.spec, defaultRetention), ordering, orderingBase: ordering ? this.deps.keys.ordering(d.name) : '' };
    });
    this.headerNames = [...new Set(this.routes.flatMap((r) => (r.ordering?.from === 'header' ? [r.ordering.header] : [])))];
    this.routings.clear();
  }

  /** Lower-case names of the request headers some destination takes its ordering key from; ingest passes these in IngestRequest.headers. */
  get orderingHeaders(): readonly string[] {
    return this.headerNames;
  }

  private routingFor(type: string): Routing {
    let routing = this.routings.get(type);
    if (!routing) {
      const routes = this.routes.filter((r) => r.matches(type));
      routing = { routes, holders: EventStore.holders(routes.map((r) => r.name)), typeJson: JSON.stringify(type) };
      if (this.routings.size >= MAX_ROUTINGS) this.routings.clear();
      this.routings.set(type, routing);
    }
    return routing;
  }

  get destinationCount(): number {
    return this.routes.length;
  }

  async accept(req: IngestRequest): Promise<AcceptResult> {
    const [result] = await this.acceptMany([req]);
    return result!;
  }

  /**
   * Accepts events; concurrent calls made in the same event-loop turn share one round of Redis writes
   * (one pipeline of bodies, one add per destination), so single-event requests under load cost about
   * what a batch does. All-or-nothing per call: a call resolves only once its own events are stored,
   * and on a Redis error it reports nothing as accepted (as does every call that shared the write).
   */
  async acceptMany(reqs: IngestRequest[]): Promise<AcceptResult[]> {
    const now = (this.deps.clock ?? Date.now)();
    if (this.deps.isStoreNearlyFull?.()) throw new StoreUnavailableError(new Error('Redis is above its high-water mark'));
    try {
      const timestampJson = this.timestampJson(now);
      // Events without an Idempotency-Key are prepared synchronously: at 100 events a batch, a promise
      // each was a tenth of ingest's CPU. Only a key's lookup waits for Redis.
      const prepared: Prepared[] = new Array<Prepared>(reqs.length);
      let lookups: Array<Promise<void>> | undefined;
      for (let i = 0; i < reqs.length; i++) {
        const req = reqs[i]!;
        if (req.idempotencyKey === undefined) prepared[i] = this.prepare(req, this.newId(), now, timestampJson);
        else (lookups ??= []).push(this.prepareIdempotent(req, now, timestampJson).then((p) => void (prepared[i] = p)));
      }
      if (lookups) await Promise.all(lookups);
      let unrouted = 0;
      const toStore = prepared.filter((p) => {
        if (p.routing.routes.length === 0 && !p.result.duplicate) unrouted++;
        return p.layout !== 'none';
      });
      if (toStore.length > 0) {
        try {
          await this.writes.submit(toStore);
        } catch (err) {
          // On a Cluster a write shared with other requests may have failed only at destinations this one does not use.
          if (!(err instanceof PartialWrite)) throw err;
          const mine = toStore.flatMap((p) => p.routing.routes.map((r) => r.name));
          if (!err.covers(mine)) throw partialAnswer(err.outcomes, mine);
        }
      }
      if (this.deps.replication && lookups) await this.replicateDuplicates(prepared, this.deps.replication);
      let duplicates = 0;
      if (lookups) {
        // Records of stored events were marked done by the write; an unrouted event's is marked here.
        await Promise.all(prepared.filter((p) => p.idemKey && !p.result.duplicate && p.routing.routes.length === 0).map((p) => this.markDone(p.idemKey!, p.record!)));
        for (const p of prepared) if (p.result.duplicate) duplicates++;
      }
      if (duplicates > 0) this.metrics.duplicate.inc(duplicates);
      if (duplicates < prepared.length) this.metrics.accepted.inc(prepared.length - duplicates);
      if (unrouted > 0) this.metrics.unrouted.inc(unrouted);
      return prepared.map((p) => p.result);
    } catch (err) {
      if (err instanceof IngestError) throw err;
      throw new StoreUnavailableError(err);
    }
  }

  /** `now` as the delivery body's JSON timestamp; requests in the same millisecond share one. */
  private timestampJson(now: number): string {
    if (now !== this.lastTimestamp.at) this.lastTimestamp = { at: now, json: JSON.stringify(new Date(now).toISOString()) };
    return this.lastTimestamp.json;
  }

  /** An event with id `id`: its routing, its delivery body (serialised once) and its body layout. */
  private prepare(req: IngestRequest, id: string, now: number, timestampJson: string, earlier: EarlierAttempt = 'none'): Prepared {
    const routing = this.routingFor(req.event.type ?? DEFAULT_EVENT_TYPE);
    return {
      result: { id, destinations: routing.routes.length, duplicate: earlier !== 'none' },
      routing,
      req,
      body: deliveryBodyJson(id, routing.typeJson, timestampJson, req.event, req.producer),
      acceptedAt: now,
      idemKey: undefined,
      record: undefined,
      layout: bodyLayout(routing.routes.length, earlier),
    };
  }

  private async prepareIdempotent(req: IngestRequest, now: number, timestampJson: string): Promise<Prepared> {
    const idemKey = this.deps.keys.idempotency(req.scope ?? 'anonymous', req.idempotencyKey!);
    let record: IdemRecord = { id: this.newId(), h: hashEvent(req.event), done: false };
    let earlier: EarlierAttempt = 'none';
    const set = await this.deps.redis.set(idemKey, JSON.stringify(record), 'PX', this.deps.idempotencyTtlMs, 'NX');
    if (set === null) {
      const existing = await this.deps.redis.get(idemKey);
      if (existing !== null) {
        const prev = JSON.parse(existing) as IdemRecord;
        if (prev.h !== record.h) throw new IdempotencyConflictError();
        // A request that died between storing and marking done is completed now; delivery jobs use the
        // event id as job id, so queues that already have it are not given a second copy.
        earlier = prev.done ? 'done' : 'unfinished';
        record = prev;
      }
    }
    const prepared = this.prepare(req, record.id, now, timestampJson, earlier);
    prepared.idemKey = idemKey;
    prepared.record = record;
    return prepared;
  }

  /**
   * One write of everything submitted in a turn, as one script (write-script.ts): shared bodies, one
   * job per event and destination, Idempotency-Key records marked done. Redis applies it whole or not
   * at all, so a failed write leaves nothing to clean up, and the WriteTracker settles a write whose
   * reply was lost with the connection. An event for one destination is not stored apart: its job
   * carries its body (ADR 0007), so the job is the event's only write.
   */
  private async store(items: Prepared[]): Promise<void> {
    if (this.slotWrites) return this.storeBySlot(items, this.slotWrites);
    const keys: string[] = [this.journal];
    const bodyArgs: string[] = [];
    const bodyIndex = new Map<string, number>();
    let bodies = 0;
    for (const i of items) {
      if (i.layout !== 'shared' && i.layout !== 'resumed') continue;
      bodyArgs.push(BODY_MODE_ARG[i.layout], i.body, String(i.acceptedAt), String(i.routing.routes.length));
      for (let h = 0; h < i.routing.holders.length; h += 2) bodyArgs.push(i.routing.holders[h]!);
      keys.push(this.deps.keys.event(i.result.id));
      bodies++;
      if (i.layout === 'resumed') bodyIndex.set(i.result.id, keys.length);
    }
    const perDest = this.jobsByDestination(items);
    const destArgs: string[] = [];
    for (const [name, { maxAttempts, logRetentionMs, orderingBase, jobs }] of perDest) {
      const k = this.enqueuer.keysOf(name);
      keys.push(k[0]!, k[1]!, k[2]!, k[3]!, k[4]!, this.deps.keys.deliveryLogIndex(name));
      destArgs.push(k[5]!, name, String(logRetentionMs), orderingBase, String(jobs.size));
      for (const job of jobs.values()) {
        pushJobArgs(destArgs, job.id, job.body, maxAttempts, job.orderingKey);
        destArgs.push(String(bodyIndex.get(job.id) ?? 0), job.orderingKey ?? '');
      }
    }
    const records: string[] = [];
    for (const i of items) {
      if (!i.idemKey) continue;
      keys.push(i.idemKey);
      records.push(JSON.stringify({ ...i.record, done: true }));
    }
    const now = String((this.deps.clock ?? Date.now)());
    const reply = await this.tracker.run((seq) => {
      const written = this.writeScripts.write(keys, String(seq), now, DELIVERY_JOB_NAME, EVENT_STREAM_MAX_LEN_ARG, String(bodies), String(perDest.size), JOURNAL_TTL_MS_ARG, String(records.length), bodyArgs, destArgs, records);
      if (!this.deps.waitAof && !this.deps.replication) return written;
      // Sent right behind the write on the same connection: one round trip, answered once the AOF is
      // fsynced and (WAIT) once the replicas have every write of this connection so far.
      const synced = this.deps.waitAof ? (this.deps.writeRedis.call('WAITAOF', '1', '0', WAITAOF_TIMEOUT_MS_ARG) as Promise<[number, number]>) : undefined;
      const plan = this.deps.replication;
      const replicated = plan ? (this.deps.writeRedis.call('WAIT', String(plan.replicas), String(plan.timeoutMs)) as Promise<number>) : undefined;
      return Promise.all([written, synced, replicated]).then(([r, aof, copies]) => {
        if (aof) assertAofSynced(aof);
        if (plan) assertReplicated(plan, copies!);
        return r;
      });
    });
    if (reply === -1) throw fencedWriteError();
    for (const [name, { jobs }] of perDest) this.enqueuedCounter(name).inc(jobs.size);
  }

  /**
   * A write on a Redis Cluster (ADR 0015): one script per destination, each in that destination's
   * slot, every job carrying its body. Idempotency-Key records are marked done only once every
   * destination of their event is stored. When some destinations fail, a record remembers where its
   * event is stored (a retry skips those) and the write rejects with a {@link PartialWrite}, which
   * each request sharing it turns into its own answer.
   */
  private async storeBySlot(items: Prepared[], slotWrites: SlotWrites): Promise<void> {
    const perDest = this.jobsByDestination(items, true);
    const parts = new Map<string, SlotWrite>();
    for (const [name, { maxAttempts, logRetentionMs, orderingBase, jobs }] of perDest) {
      const k = this.enqueuer.keysOf(name);
      const args = [k[5]!, String(logRetentionMs), orderingBase, String(jobs.size)];
      for (const job of jobs.values()) {
        pushJobArgs(args, job.id, job.body, maxAttempts, job.orderingKey);
        args.push(job.orderingKey ?? '');
      }
      parts.set(name, { keys: [k[0]!, k[1]!, k[2]!, k[3]!, k[4]!, this.deps.keys.deliveryLogIndex(name)], args });
    }
    const outcomes = await slotWrites.write(parts, String((this.deps.clock ?? Date.now)()), DELIVERY_JOB_NAME, EVENT_STREAM_MAX_LEN_ARG);
    let failed = false;
    for (const [name, o] of outcomes) {
      if (o.ok) this.enqueuedCounter(name).inc(perDest.get(name)!.jobs.size);
      else failed = true;
    }
    const marks: Array<Promise<unknown>> = [];
    for (const i of items) {
      if (!i.idemKey || !i.record) continue;
      const stored = i.routing.routes.filter((r) => outcomes.get(r.name)?.ok !== false || i.record!.stored?.includes(r.name)).map((r) => r.name);
      if (stored.length === i.routing.routes.length) marks.push(this.markDone(i.idemKey, i.record));
      else if (stored.length > 0) marks.push(this.deps.redis.set(i.idemKey, JSON.stringify({ ...i.record, done: false, stored }), 'KEEPTTL', 'XX'));
    }
    // A record that could not be updated (its own shard down) only loses the retry's shortcut: a retry
    // re-adds the event where it was stored, which adds nothing while the job is still queued.
    const unmarked = (await Promise.allSettled(marks)).filter((m) => m.status === 'rejected').length;
    if (unmarked > 0) this.deps.logger?.warn({ records: unmarked }, 'Could not update Idempotency-Key records after a write');
    if (failed) throw new PartialWrite(outcomes);
  }

  /**
   * The jobs of a write per destination, one per event id (concurrent duplicates of a key share a write; see jobCarriesBody).
   * `everyJobCarriesBody` (a Redis Cluster, where no body is shared) also leaves out destinations an
   * earlier attempt with the event's Idempotency-Key stored it for.
   */
  private jobsByDestination(items: Prepared[], everyJobCarriesBody = false): Map<string, DestinationJobs> {
    const perDest = new Map<string, DestinationJobs>();
    for (const i of items) {
      const job: QueuedDelivery = everyJobCarriesBody || jobCarriesBody(i.layout) ? { id: i.result.id, body: i.body } : { id: i.result.id };
      for (const r of i.routing.routes) {
        if (everyJobCarriesBody && i.record?.stored?.includes(r.name)) continue;
        let entry = perDest.get(r.name);
        if (!entry) perDest.set(r.name, (entry = { maxAttempts: r.maxAttempts, logRetentionMs: r.logRetentionMs, orderingBase: r.orderingBase, jobs: new Map() }));
        if (entry.jobs.has(job.id) && job.body !== undefined) continue;
        // Jobs of one write keep the order of its items, which is the order their requests were accepted in.
        const orderingKey = r.ordering && orderingKeyOf(r.ordering, i.req.event, i.req.headers);
        entry.jobs.set(job.id, orderingKey === undefined ? job : { ...job, orderingKey });
      }
    }
    return perDest;
  }

  /**
   * With HERALD_ACK_REPLICAS, a repeated Idempotency-Key is answered 202 only once the replicas have
   * its first write too (that first answer may have been 503 replication_unconfirmed). WAIT counts the
   * writes of its own connection, so the record is rewritten unchanged first: a write the replicas
   * receive after the first one, on the connection WAIT then runs on.
   */
  private async replicateDuplicates(prepared: Prepared[], plan: ReplicationPlan): Promise<void> {
    const repeats = prepared.filter((p) => p.result.duplicate && p.layout !== 'resumed' && p.idemKey);
    if (repeats.length === 0) return;
    await Promise.all(repeats.map((p) => this.markDone(p.idemKey!, p.record!)));
    // On a Cluster the event's jobs are on its destinations' shards: WAIT on each of those.
    if (this.slotWrites) await this.slotWrites.confirmReplicated(repeats.flatMap((p) => p.routing.routes.map((r) => r.name)), plan);
    else await this.waitForReplicas(this.deps.redis, plan);
  }

  /** WAIT for the replicas of `plan` to have every write `connection` made so far. @throws ReplicationUnconfirmedError */
  private async waitForReplicas(connection: RedisClient, plan: ReplicationPlan): Promise<void> {
    assertReplicated(plan, (await connection.call('WAIT', String(plan.replicas), String(plan.timeoutMs))) as number);
  }

  private async markDone(key: string, record: IdemRecord): Promise<void> {
    await this.deps.redis.set(key, JSON.stringify({ ...record, done: true }), 'KEEPTTL', 'XX');
  }
}

/** One destination's jobs in a write. */
interface DestinationJobs {
  maxAttempts: number;
  /** How long the delivery log keeps these events (ms); 0: not logged. */
  logRetentionMs: number;
  orderingBase: string;
  jobs: Map<string, QueuedDelivery>;
}

/**
 * The Idempotency-Key of the event at `index` of a batch sent with `key`. A space cannot occur in a
 * key a client sends, so these never meet a single event's keys.
 */
export function batchEventKey(key: string, index: number): string {
  return `${key} batch ${index}`;
}

function hashEvent(e: IngestEvent): string {
  return createHash('sha256').update(JSON.stringify([e.userID, e.type ?? null, e.payload])).digest('base64url');
}
