import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The `herald_` metric catalogue. Every metric is declared here and nowhere else, so
 * docs/metrics.md can be checked against this file. Labels are bounded: destination names
 * and small enums, never event ids, user ids or URLs.
 */

/** Webhook round trips: a few ms on a LAN up to the 10 s default timeout. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Ingest accepted → delivered spans milliseconds when healthy up to minutes during retries. */
export const E2E_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/**
 * A metric's label children looked up by a key and made on first use. prom-client validates and
 * hashes the label set on every `inc({…})`; a child bound once skips that on hot paths.
 */
export function childrenBy<K, C>(make: (key: K) => C): (key: K) => C {
  const made = new Map<K, C>();
  return (key) => {
    let c = made.get(key);
    if (c === undefined) made.set(key, (c = make(key)));
    return c;
  };
}

export function createRegistry(component: string, version: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'herald_process_' });
  const info = new Gauge({
    name: 'herald_build_info',
    help: 'Always 1; labels say which Herald version and component this process runs.',
    labelNames: ['version', 'component'],
    registers: [registry],
  });
  info.set({ version, component }, 1);
  return registry;
}

export function redisMetrics(registry: Registry) {
  return {
    up: new Gauge({ name: 'herald_redis_up', help: '1 when the last Redis health check of this process succeeded, else 0.', registers: [registry] }),
  };
}
export type RedisMetrics = ReturnType<typeof redisMetrics>;

/** Redis memory as ingest's memory guard reads it: the one resource a backlog fills up. */
export function redisMemoryMetrics(registry: Registry) {
  return {
    used: new Gauge({ name: 'herald_redis_memory_used_bytes', help: 'Memory Redis uses (INFO memory used_memory), read by ingest every second.', registers: [registry] }),
    max: new Gauge({ name: 'herald_redis_maxmemory_bytes', help: 'Redis maxmemory (0: unlimited); ingest answers 503 from HERALD_REDIS_HIGH_WATER of it.', registers: [registry] }),
  };
}

