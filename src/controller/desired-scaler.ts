import { createHash } from 'node:crypto';
import type { V2HorizontalPodAutoscalerSpec } from '@kubernetes/client-node';
import type { DestinationSpec } from '../api/destination.js';
import type { AutoscalerProvider, AutoscalerSettings } from '../config/controller.js';
import type { DestinationResource, ObjectMeta } from './destination-resource.js';
import { stableStringify } from '../api/stable-stringify.js';
import { APPLIED_HASH_ANNOTATION, DESTINATION_API_VERSION, KIND, workerDeploymentName, workerLabels } from './names.js';

/**
 * The scaler a Destination's workers should have: a pure function of the Destination, its parsed
 * spec and the controller's autoscaler settings, unit-tested without a cluster and server-side
 * applied as is. Both kinds scale the worker Deployment on `herald_queue_backlog{destination}`, the
 * gauge the controller leader exports (waiting, delayed, prioritised, paused and active deliveries),
 * not BullMQ's `wait` list, which misses delayed, prioritised and paused jobs.
 */

/** Metric every scaler targets (src/metrics/metrics.ts). */
export const BACKLOG_METRIC = 'herald_queue_backlog';
/** How often KEDA queries Prometheus, in seconds (KEDA's default is 30). */
export const KEDA_POLLING_INTERVAL_SECONDS = 15;
/** How long KEDA waits after the backlog was last non-zero before scaling to zero, in seconds (KEDA's default). */
export const KEDA_COOLDOWN_SECONDS = 300;

/** A KEDA `keda.sh/v1alpha1` ScaledObject, as far as Herald writes it. */
export interface ScaledObject {
  apiVersion: 'keda.sh/v1alpha1';
  kind: 'ScaledObject';
  metadata: ObjectMeta;
  spec: {
    scaleTargetRef: { apiVersion?: string; kind?: string; name: string };
    pollingInterval?: number;
    cooldownPeriod?: number;
    minReplicaCount?: number;
    maxReplicaCount?: number;
    triggers: Array<{ type: string; name?: string; metricType?: string; metadata: Record<string, string> }>;
  };
  status?: unknown;
}

/** An autoscaling/v2 HorizontalPodAutoscaler, in wire form (client-node's model turns times into Dates). */
export interface HorizontalPodAutoscaler {
  apiVersion: 'autoscaling/v2';
  kind: 'HorizontalPodAutoscaler';
  metadata: ObjectMeta;
  spec: V2HorizontalPodAutoscalerSpec;
  status?: unknown;
}

/** What the controller may create to scale workers. */
export type Scaler = ScaledObject | HorizontalPodAutoscaler;

/** API coordinates of each scaler kind. */
export const SCALER_TYPES = {
  ScaledObject: { group: 'keda.sh', version: 'v1alpha1', apiVersion: 'keda.sh/v1alpha1', plural: 'scaledobjects' },
  HorizontalPodAutoscaler: { group: 'autoscaling', version: 'v2', apiVersion: 'autoscaling/v2', plural: 'horizontalpodautoscalers' },
} as const;
export type ScalerKind = keyof typeof SCALER_TYPES;

/** The kind a provider creates; undefined for `none`. */
export function scalerKindOf(provider: AutoscalerProvider): ScalerKind | undefined {
  return provider === 'keda' ? 'ScaledObject' : provider === 'hpa' ? 'HorizontalPodAutoscaler' : undefined;
}

/** Name of a Destination's scaler: that of the Deployment it scales. */
export function scalerName(destination: string): string {
  return workerDeploymentName(destination);
}

/** Autoscaler settings plus the installation the scaler belongs to (its `app.kubernetes.io/instance`). */
export type ScalerSettings = AutoscalerSettings & { instance: string };

/** A PromQL string literal. */
function promString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/**
 * The PromQL KEDA runs: `max(herald_queue_backlog{destination="orders",namespace="herald"})`.
 * `max`, not `sum`: only the leader exports the gauge, but during a hand-over the old leader's
 * series may linger for a scrape, and both report the same queue.
 */
export function backlogQuery(destination: string, queryLabels: Readonly<Record<string, string>> = {}): string {
  const matchers = Object.entries({ destination, ...queryLabels }).map(([k, v]) => `${k}=${promString(v)}`);
  return `max(${BACKLOG_METRIC}{${matchers.join(',')}})`;
}

/**
 * A Kubernetes quantity in canonical form, as the API server returns it (1000 → "1k",
 * 1500000 → "1500k"), so the observed HPA contains the desired one and no-op reconciles write nothing.
 */
