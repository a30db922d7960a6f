import type { V1Deployment } from '@kubernetes/client-node';
import { beforeEach, describe, expect, it } from 'vitest';
import { DestinationSpec, typeMatcher, type ResolvedDestination } from '../../../src/api/destination.js';
import { EVENT_TYPE_PATTERN } from '../../../src/api/event.js';
import type { WorkerSettings } from '../../../src/config/controller.js';
import type { DeliveryHealth, DestinationResource, DestinationStatus } from '../../../src/controller/destination-resource.js';
import { LeadershipLostError, RedisUnavailableError } from '../../../src/controller/errors.js';
import type { ControllerKube } from '../../../src/controller/kube-client.js';
import { FINALIZER } from '../../../src/controller/names.js';
import type { DeliveryPort } from '../../../src/controller/reconcile-deps.js';
import { formatIssues, Reconciler } from '../../../src/controller/reconciler.js';
import { DRAINING_FILTER } from '../../../src/controller/registry-entry.js';
import { createLogger } from '../../../src/log/logger.js';
import { FakeClock } from './fake-clock.js';

const settings: WorkerSettings = { image: 'herald:test', imagePullPolicy: 'IfNotPresent', instance: 'herald', port: 8080, secretsDir: '/var/run/herald/secrets' };
const KEY = 'shop/orders';
const DEP_KEY = 'shop/herald-worker-orders';

/** The API server as far as the reconciler sees it: caches it reads, and writes that update them. */
class FakeCluster implements ControllerKube {
  destinations = new Map<string, DestinationResource>();
  deployments = new Map<string, V1Deployment>();
  writes: string[] = [];
  events: string[] = [];
  private rv = 1;

  addDestination(spec: unknown, extra: Partial<DestinationResource['metadata']> = {}): DestinationResource {
    const d: DestinationResource = { apiVersion: 'herald.dev/v1alpha1', kind: 'Destination', metadata: { name: 'orders', namespace: 'shop', uid: 'uid-1', generation: 1, resourceVersion: String(this.rv++), ...extra }, spec };
    this.destinations.set(KEY, d);
    return d;
  }

  private bump(d: DestinationResource): DestinationResource {
    const next = structuredClone(d);
    next.metadata.resourceVersion = String(this.rv++);
    this.destinations.set(KEY, next);
    return next;
  }

  async setFinalizers(_ns: string, _name: string, finalizers: string[], resourceVersion: string) {
    const d = this.destinations.get(KEY)!;
    if (d.metadata.resourceVersion !== resourceVersion) throw Object.assign(new Error('conflict'), { status: 409 });
    this.writes.push(`finalizers=${finalizers.join(',')}`);
    if (finalizers.length === 0 && d.metadata.deletionTimestamp) {
      this.destinations.delete(KEY);
      return d;
    }
    return this.bump({ ...d, metadata: { ...d.metadata, finalizers } });
  }

  async applyStatus(_ns: string, _name: string, status: DestinationStatus) {
    this.writes.push('status');
    return this.bump({ ...this.destinations.get(KEY)!, status: structuredClone(status) });
  }

  async applyDeployment(dep: V1Deployment) {
    this.writes.push('applyDeployment');
    const prev = this.deployments.get(DEP_KEY);
    const stored: V1Deployment = structuredClone(dep);
    // What the API server adds: defaults, identity, generation.
    stored.metadata!.uid = prev?.metadata?.uid ?? 'dep-uid';
    stored.metadata!.generation = (prev?.metadata?.generation ?? 0) + 1;
    stored.spec!.progressDeadlineSeconds = 600;
    stored.status = prev?.status ?? {};
    this.deployments.set(DEP_KEY, stored);
    return stored;
  }

  async scaleDeployment(_ns: string, _name: string, replicas: number) {
    this.writes.push(`scale=${replicas}`);
    const d = this.deployments.get(DEP_KEY)!;
    d.spec!.replicas = replicas;
    return d;
  }

  async deleteDeployment() {
    this.writes.push('deleteDeployment');
    this.deployments.delete(DEP_KEY);
  }

