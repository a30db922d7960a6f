import { readFileSync } from 'node:fs';
import { spawnHerald, type HeraldProcess } from './cli.js';
import { freePort } from './net.js';
import { targetEnv } from './test-redis.js';
import { waitFor } from './wait.js';

/** A `herald worker` or `herald ingest` started as a real process, ready (its /readyz answered 200). */
export interface RunningHerald extends HeraldProcess {
  port: number;
  /** `http://127.0.0.1:<port>`: the ops endpoints, and for ingest the API. */
  url: string;
  pid: number;
  /** True once the process has exited (by signal or on its own). */
  dead(): boolean;
  /** SIGKILL, as the kernel's OOM killer or a node failure would; resolves once it is gone. */
  kill(): Promise<void>;
}

/** Environment shared by every process a fault test starts: loopback receivers, quiet logs, fast lock expiry. */
export function processEnv(redis: string | { redisUrl: string; clusterNodes?: string }, prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...targetEnv(typeof redis === 'string' ? { redisUrl: redis } : redis),
    HERALD_REDIS_PREFIX: prefix,
    HERALD_HTTP_HOST: '127.0.0.1',
    HERALD_ALLOW_PRIVATE_DESTINATIONS: 'true',
    HERALD_LOCK_DURATION: '2s',
    HERALD_SHUTDOWN_TIMEOUT: '5s',
    HERALD_LOG_LEVEL: 'warn',
    ...extra,
  };
}

async function startProcess(args: string[], env: Record<string, string>, what: string, readyTimeoutMs: number): Promise<RunningHerald> {
  const port = await freePort();
  const p = spawnHerald(args, { ...env, HERALD_HTTP_PORT: String(port) });
  const url = `http://127.0.0.1:${port}`;
  let exited = false;
  void p.exited.then(() => (exited = true));
  await waitFor(
    async () => {
      if (exited) throw new Error(`${what} exited before it was ready:\n${p.output()}`);
      const res = await fetch(`${url}/readyz`).catch(() => undefined);
      return res?.status === 200;
    },
    { what: `${what} to be ready`, timeoutMs: readyTimeoutMs, intervalMs: 50 },
  ).catch((err: Error) => {
    p.proc.kill('SIGKILL');
    throw new Error(`${err.message}\n--- output ---\n${p.output().slice(-4000)}`);
  });
  return {
    ...p,
    port,
    url,
    pid: p.proc.pid!,
    dead: () => exited,
    async kill() {
      if (!exited) p.proc.kill('SIGKILL');
      await p.exited;
    },
  };
}

/** Starts `herald worker --destination <name> [--destination <name> ...]` and waits until it is ready. */
export function startWorkerProcess(destination: string | string[], env: Record<string, string>, readyTimeoutMs = 60_000): Promise<RunningHerald> {
  const names = Array.isArray(destination) ? destination : [destination];
  return startProcess(['worker', ...names.flatMap((n) => ['--destination', n])], env, `worker ${names.join(',')}`, readyTimeoutMs);
}

/** Starts `herald ingest` (authentication off: these tests are about faults, not keys) and waits until it is ready. */
export function startIngestProcess(env: Record<string, string>, readyTimeoutMs = 60_000): Promise<RunningHerald> {
  return startProcess(['ingest'], { HERALD_INGEST_AUTH: 'off', ...env }, 'ingest', readyTimeoutMs);
}

/** Resident set size of a live process in bytes, from /proc (Linux). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** A value of one Prometheus sample (`name{labels} value`) in a /metrics text; 0 when absent. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
