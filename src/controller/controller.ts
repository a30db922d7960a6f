import type { KubeConfig, V1Deployment } from '@kubernetes/client-node';
import type { Redis } from 'ioredis';
import type { AddressPolicy } from '../security/address.js';
import { validateDestinationUrl } from '../security/guarded-dispatcher.js';
import type { Registry } from 'prom-client';
import type { ControllerConfig } from '../config/controller.js';
import { DestinationRegistry } from '../destinations/registry.js';
import { EventStore } from '../events/event-store.js';
import type { Logger } from '../log/logger.js';
import { controllerMetrics, queueMetrics } from '../metrics/metrics.js';
import { DeliveryQueues } from '../queue/delivery-queue.js';
import { purgeDestination } from '../queue/purge.js';
import { QueueDepthExporter } from '../queue/queue-depth-exporter.js';
import type { RedisKeys } from '../redis/keys.js';
import type { ReadinessCheck } from '../server/ops-routes.js';
import { sweepScalers, scalerChanged, type AutoscalingDeps } from './autoscaling.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { readDeliveryHealth } from './delivery-health.js';
import { controllerOf, type DestinationResource } from './destination-resource.js';
import { LeadershipLostError } from './errors.js';
import { createEventRecorder } from './events.js';
import { createControllerKube, createLeaseClient, deploymentSource, destinationSource } from './kube-client.js';
import { isConflict, KubeApiError, KubeRest } from './kube-rest.js';
import { scalerKindOf, SCALER_TYPES, type Scaler } from './desired-scaler.js';
import { LeaderElector } from './leader-election.js';
import { DESTINATION_LABEL, KIND, objectKey, workerListSelector } from './names.js';
import type { DeliveryPort } from './reconcile-deps.js';
import { Reconciler } from './reconciler.js';
import { needsReconcile } from './predicates.js';
import { createScalerKube, scalerSource } from './scaler-client.js';
import { keyOf, Reflector } from './reflector.js';
import { jittered, WorkQueue } from './workqueue.js';

export interface ControllerDeps {
  /** Credentials and cluster; `loadFromCluster()` in a pod, `loadFromDefault()` elsewhere. */
  kubeConfig: KubeConfig;
  /** A general-purpose client (createRedis); the controller shares it for the registry and queue reads. */
  redis: Redis;
  keys: RedisKeys;
  logger: Logger;
  /** The process's prom-client registry; the controller registers its controller and queue metrics in it. */
  registry: Registry;
  config: ControllerConfig;
  clock?: Clock;
  /** Uniform in [0, 1): spreads status-refresh requeues. Default Math.random. */
  random?: () => number;
  /** The workers' SSRF policy, so a Destination whose URL they would refuse says so on its status. */
  addressPolicy?: AddressPolicy;
}

/** A running controller. */
export interface Controller {
  /** Whether this replica holds the leader Lease right now. */
  isLeader(): boolean;
  /** Readiness checks for the ops server's /readyz: API server reachable; Redis too when leading. */
  readiness: ReadinessCheck[];
  /** True when every readiness check passes. */
  isReady(): Promise<boolean>;
  /** Stops reconciling, waits for an in-flight reconcile, releases the Lease, stops watching. Idempotent. */
  close(): Promise<void>;
}

interface Term {
  signal: AbortSignal;
  abort: AbortController;
  queue: WorkQueue;
  /** Publishes the per-destination queue gauges, which only the leader exports (docs/metrics.md). */
  exporter: QueueDepthExporter;
  workers: Promise<void>[];
  resync?: TimerHandle;
}

/** Refresh of the per-destination queue gauges, as `herald dev` does. */
const QUEUE_GAUGE_REFRESH_MS = 5_000;

/** What to do about the list/watch errors an operator can fix. */
function hint(err: unknown, resource: string, install?: string): string | undefined {
  if (!(err instanceof KubeApiError)) return undefined;
  if (err.status === 403) return `RBAC: the controller's ServiceAccount may not list/watch ${resource}; apply manifests/rbac (or the Helm chart's Role)`;
  if (err.status === 404 && install) return `${resource} is not served: is the CRD installed? ${install}`;
  return undefined;
}

