import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigSchema, loadConfig } from '../../src/config/config.js';
import { ControllerEnvSchema, loadControllerConfig } from '../../src/config/controller.js';
import { CHART, ROOT, VALUES_ALL, find, helm, podTemplates, render, renderRaw, type KubeObject } from './helm.js';

const defaults = render();
const allOn = render({ values: [VALUES_ALL] });
const chartYaml = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as { appVersion: string; version: string };

type Env = Record<string, string>;

/** The objects values-all.yaml adds through extraObjects. */
const EXTRA_OBJECTS = new Set(['PriorityClass/herald-test', 'Secret/herald-test-key']);

/**
 * The environment a container would see: envFrom sources (from the rendered ConfigMaps/Secrets, or
 * `external` for Secrets the user brings), then env, with downward-API fields filled in.
 */
function containerEnv(objects: KubeObject[], container: KubeObject, pod: { name: string; namespace: string }, external: Record<string, Env> = {}): Env {
  const env: Env = {};
  for (const src of container.envFrom ?? []) {
    if (src.configMapRef) Object.assign(env, find(objects, 'ConfigMap', src.configMapRef.name).data);
    if (src.secretRef) {
      const name = src.secretRef.name as string;
      const secret = objects.find((o) => o.kind === 'Secret' && o.metadata.name === name);
      Object.assign(env, secret ? secret.stringData : (external[name] ?? {}));
    }
  }
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[e.name] = pod.namespace;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = pod.name;
    else throw new Error(`unexpected env source for ${e.name}: ${JSON.stringify(e.valueFrom)}`);
  }
  return env;
}

function container(objects: KubeObject[], kind: string, name: string): KubeObject {
  return find(objects, kind, name).spec.template.spec.containers[0];
}