  async createEvent(_ns: string, ev: Record<string, unknown>) {
    this.events.push(`${ev.type as string}/${ev.reason as string}`);
  }
}

class FakeRegistry {
  entries = new Map<string, ResolvedDestination>();
  down = false;
  puts = 0;
  private check() {
    if (this.down) throw new Error('connect ECONNREFUSED');
  }
  async get(name: string) {
    this.check();
    return this.entries.get(name);
  }
  async put(d: ResolvedDestination) {
    this.check();
    this.puts++;
    this.entries.set(d.name, structuredClone(d));
  }
  async remove(name: string) {
    this.check();
    this.entries.delete(name);
  }
}

const health: DeliveryHealth = { backlog: 0, oldestPendingSeconds: 0, delivered: 0, deadLettered: 0, deadLetters: 0 };

let clock: FakeClock;
let cluster: FakeCluster;
let registry: FakeRegistry;
let backlog: number;
let redisDown: boolean;
let purged: string[];
let forgotten: string[];
let reconciler: Reconciler;
const live = new AbortController().signal;

beforeEach(() => {
  clock = new FakeClock();
  cluster = new FakeCluster();
  registry = new FakeRegistry();
  backlog = 0;
  redisDown = false;
  purged = [];
  forgotten = [];
  const deliveries: DeliveryPort = {
    async health() {
      if (redisDown) throw new Error('connect ECONNREFUSED');
      return { ...health, backlog };
    },
    async purge(name) {
      purged.push(name);
      return 3;
    },
    async forget(name) {
      forgotten.push(name);
    },
  };
  reconciler = new Reconciler({
    kube: cluster,
    destinations: cluster.destinations,
    deployments: cluster.deployments,
    registry,
    deliveries,
    settings,
    clock,
    logger: createLogger({ level: 'silent' }),
    events: { normal: (_o, reason) => cluster.events.push(`Normal/${reason}`), warning: (_o, reason) => cluster.events.push(`Warning/${reason}`) },
    statusRefreshMs: 20_000,
  });
});

const dest = () => cluster.destinations.get(KEY);
const cond = (type: string) => dest()?.status?.conditions?.find((c) => c.type === type);

