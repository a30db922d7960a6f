import { afterEach, describe, expect, it } from 'vitest';
import { KubeApiError, type WatchCallbacks, type WatchEvent } from '../../../src/controller/kube-rest.js';
import { Reflector, type ListWatchSource } from '../../../src/controller/reflector.js';
import { createLogger } from '../../../src/log/logger.js';
import { FakeClock, settle } from './fake-clock.js';

interface Obj {
  metadata: { name: string; namespace: string; resourceVersion: string };
}
const obj = (name: string, rv: number): Obj => ({ metadata: { name, namespace: 'ns', resourceVersion: String(rv) } });

/** A collection the test mutates, served as list + watch like the API server would. */
class FakeSource implements ListWatchSource<Obj> {
  items = new Map<string, Obj>();
  rv = 100;
  lists = 0;
  watches: Array<{ rv: string; cb: WatchCallbacks<Obj> }> = [];
  nextWatchError: unknown;

  async list() {
    this.lists++;
    return { items: [...this.items.values()], resourceVersion: String(this.rv) };
  }

  async watch(resourceVersion: string, cb: WatchCallbacks<Obj>) {
    if (this.nextWatchError) {
      const err = this.nextWatchError;
      this.nextWatchError = undefined;
      throw err;
    }
    this.watches.push({ rv: resourceVersion, cb });
  }

  get current() {
    return this.watches.at(-1)!;
  }

  emit(type: WatchEvent['type'], o: Obj | Record<string, unknown>) {
    this.current.cb.onEvent({ type, object: o as Obj });
  }

  put(name: string) {
    const o = obj(name, ++this.rv);
    this.items.set(name, o);
    return o;
  }
}

const reflectors: Reflector<Obj>[] = [];
afterEach(async () => {
  await Promise.all(reflectors.splice(0).map((r) => r.stop()));
});

function start(source: FakeSource, idleTimeoutMs = 60_000) {
  const clock = new FakeClock();
  const changes: string[] = [];
  const r = new Reflector<Obj>({
    name: 'test',
    source,
    clock,
    logger: createLogger({ level: 'silent' }),
    idleTimeoutMs,
    onChange: (o, kind) => changes.push(`${kind} ${o.metadata.name}`),
  });
  reflectors.push(r);
  r.start();
  return { r, clock, changes };
}

describe('Reflector', () => {
  it('tells when its first list was tried, even if it failed (a CRD that is not installed)', async () => {
    const source = new FakeSource();
    source.list = async () => {
      throw new KubeApiError('the server could not find the requested resource', 404, 'NotFound');
    };
    const { r } = start(source);
    await r.waitForFirstAttempt();
    expect(r.hasSynced()).toBe(false);
    expect(r.isHealthy()).toBe(false);
  });

  it('lists into its cache, reports every object, and is synced', async () => {
    const source = new FakeSource();
    source.put('a');
    source.put('b');
    const { r, changes } = start(source);
    await r.waitForSync();
    expect(r.hasSynced()).toBe(true);
    expect(r.keys().sort()).toEqual(['ns/a', 'ns/b']);
    expect(changes.sort()).toEqual(['upsert a', 'upsert b']);
    await settle();
    expect(source.current.rv).toBe('102');
    expect(r.isHealthy()).toBe(true);
  });

  it('follows watch events and bookmarks, resuming from the last resourceVersion seen', async () => {
    const source = new FakeSource();
    const { r, changes } = start(source);
    await r.waitForSync();
    await settle();
    source.emit('ADDED', obj('a', 101));
    source.emit('MODIFIED', obj('a', 102));
    expect(r.get('ns/a')?.metadata.resourceVersion).toBe('102');
    source.emit('DELETED', obj('a', 103));
    expect(r.get('ns/a')).toBeUndefined();
    source.emit('BOOKMARK', { metadata: { resourceVersion: '150' } });
    expect(changes).toEqual(['upsert a', 'upsert a', 'delete a']);
    source.current.cb.onClose(); // the server ended the watch (its timeoutSeconds)
    await settle();
    expect(source.watches.map((w) => w.rv)).toEqual(['100', '150']);
    expect(source.lists).toBe(1);
  });

  it('re-lists on 410 Gone and reports objects deleted while it was not watching', async () => {
    const source = new FakeSource();
    source.put('a');
    source.put('b');
    const { r, changes } = start(source);
    await r.waitForSync();
    await settle();
    source.items.delete('a');
    source.put('c');
    source.emit('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' });
    await settle();
    expect(source.lists).toBe(2);
    expect(r.keys().sort()).toEqual(['ns/b', 'ns/c']);
    expect(changes.slice(2).sort()).toEqual(['delete a', 'upsert c']);
    expect(source.current.rv).toBe(String(source.rv));
  });

  it('retries a failed watch with backoff from the same resourceVersion, without re-listing', async () => {
    const source = new FakeSource();
    const { r, clock } = start(source);
    await r.waitForSync();
    await settle();
    source.emit('ADDED', obj('a', 101));
    source.nextWatchError = new KubeApiError('connect ECONNREFUSED', 0);
    source.current.cb.onClose(new KubeApiError('socket hang up', 0));
    await settle();
    expect(r.isHealthy()).toBe(false);
    expect(source.watches).toHaveLength(1);
    await clock.advance(500); // first backoff: the watch that fails to open
    await clock.advance(1_000); // second backoff
    expect(source.watches.map((w) => w.rv)).toEqual(['100', '101']);
    expect(source.lists).toBe(1);
    expect(r.isHealthy()).toBe(true);
  });

  it('reopens a watch that has been silent for the idle timeout, aborting the stalled one first', async () => {
    const source = new FakeSource();
    const { r, clock } = start(source, 60_000);
    await r.waitForSync();
    await settle();
    const stalled = source.current;
    await clock.advance(59_000);
    stalled.cb.onEvent({ type: 'BOOKMARK', object: { metadata: { name: '', namespace: '', resourceVersion: '120' } } });
    await clock.advance(59_000);
    expect(source.watches).toHaveLength(1); // the bookmark proved it alive
    await clock.advance(1_000);
    expect(stalled.cb.signal.aborted).toBe(true);
    expect(r.watchdogRestarts).toBe(1);
    expect(source.watches.map((w) => w.rv)).toEqual(['100', '120']);
    expect(source.lists).toBe(1);
  });

  it('stops promptly, aborting its watch', async () => {
    const source = new FakeSource();
    const { r } = start(source);
    await r.waitForSync();
    await settle();
    await r.stop();
    expect(source.current.cb.signal.aborted).toBe(true);
  });
});