describe('helm lint', () => {
  it('passes in strict mode with default values and with every optional feature on', () => {
    for (const args of [[], ['--values', VALUES_ALL]]) {
      const r = helm(['lint', '--strict', CHART, ...args]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain('0 chart(s) failed');
    }
  });
});

describe('default rendering', () => {
  it('installs ingest, the controller with its RBAC, the shared config and an in-chart Redis, and nothing optional', () => {
    const refs = defaults.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(refs).toEqual(
      [
        'ConfigMap/herald-worker',
        'Deployment/herald-controller',
        'Deployment/herald-ingest',
        'PodDisruptionBudget/herald-controller',
        'PodDisruptionBudget/herald-ingest',
        'Pod/herald-test-ingest',
        'Role/herald-controller',
        'RoleBinding/herald-controller',
        'Secret/herald-api-keys',
        'Secret/herald-worker',
        'Service/herald-controller',
        'Service/herald-ingest',
        'Service/herald-redis',
        'ServiceAccount/herald-controller',
        'ServiceAccount/herald-worker',
        'StatefulSet/herald-redis',
      ].sort(),
    );
  });

  it('ships the Destination CRD in crds/, identical to manifests/crds', () => {
    const crd = readFileSync(join(CHART, 'crds/destinations.herald.dev.yaml'), 'utf8');
    expect(crd).toBe(readFileSync(join(ROOT, 'manifests/crds/destinations.herald.dev.yaml'), 'utf8'));
    const withCrds = render({ includeCrds: true });
    expect(find(withCrds, 'CustomResourceDefinition').metadata.name).toBe('destinations.herald.dev');
  });
});

describe.each([
  ['default values', defaults],
  ['every optional feature on', allOn],
])('conventions (%s)', (_name, objects) => {
  it('labels every object with the app.kubernetes.io labels and helm.sh/chart', () => {
    // extraObjects are the user's own, rendered as given (values-all.yaml's PriorityClass and Secret).
    for (const o of objects.filter((x) => !EXTRA_OBJECTS.has(`${x.kind}/${x.metadata.name}`))) {
      expect(o.metadata.labels, `${o.kind}/${o.metadata.name}`).toMatchObject({
        'helm.sh/chart': `herald-${chartYaml.version}`,
        'app.kubernetes.io/name': 'herald',
        'app.kubernetes.io/instance': 'herald',
        'app.kubernetes.io/version': chartYaml.appVersion,
        'app.kubernetes.io/managed-by': 'Helm',
      });
      expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('herald');
    }
  });

  it('keeps versions out of selectors, and every selector matches its own pod template', () => {
    for (const { owner, template } of podTemplates(objects)) {
      const selector = owner.spec.selector.matchLabels as Record<string, string>;
      expect(Object.keys(selector)).not.toContain('helm.sh/chart');
      expect(Object.keys(selector)).not.toContain('app.kubernetes.io/version');
      expect(template.metadata.labels).toMatchObject(selector);
    }
    for (const svc of objects.filter((o) => o.kind === 'Service')) {
      const pods = podTemplates(objects).filter(({ template }) =>
        Object.entries(svc.spec.selector as Record<string, string>).every(([k, v]) => template.metadata.labels[k] === v),
      );
      expect(pods.map((p) => p.owner.metadata.name), `Service/${svc.metadata.name}`).toHaveLength(1);
    }
  });

  it('gives every container requests, limits, probes and a restricted securityContext', () => {
    for (const { owner, template } of podTemplates(objects)) {
      const ref = `${owner.kind}/${owner.metadata.name}`;
      expect(template.spec.securityContext, ref).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(template.spec.securityContext.runAsUser, ref).toBeGreaterThan(0);
      for (const c of template.spec.containers) {
        expect(c.securityContext, ref).toEqual({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          capabilities: { drop: ['ALL'] },
        });
        expect(Object.keys(c.resources.requests ?? {}).sort(), ref).toEqual(['cpu', 'memory']);
        expect(c.resources.limits?.memory, ref).toBeDefined();
        expect(c.livenessProbe, ref).toBeDefined();
        expect(c.readinessProbe, ref).toBeDefined();
      }
    }
  });

  it('runs every Herald component from one image, with a checksum/config annotation on its pods', () => {
    const herald = podTemplates(objects).filter(({ owner }) => owner.metadata.labels?.['app.kubernetes.io/component'] !== 'redis');
    expect(herald.map(({ owner }) => owner.metadata.name).sort()).toEqual(['herald-controller', 'herald-ingest']);
    const images = new Set(herald.map(({ template }) => template.spec.containers[0].image as string));
    expect(images.size).toBe(1);
    const workerImage = container(objects, 'Deployment', 'herald-controller').env.find((e: { name: string }) => e.name === 'HERALD_WORKER_IMAGE').value;
    expect(images).toContain(workerImage);
    for (const { template } of herald) expect(template.metadata.annotations['checksum/config']).toMatch(/^[0-9a-f]{64}$/);
  });

  it('does not mount an API token into pods that never call the Kubernetes API', () => {
    for (const { owner, template } of podTemplates(objects)) {
      const isController = owner.metadata.name === 'herald-controller';
      expect(template.spec.automountServiceAccountToken, owner.metadata.name).toBe(isController ? undefined : false);
    }
    expect(find(objects, 'ServiceAccount', 'herald-worker').automountServiceAccountToken).toBe(false);
  });
});

describe('controller contract (src/config/controller.ts)', () => {
  it.each([
    ['default values', defaults, 'ghcr.io/herald-dev/herald:' + chartYaml.appVersion, 8080],
    ['every optional feature on', allOn, 'registry.example.com/herald@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef', 8082],
  ])('tells the controller the worker image, ConfigMap, Secret and ServiceAccount of this release (%s)', (_n, objects, image, workerPort) => {
    const env = containerEnv(objects, container(objects, 'Deployment', 'herald-controller'), { name: 'herald-controller-abc', namespace: 'herald' });
    const config = loadControllerConfig(env);
    expect(config.worker).toMatchObject({ image, instance: 'herald', port: workerPort, imagePullPolicy: objects === allOn ? 'Always' : 'IfNotPresent' });
    expect(find(objects, 'ConfigMap', config.worker.configMapName).metadata.name).toBe('herald-worker');
    expect(find(objects, 'Secret', config.worker.secretName).metadata.name).toBe('herald-worker');
    expect(find(objects, 'ServiceAccount', config.worker.serviceAccountName).metadata.name).toBe('herald-worker');
    expect(config.namespace).toBe('herald');
    expect(config.identity).toBe('herald-controller-abc');
    // The controller reads Redis too (status figures): the shared config must parse.
    expect(loadConfig(env).REDIS_URL).toBe('redis://herald-redis.herald.svc:6379');
  });

  it.each([
    ['default values', defaults, { provider: 'keda', prometheusUrl: 'http://prometheus-operated.monitoring.svc:9090', queryLabels: { namespace: 'herald' } }],
    ['every optional feature on', allOn, { provider: 'hpa', prometheusUrl: undefined, queryLabels: { job: 'herald-controller', namespace: 'herald' } }],
  ])('tells the controller which autoscaler to create and how to query the backlog (%s)', (_n, objects, autoscaler) => {
    const env = containerEnv(objects, container(objects, 'Deployment', 'herald-controller'), { name: 'c', namespace: 'herald' });
    expect(loadControllerConfig(env).autoscaler).toEqual(autoscaler);
  });

  it('sets only environment variables Herald knows, so a typo cannot be silently ignored', () => {
    const known = new Set([...Object.keys(ConfigSchema.shape), ...Object.keys(ControllerEnvSchema.shape)]);
    for (const objects of [defaults, allOn]) {
      const names = new Set<string>();
      for (const cm of objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.name === 'herald-worker')) Object.keys(cm.data).forEach((k) => names.add(k));
      for (const s of objects.filter((o) => o.kind === 'Secret' && o.metadata.name === 'herald-worker')) Object.keys(s.stringData).forEach((k) => names.add(k));
      for (const { template } of podTemplates(objects)) {
        for (const c of template.spec.containers) for (const e of c.env ?? []) names.add(e.name);
      }
      expect([...names].filter((n) => !known.has(n))).toEqual([]);
    }
  });

  it('gives ingest and the workers a configuration Herald accepts, alerts included', () => {
    const env = containerEnv(allOn, container(allOn, 'Deployment', 'herald-ingest'), { name: 'herald-ingest-abc', namespace: 'herald' });
    const config = loadConfig(env);
    expect(config).toMatchObject({
      REDIS_URL: 'redis://herald-redis.herald.svc:6379',
      HERALD_REDIS_PREFIX: 'herald-test',
      HERALD_DURABILITY: 'strict',
      HERALD_HTTP_PORT: 9090,
      HERALD_LOG_LEVEL: 'debug',
      HERALD_MAX_BODY: 2 * 1024 * 1024,
      SMTP_URL: 'smtp://alerts:secret@mail.example.com:587',
      ALERT_EMAIL_TO: 'oncall@example.com',
      ALERT_EMAIL_FROM: 'herald@example.com',
      HERALD_DIGEST_WINDOW: 30_000,
      HERALD_DIGEST_SUPPRESS: 2 * 3_600_000,
      HERALD_ALLOW_PRIVATE_DESTINATIONS: true,
      HERALD_LOCK_DURATION: 45_000,
      HERALD_DELIVERY_ALLOW_CIDRS: '10.20.0.0/16',
      HERALD_DELIVERY_DENY_CIDRS: '10.96.0.1/32,10.96.0.10/32',
      HERALD_NAMESPACE: 'herald',
      HERALD_API_KEYS_FILE: '/etc/herald/api-keys/api-keys.yaml',
      HERALD_INGEST_AUTH: 'required',
    });
  });

  it('turns ingest authentication off explicitly when ingest.auth.enabled is false', () => {
    const objects = render({ set: { 'ingest.auth.enabled': false } });
    const config = loadConfig(containerEnv(objects, container(objects, 'Deployment', 'herald-ingest'), { name: 'i', namespace: 'herald' }));
    expect(config.HERALD_INGEST_AUTH).toBe('off');
    expect(config.HERALD_API_KEYS_FILE).toBeUndefined();
  });
});