describe('Reconciler', () => {
  it('adds its finalizer, publishes the destination, creates its workers and reports status', async () => {
    cluster.addDestination({ url: 'https://example.com/hook' });
    const r = await reconciler.reconcile(KEY, live);
    expect(r).toEqual({ result: 'success', requeueAfterMs: 20_000 });
    expect(cluster.writes).toEqual([`finalizers=${FINALIZER}`, 'applyDeployment', 'status']);
    expect(registry.entries.get('orders')?.spec).toEqual(DestinationSpec.parse({ url: 'https://example.com/hook' }));
    expect(cluster.deployments.get(DEP_KEY)?.spec?.template.spec?.containers[0]?.args).toEqual(['worker', '--destination', 'orders']);
    expect(cond('Ready')).toMatchObject({ status: 'False', reason: 'WorkersNotReady' });
    expect(dest()?.status?.observedGeneration).toBe(1);
    expect(cluster.events).toContain('Normal/CreatedDeployment');
  });

  it('writes nothing when reconciling an unchanged Destination again', async () => {
    cluster.addDestination({ url: 'https://example.com/hook' });
    await reconciler.reconcile(KEY, live);
    const writes = cluster.writes.length;
    const puts = registry.puts;
    await clock.advance(60_000);
    await reconciler.reconcile(KEY, live);
    await reconciler.reconcile(KEY, live);
    expect(cluster.writes.slice(writes)).toEqual([]);
    expect(registry.puts).toBe(puts);
  });

  it('updates registry, Deployment and status when the spec changes', async () => {
    cluster.addDestination({ url: 'https://example.com/hook' });
    await reconciler.reconcile(KEY, live);
    const before = cluster.deployments.get(DEP_KEY)!.spec!.template.metadata!.annotations!['herald.dev/config-checksum'];
    const d = dest()!;
    cluster.destinations.set(KEY, { ...d, metadata: { ...d.metadata, generation: 2 }, spec: { url: 'https://example.com/v2', rateLimit: { perSecond: 5 }, workers: { replicas: 3 } } });
    cluster.writes = [];
    await reconciler.reconcile(KEY, live);
    expect(cluster.writes).toEqual(['applyDeployment', 'status']);
    expect(registry.entries.get('orders')?.spec.url).toBe('https://example.com/v2');
    const dep = cluster.deployments.get(DEP_KEY)!;
    expect(dep.spec!.replicas).toBe(3);
    expect(dep.spec!.template.metadata!.annotations!['herald.dev/config-checksum']).not.toBe(before);
    expect(dest()?.status?.observedGeneration).toBe(2);
  });

  it('repairs a Deployment someone edited', async () => {
    cluster.addDestination({ url: 'https://example.com/hook' });
    await reconciler.reconcile(KEY, live);
    cluster.deployments.get(DEP_KEY)!.spec!.template.spec!.containers[0]!.image = 'evil:latest';
    cluster.writes = [];
    await reconciler.reconcile(KEY, live);
    expect(cluster.writes).toContain('applyDeployment');
    expect(cluster.deployments.get(DEP_KEY)!.spec!.template.spec!.containers[0]!.image).toBe('herald:test');
  });

  it('reports a spec the CRD let through but zod rejects, and leaves the running workers alone', async () => {
    cluster.addDestination({ url: 'https://example.com/hook', retry: { initialDelay: '2d', maxDelay: '1h' } }, { finalizers: [FINALIZER] });
    await reconciler.reconcile(KEY, live);
    expect(cluster.writes).toEqual(['status']);
    expect(cond('Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(cond('Ready')!.message).toContain('spec.retry.initialDelay: initialDelay must not exceed maxDelay');
    expect(registry.entries.size).toBe(0);
    expect(cluster.events).toContain('Warning/InvalidSpec');
  });

  it('does not take over a Deployment another controller owns', async () => {
    cluster.addDestination({ url: 'https://example.com/hook' }, { finalizers: [FINALIZER] });
    cluster.deployments.set(DEP_KEY, { metadata: { name: 'herald-worker-orders', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Thing', name: 'other', uid: 'x', controller: true }] }, spec: { selector: {}, template: {} } });
    await reconciler.reconcile(KEY, live);
    expect(cluster.writes).toEqual(['status']);
    expect(cond('Degraded')).toMatchObject({ status: 'True', reason: 'DeploymentConflict' });
  });

  it('reports Redis trouble in status and fails the reconcile so it is retried with backoff', async () => {
    cluster.addDestination({ url: 'https://example.com/hook' }, { finalizers: [FINALIZER] });
    registry.down = true;
    redisDown = true;
    await expect(reconciler.reconcile(KEY, live)).rejects.toBeInstanceOf(RedisUnavailableError);
    expect(cluster.writes).toEqual(['applyDeployment', 'status']);
    expect(cond('Degraded')).toMatchObject({ status: 'True', reason: 'RedisUnavailable' });
  });

  it('writes nothing once leadership is lost', async () => {
    cluster.addDestination({ url: 'https://example.com/hook' });
    const ac = new AbortController();
    ac.abort();
    await expect(reconciler.reconcile(KEY, ac.signal)).rejects.toBeInstanceOf(LeadershipLostError);
    expect(cluster.writes).toEqual([]);
  });

  it('removes the registry entry of a Destination that is gone', async () => {
    await registry.put({ name: 'orders', spec: DestinationSpec.parse({ url: 'https://example.com/hook' }) });
    await reconciler.reconcile(KEY, live);
    expect(registry.entries.size).toBe(0);
    expect(forgotten).toEqual(['orders']);
  });

  describe('on deletion', () => {
    async function created(spec: Record<string, unknown>) {
      cluster.addDestination({ url: 'https://example.com/hook', ...spec });
      await reconciler.reconcile(KEY, live);
      const d = dest()!;
      cluster.destinations.set(KEY, { ...d, metadata: { ...d.metadata, deletionTimestamp: '2030-01-01T00:00:00Z' } });
      cluster.writes = [];
    }

    it('keep: stops routing, deletes the workers and lets the Destination go, leaving the queue', async () => {
      await created({ deletionPolicy: 'keep' });
      expect(await reconciler.reconcile(KEY, live)).toEqual({ result: 'success', requeueAfterMs: 0 });
      expect(cluster.writes).toEqual(['deleteDeployment', 'finalizers=']);
      expect(registry.entries.size).toBe(0);
      expect(purged).toEqual([]);
      expect(dest()).toBeUndefined();
      expect(forgotten).toEqual(['orders']);
    });

    it('purge: scales the workers down, waits for their pods, then deletes them and the queue', async () => {
      await created({ deletionPolicy: 'purge' });
      cluster.deployments.get(DEP_KEY)!.status = { replicas: 2 };
      const r = await reconciler.reconcile(KEY, live);
      expect(r).toMatchObject({ result: 'requeue', requeueAfterMs: 2_000 });
      expect(cluster.writes).toEqual(['scale=0', 'status']);
      expect(cond('Ready')).toMatchObject({ reason: 'Purging' });
      expect(registry.entries.size).toBe(0);
      expect(purged).toEqual([]);
      cluster.deployments.get(DEP_KEY)!.status = { replicas: 0 };
      cluster.writes = [];
      await reconciler.reconcile(KEY, live);
      expect(cluster.writes).toEqual(['deleteDeployment', 'finalizers=']);
      expect(purged).toEqual(['orders']);
      expect(cluster.events).toContain('Normal/PurgedQueue');
    });

    it('drain: stops routing but keeps the workers until the backlog is delivered', async () => {
      await created({ deletionPolicy: 'drain' });
      backlog = 4;
      const r = await reconciler.reconcile(KEY, live);
      expect(r.result).toBe('requeue');
      const entry = registry.entries.get('orders')!;
      expect(entry.spec.filter).toEqual(DRAINING_FILTER);
      expect(typeMatcher(entry.spec)('order.created')).toBe(false);
      expect(entry.spec.url).toBe('https://example.com/hook');
      expect(cluster.deployments.has(DEP_KEY)).toBe(true);
      expect(cond('Ready')).toMatchObject({ status: 'False', reason: 'Draining' });

      await clock.advance(30_000);
      await reconciler.reconcile(KEY, live);
      expect(cond('Ready')!.message).toContain('4 events pending');
      expect(dest()).toBeDefined();

      backlog = 0;
      await reconciler.reconcile(KEY, live);
      expect(registry.entries.size).toBe(0);
      expect(cluster.deployments.has(DEP_KEY)).toBe(false);
      expect(dest()).toBeUndefined();
    });

    it('is not blocked by a spec that no longer validates', async () => {
      await created({ deletionPolicy: 'keep' });
      const d = dest()!;
      cluster.destinations.set(KEY, { ...d, spec: { url: 'https://example.com/hook', retry: { initialDelay: '2d', maxDelay: '1h' }, deletionPolicy: 'keep' } });
      await reconciler.reconcile(KEY, live);
      expect(dest()).toBeUndefined();
    });
  });
});

describe('DRAINING_FILTER', () => {
  it('matches no event type ingest can accept (types cannot contain spaces)', () => {
    const valid = new RegExp(EVENT_TYPE_PATTERN);
    for (const glob of DRAINING_FILTER.types) expect(valid.test(glob)).toBe(false);
    const matches = typeMatcher({ filter: DRAINING_FILTER });
    for (const type of ['event', 'order.created', 'a', '*', 'herald.dev/draining:']) expect(matches(type)).toBe(false);
  });
});

describe('formatIssues', () => {
  it('names the field and unwraps record-key errors', () => {
    const r = DestinationSpec.safeParse({ url: 'https://e.test', headers: { 'bad name': 'x' } });
    expect(formatIssues(r.error!)).toContain('header names must be HTTP tokens');
    expect(formatIssues(r.error!)).toMatch(/^spec\.headers/);
  });
});
