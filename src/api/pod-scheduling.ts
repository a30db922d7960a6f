import { z } from 'zod';

/**
 * A Kubernetes object Herald passes through unread (affinity, a topology spread constraint): the API
 * server validates it when the worker Deployment is applied, so its errors name the real field.
 */
const passThrough = z.record(z.string(), z.unknown());

const toleration = z
  .object({
    key: z.string().max(316).optional(),
    operator: z.enum(['Exists', 'Equal']).optional(),
    value: z.string().max(63).optional(),
    effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
    tolerationSeconds: z.number().int().optional(),
  })
  .strict();

/**
 * Where worker pods may run: the Pod fields of the same names. In a Destination's `spec.workers`
 * each one set replaces the chart's default for that field (`worker.*` values); unset ones keep it.
 */
export const WorkerScheduling = z
  .object({
    nodeSelector: z.record(z.string(), z.string()).optional(),
    tolerations: z.array(toleration).max(64).optional(),
    affinity: passThrough.optional(),
    topologySpreadConstraints: z.array(passThrough).max(16).optional(),
  })
  .strict();
export type WorkerScheduling = z.infer<typeof WorkerScheduling>;

/** Spec paths of {@link passThrough} objects; the CRD keeps their unknown fields instead of pruning them. */
export const PASS_THROUGH_PATHS = ['spec.workers.affinity', 'spec.workers.topologySpreadConstraints[*]'];

/**
 * What the chart gives every worker pod the controller creates (HERALD_WORKER_POD_DEFAULTS, JSON):
 * scheduling defaults plus labels, annotations, priority class and security contexts.
 */
export const WorkerPodDefaults = WorkerScheduling.extend({
  podLabels: z.record(z.string(), z.string()).optional(),
  podAnnotations: z.record(z.string(), z.string()).optional(),
  priorityClassName: z.string().max(253).optional(),
  podSecurityContext: passThrough.optional(),
  containerSecurityContext: passThrough.optional(),
}).strict();
export type WorkerPodDefaults = z.infer<typeof WorkerPodDefaults>;