describe('an external Redis through Sentinel (redis.sentinel)', () => {
  const sentinel = {
    'redis.enabled': false,
    'redis.sentinel.sentinels[0]': 'redis-sentinel-0.redis:26379',
    'redis.sentinel.sentinels[1]': 'redis-sentinel-1.redis:26379',
    'redis.sentinel.masterName': 'herald',
    'redis.sentinel.tls': true,
    'config.ackReplicas': 1,
    existingSecret: 'herald-redis-auth',
  };

  it('gives every process the sentinels instead of a URL, passwords from the Secret you manage, and no in-chart Redis', () => {
    const objects = render({ set: sentinel });
    const secret = { 'herald-redis-auth': { HERALD_REDIS_PASSWORD: 'p', HERALD_REDIS_SENTINEL_PASSWORD: 'sp' } };
    for (const name of ['herald-ingest', 'herald-controller']) {
      const config = loadConfig(containerEnv(objects, container(objects, 'Deployment', name), { name: 'x', namespace: 'herald' }, secret));
      expect(config).toMatchObject({
        HERALD_REDIS_SENTINELS: [{ host: 'redis-sentinel-0.redis', port: 26379 }, { host: 'redis-sentinel-1.redis', port: 26379 }],
        HERALD_REDIS_SENTINEL_NAME: 'herald',
        HERALD_REDIS_PASSWORD: 'p',
        HERALD_REDIS_SENTINEL_PASSWORD: 'sp',
        HERALD_REDIS_TLS: true,
        HERALD_ACK_REPLICAS: 1,
      });
    }
    expect(objects.filter((o) => o.kind === 'StatefulSet')).toEqual([]);
  });

  it('leaves REDIS_URL out of the chart’s Secret in Sentinel mode', () => {
    const objects = render({ set: { ...sentinel, existingSecret: '' } });
    expect(find(objects, 'Secret', 'herald-worker').stringData?.REDIS_URL).toBeUndefined();
  });

  it('refuses a half-configured Sentinel, and waiting for replicas the in-chart Redis does not have, saying what to set', () => {
    expect(renderRaw({ set: { ...sentinel, 'redis.sentinel.masterName': '' } }).stderr).toMatch(/redis.sentinel.masterName is required/);
    expect(renderRaw({ set: { ...sentinel, 'redis.enabled': true } }).stderr).toMatch(/set redis.enabled to false/);
    expect(renderRaw({ set: { ...sentinel, 'redis.url': 'redis://r:6379' } }).stderr).toMatch(/either redis.url or redis.sentinel.sentinels/);
    expect(renderRaw({ set: { 'config.ackReplicas': 1 } }).stderr).toMatch(/config.ackReplicas needs a Redis with replicas/);
  });
});

