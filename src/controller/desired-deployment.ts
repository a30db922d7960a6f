import { createHash } from 'node:crypto';
import type { V1Deployment, V1EnvFromSource, V1PodSecurityContext, V1PodSpec, V1ResourceRequirements, V1SecurityContext, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { WorkerScheduling } from '../api/pod-scheduling.js';
import type { DestinationSpec } from '../api/destination.js';
import { restartSpec } from '../api/spec-change.js';
import { stableStringify } from '../api/stable-stringify.js';
import type { WorkerSettings } from '../config/controller.js';
import type { DestinationResource } from './destination-resource.js';
import { APPLIED_HASH_ANNOTATION, CHECKSUM_ANNOTATION, DESTINATION_API_VERSION, KIND, workerDeploymentName, workerLabels, workerSelector } from './names.js';

/** Requests sized for one Node.js worker at default concurrency; limits leave room for bursts without letting one destination starve a node. */
export const DEFAULT_RESOURCES = {
  requests: { cpu: '50m', memory: '96Mi' },
  limits: { memory: '256Mi' },
} as const;

/** Matches the worker's 25 s graceful shutdown plus margin for the kubelet. */
export const TERMINATION_GRACE_SECONDS = 30;
/** The distroless "nonroot" user; the image must not need root, and Pod Security "restricted" insists. */
export const WORKER_UID = 65532;

/**
 * The worker Deployment a Destination should have: a pure function of the Destination, its parsed
 * spec and the controller's settings, so it is unit-tested without a cluster and server-side applied
 * as is. Replicas are omitted while a scaler manages them (desired-scaler.ts `workerReplicas`),
 * instead of fighting it on every reconcile.
 */
export function desiredDeployment(
  dest: Pick<DestinationResource, 'metadata'>,
  spec: DestinationSpec,
  settings: WorkerSettings,
  /** What spec.replicas should say; undefined leaves it to a scaler. Default: spec.workers.replicas, or undefined with spec.scaling. */
  replicas: number | undefined = spec.scaling ? undefined : spec.workers.replicas,
): V1Deployment {
  const name = dest.metadata.name;
  const namespace = dest.metadata.namespace;
  if (!dest.metadata.uid) throw new Error(`Destination ${namespace}/${name} has no uid; read it from the API server before building its Deployment`);
  const pod = settings.podDefaults ?? {};
  const labels = workerLabels(settings.instance, name);
  // The chart's pod labels never replace Herald's own, which the selector and the controller rely on.
  const podLabels = { ...pod.podLabels, ...labels };
  const scheduling = workerScheduling(spec.workers, pod);
  const volumes: V1Volume[] = [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }];
  const mounts: V1VolumeMount[] = [{ name: 'tmp', mountPath: '/tmp' }];
  referencedSecrets(spec).forEach((secretName, i) => {
    // The worker reads <secretsDir>/<secretName>/<key>. 0440 plus fsGroup: readable by the non-root worker only.
    volumes.push({ name: `secret-${i}`, secret: { secretName, defaultMode: 0o440 } });
    mounts.push({ name: `secret-${i}`, mountPath: `${settings.secretsDir}/${secretName}`, readOnly: true });
  });
  const envFrom: V1EnvFromSource[] = [];
  if (settings.configMapName) envFrom.push({ configMapRef: { name: settings.configMapName } });
  if (settings.secretName) envFrom.push({ secretRef: { name: settings.secretName } });

  const deployment: V1Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: workerDeploymentName(name),
      namespace,
      labels,
      ownerReferences: [{ apiVersion: DESTINATION_API_VERSION, kind: KIND, name, uid: dest.metadata.uid, controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      ...(replicas === undefined ? {} : { replicas }),
      selector: { matchLabels: workerSelector(settings.instance, name) },
      revisionHistoryLimit: 3,
      // Surge first: a destination never loses all its workers during a rollout.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels: podLabels, annotations: { ...pod.podAnnotations, [CHECKSUM_ANNOTATION]: configChecksum(spec, settings) } },
        spec: {
          ...(settings.serviceAccountName ? { serviceAccountName: settings.serviceAccountName } : {}),
          ...(pod.priorityClassName ? { priorityClassName: pod.priorityClassName } : {}),
          ...(scheduling as Partial<V1PodSpec>),
          // Workers talk to Redis and receivers, never to the Kubernetes API.
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
          // The chart's podSecurityContext when it gives one (OpenShift assigns its own UIDs).
          securityContext: (pod.podSecurityContext as V1PodSecurityContext | undefined) ?? {
            runAsNonRoot: true,
            runAsUser: WORKER_UID,
            runAsGroup: WORKER_UID,
            fsGroup: WORKER_UID,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: 'worker',
              image: settings.image,
              imagePullPolicy: settings.imagePullPolicy,
              args: ['worker', '--destination', name],
              // Explicit env wins over envFrom, so a shared ConfigMap cannot move the port the probes use.
              env: [
                { name: 'HERALD_HTTP_PORT', value: String(settings.port) },
                { name: 'HERALD_SECRETS_DIR', value: settings.secretsDir },
                { name: 'HERALD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              ],
              ...(envFrom.length > 0 ? { envFrom } : {}),
              ports: [{ name: 'http', containerPort: settings.port, protocol: 'TCP' }],
              livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
              // Not ready while Redis is unreachable, so `kubectl get dest` shows workers that cannot work.
              readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 2 },
              resources: workerResources(spec.workers.resources),
              securityContext: (pod.containerSecurityContext as V1SecurityContext | undefined) ?? {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                capabilities: { drop: ['ALL'] },
              },
              volumeMounts: mounts,
            },
          ],
          volumes,
        },
      },
    },
  };
  // Containment checks cannot see a field we stopped setting (replicas once scaling is enabled, a
  // removed volume); a hash of the whole desired object can.
  deployment.metadata!.annotations = { [APPLIED_HASH_ANNOTATION]: createHash('sha256').update(stableStringify(deployment)).digest('hex').slice(0, 16) };
  return deployment;
}

