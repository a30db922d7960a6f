import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from './net.js';
import { waitFor } from './wait.js';

/** One series of an instant query result. */
export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** What `/api/v1/query` answered: `success` with a vector, or `error` (invalid PromQL, evaluation error). */
export type QueryResult =
  | { status: 'success'; resultType: 'vector'; result: Sample[] }
  | { status: 'success'; resultType: 'scalar' | 'string'; result: [number, string] }
  | { status: 'success'; resultType: 'matrix'; result: unknown[] }
  | { status: 'error'; errorType: string; error: string };

export interface PrometheusServer {
  url: string;
  port: number;
  /** Evaluates `expr` at `time` (Unix seconds; now when omitted). Never throws for bad PromQL: see `status`. */
  query(expr: string, time?: number): Promise<QueryResult>;
  /** GETs a JSON API path such as `/api/v1/rules` and returns its `data`. */
  api<T>(path: string): Promise<T>;
  /** Prometheus' own log (stderr), for failure messages. */
  output(): string;
  close(): Promise<void>;
}

const MISSING =
  "prometheus not found on PATH: install Debian's `prometheus` package (apt-get install -y prometheus); test/tools/system-deps.sh does this in CI";

/** Fails with a message saying how to get the binary when `prometheus` is not installed. */
export function assertPrometheusInstalled(): void {
  const r = spawnSync('prometheus', ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error) {
    throw new Error((r.error as NodeJS.ErrnoException).code === 'ENOENT' ? MISSING : `could not run prometheus --version: ${r.error.message}`);
  }
  if (r.status !== 0) throw new Error(`prometheus --version exited with ${r.status}: ${r.stderr}`);
}

/**
 * Starts a private Prometheus on a free loopback port (never the packaged service's :9090) with a
 * temporary TSDB, scraping `targets` as job `job` every `scrapeInterval` and loading `ruleFiles`
 * (absolute paths) evaluated every `evaluationInterval`.
 */
export async function startPrometheus(opts: {
  targets: string[];
  ruleFiles?: string[];
  job?: string;
  scrapeInterval?: string;
  evaluationInterval?: string;
}): Promise<PrometheusServer> {
  assertPrometheusInstalled();
  const dir = await mkdtemp(join(tmpdir(), 'herald-prometheus-'));
  const dataDir = join(dir, 'data');
  const configFile = join(dir, 'prometheus.yml');
  const interval = opts.scrapeInterval ?? '1s';
  await writeFile(
    configFile,
    stringify({
      global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: opts.evaluationInterval ?? '1s' },
      rule_files: opts.ruleFiles ?? [],
      scrape_configs: [{ job_name: opts.job ?? 'herald', static_configs: [{ targets: opts.targets }] }],
    }),
  );

  let proc: ChildProcess | undefined;
  let out = '';
  let port = 0;
  // A free port can be taken between asking for it and Prometheus binding it: try a few.
  for (let attempt = 0; attempt < 3 && !proc; attempt++) {
    port = await freePort();
    const p = spawn(
      'prometheus',
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${dataDir}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--storage.tsdb.retention.time=1h',
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    p.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    let exited = false;
    p.once('exit', () => (exited = true));
    try {
      await waitFor(
        async () => exited || (await fetch(`http://127.0.0.1:${port}/-/ready`).catch(() => undefined))?.status === 200,
        { timeoutMs: 30_000, intervalMs: 100, what: `prometheus on port ${port} to be ready` },
      );
    } catch (err) {
      p.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
      throw new Error(`${(err as Error).message}\n${out}`);
    }
    if (!exited) proc = p;
    else if (!/address already in use/.test(out)) break;
  }
  if (!proc) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`prometheus did not start:\n${out}`);
  }

  const url = `http://127.0.0.1:${port}`;
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(url + path);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`GET ${path}: ${res.status} ${body.error ?? ''}`);
    return body.data;
  };

  // Make sure this is the Prometheus just started (with our TSDB), not another one on that port.
  const flags = await api<Record<string, string>>('/api/v1/status/flags');
  if (flags['storage.tsdb.path'] !== dataDir) {
    proc.kill('SIGKILL');
    throw new Error(`the Prometheus on ${url} is not ours: its TSDB is ${flags['storage.tsdb.path']}, expected ${dataDir}`);
  }

  const running = proc;
  return {
    url,
    port,
    async query(expr, time) {
      const form = new URLSearchParams({ query: expr });
      if (time !== undefined) form.set('time', String(time));
      const res = await fetch(`${url}/api/v1/query`, { method: 'POST', body: form });
      const body = (await res.json()) as { status: 'success'; data: Omit<Extract<QueryResult, { status: 'success' }>, 'status'> } | { status: 'error'; errorType: string; error: string };
      if (body.status === 'success') return { status: 'success', ...body.data } as QueryResult;
      return { status: 'error', errorType: body.errorType, error: body.error };
    },
    api,
    output: () => out,
    async close() {
      if (running.exitCode === null && running.signalCode === null) {
        const exited = new Promise((r) => running.once('exit', r));
        running.kill('SIGTERM');
        const timer = setTimeout(() => running.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