export function ingestMetrics(registry: Registry) {
  return {
    events: new Counter({
      name: 'herald_events_ingested_total',
      help: 'Events received by ingest, by result: accepted, duplicate (idempotency key seen), invalid (4xx), unavailable (503).',
      labelNames: ['result'],
      registers: [registry],
    }),
    requests: new Counter({
      name: 'herald_ingest_requests_total',
      help: 'HTTP requests to ingest endpoints by route and status code.',
      labelNames: ['route', 'code'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'herald_ingest_duration_seconds',
      help: 'Time from request start to response for ingest endpoints, including the Redis write.',
      labelNames: ['route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    unrouted: new Counter({
      name: 'herald_ingest_events_unrouted_total',
      help: 'Events accepted (202, destinations 0) whose type no destination matched: answered, not stored, never delivered.',
      registers: [registry],
    }),
    swept: new Counter({
      name: 'herald_event_bodies_swept_total',
      help: 'Event bodies deleted by the sweeper because no delivery job referenced them any more.',
      registers: [registry],
    }),
    enqueued: new Counter({
      name: 'herald_events_enqueued_total',
      help: 'Deliveries queued by fan-out, one per matching destination per event.',
      labelNames: ['destination'],
      registers: [registry],
    }),
  };
}
export type IngestMetrics = ReturnType<typeof ingestMetrics>;

export function deliveryMetrics(registry: Registry) {
  return {
    deliveries: new Counter({
      name: 'herald_deliveries_total',
      help: 'Delivery attempts by destination and outcome: success, retry (will be tried again), failed (permanent or exhausted).',
      labelNames: ['destination', 'outcome'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'herald_delivery_duration_seconds',
      help: 'Duration of one delivery attempt (HTTP request and response) by destination and outcome.',
      labelNames: ['destination', 'outcome'],
      buckets: HTTP_BUCKETS,
      registers: [registry],
    }),
    attempts: new Histogram({
      name: 'herald_delivery_attempts',
      help: 'Attempts an event needed before it was delivered or dead-lettered.',
      labelNames: ['destination', 'result'],
      buckets: [1, 2, 3, 5, 8, 13, 21, 34, 55, 100],
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: 'herald_dead_letters_total',
      help: 'Events moved to the dead-letter store, by destination and reason: permanent (4xx), exhausted (attempts or window).',
      labelNames: ['destination', 'reason'],
      registers: [registry],
    }),
    e2e: new Histogram({
      name: 'herald_e2e_latency_seconds',
      help: 'Time from ingest accepting an event to its successful delivery, including retries.',
      labelNames: ['destination'],
      buckets: E2E_BUCKETS,
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: 'herald_deliveries_in_flight',
      help: 'Deliveries this process is performing right now.',
      labelNames: ['destination'],
      registers: [registry],
    }),
    alerts: new Counter({
      name: 'herald_alert_emails_total',
      help: 'Alert emails by kind (digest, recovered) and result (sent, failed).',
      labelNames: ['destination', 'kind', 'result'],
      registers: [registry],
    }),
  };
}
export type DeliveryMetrics = ReturnType<typeof deliveryMetrics>;

export function queueMetrics(registry: Registry) {
  return {
    depth: new Gauge({
      name: 'herald_queue_depth',
      help: 'Deliveries per destination by state: waiting, delayed (retry scheduled), active, dead (dead-lettered). Exported by one process per destination.',
      labelNames: ['destination', 'state'],
      registers: [registry],
    }),
    backlog: new Gauge({
      name: 'herald_queue_backlog',
      help: 'Deliveries not yet done (waiting + delayed + active, prioritised and paused included); what autoscaling targets.',
      labelNames: ['destination'],
      registers: [registry],
    }),
    oldest: new Gauge({
      name: 'herald_queue_oldest_waiting_seconds',
      help: 'Age of the oldest delivery that is waiting to be sent, 0 when none waits.',
      labelNames: ['destination'],
      registers: [registry],
    }),
    circuitOpen: new Gauge({
      name: 'herald_circuit_open',
      help: '1 while the destination\'s circuit breaker is open (deliveries held, probing), else 0. Exported by one process per destination.',
      labelNames: ['destination'],
      registers: [registry],
    }),
    orderingKeys: new Gauge({
      name: 'herald_ordering_keys',
      help: 'Ordering keys (spec.ordering) with an event not yet delivered or dead-lettered.',
      labelNames: ['destination'],
      registers: [registry],
    }),
    orderingBlocked: new Gauge({
      name: 'herald_ordering_blocked_keys',
      help: 'Ordering keys held by a dead-lettered event (onDeadLetter: block) until it is replayed or skipped.',
      labelNames: ['destination'],
      registers: [registry],
    }),
    orderingWaiting: new Gauge({
      name: 'herald_ordering_waiting_events',
      help: 'Events waiting behind the event ahead of them in their ordering key; not part of herald_queue_backlog.',
      labelNames: ['destination'],
      registers: [registry],
    }),
    orderingOldest: new Gauge({
      name: 'herald_ordering_oldest_waiting_seconds',
      help: 'Age of the oldest event of any ordering key not yet delivered or dead-lettered, 0 when none.',
      labelNames: ['destination'],
      registers: [registry],
    }),
    disabled: new Gauge({
      name: 'herald_destination_disabled',
      help: '1 when the receiver answered 410 Gone and the destination was disabled (queue paused). Exported by one process per destination.',
      labelNames: ['destination'],
      registers: [registry],
    }),
  };
}
export type QueueMetrics = ReturnType<typeof queueMetrics>;

export function controllerMetrics(registry: Registry) {
  return {
    reconciles: new Counter({
      name: 'herald_controller_reconcile_total',
      help: 'Reconciles by result: success, error, requeue.',
      labelNames: ['result'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'herald_controller_reconcile_duration_seconds',
      help: 'Duration of one reconcile of one Destination.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    workqueueDepth: new Gauge({
      name: 'herald_controller_workqueue_depth',
      help: 'Destinations waiting in the controller work queue.',
      registers: [registry],
    }),
    leader: new Gauge({
      name: 'herald_controller_is_leader',
      help: '1 while this controller replica holds the leader Lease.',
      registers: [registry],
    }),
  };
}
export type ControllerMetrics = ReturnType<typeof controllerMetrics>;
