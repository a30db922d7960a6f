import { hostname } from 'node:os';
import { z } from 'zod';
import { durationString, parseDuration } from '../api/duration.js';
import { ConfigError } from './config.js';
import { WorkerPodDefaults } from '../api/pod-scheduling.js';

const ms = durationString.transform(parseDuration);
/** DNS-1123 subdomain: the rule for ConfigMap, Secret, ServiceAccount and Lease names. */
const objectName = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'must be a DNS-1123 name (lower-case letters, digits, "-" and ".")');
/** DNS-1123 label: namespaces and label values we derive names from. */
const label = z
  .string()
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS-1123 label (lower-case letters, digits and "-")');

/**
 * Environment of `herald controller`, set by the Helm chart. Parsed once, frozen, and every bad
 * variable is listed in one ConfigError. Redis settings come from the shared Config (REDIS_URL,
 * HERALD_REDIS_PREFIX); workers get theirs from the ConfigMap and Secret named here.
 */
export const ControllerEnvSchema = z.object({
  /** Image of the worker pods (the Herald image itself), e.g. ghcr.io/acme/herald:1.2.3. Required. */
  HERALD_WORKER_IMAGE: z.string({ error: 'is required: the image the worker Deployments run' }).min(1),
  HERALD_WORKER_IMAGE_PULL_POLICY: z.enum(['Always', 'IfNotPresent', 'Never']).default('IfNotPresent'),
  /** ConfigMap with the workers' environment (REDIS_URL, HERALD_REDIS_PREFIX, ...), mounted with envFrom. */
  HERALD_WORKER_CONFIGMAP: objectName.optional(),
  /** Secret with the workers' secret environment (REDIS_URL with a password, SMTP_URL), mounted with envFrom. */
  HERALD_WORKER_SECRET: objectName.optional(),
  /**
   * A hash of the workers' ConfigMap and Secret contents, computed by the Helm chart. The controller
   * cannot see those contents (it may not read Secrets), so this is how changing them rolls the workers.
   */
  HERALD_WORKER_CONFIG_CHECKSUM: z.string().max(128).optional(),
  /** ServiceAccount of worker pods; they never call the Kubernetes API, so its token is not mounted. */
  HERALD_WORKER_SERVICE_ACCOUNT: objectName.optional(),
  /** Port the workers serve /healthz, /readyz and /metrics on; the probes target it. */
  HERALD_WORKER_PORT: z.coerce.number().int().min(1).max(65535).default(8080),
  HERALD_SECRETS_DIR: z.string().startsWith('/', 'must be an absolute path').default('/var/run/herald/secrets'),
  /** Namespace whose Destinations this controller serves; defaults to its own (POD_NAMESPACE). */
  HERALD_WATCH_NAMESPACE: label.optional(),
  /** The controller's own namespace, from the downward API. */
  POD_NAMESPACE: label.optional(),
  /** Leader-election identity, from the downward API; falls back to HOSTNAME (the pod name in Kubernetes). */
  POD_NAME: z.string().min(1).max(128).optional(),
  HOSTNAME: z.string().min(1).max(128).optional(),
  HERALD_LEASE_NAME: objectName.default('herald-controller'),
  /** Defaults to the watched namespace. */
  HERALD_LEASE_NAMESPACE: label.optional(),
  /** Helm release name: `app.kubernetes.io/instance` of everything the controller creates. */
  HERALD_INSTANCE: label.default('herald'),
  /** Every Destination is reconciled at least this often even without changes (drift repair). */
  HERALD_RESYNC_PERIOD: ms.default(parseDuration('10m')),
  /** How often a Destination's status is refreshed from Redis (backlog, counters, last error). */
  HERALD_STATUS_REFRESH: ms.default(parseDuration('20s')),
  HERALD_LEASE_DURATION: ms.default(parseDuration('15s')),
  HERALD_RENEW_DEADLINE: ms.default(parseDuration('10s')),
  HERALD_RETRY_PERIOD: ms.default(parseDuration('2s')),
  /** Destinations reconciled in parallel (never the same one twice at once). */
  HERALD_CONTROLLER_WORKERS: z.coerce.number().int().min(1).max(32).default(2),
  /**
   * How long a draining destination waits after it stopped routing before trusting an empty backlog:
   * ingest replicas pick up registry changes by pub/sub at once, or by their 5 s safety refresh.
   */
  HERALD_DRAIN_SETTLE: ms.default(parseDuration('10s')),
  /** A watch that delivers no event or bookmark for this long is presumed stalled and reopened. */
  HERALD_WATCH_IDLE_TIMEOUT: ms.default(parseDuration('3m')),
  /**
   * What scales the workers of a Destination with `spec.scaling`: a KEDA ScaledObject (`keda`), an
   * autoscaling/v2 HorizontalPodAutoscaler on prometheus-adapter's external metrics (`hpa`), or
   * nothing (`none`: the workers run at `spec.scaling.minReplicas`, at least 1).
   */
  HERALD_AUTOSCALER: z.enum(['keda', 'hpa', 'none']).default('keda'),
  /** Prometheus server KEDA's trigger queries, e.g. http://prometheus-operated.monitoring:9090. Required with keda. */
  HERALD_PROMETHEUS_URL: z.url({ protocol: /^https?$/, message: 'must be an absolute http:// or https:// URL' }).max(2048).optional(),
  /**
   * Extra label matchers of the backlog query (and the HPA's metric selector), as `name=value` pairs
   * separated by commas, e.g. `namespace=herald`: they pick this installation's series when several
   * Herald controllers report to one Prometheus.
   */
  HERALD_AUTOSCALER_QUERY_LABELS: z.string().max(1024).optional(),
  /**
   * JSON of what every worker pod gets from the chart (WorkerPodDefaults): nodeSelector, tolerations,
   * affinity, topologySpreadConstraints (each replaced by a Destination's own spec.workers field),
   * podLabels, podAnnotations, priorityClassName, podSecurityContext, containerSecurityContext.
   */
  HERALD_WORKER_POD_DEFAULTS: z
    .string()
    .max(65_536)
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be JSON' });
        return z.NEVER;
      }
    })
    .pipe(WorkerPodDefaults)
    .optional(),
});