describe('an external Redis Cluster (redis.cluster)', () => {
  const cluster = {
    'redis.enabled': false,
    'redis.cluster.nodes[0]': 'redis-cluster-0.redis:6379',
    'redis.cluster.nodes[1]': 'redis-cluster-1.redis:6379',
    'redis.cluster.tls': true,
    'config.ackReplicas': 1,
    existingSecret: 'herald-redis-auth',
  };

  it('gives every process the cluster\'s nodes instead of a URL, the password from the Secret you manage, and no in-chart Redis', () => {
    const objects = render({ set: cluster });
    const secret = { 'herald-redis-auth': { HERALD_REDIS_PASSWORD: 'p' } };
    for (const name of ['herald-ingest', 'herald-controller']) {
      const config = loadConfig(containerEnv(objects, container(objects, 'Deployment', name), { name: 'x', namespace: 'herald' }, secret));
      expect(config).toMatchObject({
        HERALD_REDIS_CLUSTER_NODES: [{ host: 'redis-cluster-0.redis', port: 6379 }, { host: 'redis-cluster-1.redis', port: 6379 }],
        HERALD_REDIS_PASSWORD: 'p',
        HERALD_REDIS_TLS: true,
        HERALD_ACK_REPLICAS: 1,
      });
      expect(config.HERALD_REDIS_SENTINELS).toBeUndefined();
    }
    expect(objects.filter((o) => o.kind === 'StatefulSet')).toEqual([]);
    expect(find(render({ set: { ...cluster, existingSecret: '' } }), 'Secret', 'herald-worker').stringData?.REDIS_URL).toBeUndefined();
  });

  it('refuses a cluster beside the in-chart Redis, a URL or Sentinel, saying what to set', () => {
    expect(renderRaw({ set: { ...cluster, 'redis.enabled': true } }).stderr).toMatch(/redis.cluster.nodes names an external Redis Cluster: set redis.enabled to false/);
    expect(renderRaw({ set: { ...cluster, 'redis.url': 'redis://r:6379' } }).stderr).toMatch(/either redis.url or redis.cluster.nodes/);
    expect(renderRaw({ set: { ...cluster, 'redis.sentinel.sentinels[0]': 's:26379', 'redis.sentinel.masterName': 'herald' } }).stderr).toMatch(/either redis.sentinel.sentinels .* or redis.cluster.nodes/);
  });
});

