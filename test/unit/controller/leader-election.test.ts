import { afterEach, describe, expect, it } from 'vitest';
import { LeaderElector, microTime, type LeaseClient, type LeaseRecord, type StoredLease } from '../../../src/controller/leader-election.js';
import { createLogger } from '../../../src/log/logger.js';
import { FakeClock } from './fake-clock.js';

const logger = createLogger({ level: 'silent' });

/** An in-memory Lease with the API server's compare-and-swap semantics. */
class LeaseStore {
  lease: { record: LeaseRecord; rv: number } | undefined;
  private rv = 0;
  writes = 0;

  /** `network` decides per call: 'up', 'down' (fails fast) or 'hang' (never answers). */
  client(network: () => 'up' | 'down' | 'hang' = () => 'up'): LeaseClient {
    const call = <T>(fn: () => T): Promise<T> => {
      const n = network();
      if (n === 'down') return Promise.reject(new Error('connection refused'));
      if (n === 'hang') return new Promise<T>(() => {});
      try {
        return Promise.resolve(fn());
      } catch (err) {
        return Promise.reject(err);
      }
    };
    const stored = (): StoredLease => ({ record: structuredClone(this.lease!.record), resourceVersion: String(this.lease!.rv) });
    return {
      get: () => call(() => (this.lease ? stored() : undefined)),
      create: (record) =>
        call(() => {
          if (this.lease) throw Object.assign(new Error('AlreadyExists'), { status: 409 });
          this.lease = { record: structuredClone(record), rv: ++this.rv };
          this.writes++;
          return stored();
        }),
      update: (record, resourceVersion) =>
        call(() => {
          if (!this.lease || String(this.lease.rv) !== resourceVersion) throw Object.assign(new Error('Conflict'), { status: 409 });
          this.lease = { record: structuredClone(record), rv: ++this.rv };
          this.writes++;
          return stored();
        }),
    };
  }
}

interface Candidate {
  elector: LeaderElector;
  started: number;
  stopped: number;
  signal?: AbortSignal;
}

const electors: LeaderElector[] = [];
afterEach(async () => {
  await Promise.all(electors.splice(0).map((e) => e.close()));
});

function candidate(identity: string, client: LeaseClient, clock: FakeClock): Candidate {
  const c: Candidate = { started: 0, stopped: 0 } as Candidate;
  c.elector = new LeaderElector({
    client,
    clock,
    logger,
    identity,
    random: () => 0.5,
    onStartedLeading: (signal) => {
      c.started++;
      c.signal = signal;
    },
    onStoppedLeading: () => c.stopped++,
  });
  electors.push(c.elector);
  c.elector.start();
  return c;
}

describe('LeaderElector', () => {
  it('creates a missing Lease, leads, and renews every retry period', async () => {
    const clock = new FakeClock();
    const store = new LeaseStore();
    const a = candidate('a', store.client(), clock);
    await clock.advance(0);
    expect(a.elector.isLeader()).toBe(true);
    expect(a.started).toBe(1);
    expect(store.lease!.record).toMatchObject({ holderIdentity: 'a', leaseDurationSeconds: 15, leaseTransitions: 0, renewTime: microTime(clock.now()) });
    await clock.advance(10_000);
    expect(store.writes).toBe(6);
    expect(a.elector.isLeader()).toBe(true);
  });

  it('lets only one of two racing candidates win', async () => {
    const clock = new FakeClock();
    const store = new LeaseStore();
    const a = candidate('a', store.client(), clock);
    const b = candidate('b', store.client(), clock);
    await clock.advance(30_000);
    expect([a.elector.isLeader(), b.elector.isLeader()].filter(Boolean)).toHaveLength(1);
  });

  it('takes over within about 20 s when the leader vanishes, and never while its lease is valid', async () => {
    const clock = new FakeClock();
    const store = new LeaseStore();
    let aNetwork: 'up' | 'hang' = 'up';
    const a = candidate('a', store.client(() => aNetwork), clock);
    await clock.advance(0);
    const b = candidate('b', store.client(), clock);
    await clock.advance(5_000);
    expect(b.elector.isLeader()).toBe(false);

    // The leader's node drops off the network: its requests hang forever.
    aNetwork = 'hang';
    const crashedAt = clock.now();
    let bLeadsAt: number | undefined;
    for (let t = 0; t < 30_000; t += 100) {
      await clock.advance(100);
      expect(a.elector.isLeader() && b.elector.isLeader(), `two leaders at +${t} ms`).toBe(false);
      if (b.elector.isLeader() && bLeadsAt === undefined) bLeadsAt = clock.now();
    }
    // The old leader stepped down on its own at the renew deadline, aborting its term.
    expect(a.elector.isLeader()).toBe(false);
    expect(a.stopped).toBe(1);
    expect(a.signal!.aborted).toBe(true);
    expect(bLeadsAt! - crashedAt).toBeGreaterThanOrEqual(15_000 - 2_000);
    expect(bLeadsAt! - crashedAt).toBeLessThanOrEqual(20_000);
    expect(store.lease!.record).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
  });

  it('steps down at the renew deadline when the API server refuses renewals', async () => {
    const clock = new FakeClock();
    const store = new LeaseStore();
    let network: 'up' | 'down' = 'up';
    const a = candidate('a', store.client(() => network), clock);
    await clock.advance(0);
    const lastRenewal = clock.now();
    network = 'down';
    await clock.advance(9_900);
    expect(a.elector.isLeader()).toBe(true);
    await clock.advance(200);
    expect(a.elector.isLeader()).toBe(false);
    expect(clock.now() - lastRenewal).toBeLessThanOrEqual(10_100);
    // Back online while its own lease still stands: it simply leads again, a new term.
    network = 'up';
    await clock.advance(3_000);
    expect(a.elector.isLeader()).toBe(true);
    expect(a.started).toBe(2);
  });

  it('hands over at once on close() by releasing the Lease', async () => {
    const clock = new FakeClock();
    const store = new LeaseStore();
    const a = candidate('a', store.client(), clock);
    await clock.advance(0);
    const b = candidate('b', store.client(), clock);
    await clock.advance(3_000);
    await a.elector.close();
    expect(a.stopped).toBe(1);
    expect(store.lease!.record.holderIdentity).toBe('');
    await clock.advance(2_500);
    expect(b.elector.isLeader()).toBe(true);
  });

  it('rejects a renew deadline that is not shorter than the lease duration', () => {
    expect(() => new LeaderElector({ client: new LeaseStore().client(), clock: new FakeClock(), logger, identity: 'x', leaseDurationMs: 10_000, renewDeadlineMs: 10_000, onStartedLeading: () => {}, onStoppedLeading: () => {} })).toThrow(/shorter/);
  });
});
