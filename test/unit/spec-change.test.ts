import { describe, expect, it } from 'vitest';
import { DestinationSpec, type DestinationSpecInput } from '../../src/api/destination.js';
import { changedFields, needsRestart, restartSpec, SPEC_FIELD_EFFECTS, type ChangeEffect } from '../../src/api/spec-change.js';
import { DRAINING_FILTER } from '../../src/controller/registry-entry.js';

const base = DestinationSpec.parse({ url: 'https://example.com/hook' });
const withChange = (change: Partial<DestinationSpecInput>) => DestinationSpec.parse({ url: 'https://example.com/hook', ...change });

/** One real change per field, and what it must mean for a running worker. */
const CASES: Array<[keyof DestinationSpec, Partial<DestinationSpecInput>, ChangeEffect]> = [
  ['url', { url: 'https://other.example.com/hook' }, 'live'],
  ['timeout', { timeout: '3s' }, 'live'],
  ['retry', { retry: { maxAttempts: 3 } }, 'live'],
  ['filter', { filter: { types: ['order.*'] } }, 'none'],
  ['concurrency', { concurrency: 50 }, 'live'],
  ['headers', { headers: { 'x-tenant': 'a' } }, 'live'],
  ['headersFrom', { headersFrom: { secretRef: { name: 'orders-auth' } } }, 'restart'],
  ['signing', { signing: { secretRef: { name: 'orders-signing' } } }, 'restart'],
  ['circuitBreaker', { circuitBreaker: { failureThreshold: 3 } }, 'live'],
  ['rateLimit', { rateLimit: { perSecond: 5 } }, 'restart'],
  ['paused', { paused: true }, 'live'],
  ['eventLog', { eventLog: { retention: '1h' } }, 'live'],
  ['ordering', { ordering: { key: '/orderId', onDeadLetter: 'block' } }, 'live'],
  ['deletionPolicy', { deletionPolicy: 'drain' }, 'none'],
  ['workers', { workers: { replicas: 4, resources: { limits: { cpu: '2' } } } }, 'none'],
  ['scaling', { scaling: { maxReplicas: 5 } }, 'none'],
];

describe('which Destination spec change restarts a worker', () => {
  it('decides for every field of the schema (a new field needs a decision here first)', () => {
    expect(Object.keys(SPEC_FIELD_EFFECTS).sort()).toEqual(Object.keys(DestinationSpec.shape).sort());
    expect(CASES.map(([f]) => f).sort()).toEqual(Object.keys(DestinationSpec.shape).sort());
  });

  it.each(CASES)('a change of %s is %s', (field, change, effect) => {
    const next = withChange(change);
    expect(changedFields(base, next)).toEqual([field]);
    expect(changedFields(base, next, effect)).toEqual([field]);
    expect(needsRestart(base, next)).toBe(effect === 'restart');
    // Both ways round: removing the setting again is the same kind of change.
    expect(needsRestart(next, base)).toBe(effect === 'restart');
  });

  it('does not restart workers when a drain publishes its stand-in filter', () => {
    const draining = { ...base, filter: DRAINING_FILTER };
    expect(changedFields(base, draining)).toEqual(['filter']);
    expect(needsRestart(base, draining)).toBe(false);
  });

  it('sees no change in a spec equal but for key order and defaults spelled out', () => {
    const reordered = DestinationSpec.parse({ headers: { b: '2', a: '1' }, url: 'https://example.com/hook', concurrency: 10 });
    const original = DestinationSpec.parse({ url: 'https://example.com/hook', headers: { a: '1', b: '2' } });
    expect(changedFields(original, reordered)).toEqual([]);
  });

  it('keeps in restartSpec exactly the fields read at start', () => {
    const spec = withChange({ rateLimit: { perSecond: 5 }, signing: { secretRef: { name: 's' } }, concurrency: 3 });
    expect(restartSpec(spec)).toEqual({ headersFrom: undefined, signing: { secretRef: { name: 's' } }, rateLimit: { perSecond: 5 } });
  });
});