/**
 * Starts the Destination controller: watches Destinations and their worker Deployments on every
 * replica (so a new leader starts with warm caches), and while this replica leads, reconciles each
 * Destination from a de-duplicating work queue: on every change, every `statusRefreshMs` (delivery
 * health) and every `resyncMs` (drift). Leadership loss stops reconciling at once.
 */
export function startController(deps: ControllerDeps): Controller {
  const { config, redis, keys } = deps;
  const clock = deps.clock ?? systemClock;
  const random = deps.random ?? Math.random;
  const logger = deps.logger.child({ component: 'controller' });
  const metrics = controllerMetrics(deps.registry);
  const gauges = queueMetrics(deps.registry);
  const rest = new KubeRest(deps.kubeConfig, { timeoutMs: 15_000 });
  const kube = createControllerKube(rest);
  const ns = config.namespace;
  let term: Term | undefined;
  let closed = false;

  const enqueue = (key: string) => term?.queue.add(key);
  const destinations = new Reflector<DestinationResource>({
    name: 'destinations',
    source: destinationSource(rest, ns),
    clock,
    logger,
    idleTimeoutMs: config.watchIdleTimeoutMs,
    onChange: (obj, kind, previous) => {
      if (kind === 'delete' || needsReconcile(previous, obj)) enqueue(keyOf(obj));
      if (!previous || kind === 'delete') term?.exporter.setDestinations(names());
    },
    describeError: (err) => hint(err, 'destinations.herald.dev', 'kubectl apply -f manifests/crds/destinations.herald.dev.yaml'),
  });
  const deployments = new Reflector<V1Deployment>({
    name: 'deployments',
    source: deploymentSource(rest, ns, workerListSelector(config.worker.instance)),
    clock,
    logger,
    idleTimeoutMs: config.watchIdleTimeoutMs,
    describeError: (err) => hint(err, 'deployments.apps'),
    onChange: (dep) => {
      const owner = controllerOf(dep);
      const name = owner?.kind === KIND ? owner.name : dep.metadata?.labels?.[DESTINATION_LABEL];
      if (name) enqueue(objectKey(ns, name));
    },
  });

  // Scalers of the provider's kind, so removed or edited ones are noticed; the CRD may be missing
  // (KEDA not installed), which this reflector survives by retrying slowly.
  const scalerKind = scalerKindOf(config.autoscaler.provider);
  const scalers = scalerKind
    ? new Reflector<Scaler>({
        name: SCALER_TYPES[scalerKind].plural,
        source: scalerSource(rest, scalerKind, ns, workerListSelector(config.worker.instance)),
        clock,
        logger,
        idleTimeoutMs: config.watchIdleTimeoutMs,
        maxBackoffMs: 5 * 60_000,
        describeError: (err) =>
          hint(err, `${SCALER_TYPES[scalerKind].plural}.${SCALER_TYPES[scalerKind].group}`, scalerKind === 'ScaledObject' ? 'Install KEDA, or set autoscaling.workers.provider to hpa or none.' : 'Set autoscaling.workers.provider to keda or none.'),
        onChange: (obj, kind, previous) => {
          if (kind !== 'delete' && !scalerChanged(previous, obj)) return;
          const owner = controllerOf(obj);
          const name = owner?.kind === KIND ? owner.name : obj.metadata.labels?.[DESTINATION_LABEL];
          if (name) enqueue(objectKey(ns, name));
        },
      })
    : undefined;
  const autoscaling: AutoscalingDeps = {
    settings: { ...config.autoscaler, instance: config.worker.instance },
    kube: createScalerKube(rest),
    scalers: scalers ?? { get: () => undefined },
  };

  const queues = new DeliveryQueues(redis, keys);
  const eventStore = new EventStore(redis, keys);
  const destinationRegistry = new DestinationRegistry(redis, keys);
  const names = (except?: string) => destinations.list().map((d) => d.metadata.name).filter((n) => n !== except);
  const deliveries: DeliveryPort = {
    health: (name, url, now) => readDeliveryHealth(redis, keys, queues.get(name), name, url, now),
    purge: (name) => purgeDestination(queues.get(name), eventStore, redis, keys, name),
    async forget(name) {
      term?.exporter.setDestinations(names(name));
      await queues.retain(new Set(names(name)));
    },
  };
  const reconciler = new Reconciler({
    kube,
    destinations,
    deployments,
    registry: destinationRegistry,
    deliveries,
    settings: config.worker,
    clock,
    logger,
    events: createEventRecorder({ kube, clock, logger }),
    statusRefreshMs: config.statusRefreshMs,
    drainSettleMs: config.drainSettleMs,
    autoscaling,
    ...(deps.addressPolicy ? { checkUrl: urlChecker(deps.addressPolicy) } : {}),
  });

  async function work(t: Term): Promise<void> {
    for (;;) {
      const key = await t.queue.get();
      if (key === undefined) return;
      const stopTimer = metrics.duration.startTimer();
      try {
        const r = await reconciler.reconcile(key, t.signal);
        t.queue.forget(key);
        metrics.reconciles.inc({ result: r.result });
        if (r.requeueAfterMs > 0) t.queue.addAfter(key, jittered(r.requeueAfterMs, random));
      } catch (err) {
        if (err instanceof LeadershipLostError || t.signal.aborted) {
          logger.debug({ key }, 'Abandoned reconcile after losing leadership');
        } else if (isConflict(err)) {
          // Optimistic concurrency: our cached copy was stale. Normal, and the watch brings the new one.
          metrics.reconciles.inc({ result: 'requeue' });
          t.queue.addRateLimited(key);
          logger.debug({ key }, 'Conflict; requeued');
        } else {
          metrics.reconciles.inc({ result: 'error' });
          const retryInMs = t.queue.addRateLimited(key);
          logger.error({ key, err, retryInMs }, 'Reconcile failed');
        }
      } finally {
        stopTimer();
        t.queue.done(key);
      }
    }
  }

  /** Registry entries without a Destination (its finalizer was removed by hand, say) would keep ingest queueing for nobody. */
  async function collectOrphans(t: Term): Promise<void> {
    try {
      // Registry first, cache second: anything published was in the cache before it was published.
      const entries = await destinationRegistry.list();
      const names = new Set(destinations.list().map((d) => d.metadata.name));
      for (const e of entries) {
        if (names.has(e.name) || t.signal.aborted) continue;
        await destinationRegistry.remove(e.name);
        logger.info({ destination: e.name }, 'Removed registry entry without a Destination');
      }
    } catch (err) {
      logger.warn({ err }, 'Could not check the registry for orphaned entries');
    }
  }

  /** Scalers of a provider no longer configured (HERALD_AUTOSCALER changed) would keep scaling the workers. */
  async function sweepOtherScalers(t: Term): Promise<void> {
    try {
      await sweepScalers(autoscaling, ns, () => {
        if (t.signal.aborted) throw new LeadershipLostError();
      }, logger);
    } catch (err) {
      if (!(err instanceof LeadershipLostError)) logger.warn({ err, hint: hint(err, 'autoscalers') }, 'Could not delete scalers of another autoscaler provider');
    }
  }

  function resync(t: Term): void {
    t.resync = clock.setTimeout(() => {
      if (t.signal.aborted) return;
      for (const key of destinations.keys()) t.queue.add(key);
      void collectOrphans(t);
      resync(t);
    }, config.resyncMs);
  }

  function startTerm(signal: AbortSignal): void {
    if (closed) return;
    const abort = new AbortController();
    signal.addEventListener('abort', () => abort.abort(), { once: true });
    const t: Term = {
      signal: abort.signal,
      abort,
      queue: new WorkQueue({ clock, onDepth: (n) => metrics.workqueueDepth.set(n) }),
      exporter: new QueueDepthExporter(redis, keys, gauges, logger),
      workers: [],
    };
    term = t;
    metrics.leader.set(1);
    void (async () => {
      await Promise.all([destinations.waitForSync(t.signal), deployments.waitForSync(t.signal)]);
      // The scaler CRD may not be installed (KEDA missing): wait for the first list, not for success.
      await scalers?.waitForFirstAttempt(t.signal);
      if (t.signal.aborted) return;
      logger.info({ destinations: destinations.keys().length }, 'Caches synced; reconciling');
      for (const key of destinations.keys()) t.queue.add(key);
      t.exporter.setDestinations(names());
      t.exporter.start(QUEUE_GAUGE_REFRESH_MS);
      for (let i = 0; i < config.workers; i++) t.workers.push(work(t));
      await sweepOtherScalers(t);
      await collectOrphans(t);
      resync(t);
    })();
  }

  function stopTerm(): Term | undefined {
    const t = term;
    if (!t) return undefined;
    term = undefined;
    t.abort.abort();
    t.queue.shutDown();
    if (t.resync !== undefined) clock.clearTimeout(t.resync);
    metrics.leader.set(0);
    // Only the leader exports queue gauges (docs/metrics.md): a former leader's would go stale.
    void t.exporter.close();
    for (const g of Object.values(gauges)) g.reset();
    return t;
  }

  const elector = new LeaderElector({
    client: createLeaseClient(rest, config.lease.namespace, config.lease.name, Math.max(1000, Math.floor(config.lease.renewDeadlineMs / 2))),
    clock,
    logger,
    identity: config.identity,
    leaseDurationMs: config.lease.durationMs,
    renewDeadlineMs: config.lease.renewDeadlineMs,
    retryPeriodMs: config.lease.retryPeriodMs,
    onStartedLeading: startTerm,
    onStoppedLeading: () => void stopTerm(),
    onNewLeader: (identity) => logger.info({ leader: identity ?? null }, 'Leader changed'),
  });

  metrics.leader.set(0);
  destinations.start();
  deployments.start();
  scalers?.start();
  elector.start();

  const readiness: ReadinessCheck[] = [
    {
      name: 'kubernetes',
      check: async () => {
        if (!destinations.isHealthy() || !deployments.isHealthy()) throw new Error('cannot list/watch Destinations and Deployments');
      },
    },
    {
      name: 'redis',
      check: async () => {
        if (elector.isLeader()) await redis.ping();
      },
    },
  ];

  return {
    isLeader: () => elector.isLeader(),
    readiness,
    async isReady() {
      const results = await Promise.allSettled(readiness.map((r) => r.check()));
      return results.every((r) => r.status === 'fulfilled');
    },
    async close() {
      if (closed) return;
      closed = true;
      // Finish (or abandon at its next write) the reconcile in flight before handing the Lease on,
      // so the next leader never overlaps with our last write.
      const t = stopTerm();
      const errors: unknown[] = [];
      const step = async (fn: () => Promise<unknown>) => {
        try {
          await fn();
        } catch (err) {
          errors.push(err);
        }
      };
      await step(async () => Promise.allSettled(t?.workers ?? []));
      await step(() => elector.close());
      await step(() => destinations.stop());
      await step(() => deployments.stop());
      await step(async () => scalers?.stop());
      await step(() => queues.close());
      if (errors.length > 0) logger.warn({ errors: errors.map(String) }, 'Errors while closing the controller');
    },
  };
}

/** The admission-time SSRF check: resolves the host and reports why the workers would refuse it. */
function urlChecker(policy: AddressPolicy): (url: string) => Promise<string | undefined> {
  return async (url) => {
    const verdict = await validateDestinationUrl(url, policy);
    return verdict.ok ? undefined : verdict.reason;
  };
}
