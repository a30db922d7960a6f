import type { V1Deployment } from '@kubernetes/client-node';
import type { WorkerSettings } from '../config/controller.js';
import type { DestinationRegistry } from '../redis/destination-registry.js';
import type { Logger } from '../log/logger.js';
import type { AutoscalingDeps } from './autoscaling.js';
import type { Clock } from './clock.js';
import type { DeliveryHealth, DestinationResource } from './destination-resource.js';
import type { EventRecorder } from './events.js';
import type { ControllerKube } from './kube-client.js';

// What the Reconciler and the finalizer it hands deletions to both take and give, apart from either.

/** Delivery-side operations on Redis, per destination. */
export interface DeliveryPort {
  /** `url` is the spec's URL, to tell whether a 410 disablement still applies. */
  health(name: string, url: string | undefined, now: number): Promise<DeliveryHealth>;
  /** Deletes queue, dead letters and stats; idempotent. Returns the number of deliveries removed. */
  purge(name: string): Promise<number>;
  /** Drops per-destination resources (queue handles, gauges) once it is gone. */
  forget(name: string): Promise<void>;
}

export interface ReconcilerDeps {
  kube: ControllerKube;
  /** Informer caches, keyed `namespace/name`. */
  destinations: { get(key: string): DestinationResource | undefined };
  deployments: { get(key: string): V1Deployment | undefined };
  registry: Pick<DestinationRegistry, 'get' | 'put' | 'remove'>;
  deliveries: DeliveryPort;
  settings: WorkerSettings;
  clock: Clock;
  logger: Logger;
  events: EventRecorder;
  /** Requeue delay of a healthy Destination, to refresh its delivery status. */
  statusRefreshMs: number;
  /** How long ingest may keep routing after a registry change; drain waits this long. Default 10 s. */
  drainSettleMs?: number;
  /** Scalers for Destinations with spec.scaling; without it none are managed and such workers run at minReplicas (at least 1). */
  autoscaling?: AutoscalingDeps;
  /**
   * The SSRF guard's verdict on a destination URL (undefined: allowed), shown on the status at
   * admission; workers enforce the same policy again on every connection.
   */
  checkUrl?: (url: string) => Promise<string | undefined>;
}

export interface ReconcileResult {
  /** success: converged; requeue: waiting on something (a drain, pods stopping). */
  result: 'success' | 'requeue';
  requeueAfterMs: number;
}
