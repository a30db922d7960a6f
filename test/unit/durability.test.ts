import { describe, expect, it } from 'vitest';
import { DurabilityError, durabilityPlan, supportsWaitAof } from '../../src/ingest/durability.js';

describe('durabilityPlan', () => {
  it('fast asks nothing of Redis', () => {
    expect(durabilityPlan('fast', { version: '6.2.0', appendonly: 'no', appendfsync: 'everysec' })).toEqual({ kind: 'fast' });
  });

  it('strict relies on appendfsync always when Redis has it, whatever its version', () => {
    expect(durabilityPlan('strict', { version: '7.0.15', appendonly: 'yes', appendfsync: 'always' })).toEqual({ kind: 'fsync-always' });
    expect(durabilityPlan('strict', { version: '7.4.1', appendonly: 'yes', appendfsync: 'always' })).toEqual({ kind: 'fsync-always' });
  });

  it('strict waits with WAITAOF on Redis 7.2+ that fsyncs once a second', () => {
    expect(durabilityPlan('strict', { version: '7.2.0', appendonly: 'yes', appendfsync: 'everysec' })).toEqual({ kind: 'waitaof' });
    expect(durabilityPlan('strict', { version: '8.0.2', appendonly: 'yes', appendfsync: 'everysec' })).toEqual({ kind: 'waitaof' });
  });

  it('strict refuses Redis 7.0 with everysec, Redis without an AOF, and a Redis it cannot inspect, saying what to change', () => {
    expect(() => durabilityPlan('strict', { version: '7.0.15', appendonly: 'yes', appendfsync: 'everysec' })).toThrow(/appendfsync always.*7\.2/);
    expect(() => durabilityPlan('strict', { version: '7.4.0', appendonly: 'no', appendfsync: 'always' })).toThrow(DurabilityError);
    expect(() => durabilityPlan('strict', { version: '7.0.15', appendonly: undefined, appendfsync: undefined })).toThrow(/appendonly unknown/);
  });

  it('knows which versions have WAITAOF', () => {
    expect([supportsWaitAof('7.0.15'), supportsWaitAof('7.2.4'), supportsWaitAof('10.0.0'), supportsWaitAof('6.2.14')]).toEqual([false, true, true, false]);
  });
});
