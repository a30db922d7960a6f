import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/config.js';
import { loadControllerConfig } from '../../../src/config/controller.js';

const minimal = { HERALD_WORKER_IMAGE: 'ghcr.io/acme/herald:1.2.3', POD_NAMESPACE: 'herald', POD_NAME: 'herald-controller-7d9f-abc', HERALD_PROMETHEUS_URL: 'http://prometheus-operated.monitoring:9090' };

describe('loadControllerConfig', () => {
  it('defaults to the own namespace, client-go lease timings and a 20 s status refresh', () => {
    const c = loadControllerConfig(minimal);
    expect(c).toMatchObject({
      namespace: 'herald',
      identity: 'herald-controller-7d9f-abc',
      lease: { name: 'herald-controller', namespace: 'herald', durationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 },
      statusRefreshMs: 20_000,
      resyncMs: 600_000,
      worker: { image: 'ghcr.io/acme/herald:1.2.3', imagePullPolicy: 'IfNotPresent', instance: 'herald', port: 8080, secretsDir: '/var/run/herald/secrets' },
    });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.worker)).toBe(true);
  });

  it('takes the watched namespace, lease, instance and worker env sources from the environment', () => {
    const c = loadControllerConfig({
      ...minimal,
      HERALD_WATCH_NAMESPACE: 'events',
      HERALD_LEASE_NAMESPACE: 'ops',
      HERALD_LEASE_NAME: 'herald-leader',
      HERALD_INSTANCE: 'prod',
      HERALD_WORKER_CONFIGMAP: 'prod-herald-worker',
      HERALD_WORKER_SECRET: 'prod-herald-worker',
      HERALD_WORKER_IMAGE_PULL_POLICY: 'Always',
      HERALD_STATUS_REFRESH: '30s',
      HERALD_WORKER_CONFIG_CHECKSUM: 'abc123',
    });
    expect(c).toMatchObject({ namespace: 'events', lease: { namespace: 'ops', name: 'herald-leader' }, statusRefreshMs: 30_000, worker: { instance: 'prod', configMapName: 'prod-herald-worker', secretName: 'prod-herald-worker', imagePullPolicy: 'Always', configChecksum: 'abc123' } });
  });

  it('lists every problem at once', () => {
    let err: unknown;
    try {
      loadControllerConfig({ HERALD_WORKER_IMAGE_PULL_POLICY: 'Sometimes', HERALD_RESYNC_PERIOD: 'soon', HERALD_WORKER_SECRET: 'Bad_Name' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const text = (err as ConfigError).issues.join('\n');
    expect(text).toContain('HERALD_WORKER_IMAGE: is required');
    expect(text).toContain('HERALD_WORKER_IMAGE_PULL_POLICY');
    expect(text).toContain('HERALD_RESYNC_PERIOD');
    expect(text).toContain('HERALD_WORKER_SECRET');
    expect(text).toContain('HERALD_WATCH_NAMESPACE: set it, or POD_NAMESPACE');
  });

  it('refuses lease timings under which two leaders could overlap', () => {
    expect(() => loadControllerConfig({ ...minimal, HERALD_RENEW_DEADLINE: '20s' })).toThrow(/HERALD_RENEW_DEADLINE: must be shorter than HERALD_LEASE_DURATION/);
    expect(() => loadControllerConfig({ ...minimal, HERALD_RETRY_PERIOD: '6s' })).toThrow(/HERALD_RETRY_PERIOD/);
  });

  it('autoscales with KEDA by default, querying the given Prometheus', () => {
    expect(loadControllerConfig(minimal).autoscaler).toEqual({ provider: 'keda', prometheusUrl: 'http://prometheus-operated.monitoring:9090', queryLabels: {} });
    expect(Object.isFrozen(loadControllerConfig(minimal).autoscaler)).toBe(true);
  });

  it('needs HERALD_PROMETHEUS_URL for KEDA only, and says what else to do', () => {
    const { HERALD_PROMETHEUS_URL: _u, ...noUrl } = minimal;
    expect(() => loadControllerConfig(noUrl)).toThrow(/HERALD_PROMETHEUS_URL: is required with HERALD_AUTOSCALER=keda.*or set HERALD_AUTOSCALER to hpa or none/);
    expect(loadControllerConfig({ ...noUrl, HERALD_AUTOSCALER: 'hpa' }).autoscaler.provider).toBe('hpa');
    expect(loadControllerConfig({ ...noUrl, HERALD_AUTOSCALER: 'none' }).autoscaler.provider).toBe('none');
    expect(() => loadControllerConfig({ ...minimal, HERALD_AUTOSCALER: 'prometheus-adapter' })).toThrow(/HERALD_AUTOSCALER/);
    expect(() => loadControllerConfig({ ...minimal, HERALD_PROMETHEUS_URL: 'prometheus:9090' })).toThrow(/HERALD_PROMETHEUS_URL/);
  });

  it('parses HERALD_AUTOSCALER_QUERY_LABELS and refuses what would break the query or the HPA selector', () => {
    expect(loadControllerConfig({ ...minimal, HERALD_AUTOSCALER_QUERY_LABELS: 'namespace=herald, job=herald-controller' }).autoscaler.queryLabels).toEqual({ namespace: 'herald', job: 'herald-controller' });
    expect(() => loadControllerConfig({ ...minimal, HERALD_AUTOSCALER_QUERY_LABELS: 'destination=x' })).toThrow(/must not set destination/);
    expect(() => loadControllerConfig({ ...minimal, HERALD_AUTOSCALER_QUERY_LABELS: 'namespace' })).toThrow(/must be name=value/);
    expect(() => loadControllerConfig({ ...minimal, HERALD_AUTOSCALER_QUERY_LABELS: '1abc=x' })).toThrow(/invalid Prometheus label name/);
    expect(() => loadControllerConfig({ ...minimal, HERALD_AUTOSCALER_QUERY_LABELS: 'a=1,a=2' })).toThrow(/repeats a label/);
    // PromQL takes any value; an HPA label selector does not.
    expect(loadControllerConfig({ ...minimal, HERALD_AUTOSCALER_QUERY_LABELS: 'job=herald/controller' }).autoscaler.queryLabels).toEqual({ job: 'herald/controller' });
    expect(() => loadControllerConfig({ ...minimal, HERALD_AUTOSCALER: 'hpa', HERALD_AUTOSCALER_QUERY_LABELS: 'job=herald/controller' })).toThrow(/Kubernetes label value/);
  });
});
