import { describe, expect, it } from 'vitest';
import type { DestinationResource } from '../../../src/controller/destination-resource.js';
import { needsReconcile } from '../../../src/controller/predicates.js';

const base: DestinationResource = { apiVersion: 'herald.dev/v1alpha1', kind: 'Destination', metadata: { name: 'a', namespace: 'n', uid: 'u', generation: 1, resourceVersion: '10', finalizers: ['herald.dev/queue-cleanup'] }, spec: { url: 'https://e.test' } };
const withMeta = (m: Partial<DestinationResource['metadata']>): DestinationResource => ({ ...base, metadata: { ...base.metadata, resourceVersion: '11', ...m } });

describe('needsReconcile', () => {
  it('ignores the controller\'s own status writes', () => {
    expect(needsReconcile(base, { ...withMeta({}), status: { observedGeneration: 1 } })).toBe(false);
  });

  it('reacts to new objects, spec changes, deletion and finalizer edits', () => {
    expect(needsReconcile(undefined, base)).toBe(true);
    expect(needsReconcile(base, withMeta({ generation: 2 }))).toBe(true);
    expect(needsReconcile(base, withMeta({ deletionTimestamp: '2030-01-01T00:00:00Z' }))).toBe(true);
    expect(needsReconcile(base, withMeta({ finalizers: [] }))).toBe(true);
    expect(needsReconcile(base, withMeta({ uid: 'recreated' }))).toBe(true);
  });
});
