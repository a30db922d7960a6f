import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import type { BenchOptions } from './options.js';

/** The machine and the versions of everything measured, recorded with every result. */
export interface Environment {
  machine: { cpus: number; model: string; memoryGiB: number; kernel: string };
  versions: Record<string, string>;
  herald: { dir: string; revision: string };
  pinning: boolean;
}

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (err) {
    return ((err as { stdout?: string }).stdout ?? '').trim() || 'unknown';
  }
}

function pkg(dir: string, name: string): string {
  try {
    return (JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export async function environment(opts: Readonly<BenchOptions>, pinning: boolean): Promise<Environment> {
  const root = opts.heraldDir;
  const rev = opts.heraldLabel ?? sh('git', ['-C', root, 'describe', '--always', '--dirty', '--abbrev=12']);
  return {
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), kernel: release() },
    versions: {
      node: sh(opts.heraldNode, ['--version']),
      ...(opts.compareNode ? { compareNode: sh(opts.compareNode, ['--version']) } : {}),
      ...(opts.heraldNode !== process.execPath ? { harnessNode: process.version } : {}),
      redis: /v=([0-9.]+)/.exec(sh('redis-server', ['--version']))?.[1] ?? 'unknown',
      wrk: sh('wrk', ['--version']).split('\n')[0]?.replace(/ Copyright.*/, '') ?? 'unknown',
      herald: sh(opts.heraldNode, [join(root, 'dist/cmd/herald.js'), '--version']),
      bullmq: pkg(root, 'bullmq'),
      ioredis: pkg(root, 'ioredis'),
      express: pkg(root, 'express'),
      undici: pkg(root, 'undici'),
      pino: pkg(root, 'pino'),
    },
    herald: { dir: root, revision: rev },
    pinning,
  };
}
