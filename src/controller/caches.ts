import type { V1Deployment } from '@kubernetes/client-node';
import type { ControllerConfig } from '../config/controller.js';
import type { Logger } from '../log/logger.js';
import { scalerChanged } from './autoscaling.js';
import type { Clock } from './clock.js';
import { scalerKindOf, SCALER_TYPES, type Scaler } from './desired-scaler.js';
import { controllerOf, type DestinationResource } from './destination-resource.js';
import { deploymentSource, destinationSource } from './kube-client.js';
import { KubeApiError, type KubeRest } from './kube-rest.js';
import { DESTINATION_LABEL, KIND, workerListSelector } from './names.js';
import { needsReconcile } from './predicates.js';
import { keyOf, Reflector } from './reflector.js';
import { scalerSource } from './scaler-client.js';

/** What to do about the list/watch errors an operator can fix. */
export function hint(err: unknown, resource: string, install?: string): string | undefined {
  if (!(err instanceof KubeApiError)) return undefined;
  if (err.status === 403) return `RBAC: the controller's ServiceAccount may not list/watch ${resource}; apply manifests/rbac (or the Helm chart's Role)`;
  if (err.status === 404 && install) return `${resource} is not served: is the CRD installed? ${install}`;
  return undefined;
}

/** The controller's informer caches, watched on every replica so a new leader starts warm. */
export interface ControllerCaches {
  destinations: Reflector<DestinationResource>;
  deployments: Reflector<V1Deployment>;
  /** Scalers of the configured provider's kind; undefined without autoscaling. */
  scalers: Reflector<Scaler> | undefined;
  start(): void;
  stop(): Promise<void>;
}

/** The Destination owning `obj`: its controller reference, or failing that the destination label. */
function ownerName(obj: { metadata?: { labels?: Record<string, string> } }, owner: { kind: string; name: string } | undefined): string | undefined {
  return owner?.kind === KIND ? owner.name : obj.metadata?.labels?.[DESTINATION_LABEL];
}

/**
 * Builds the reflectors over Destinations, their worker Deployments and (with autoscaling) their
 * scalers. A change that matters calls `enqueue` with the Destination's name; a Destination
 * appearing or going calls `destinationsChanged`.
 */
export function createCaches(opts: {
  rest: KubeRest;
  config: ControllerConfig;
  clock: Clock;
  /** Uniform in [0, 1): spreads the watches' timeouts. */
  random: () => number;
  logger: Logger;
  enqueue: (destination: string) => void;
  destinationsChanged: () => void;
}): ControllerCaches {
  const { rest, config, clock, random, logger } = opts;
  const ns = config.namespace;
  const common = { clock, logger, idleTimeoutMs: config.watchIdleTimeoutMs };
  const destinations = new Reflector<DestinationResource>({
    ...common,
    name: 'destinations',
    source: destinationSource(rest, ns, random),
    onChange: (obj, kind, previous) => {
      if (kind === 'delete' || needsReconcile(previous, obj)) opts.enqueue(obj.metadata.name);
      if (!previous || kind === 'delete') opts.destinationsChanged();
    },
    describeError: (err) => hint(err, 'destinations.herald.dev', 'kubectl apply -f manifests/crds/destinations.herald.dev.yaml'),
  });
  const deployments = new Reflector<V1Deployment>({
    ...common,
    name: 'deployments',
    source: deploymentSource(rest, ns, workerListSelector(config.worker.instance), random),
    describeError: (err) => hint(err, 'deployments.apps'),
    onChange: (dep) => {
      const name = ownerName(dep, controllerOf(dep));
      if (name) opts.enqueue(name);
    },
  });
  // Scalers of the provider's kind, so removed or edited ones are noticed; the CRD may be missing
  // (KEDA not installed), which this reflector survives by retrying slowly.
  const scalerKind = scalerKindOf(config.autoscaler.provider);
  const scalers = scalerKind
    ? new Reflector<Scaler>({
        ...common,
        name: SCALER_TYPES[scalerKind].plural,
        source: scalerSource(rest, scalerKind, ns, workerListSelector(config.worker.instance), random),
        maxBackoffMs: 5 * 60_000,
        describeError: (err) =>
          hint(err, `${SCALER_TYPES[scalerKind].plural}.${SCALER_TYPES[scalerKind].group}`, scalerKind === 'ScaledObject' ? 'Install KEDA, or set autoscaling.workers.provider to hpa or none.' : 'Set autoscaling.workers.provider to keda or none.'),
        onChange: (obj, kind, previous) => {
          if (kind !== 'delete' && !scalerChanged(previous, obj)) return;
          const name = ownerName(obj, controllerOf(obj));
          if (name) opts.enqueue(name);
        },
      })
    : undefined;
  return {
    destinations,
    deployments,
    scalers,
    start() {
      destinations.start();
      deployments.start();
      scalers?.start();
    },
    async stop() {
      await Promise.allSettled([destinations.stop(), deployments.stop(), scalers?.stop()]);
    },
  };
}