/** Autoscaler providers; see HERALD_AUTOSCALER. */
export type AutoscalerProvider = 'keda' | 'hpa' | 'none';

/** How Destinations with `spec.scaling` are autoscaled. */
export interface AutoscalerSettings {
  provider: AutoscalerProvider;
  /** Server address of KEDA's Prometheus trigger; set whenever provider is keda. */
  prometheusUrl?: string;
  /** Label matchers added to the backlog query (KEDA) and metric selector (HPA), besides `destination`. */
  queryLabels: Readonly<Record<string, string>>;
}

const PROM_LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Kubernetes label values: HPA metric selectors are label selectors. */
const KUBE_LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/**
 * Parses HERALD_AUTOSCALER_QUERY_LABELS (`a=1,b=2`). Returns the labels, or the problems found.
 * `destination` is reserved (the controller matches it per Destination); with the hpa provider the
 * values must also be valid Kubernetes label values, as they become a label selector.
 */
export function parseQueryLabels(text: string | undefined, provider: AutoscalerProvider): { labels: Record<string, string>; issues: string[] } {
  const labels: Record<string, string> = {};
  const issues: string[] = [];
  for (const pair of (text ?? '').split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq).trim();
    const value = eq < 0 ? '' : pair.slice(eq + 1).trim();
    const bad = (why: string) => issues.push(`HERALD_AUTOSCALER_QUERY_LABELS: "${pair}" ${why}`);
    if (eq < 0) bad('must be name=value');
    else if (!PROM_LABEL_NAME.test(name) || name.startsWith('__')) bad('has an invalid Prometheus label name');
    else if (name === 'destination') bad('must not set destination: the controller matches it per Destination');
    else if (name in labels) bad('repeats a label');
    else if (provider === 'hpa' && (value.length > 63 || !KUBE_LABEL_VALUE.test(value))) bad('must have a Kubernetes label value (HPA metric selectors are label selectors)');
    else labels[name] = value;
  }
  return { labels, issues };
}

/** Settings that shape the worker Deployments; part of the config checksum that rolls workers. */
export interface WorkerSettings {
  image: string;
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  instance: string;
  configMapName?: string;
  secretName?: string;
  serviceAccountName?: string;
  /** Opaque value from the chart that changes with the ConfigMap/Secret contents. */
  configChecksum?: string;
  port: number;
  secretsDir: string;
  /** What the chart gives every worker pod (scheduling, labels, security contexts); see HERALD_WORKER_POD_DEFAULTS. */
  podDefaults?: WorkerPodDefaults;
}

