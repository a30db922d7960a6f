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

/** Starts the built `herald` CLI as a real process, as Kubernetes would. */
export function spawnHerald(args: string[], env: Record<string, string>): HeraldProcess {
  assertBuilt();
  const proc = spawn(process.execPath, [HERALD_BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, output: () => out, exited };
}

/** Runs a short CLI command to completion. */
export async function runHerald(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  const p = spawnHerald(args, env);
  const code = await p.exited;
  return { code, out: p.output() };
}