describe('worker autoscaling (autoscaling.workers)', () => {
  const env = (objects: KubeObject[]) => containerEnv(objects, container(objects, 'Deployment', 'herald-controller'), { name: 'c', namespace: 'prod' });

  it('selects KEDA by default, with the Prometheus URL and the release namespace as query matcher', () => {
    const objects = render({ namespace: 'prod', set: { 'autoscaling.workers.prometheusUrl': 'https://prometheus.example.com' } });
    expect(env(objects)).toMatchObject({ HERALD_AUTOSCALER: 'keda', HERALD_PROMETHEUS_URL: 'https://prometheus.example.com', HERALD_AUTOSCALER_QUERY_LABELS: 'namespace=prod' });
    expect(loadControllerConfig(env(objects)).autoscaler).toEqual({ provider: 'keda', prometheusUrl: 'https://prometheus.example.com', queryLabels: { namespace: 'prod' } });
  });

  it('selects an HPA without a Prometheus URL; query labels are overridable and an empty one is left out', () => {
    const objects = render({ namespace: 'prod', set: { 'autoscaling.workers.provider': 'hpa', 'autoscaling.workers.queryLabels.namespace': '', 'autoscaling.workers.queryLabels.job': 'events' } });
    const e = env(objects);
    expect(e).toMatchObject({ HERALD_AUTOSCALER: 'hpa', HERALD_AUTOSCALER_QUERY_LABELS: 'job=events' });
    expect(e.HERALD_PROMETHEUS_URL).toBeUndefined();
    expect(loadControllerConfig(e).autoscaler).toEqual({ provider: 'hpa', prometheusUrl: undefined, queryLabels: { job: 'events' } });
  });

  it('can turn autoscaling off', () => {
    expect(loadControllerConfig(env(render({ set: { 'autoscaling.workers.provider': 'none' } }))).autoscaler.provider).toBe('none');
  });

  it('refuses KEDA without a Prometheus URL, saying what to set', () => {
    const r = renderRaw({ set: { 'autoscaling.workers.prometheusUrl': '' } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('autoscaling.workers.prometheusUrl is required with autoscaling.workers.provider=keda');
  });

  it('lets the controller manage ScaledObjects and HPAs whatever the provider (it removes the other kind after a switch)', () => {
    for (const objects of [defaults, allOn]) {
      const rules = find(objects, 'Role', 'herald-controller').rules as Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>;
      for (const [group, resource] of [['keda.sh', 'scaledobjects'], ['autoscaling', 'horizontalpodautoscalers']]) {
        expect(rules.find((r) => r.apiGroups.includes(group!) && r.resources.includes(resource!))?.verbs, resource).toEqual(['list', 'watch', 'create', 'patch', 'delete']);
      }
    }
  });

  it('ships a prometheus-adapter rule (not rendered) that serves herald_queue_backlog per destination, the metric the HPAs select', async () => {
    const { BACKLOG_METRIC } = await import('../../src/controller/desired-scaler.js');
    const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as { autoscaling: { workers: { prometheusAdapter: { rules: { external: Array<Record<string, any>> } } } } };
    const [rule, ...more] = values.autoscaling.workers.prometheusAdapter.rules.external;
    expect(more).toEqual([]);
    expect(rule!.seriesQuery).toContain(`${BACKLOG_METRIC}{`);
    expect(rule!.name.as).toBe(BACKLOG_METRIC);
    expect(rule!.resources.overrides.namespace).toEqual({ resource: 'namespace' });
    expect(rule!.metricsQuery).toBe('max(<<.Series>>{<<.LabelMatchers>>}) by (destination)');
    for (const objects of [defaults, allOn]) expect(JSON.stringify(objects)).not.toContain('<<.Series>>');
    // docs/autoscaling.md shows the same rule.
    const doc = readFileSync(join(ROOT, 'docs/autoscaling.md'), 'utf8');
    expect(doc).toContain(`- seriesQuery: '${rule!.seriesQuery}'`);
    expect(doc).toContain(`metricsQuery: ${rule!.metricsQuery}`);
  });
});

describe('controller RBAC', () => {
  it('grants exactly the rules of manifests/rbac/role.yaml, bound to the controller’s ServiceAccount', () => {
    const reference = parse(readFileSync(join(ROOT, 'manifests/rbac/role.yaml'), 'utf8')) as KubeObject;
    expect(find(defaults, 'Role', 'herald-controller').rules).toEqual(reference.rules);
    const binding = find(defaults, 'RoleBinding', 'herald-controller');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'herald-controller' });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'herald-controller', namespace: 'herald' }]);
  });

  it('limits Lease access to the Lease the controller is told to use', () => {
    const objects = render({ release: 'events', namespace: 'prod' });
    const env = containerEnv(objects, container(objects, 'Deployment', 'events-herald-controller'), { name: 'p', namespace: 'prod' });
    const named = (find(objects, 'Role').rules as { resources: string[]; resourceNames?: string[] }[]).find((r) => r.resourceNames);
    expect(named).toMatchObject({ resources: ['leases'], resourceNames: [loadControllerConfig(env).lease.name] });
  });
});