export interface ControllerConfig {
  worker: WorkerSettings;
  /** Namespace whose Destinations are reconciled. */
  namespace: string;
  identity: string;
  lease: { name: string; namespace: string; durationMs: number; renewDeadlineMs: number; retryPeriodMs: number };
  resyncMs: number;
  statusRefreshMs: number;
  workers: number;
  watchIdleTimeoutMs: number;
  drainSettleMs: number;
  autoscaler: AutoscalerSettings;
}

/**
 * Reads the controller's configuration from an environment (process.env in cmd/, a literal in tests).
 * @throws ConfigError listing every invalid or missing variable.
 */
export function loadControllerConfig(env: Record<string, string | undefined>): Readonly<ControllerConfig> {
  const input: Record<string, string> = {};
  for (const key of Object.keys(ControllerEnvSchema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') input[key] = v;
  }
  const parsed = ControllerEnvSchema.safeParse(input);
  const issues = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  const e = parsed.success ? parsed.data : undefined;
  const namespace = input.HERALD_WATCH_NAMESPACE ?? input.POD_NAMESPACE;
  if (namespace === undefined) issues.push('HERALD_WATCH_NAMESPACE: set it, or POD_NAMESPACE (downward API), to the namespace whose Destinations to serve');
  if (e) {
    // The same invariants client-go's leader election enforces: a leader gives up (renew deadline)
    // strictly before others may take over (lease duration), and retries several times before that.
    if (e.HERALD_RENEW_DEADLINE >= e.HERALD_LEASE_DURATION) issues.push('HERALD_RENEW_DEADLINE: must be shorter than HERALD_LEASE_DURATION');
    if (e.HERALD_RETRY_PERIOD * 2 > e.HERALD_RENEW_DEADLINE) issues.push('HERALD_RETRY_PERIOD: must be at most half of HERALD_RENEW_DEADLINE');
    if (e.HERALD_STATUS_REFRESH < 1000) issues.push('HERALD_STATUS_REFRESH: must be at least 1s');
    if (e.HERALD_AUTOSCALER === 'keda' && !e.HERALD_PROMETHEUS_URL) {
      issues.push('HERALD_PROMETHEUS_URL: is required with HERALD_AUTOSCALER=keda (the Prometheus KEDA queries for the backlog); or set HERALD_AUTOSCALER to hpa or none');
    }
  }
  const queryLabels = parseQueryLabels(input.HERALD_AUTOSCALER_QUERY_LABELS, e?.HERALD_AUTOSCALER ?? 'keda');
  issues.push(...queryLabels.issues);
  if (issues.length > 0 || !e || namespace === undefined) throw new ConfigError(issues);
  const config: ControllerConfig = {
    worker: {
      image: e.HERALD_WORKER_IMAGE,
      imagePullPolicy: e.HERALD_WORKER_IMAGE_PULL_POLICY,
      instance: e.HERALD_INSTANCE,
      configMapName: e.HERALD_WORKER_CONFIGMAP,
      secretName: e.HERALD_WORKER_SECRET,
      serviceAccountName: e.HERALD_WORKER_SERVICE_ACCOUNT,
      configChecksum: e.HERALD_WORKER_CONFIG_CHECKSUM,
      port: e.HERALD_WORKER_PORT,
      secretsDir: e.HERALD_SECRETS_DIR,
      ...(e.HERALD_WORKER_POD_DEFAULTS ? { podDefaults: e.HERALD_WORKER_POD_DEFAULTS } : {}),
    },
    namespace,
    identity: e.POD_NAME ?? e.HOSTNAME ?? hostname(),
    lease: {
      name: e.HERALD_LEASE_NAME,
      namespace: e.HERALD_LEASE_NAMESPACE ?? namespace,
      durationMs: e.HERALD_LEASE_DURATION,
      renewDeadlineMs: e.HERALD_RENEW_DEADLINE,
      retryPeriodMs: e.HERALD_RETRY_PERIOD,
    },
    resyncMs: e.HERALD_RESYNC_PERIOD,
    statusRefreshMs: e.HERALD_STATUS_REFRESH,
    workers: e.HERALD_CONTROLLER_WORKERS,
    watchIdleTimeoutMs: e.HERALD_WATCH_IDLE_TIMEOUT,
    drainSettleMs: e.HERALD_DRAIN_SETTLE,
    autoscaler: {
      provider: e.HERALD_AUTOSCALER,
      prometheusUrl: e.HERALD_PROMETHEUS_URL,
      queryLabels: Object.freeze(queryLabels.labels),
    },
  };
  Object.freeze(config.worker);
  Object.freeze(config.lease);
  Object.freeze(config.autoscaler);
  return Object.freeze(config);
}
