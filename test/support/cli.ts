import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const HERALD_BIN = join(ROOT, 'dist', 'cmd', 'herald.js');

export function assertBuilt(): void {
  if (!existsSync(HERALD_BIN)) throw new Error(`${HERALD_BIN} is missing: run \`npm run build\` (make test does) before these tests`);
}

export interface HeraldProcess {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

export interface SpawnOptions {
  /** Working directory (where `herald dev` notes its Redis URL); default this process' own. */
  cwd?: string;
  /** Its own process group, as a terminal's foreground job: `process.kill(-pid, 'SIGINT')` is Ctrl-C. */
  detached?: boolean;
}

/** Starts the built `herald` CLI as a real process, as Kubernetes would. */
export function spawnHerald(args: string[], env: Record<string, string>, opts: SpawnOptions = {}): HeraldProcess & { stdout: () => string; stderr: () => string } {
  assertBuilt();
  const proc = spawn(process.execPath, [HERALD_BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  let out = '';
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (c: Buffer) => ((out += c.toString()), (stdout += c.toString())));
  proc.stderr!.on('data', (c: Buffer) => ((out += c.toString()), (stderr += c.toString())));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code, signal) => r(code ?? (signal ? 128 : null))));
  return { proc, output: () => out, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Runs a short CLI command to completion. */
export async function runHerald(args: string[], env: Record<string, string> = {}, opts: SpawnOptions = {}): Promise<{ code: number | null; out: string; stdout: string; stderr: string }> {
  const p = spawnHerald(args, env, opts);
  const code = await p.exited;
  return { code, out: p.output(), stdout: p.stdout(), stderr: p.stderr() };
}

/**
 * Runs the CLI on a pseudo-terminal (util-linux `script`), so it sees a terminal on stdin, stdout and
 * stderr, as a person at a shell does; `input` is typed into it. Resolves with what the terminal showed.
 */
export async function runHeraldOnTerminal(args: string[], env: Record<string, string> = {}, opts: SpawnOptions & { input?: string } = {}): Promise<{ code: number | null; out: string }> {
  assertBuilt();
  const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, HERALD_BIN, ...args].map(quote).join(' ');
  const proc = spawn('script', ['-qefc', command, '/dev/null'], { env: { PATH: process.env.PATH ?? '', TERM: 'xterm', ...env }, stdio: ['pipe', 'pipe', 'pipe'], ...(opts.cwd ? { cwd: opts.cwd } : {}) });
  let out = '';
  proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (out += c.toString()));
  if (opts.input !== undefined) proc.stdin.write(opts.input);
  const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  return { code, out };
}
