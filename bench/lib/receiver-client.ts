import { join } from 'node:path';
import { start, waitUntil, type Placement, type Proc } from './procs.js';

export interface Percentiles {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface ReceiverStats {
  [name: string]: { ok: number; fail: number; series: Array<[number, number]>; lat?: Percentiles; acceptLat?: Percentiles };
}

export interface ReceiverHandle {
  proc: Proc;
  port: number;
  /** URL Herald should deliver to for `name`, failing `failPct` % of deliveries. */
  url(name: string, failPct?: number, latency?: boolean): string;
  stats(): Promise<ReceiverStats>;
  reset(): Promise<void>;
  /** Resolves once `name` has received `count` successful deliveries. */
  waitFor(name: string, count: number, timeoutMs: number): Promise<void>;
}

/** Starts bench/receiver.js (compiled) as its own process. */
export async function startReceiver(benchDist: string, logDir: string, placement: Placement = 'infra', name = 'receiver'): Promise<ReceiverHandle> {
  const proc = start({ name, placement, cmd: process.execPath, args: [join(benchDist, 'receiver.js'), '0'], logDir, captureStdout: true });
  let port = 0;
  await waitUntil('receiver', () => {
    const m = /READY (\d+)/.exec(proc.stdout());
    if (m) port = Number(m[1]);
    return port > 0;
  });
  const base = `http://127.0.0.1:${port}`;
  const stats = async () => (await (await fetch(`${base}/stats`)).json()) as ReceiverStats;
  return {
    proc,
    port,
    url: (n, failPct = 0, latency = false) => `${base}/r/${n}/${failPct}${latency ? '/lat' : ''}`,
    stats,
    reset: async () => void (await fetch(`${base}/reset`, { method: 'POST' })),
    waitFor: (n, count, timeoutMs) => waitUntil(`${count} deliveries to ${n}`, async () => ((await stats())[n]?.ok ?? 0) >= count, timeoutMs, 100),
  };
}