/**
 * Where the worker pods may run: each field the Destination's spec.workers sets replaces the chart's
 * default (not merged: half of one node selector and half of another would match no node).
 */
export function workerScheduling(own: WorkerScheduling, defaults: WorkerScheduling): WorkerScheduling {
  const out: WorkerScheduling = {};
  for (const key of ['nodeSelector', 'tolerations', 'affinity', 'topologySpreadConstraints'] as const) {
    const value = own[key] ?? defaults[key];
    if (value !== undefined) (out as Record<string, unknown>)[key] = value;
  }
  return out;
}

/** Secrets the workers read (header credentials, signing keys), each mounted once, in a stable order. */
export function referencedSecrets(spec: DestinationSpec): string[] {
  const names = [spec.headersFrom?.secretRef.name, spec.signing?.secretRef.name].filter((n): n is string => !!n);
  return [...new Set(names)].sort();
}

/**
 * The spec's resources verbatim, or the defaults when it sets none. Not merged per field: a default
 * memory limit under a memory request the user raised would make the API server refuse the pods.
 */
export function workerResources(resources: DestinationSpec['workers']['resources']): V1ResourceRequirements {
  if (!resources || (!resources.requests && !resources.limits)) {
    return { requests: { ...DEFAULT_RESOURCES.requests }, limits: { ...DEFAULT_RESOURCES.limits } };
  }
  return {
    ...(resources.requests ? { requests: { ...resources.requests } } : {}),
    ...(resources.limits ? { limits: { ...resources.limits } } : {}),
  };
}

/**
 * SHA-256 over what the running workers read only when they start but the pod template does not
 * show: the spec fields `SPEC_FIELD_EFFECTS` marks `restart`, the names of their env sources and
 * the chart's checksum of those sources' contents. Every other spec change reaches running workers
 * through the registry (or is not theirs), so it must not roll every worker pod.
 */
export function configChecksum(spec: DestinationSpec, settings: WorkerSettings): string {
  const input = { spec: restartSpec(spec), configMap: settings.configMapName, secret: settings.secretName, contents: settings.configChecksum };
  return createHash('sha256').update(stableStringify(input)).digest('hex');
}

