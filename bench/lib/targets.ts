import type { ScenarioResult } from './context.js';
import { figure } from './stats.js';

/** One of issue 7's targets, evaluated from the figures of one run. */
export interface TargetCheck {
  id: string;
  target: string;
  /** Herald's figure and the ceiling it is compared to (absent for absolute targets). */
  herald: number;
  ceiling?: number;
  unit: string;
  /** herald / ceiling, or the value compared against `limit` for absolute targets. */
  ratio?: number;
  limit: number;
  /**
   * Ceiling CPU-µs per operation ÷ Herald's (each process's own CPU time, Redis excluded): what the
   * throughput ratio would be if both had a core to themselves. Far less sensitive to other load.
   */
  cpuRatio?: number;
  /** `min`: value must be ≥ limit; `max`: ≤ limit. */
  kind: 'min' | 'max';
  pass: boolean | undefined;
  /** Reported beside the targets for context; not one of them, so neither met nor missed. */
  info?: true;
}

type Results = Record<string, ScenarioResult | undefined>;

const med = (r: Results, scenario: string, fig: string): number | undefined => r[scenario]?.figures[fig]?.median;
const vals = (r: Results, scenario: string, fig: string): number[] | undefined => r[scenario]?.figures[fig]?.values;

/** Median of per-round ratios when both sides have one value per round (paired), else the ratio of medians. */
export function pairedRatio(h: number[], c: number[]): number {
  if (h.length === c.length && h.length > 0) return figure(h.map((v, i) => v / c[i]!), '').median;
  return figure(h, '').median / figure(c, '').median;
}

function ratioCheck(id: string, target: string, unit: string, r: Results, h: [string, string], c: [string, string], limit: number, cpu?: { h: [string, string]; c: [string, string]; perHeraldOp?: number }): TargetCheck | undefined {
  const hv = vals(r, ...h);
  const cv = vals(r, ...c);
  if (!hv || !cv) return undefined;
  const ratio = pairedRatio(hv, cv);
  const hc = cpu ? vals(r, ...cpu.h) : undefined;
  const cc = cpu ? vals(r, ...cpu.c) : undefined;
  // Both are CPU per operation, so the efficiency ratio is ceiling ÷ Herald.
  const cpuRatio = hc && cc ? pairedRatio(cc, hc.map((v) => v / (cpu?.perHeraldOp ?? 1))) : undefined;
  return { id, target, herald: med(r, ...h)!, ceiling: med(r, ...c)!, unit, ratio, ...(cpuRatio !== undefined ? { cpuRatio } : {}), limit, kind: 'min', pass: ratio >= limit };
}

function info(check: TargetCheck | undefined): TargetCheck | undefined {
  return check && { ...check, pass: undefined, info: true };
}

function absCheck(id: string, target: string, unit: string, value: number | undefined, limit: number, kind: 'min' | 'max'): TargetCheck | undefined {
  if (value === undefined) return undefined;
  return { id, target, herald: value, unit, limit, kind, pass: kind === 'min' ? value >= limit : value <= limit };
}

const CLUSTER_CLIENT_CPU: Record<string, string> = {
  batchIngestCpuUsPerEvent: 'batch ingest CPU per event',
  singleIngestCpuUsPerEvent: 'single-event ingest CPU per event',
  workerCpuUsPerDelivery: 'worker CPU per delivery',
};

/**
 * Herald's CPU per event on a Redis Cluster may grow at most 10 % with the number of shards: the
 * cluster scenario's N-primary ÷ 1-primary ratios (paired by round; same destinations and slots,
 * so the same client work apart from the shards).
 */
function clusterChecks(r: Results): TargetCheck[] {
  return Object.entries(r.cluster?.figures ?? {}).flatMap(([k, f]) => {
    const m = /^ratio\.cluster(\d+)\/cluster1\.(\w+)$/.exec(k);
    const what = m && CLUSTER_CLIENT_CPU[m[2]!];
    if (!m || !what) return [];
    return [absCheck(`cluster${m[1]}÷1`, `Redis Cluster: ${what} on ${m[1]} primaries ≤ 110% of on 1 (paired rounds)`, '× cluster÷1-primary', f.median, 1.1, 'max')!];
  });
}

