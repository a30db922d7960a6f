import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

/** Where a process runs: the system under test gets CPU 0, load generator, Redis and receivers CPU 1. */
export type Placement = 'sut' | 'infra' | 'any';

let pinning = false;

/** Turns taskset pinning on when asked for and possible (two or more CPUs, taskset installed). */
export function configurePinning(wanted: boolean): boolean {
  pinning = wanted && cpus().length >= 2 && spawnSync('taskset', ['-V']).status === 0;
  return pinning;
}

export function pinningEnabled(): boolean {
  return pinning;
}

/** The CPU list of a placement for taskset. */
function cpuList(placement: Placement): string {
  return placement === 'sut' ? '0' : placement === 'infra' ? '1' : `0-${cpus().length - 1}`;
}

/**
 * The command line with a `taskset -c` prefix for the placement when pinning is on. `any` is spelled
 * out too: a child inherits the harness' own affinity (CPU 1), so no prefix would not mean "any".
 */
export function placed(placement: Placement, cmd: string, args: string[]): [string, string[]] {
  if (!pinning) return [cmd, args];
  return ['taskset', ['-c', cpuList(placement), cmd, ...args]];
}

/** Pins the calling process (the orchestrator) next to the infrastructure. */
export function pinSelf(): void {
  if (pinning) spawnSync('taskset', ['-pc', '1', String(process.pid)], { stdio: 'ignore' });
}

/**
 * Runs `fn` with running processes (every thread of each) and the harness itself free to use every
 * CPU, then puts them back where they were placed. For a scenario that measures the machine as a
 * whole rather than one process against its ceiling.
 */
export async function onAllCpus<T>(procs: Array<{ pid: number; placement: Placement }>, fn: () => Promise<T>): Promise<T> {
  if (!pinning) return fn();
  const all = [...procs, { pid: process.pid, placement: 'infra' as const }];
  const setAffinity = (cpuSpec: (p: Placement) => string) => {
    for (const p of all) spawnSync('taskset', ['-a', '-pc', cpuSpec(p.placement), String(p.pid)], { stdio: 'ignore' });
  };
  setAffinity(() => cpuList('any'));
  try {
    return await fn();
  } finally {
    setAffinity(cpuList);
  }
}

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  /** Resolves with the exit code (or signal name) once the process is gone. */
  exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number | string>;
  /** User + system CPU seconds used so far (Linux /proc). */
  cpuSeconds(): number;
}

export interface StartOptions {
  name: string;
  placement: Placement;
  cmd: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Directory for `<name>.out` / `<name>.err`; stdout goes to /dev/null unless `keepStdout`. */
  logDir: string;
  keepStdout?: boolean;
  /** Pipe stdout to the caller instead (for child processes that answer with JSON). */
  captureStdout?: boolean;
}

const live = new Set<Proc>();

/** Starts a child process, optionally pinned, with its stderr (and stdout when kept) in `logDir`. */
export function start(opts: StartOptions): Proc & { stdout: () => string } {
  const [cmd, args] = placed(opts.placement, opts.cmd, opts.args);
  const out = opts.captureStdout ? 'pipe' : opts.keepStdout ? 'pipe' : 'ignore';
  const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', out, 'pipe'] });
  const errFile = createWriteStream(join(opts.logDir, `${opts.name}.err`), { flags: 'a' });
  child.stderr?.pipe(errFile);
  let captured = '';
  if (opts.captureStdout) child.stdout?.on('data', (c: Buffer) => (captured += c.toString('utf8')));
  else if (opts.keepStdout) child.stdout?.pipe(createWriteStream(join(opts.logDir, `${opts.name}.out`), { flags: 'a' }));
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1));
    child.once('error', (err) => resolve(`spawn error: ${err.message}`));
  });
  const proc: Proc & { stdout: () => string } = {
    name: opts.name,
    child,
    pid: child.pid ?? -1,
    exited,
    stdout: () => captured,
    async stop(graceMs = 30_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(t);
      }
      live.delete(proc);
      return exited;
    },
    cpuSeconds: () => cpuSecondsOf(child.pid ?? -1),
  };
  live.add(proc);
  void exited.then(() => live.delete(proc));
  return proc;
}

/** Stops every process this module started (used on error and on SIGINT). */
export async function stopAll(): Promise<void> {
  await Promise.allSettled([...live].map((p) => p.stop(5_000)));
}

/**
 * Write-family system calls a process has made so far (`syscw` in /proc/<pid>/io, all its threads);
 * 0 when it cannot be read. On this VM a socket write to loopback costs 10–16 µs, so how many a
 * delivery takes matters as much as the code around them.
 */
export function writeCallsOf(pid: number): number {
  try {
    return Number(/^syscw: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** utime + stime of a process from /proc, in seconds; 0 when it cannot be read. */
export function cpuSecondsOf(pid: number): number {
  const file = `/proc/${pid}/stat`;
  if (pid <= 0 || !existsSync(file)) return 0;
  try {
    const stat = readFileSync(file, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields after "(comm) " start at field 3 (state); utime is field 14, stime field 15.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** CPU seconds every core of the machine spent busy (all of /proc/stat's time but idle and iowait). */
export function machineBusySeconds(): number {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = cpu;
    return (user + nice + system + irq + softirq + steal) / 100;
  } catch {
    return 0;
  }
}

/** Runs a command to completion and returns its stdout; throws with stderr on a non-zero exit. */
export async function run(placement: Placement, cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<string> {
  const [c, a] = placed(placement, cmd, args);
  return new Promise((resolve, reject) => {
    const child = spawn(c, a, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    const t = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.once('error', reject);
    child.once('exit', (code) => {
      if (t) clearTimeout(t);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}: ${err.trim().slice(0, 2000)}`));
    });
  });
}

/** Polls `check` every `everyMs` until it returns true or `timeoutMs` passes. */
export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/** Resolves once an HTTP GET of `url` answers `status` (default any 2xx). */
export async function waitHttp(url: string, timeoutMs = 20_000): Promise<void> {
  await waitUntil(url, async () => (await fetch(url)).ok, timeoutMs, 100);
}
