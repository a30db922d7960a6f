/**
 * `make test-chaos`: the long version of test/integration/faults-worker-kill.test.ts. 2,000 events
 * stream through ingest while a `herald worker` process is SIGKILLed every few seconds and replaced
 * (sized so the whole chaos suite stays within a few minutes on two cores).
 */
import { describe, expect, it } from 'vitest';
import { describeReport, runWorkerKillScenario } from '../support/worker-kill.js';

describe('SIGKILLed workers, 2,000 events', () => {
  it('delivers every accepted event at least once; every duplicate is the same event under the same webhook-id', async ({ annotate }) => {
    const report = await runWorkerKillScenario(
      // ~100 events/s for ~20 s; a kill every ~2.5 s including the replacement's start-up.
      { events: 2_000, kills: 8, workersPerDestination: 3, destinations: 1, concurrency: 8, ingestRate: 100, drainTimeoutMs: 120_000 },
      (m) => console.log(m),
    );
    const summary = describeReport(report);
    console.log(`chaos worker-kill: ${summary}`);
    await annotate(summary);
    expect(report.refused).toBe(0);
    expect(report.accepted).toBe(2_000);
    expect(report.kills).toBe(8);
    expect(report.killsMidDelivery).toBeGreaterThanOrEqual(4);
    expect(report.missing).toEqual([]);
    expect(report.unknown).toEqual([]);
    expect(report.mismatched).toEqual([]);
    expect(report.deliveries).toBe(report.accepted + report.duplicates);
    expect(report.leftover).toEqual({ 'kill-0': { waiting: 0, active: 0, delayed: 0, failed: 0, prioritized: 0 } });
    expect(report.bodiesLeft).toBe(0);
  });

  it('fans out to two destinations under the same kills: every accepted event reaches both', async ({ annotate }) => {
    const report = await runWorkerKillScenario(
      { events: 1_000, kills: 5, workersPerDestination: 2, destinations: 2, concurrency: 8, ingestRate: 80, drainTimeoutMs: 120_000 },
      (m) => console.log(m),
    );
    const summary = describeReport(report);
    console.log(`chaos worker-kill fan-out: ${summary}`);
    await annotate(summary);
    expect(report.refused).toBe(0);
    expect(report.kills).toBe(5);
    expect(report.missing).toEqual([]);
    expect(report.unknown).toEqual([]);
    expect(report.mismatched).toEqual([]);
    expect(report.bodiesLeft).toBe(0);
  });
});