/** Evaluates every target whose figures this run measured. */
export function evaluateTargets(r: Results, payloadBytes: number): TargetCheck[] {
  const backlog = r.backlog;
  const memLimit = 1.5 * payloadBytes + 600;
  const checks = [
    ratioCheck('T1', 'Single-event ingest ≥ 80% of bare express req/s', 'events/s', r, ['ingest-fanout1', 'singleEventsPerS'], ['ceiling-express', 'reqPerS'], 0.8, { h: ['ingest-fanout1', 'singleCpuUsPerEvent'], c: ['ceiling-express', 'cpuUsPerRequest'] }),
    info(ratioCheck('T1n', 'Single-event ingest beside a plain node:http server that only parses the body (context, no target)', 'events/s', r, ['ingest-fanout1', 'singleEventsPerS'], ['ceiling-node-http', 'reqPerS'], 0, { h: ['ingest-fanout1', 'singleCpuUsPerEvent'], c: ['ceiling-node-http', 'cpuUsPerRequest'] })),
    absCheck('T2a', 'Batch ingest ≥ 50,000 events/s (1 destination)', 'events/s', med(r, 'ingest-fanout1', 'batchEventsPerS'), 50_000, 'min'),
    ratioCheck('T2b', 'Batch ingest at 5 destinations ≥ 60% of bare addBulk (jobs/s)', 'jobs/s', r, ['ingest-fanout5', 'batchJobsPerS'], ['ceiling-bullmq', 'addBulk5'], 0.6, { h: ['ingest-fanout5', 'batchCpuUsPerEvent'], c: ['ceiling-bullmq', 'addBulk5CpuUsPerJob'], perHeraldOp: 5 }),
    ratioCheck('T3', 'Delivery ≥ 50% of a no-op BullMQ worker (jobs/s)', 'deliveries/s', r, ['delivery', 'deliveriesPerS'], ['ceiling-bullmq', 'noopWorker'], 0.5, { h: ['delivery', 'cpuUsPerDelivery'], c: ['ceiling-bullmq', 'noopWorkerCpuUsPerJob'] }),
    absCheck('T4a', 'At 50% of saturation: ingest→delivery p50 ≤ 10 ms', 'ms', med(r, 'latency', 'p50Ms'), 10, 'max'),
    absCheck('T4b', 'At 50% of saturation: ingest→delivery p99 ≤ 50 ms', 'ms', med(r, 'latency', 'p99Ms'), 50, 'max'),
    absCheck('T5a', `Backlog: bytes per queued event per destination ≤ 1.5×payload+600 = ${memLimit} (payload ${payloadBytes} B, 5 destinations)`, 'bytes', backlog?.figures.bytesPerEventDestination?.median, memLimit, 'max'),
    backlog
      ? {
          id: 'T5b',
          target: "Backlog: no event/job keys left after the drain; memory back to baseline apart from BullMQ's capped event streams (≤ 1 MiB)",
          herald: backlog.figures.residualExStreamsBytes?.median ?? backlog.figures.residualBytes!.median,
          unit: 'bytes residual (streams excluded)',
          limit: 2 ** 20,
          kind: 'max' as const,
          pass: backlog.figures.leakedKeys!.median === 0 && (backlog.figures.residualExStreamsBytes?.median ?? backlog.figures.residualBytes!.median) <= 2 ** 20,
        }
      : undefined,
    ratioCheck('T6', 'Healthy destination ≥ 90% of solo throughput while another fails 100% (shared worker process)', 'deliveries/s', r, ['failing-shared', 'withFail100PerS'], ['failing-shared', 'soloPerS'], 0.9),
    ratioCheck('T6b', 'Same, with the opt-in circuit breaker on the failing destination (failureThreshold 5)', 'deliveries/s', r, ['failing-shared-breaker', 'withFail100PerS'], ['failing-shared-breaker', 'soloPerS'], 0.9),
    ratioCheck('T6s', 'Same, one worker process per destination (as the controller deploys them)', 'deliveries/s', r, ['failing-split', 'withFail100PerS'], ['failing-split', 'soloPerS'], 0.9),
    ratioCheck('T7a', 'Ordered delivery, 1,000 keys ≥ 70% of unordered (same run)', 'deliveries/s', r, ['ordering-delivery', 'keys1000PerS'], ['ordering-delivery', 'unorderedPerS'], 0.7, { h: ['ordering-delivery', 'keys1000CpuUsPerDelivery'], c: ['ordering-delivery', 'unorderedCpuUsPerDelivery'] }),
    info(absCheck('T7b', 'Ordered delivery, one hot key: one delivery per receiver round trip (context, no target)', 'deliveries/s', med(r, 'ordering-delivery', 'hotKeyPerS'), 0, 'min')),
    ratioCheck('T7c', 'Batch ingest with ordering on ≥ 90% of off (costs ≤ 10%), events behind busy keys', 'events/s', r, ['ordering-ingest', 'batchEventsPerSOn'], ['ordering-ingest', 'batchEventsPerSOff'], 0.9, { h: ['ordering-ingest', 'cpuUsPerEventOn'], c: ['ordering-ingest', 'cpuUsPerEventOff'] }),
    ratioCheck('T7d', 'Batch ingest with ordering on ≥ 90% of off (costs ≤ 10%), every event a new key', 'events/s', r, ['ordering-ingest', 'idleKeysEventsPerSOn'], ['ordering-ingest', 'idleKeysEventsPerSOff'], 0.9, { h: ['ordering-ingest', 'idleKeysCpuUsPerEventOn'], c: ['ordering-ingest', 'idleKeysCpuUsPerEventOff'] }),
    ratioCheck('T7e', 'Single-event ingest with ordering on ≥ 90% of off (costs ≤ 10%), every event a new key', 'events/s', r, ['ordering-ingest', 'singleEventsPerSOn'], ['ordering-ingest', 'singleEventsPerSOff'], 0.9, { h: ['ordering-ingest', 'singleCpuUsPerEventOn'], c: ['ordering-ingest', 'singleCpuUsPerEventOff'] }),
    ...clusterChecks(r),
  ];
  return checks.filter((c): c is TargetCheck => c !== undefined);
}
