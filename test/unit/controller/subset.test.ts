import { describe, expect, it } from 'vitest';
import { isSubset } from '../../../src/controller/subset.js';

describe('isSubset', () => {
  it('ignores fields the API server or other managers added', () => {
    const desired = { spec: { replicas: 2, template: { spec: { containers: [{ name: 'w', ports: [{ containerPort: 8080 }] }] } } } };
    const observed = {
      metadata: { resourceVersion: '7', managedFields: [] },
      spec: { replicas: 2, progressDeadlineSeconds: 600, template: { spec: { dnsPolicy: 'ClusterFirst', containers: [{ name: 'w', terminationMessagePath: '/dev/termination-log', ports: [{ containerPort: 8080, protocol: 'TCP' }] }] } } },
    };
    expect(isSubset(desired, observed)).toBe(true);
  });

  it('sees a changed value anywhere', () => {
    expect(isSubset({ a: { b: [{ c: 1 }] } }, { a: { b: [{ c: 2 }] } })).toBe(false);
    expect(isSubset({ a: 'x' }, {})).toBe(false);
    expect(isSubset({ a: { b: 1 } }, { a: null })).toBe(false);
  });

  it('treats lists as ordered and whole: an added or removed element is a difference', () => {
    expect(isSubset({ env: [{ name: 'A' }] }, { env: [{ name: 'A' }, { name: 'B' }] })).toBe(false);
    expect(isSubset({ env: [{ name: 'A' }, { name: 'B' }] }, { env: [{ name: 'A' }] })).toBe(false);
    expect(isSubset({ env: [{ name: 'B' }, { name: 'A' }] }, { env: [{ name: 'A' }, { name: 'B' }] })).toBe(false);
  });

  it('compares scalars strictly', () => {
    expect(isSubset({ replicas: 1 }, { replicas: '1' })).toBe(false);
    expect(isSubset({ replicas: 0 }, { replicas: 0 })).toBe(true);
  });
});