export function canonicalQuantity(n: number): string {
  if (!Number.isInteger(n) || n < 0) throw new Error(`canonicalQuantity: ${n} is not a non-negative integer`);
  const suffixes = ['', 'k', 'M', 'G', 'T', 'P', 'E'];
  let i = 0;
  while (n !== 0 && n % 1000 === 0 && i < suffixes.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n}${suffixes[i]}`;
}

/** Fewest replicas the scaler keeps: HPAs cannot scale to zero (that needs the HPAScaleToZero alpha gate). */
export function scalerMinReplicas(spec: DestinationSpec, provider: AutoscalerProvider): number | undefined {
  if (!spec.scaling) return undefined;
  return provider === 'hpa' ? Math.max(1, spec.scaling.minReplicas) : spec.scaling.minReplicas;
}

/**
 * Replicas the worker Deployment should state: `spec.workers.replicas` without `spec.scaling`;
 * nothing (left to the scaler) while a scaler manages it; otherwise `spec.scaling.minReplicas`, but
 * at least 1, because without a scaler nothing would start a worker for a growing backlog.
 */
export function workerReplicas(spec: DestinationSpec, scalerManaged: boolean): number | undefined {
  if (!spec.scaling) return spec.workers.replicas;
  return scalerManaged ? undefined : Math.max(1, spec.scaling.minReplicas);
}

/**
 * Why the workers do not scale exactly as `spec.scaling` says, if they do not: an HPA cannot scale
 * to zero, and with the `none` provider nothing scales them. Shown in the Ready condition.
 */
export function scalingNotice(spec: DestinationSpec, provider: AutoscalerProvider): string | undefined {
  if (!spec.scaling) return undefined;
  if (provider === 'hpa' && spec.scaling.minReplicas === 0) {
    return 'HorizontalPodAutoscalers cannot scale to zero: spec.scaling.minReplicas 0 is applied as 1 (scale-to-zero needs autoscaling.workers.provider=keda).';
  }
  if (provider === 'none') {
    const n = workerReplicas(spec, false)!;
    return `Autoscaling is off in this installation (HERALD_AUTOSCALER=none): spec.scaling is not applied and the workers run at ${n} replica${n === 1 ? '' : 's'}.`;
  }
  return undefined;
}

/**
 * The scaler a Destination should have, or null when it should have none (no `spec.scaling`, or
 * the `none` provider). Named like the worker Deployment, labelled like it, and controlled by the
 * Destination, so the garbage collector removes it with the Destination.
 * - keda: a ScaledObject with one `prometheus` trigger on {@link backlogQuery}, `threshold` the
 *   target backlog per replica (AverageValue: replicas = ceil(backlog / targetBacklog)), and
 *   `activationThreshold` 0, so minReplicas 0 scales from zero as soon as one delivery waits.
 *   `ignoreNullValues` is false: a missing series (Prometheus or the controller down) is an error,
 *   on which KEDA keeps the current replicas, instead of a zero that would scale to minReplicas.
 * - hpa: an autoscaling/v2 HPA on the External metric `herald_queue_backlog` selected by
 *   `destination` (and the query labels), as prometheus-adapter serves it, targeting an
 *   AverageValue of targetBacklog; minReplicas at least 1.
 * @throws Error when the Destination has no uid (it was not read from the API server) or keda has
 *   no Prometheus URL (config validation prevents that).
 */
export function desiredScaler(dest: Pick<DestinationResource, 'metadata'>, spec: DestinationSpec, settings: ScalerSettings): Scaler | null {
  const scaling = spec.scaling;
  const kind = scalerKindOf(settings.provider);
  if (!scaling || !kind) return null;
  const { name, namespace, uid } = dest.metadata;
  if (!uid) throw new Error(`Destination ${namespace}/${name} has no uid; read it from the API server before building its scaler`);
  const metadata: ObjectMeta = {
    name: scalerName(name),
    namespace,
    labels: workerLabels(settings.instance, name),
    ownerReferences: [{ apiVersion: DESTINATION_API_VERSION, kind: KIND, name, uid, controller: true, blockOwnerDeletion: true }],
  };
  const scaleTargetRef = { apiVersion: 'apps/v1', kind: 'Deployment', name: workerDeploymentName(name) };
  let scaler: Scaler;
  if (kind === 'ScaledObject') {
    if (!settings.prometheusUrl) throw new Error('the keda autoscaler needs a Prometheus URL (HERALD_PROMETHEUS_URL)');
    scaler = {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata,
      spec: {
        scaleTargetRef,
        pollingInterval: KEDA_POLLING_INTERVAL_SECONDS,
        cooldownPeriod: KEDA_COOLDOWN_SECONDS,
        minReplicaCount: scaling.minReplicas,
        maxReplicaCount: scaling.maxReplicas,
        triggers: [
          {
            type: 'prometheus',
            name: 'backlog',
            metricType: 'AverageValue',
            metadata: {
              serverAddress: settings.prometheusUrl,
              query: backlogQuery(name, settings.queryLabels),
              threshold: String(scaling.targetBacklog),
              activationThreshold: '0',
              ignoreNullValues: 'false',
            },
          },
        ],
      },
    };
  } else {
    scaler = {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata,
      spec: {
        scaleTargetRef,
        minReplicas: Math.max(1, scaling.minReplicas),
        maxReplicas: scaling.maxReplicas,
        metrics: [
          {
            type: 'External',
            external: {
              metric: { name: BACKLOG_METRIC, selector: { matchLabels: { destination: name, ...settings.queryLabels } } },
              target: { type: 'AverageValue', averageValue: canonicalQuantity(scaling.targetBacklog) },
            },
          },
        ],
      },
    };
  }
  // As for the Deployment: containment cannot see a field we stopped setting; this hash can.
  metadata.annotations = { [APPLIED_HASH_ANNOTATION]: createHash('sha256').update(stableStringify(scaler)).digest('hex').slice(0, 16) };
  return scaler;
}
