import type { KubeConfig } from '@kubernetes/client-node';
import type { RedisClient } from '../redis/client.js';
import type { AddressPolicy } from '../security/address.js';
import { validateDestinationUrl } from '../security/guarded-dispatcher.js';
import type { Registry } from 'prom-client';
import type { ControllerConfig } from '../config/controller.js';
import { DestinationRegistry } from '../redis/destination-registry.js';
import { EventStore } from '../event-store/event-store.js';
import type { Logger } from '../log/logger.js';
import { controllerMetrics, queueMetrics } from '../metrics/metrics.js';
import { DeliveryQueues } from '../queue/delivery-queue.js';
import { purgeDestination } from '../queue/purge.js';
import { QueueDepthExporter } from '../queue/queue-depth-exporter.js';
import type { RedisKeys } from '../redis/keys.js';
import type { ReadinessCheck } from '../server/ops-routes.js';
import { sweepScalers, type AutoscalingDeps } from './autoscaling.js';
import { systemClock, type Clock } from './clock.js';
import { readDeliveryHealth } from './delivery-health.js';
import { LeadershipLostError } from './errors.js';
import { createEventRecorder } from './events.js';
import { createControllerKube, createLeaseClient } from './kube-client.js';
import { KubeRest } from './kube-rest.js';
import { LeaderElector } from './leader-election.js';
import { objectKey } from './names.js';
import type { DeliveryPort } from './reconcile-deps.js';
import { Reconciler } from './reconciler.js';
import { createScalerKube } from './scaler-client.js';
import { createCaches, hint } from './caches.js';
import { LeaderTerms } from './leader-term.js';
import { removeOrphanedEntries } from './orphans.js';

export interface ControllerDeps {
  /** Credentials and cluster; `loadFromCluster()` in a pod, `loadFromDefault()` elsewhere. */
  kubeConfig: KubeConfig;
  /** A general-purpose client (createRedis); the controller shares it for the registry and queue reads. */
  redis: RedisClient;
  keys: RedisKeys;
  logger: Logger;
  /** The process's prom-client registry; the controller registers its controller and queue metrics in it. */
  registry: Registry;
  config: ControllerConfig;
  clock?: Clock;
  /** Uniform in [0, 1): spreads status-refresh requeues and watch timeouts. Default Math.random. */
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

/** Refresh of the per-destination queue gauges, as `herald dev` does. */
const QUEUE_GAUGE_REFRESH_MS = 5_000;


/** Scalers of a provider no longer configured (HERALD_AUTOSCALER changed) would keep scaling the workers. */
async function sweepOtherScalers(autoscaling: AutoscalingDeps, ns: string, signal: AbortSignal, logger: Logger): Promise<void> {
  try {
    await sweepScalers(autoscaling, ns, () => {
      if (signal.aborted) throw new LeadershipLostError();
    }, logger);
  } catch (err) {
    if (!(err instanceof LeadershipLostError)) logger.warn({ err, hint: hint(err, 'autoscalers') }, 'Could not delete scalers of another autoscaler provider');
  }
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
  let closed = false;

  const caches = createCaches({
    rest,
    config,
    clock,
    random,
    logger,
    enqueue: (name) => terms.enqueue(objectKey(ns, name)),
    destinationsChanged: () => terms.setDestinations(names()),
  });
  const { destinations, deployments, scalers } = caches;
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
      terms.setDestinations(names(name));
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

  const terms = new LeaderTerms({
    clock,
    logger,
    random,
    metrics,
    caches: {
      async waitForSync(signal) {
        await Promise.all([destinations.waitForSync(signal), deployments.waitForSync(signal)]);
        // The scaler CRD may not be installed (KEDA missing): wait for the first list, not for success.
        await scalers?.waitForFirstAttempt(signal);
      },
      keys: () => destinations.keys(),
      names: () => names(),
    },
    reconcile: (key, signal) => reconciler.reconcile(key, signal),
    workers: config.workers,
    resyncMs: config.resyncMs,
    newExporter: () => new QueueDepthExporter(redis, keys, gauges, logger),
    exporterIntervalMs: QUEUE_GAUGE_REFRESH_MS,
    afterSync: (signal) => sweepOtherScalers(autoscaling, ns, signal, logger),
    everyResync: async (signal) => void (await removeOrphanedEntries(destinationRegistry, names, signal, logger)),
    // Only the leader exports queue gauges (docs/metrics.md): a former leader's would go stale.
    onStopped: () => Object.values(gauges).forEach((g) => g.reset()),
  });

  const elector = new LeaderElector({
    client: createLeaseClient(rest, config.lease.namespace, config.lease.name, Math.max(1000, Math.floor(config.lease.renewDeadlineMs / 2))),
    clock,
    logger,
    identity: config.identity,
    leaseDurationMs: config.lease.durationMs,
    renewDeadlineMs: config.lease.renewDeadlineMs,
    retryPeriodMs: config.lease.retryPeriodMs,
    onStartedLeading: (signal) => {
      if (!closed) terms.start(signal);
    },
    onStoppedLeading: () => void terms.stop(),
    onNewLeader: (identity) => logger.info({ leader: identity ?? null }, 'Leader changed'),
  });

  caches.start();
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
      const stopped = terms.stop();
      const errors: unknown[] = [];
      const step = async (fn: () => Promise<unknown>) => {
        try {
          await fn();
        } catch (err) {
          errors.push(err);
        }
      };
      await step(() => stopped);
      await step(() => elector.close());
      await step(() => caches.stop());
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
