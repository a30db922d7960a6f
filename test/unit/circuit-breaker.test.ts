import { describe, expect, it } from 'vitest';
import { admit, CLOSED, record, type BreakerConfig } from '../../src/delivery/circuit-breaker.js';
import { limiterFor } from '../../src/worker/delivery-worker.js';

const cfg: BreakerConfig = { failureThreshold: 3, probeIntervalMs: 1_000, maxProbeIntervalMs: 4_000, maxOpenMs: 60_000 };

describe('circuit breaker', () => {
  it('stays closed below the threshold and opens at it', () => {
    let s = CLOSED;
    s = record(s, false, cfg, 0);
    s = record(s, false, cfg, 0);
    expect(s).toEqual({ open: false, failures: 2 });
    s = record(s, false, cfg, 10);
    expect(s).toEqual({ open: true, failures: 3, openedAt: 10, probeIntervalMs: 1_000, nextProbeAt: 1_010 });
  });
  it('a success resets the count', () => {
    expect(record({ open: false, failures: 2 }, true, cfg, 0)).toEqual(CLOSED);
  });
  it('holds deliveries until the probe time, then lets one probe through', () => {
    const open = { open: true, failures: 3, openedAt: 0, probeIntervalMs: 1_000, nextProbeAt: 1_000 };
    expect(admit(open, cfg, 400)).toEqual({ action: 'hold', delayMs: 600 });
    expect(admit(open, cfg, 1_000)).toEqual({ action: 'probe' });
  });
  it('doubles the probe interval after a failed probe, up to the cap, and closes on success', () => {
    let s = { open: true, failures: 3, openedAt: 0, probeIntervalMs: 1_000, nextProbeAt: 1_000 };
    s = record(s, false, cfg, 1_000) as typeof s;
    expect(s).toMatchObject({ open: true, probeIntervalMs: 2_000, nextProbeAt: 3_000 });
    s = record(record(s, false, cfg, 3_000), false, cfg, 7_000) as typeof s;
    expect(s.probeIntervalMs).toBe(4_000);
    expect(record(s, true, cfg, 8_000)).toEqual(CLOSED);
  });
  it('expires held deliveries once the circuit has been open for maxOpen, but keeps probing', () => {
    expect(admit({ open: true, failures: 3, openedAt: 0, nextProbeAt: 70_000 }, cfg, 60_000)).toEqual({ action: 'expire' });
    expect(admit({ open: true, failures: 3, openedAt: 0, nextProbeAt: 70_000 }, cfg, 70_000)).toEqual({ action: 'probe' });
  });
});

describe('limiterFor', () => {
  it('uses short windows so a fixed-window limiter cannot burst to twice the rate', () => {
    expect(limiterFor(5)).toEqual({ max: 1, duration: 200 });
    expect(limiterFor(100)).toEqual({ max: 10, duration: 100 });
  });
});