describe('configuration changes roll the pods', () => {
  it('changes checksum/config of ingest and the controller when a shared setting changes', () => {
    const before = render();
    const after = render({ set: { logLevel: 'debug' } });
    for (const name of ['herald-ingest', 'herald-controller']) {
      const a = find(before, 'Deployment', name).spec.template.metadata.annotations['checksum/config'];
      const b = find(after, 'Deployment', name).spec.template.metadata.annotations['checksum/config'];
      expect(a, name).not.toBe(b);
    }
  });
});

describe('Redis', () => {
  it('runs one Redis with AOF persistence on a PVC and noeviction behind a headless Service', () => {
    const sts = find(defaults, 'StatefulSet', 'herald-redis');
    const c = sts.spec.template.spec.containers[0];
    const args = (c.args as string[]).join(' ');
    expect(args).toContain('--appendonly yes');
    // config.durability defaults to strict: Redis fsyncs every write before it replies.
    expect(args).toContain('--appendfsync always');
    expect(args).toContain('--maxmemory-policy noeviction');
    expect(args).toContain('--hash-max-listpack-value 512');
    expect(c.image).toBe('redis:7.4-alpine');
    expect(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('8Gi');
    expect(c.volumeMounts).toContainEqual({ name: 'data', mountPath: '/data' });
    const svc = find(defaults, 'Service', 'herald-redis');
    expect(svc.spec.clusterIP).toBe('None');
    expect(sts.spec.serviceName).toBe('herald-redis');
  });

  it('uses redis.url instead of the in-chart Redis when disabled', () => {
    const objects = render({ set: { 'redis.enabled': false, 'redis.url': 'rediss://:pw@redis.example.com:6380/0' } });
    expect(objects.filter((o) => o.metadata.labels?.['app.kubernetes.io/component'] === 'redis')).toEqual([]);
    expect(find(objects, 'Secret', 'herald-worker').stringData.REDIS_URL).toBe('rediss://:pw@redis.example.com:6380/0');
  });

  it('refuses to render without any Redis, saying what to set', () => {
    const r = renderRaw({ set: { 'redis.enabled': false } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('redis.url is required when redis.enabled is false');
  });

  it('uses a Secret the user manages for connection URLs everywhere, workers included', () => {
    const objects = render({ set: { 'redis.enabled': false, existingSecret: 'herald-connections' } });
    expect(objects.filter((o) => o.kind === 'Secret' && o.metadata.name === 'herald-worker')).toEqual([]);
    const env = containerEnv(objects, container(objects, 'Deployment', 'herald-controller'), { name: 'c', namespace: 'herald' }, {
      'herald-connections': { REDIS_URL: 'redis://external:6379' },
    });
    expect(loadControllerConfig(env).worker.secretName).toBe('herald-connections');
    expect(container(objects, 'Deployment', 'herald-ingest').envFrom).toContainEqual({ secretRef: { name: 'herald-connections' } });
  });
});

describe('ingest', () => {
  it('publishes only /ingest through the Ingress, with class, host and TLS from values', () => {
    const ing = find(allOn, 'Ingress');
    expect(ing.spec.ingressClassName).toBe('nginx');
    expect(ing.spec.tls).toEqual([{ secretName: 'herald-tls', hosts: ['herald.example.com'] }]);
    expect(ing.spec.rules).toEqual([
      {
        host: 'herald.example.com',
        http: { paths: [{ path: '/ingest', pathType: 'Prefix', backend: { service: { name: 'herald-ingest', port: { name: 'http' } } } }] },
      },
    ]);
    expect(find(allOn, 'Service', 'herald-ingest').spec.ports[0]).toMatchObject({ name: 'http', port: 8000, targetPort: 'http' });
  });

  it('publishes only /ingest through a Gateway API HTTPRoute too, attached to the Gateways from values', () => {
    const route = find(allOn, 'HTTPRoute', 'herald-ingest');
    expect(route.apiVersion).toBe('gateway.networking.k8s.io/v1');
    expect(route.metadata.annotations).toEqual({ 'example.com/owner': 'platform' });
    expect(route.spec).toEqual({
      parentRefs: [{ name: 'public', namespace: 'gateways', sectionName: 'http' }],
      hostnames: ['herald.example.com'],
      rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/ingest' } }], backendRefs: [{ name: 'herald-ingest', port: 8000 }] }],
    });
    expect(defaults.filter((o) => o.kind === 'HTTPRoute')).toEqual([]);
  });

  it('refuses an HTTPRoute with no Gateway to attach to', () => {
    const r = renderRaw({ set: { 'ingest.httpRoute.enabled': true } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('ingest.httpRoute.parentRefs needs at least one Gateway');
  });

  it('scales ingest with an HPA instead of a fixed replica count when autoscaling is on', () => {
    expect(find(allOn, 'Deployment', 'herald-ingest').spec.replicas).toBeUndefined();
    expect(find(allOn, 'HorizontalPodAutoscaler').spec).toMatchObject({ minReplicas: 2, maxReplicas: 6, scaleTargetRef: { kind: 'Deployment', name: 'herald-ingest' } });
    expect(find(defaults, 'Deployment', 'herald-ingest').spec.replicas).toBe(2);
  });

  it('mounts the API key file (hashes only) and names it in HERALD_API_KEYS_FILE', () => {
    const secret = find(allOn, 'Secret', 'herald-api-keys');
    expect(parse(secret.stringData['api-keys.yaml'])).toEqual([
      { name: 'shop', hash: 'sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', types: ['order.*'], rateLimit: { perSecond: 100, burst: 200 } },
    ]);
    const pod = find(allOn, 'Deployment', 'herald-ingest').spec.template.spec;
    expect(pod.volumes).toContainEqual({ name: 'api-keys', secret: { secretName: 'herald-api-keys', defaultMode: 0o440 } });
    expect(pod.containers[0].volumeMounts).toContainEqual({ name: 'api-keys', mountPath: '/etc/herald/api-keys', readOnly: true });

    const byo = render({ set: { 'ingest.auth.existingSecret': 'my-keys' } });
    expect(byo.filter((o) => o.kind === 'Secret' && o.metadata.name === 'herald-api-keys')).toEqual([]);
    expect(find(byo, 'Deployment', 'herald-ingest').spec.template.spec.volumes).toContainEqual({ name: 'api-keys', secret: { secretName: 'my-keys', defaultMode: 0o440 } });

    const off = render({ set: { 'ingest.auth.enabled': false } });
    expect(find(off, 'Deployment', 'herald-ingest').spec.template.spec.volumes.map((v: { name: string }) => v.name)).not.toContain('api-keys');
  });
});

describe('network policies', () => {
  it('lets only this release’s ingest, controller and workers reach Redis', () => {
    const np = find(allOn, 'NetworkPolicy', 'herald-redis');
    expect(np.spec.podSelector.matchLabels).toMatchObject({ 'app.kubernetes.io/component': 'redis' });
    expect(np.spec.ingress).toEqual([
      {
        from: [
          {
            podSelector: {
              matchExpressions: [
                { key: 'app.kubernetes.io/instance', operator: 'In', values: ['herald'] },
                { key: 'app.kubernetes.io/component', operator: 'In', values: ['ingest', 'controller', 'worker'] },
              ],
            },
          },
        ],
        ports: [{ port: 'redis', protocol: 'TCP' }],
      },
    ]);
  });

  it('selects the worker pods by the labels the controller gives them', async () => {
    const { workerLabels } = await import('../../src/controller/names.js');
    const np = find(allOn, 'NetworkPolicy', 'herald-worker');
    expect(workerLabels('herald', 'any-destination')).toMatchObject(np.spec.podSelector.matchLabels);
    const pm = find(allOn, 'PodMonitor');
    expect(workerLabels('herald', 'any-destination')).toMatchObject(pm.spec.selector.matchLabels);
  });
});

describe('monitoring', () => {
  it('embeds the same alert rules promtool tests, and the dashboards, byte for byte', () => {
    const rule = find(allOn, 'PrometheusRule');
    const file = parse(readFileSync(join(ROOT, 'manifests/prometheus/herald-rules.yaml'), 'utf8')) as { groups: unknown };
    expect(rule.spec.groups).toEqual(file.groups);
    expect(rule.metadata.labels?.release).toBe('prometheus');
    for (const name of ['herald-overview', 'herald-destination']) {
      const cm = allOn.find((o) => o.kind === 'ConfigMap' && o.data?.[`${name}.json`] !== undefined);
      expect(cm, name).toBeDefined();
      expect(cm?.metadata.labels?.grafana_dashboard).toBe('1');
      expect(cm!.data[`${name}.json`]).toBe(readFileSync(join(ROOT, `manifests/grafana/${name}.json`), 'utf8').replace(/\n$/, ''));
    }
  });

  it('scrapes ingest and the controller through their Services’ http port', () => {
    const sm = find(allOn, 'ServiceMonitor');
    const selected = allOn.filter(
      (o) =>
        o.kind === 'Service' &&
        Object.entries(sm.spec.selector.matchLabels as Record<string, string>).every(([k, v]) => o.metadata.labels?.[k] === v) &&
        (sm.spec.selector.matchExpressions[0].values as string[]).includes(o.metadata.labels?.['app.kubernetes.io/component'] ?? ''),
    );
    expect(selected.map((s) => s.metadata.name).sort()).toEqual(['herald-controller', 'herald-ingest']);
    for (const s of selected) expect(s.spec.ports.map((p: { name: string }) => p.name)).toContain(sm.spec.endpoints[0].port);
  });
});
