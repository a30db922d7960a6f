import { describe, expect, it } from 'vitest';
import { Destination, DestinationSpec, typeMatcher } from '../../src/api/destination.js';
import { parseDestinations } from '../../src/dev/destinations-file.js';

describe('Destination schema', () => {
  it('fills sensible defaults for everything but url', () => {
    const spec = DestinationSpec.parse({ url: 'https://example.com/hook' });
    expect(spec).toEqual({
      url: 'https://example.com/hook',
      timeout: '10s',
      retry: { maxAttempts: 30, backoff: 'exponential', initialDelay: '10s', maxDelay: '2h', maxRetryWindow: '24h' },
      filter: { types: [] },
      concurrency: 10,
      headers: {},
      paused: false,
      deletionPolicy: 'keep',
      workers: { replicas: 1 },
    });
  });

  it.each([
    [{}, 'url'],
    [{ url: 'ftp://example.com' }, 'url'],
    [{ url: 'not a url' }, 'url'],
    [{ url: 'https://x', timeout: '10' }, 'timeout'],
    [{ url: 'https://x', retry: { maxAttempts: 0 } }, 'retry.maxAttempts'],
    [{ url: 'https://x', retry: { initialDelay: '1h', maxDelay: '1m' } }, 'retry.initialDelay'],
    [{ url: 'https://x', retry: { backoff: 'random' } }, 'retry.backoff'],
    [{ url: 'https://x', concurrency: 0 }, 'concurrency'],
    [{ url: 'https://x', headers: { Authorization: 'Bearer x' } }, 'headers'],
    [{ url: 'https://x', headers: { 'webhook-id': 'x' } }, 'headers'],
    [{ url: 'https://x', scaling: { minReplicas: 5, maxReplicas: 2 } }, 'scaling.minReplicas'],
    [{ url: 'https://x', unknown: 1 }, ''],
  ])('rejects %j at %s', (spec, path) => {
    const res = DestinationSpec.safeParse(spec);
    expect(res.success).toBe(false);
    expect(res.error!.issues.map((i) => i.path.join('.'))).toContain(path);
  });

  it('explains why inline credentials are refused', () => {
    const res = DestinationSpec.safeParse({ url: 'https://x', headers: { authorization: 'secret' } });
    expect(res.error!.issues[0]!.message).toMatch(/headersFrom\.secretRef/);
  });

  it('requires a DNS-1123 name short enough for the worker Deployment name', () => {
    const ok = { apiVersion: 'herald.dev/v1alpha1', kind: 'Destination', spec: { url: 'https://x' } };
    expect(Destination.safeParse({ ...ok, metadata: { name: 'orders-eu' } }).success).toBe(true);
    expect(Destination.safeParse({ ...ok, metadata: { name: 'Orders' } }).success).toBe(false);
    expect(Destination.safeParse({ ...ok, metadata: { name: 'a'.repeat(49) } }).success).toBe(false);
  });
});

describe('typeMatcher', () => {
  it('matches every type with no filter and globs otherwise', () => {
    expect(typeMatcher({ filter: { types: [] } })('anything')).toBe(true);
    const m = typeMatcher({ filter: { types: ['order.*', 'user.signup'] } });
    expect(['order.created', 'order.', 'user.signup'].map(m)).toEqual([true, true, true]);
    expect(['orders.created', 'user.signup.v2', 'xorder.created'].map(m)).toEqual([false, false, false]);
  });
  it('treats regex characters in globs literally', () => {
    expect(typeMatcher({ filter: { types: ['a.b'] } })('axb')).toBe(false);
  });
});

describe('destinations YAML file', () => {
  it('parses several documents into resolved destinations', () => {
    const text = `apiVersion: herald.dev/v1alpha1\nkind: Destination\nmetadata: {name: a}\nspec: {url: "http://127.0.0.1:1/a"}\n---\napiVersion: herald.dev/v1alpha1\nkind: Destination\nmetadata: {name: b}\nspec: {url: "http://127.0.0.1:1/b", concurrency: 3}\n`;
    const d = parseDestinations(text);
    expect(d.map((x) => [x.name, x.spec.concurrency])).toEqual([['a', 10], ['b', 3]]);
  });
  it('reports every problem with its document number and path', () => {
    const text = `apiVersion: herald.dev/v1alpha1\nkind: Destination\nmetadata: {name: a}\nspec: {url: "gopher://x"}\n---\napiVersion: herald.dev/v1alpha1\nkind: Destination\nmetadata: {name: a}\nspec: {url: "http://x", retry: {maxAttempts: -1}}\n`;
    expect(() => parseDestinations(text, 'f.yaml')).toThrow(/invalid f\.yaml:\n {2}document 1: spec\.url: .*\n {2}document 2: spec\.retry\.maxAttempts/);
  });
  it('refuses duplicate names', () => {
    const doc = `apiVersion: herald.dev/v1alpha1\nkind: Destination\nmetadata: {name: a}\nspec: {url: "http://x"}\n`;
    expect(() => parseDestinations(`${doc}---\n${doc}`)).toThrow(/declared twice/);
  });
});
