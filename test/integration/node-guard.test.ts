/**
 * `herald` on a Node older than it supports: exits 1 with one line, before loading anything that
 * may not run there. Started under the machine's own old Node (e.g. Debian's /usr/bin/node 20).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { NODE_FLOOR_MAJOR, unsupportedNodeMessage } from '../../src/cli/node-support.js';
import { HERALD_BIN, assertBuilt } from '../support/cli.js';

/** The first `node` on PATH, or in /usr/bin, /usr/local/bin or /bin, older than the floor. */
function findOldNode(): { path: string; version: string } | undefined {
  const which = spawnSync('which', ['-a', 'node'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  for (const path of new Set([...which, '/usr/bin/node', '/usr/local/bin/node', '/bin/node'])) {
    const r = spawnSync(path, ['-p', 'process.versions.node'], { encoding: 'utf8' });
    const version = r.status === 0 ? r.stdout.trim() : '';
    if (version && unsupportedNodeMessage(version) !== undefined) return { path, version };
  }
  return undefined;
}

describe('herald on an unsupported Node', () => {
  const old = findOldNode();

  it('exits 1 with one line naming the required Node and how to get it', (ctx) => {
    if (!old) ctx.skip(`no node older than ${NODE_FLOOR_MAJOR} on PATH or in /usr/bin, /usr/local/bin, /bin`);
    assertBuilt();
    for (const args of [['--help'], ['ingest'], ['dev', '--destinations', 'x.yaml']]) {
      const r = spawnSync(old!.path, [HERALD_BIN, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
      expect(r.status, `${old!.path} (v${old!.version}) herald ${args.join(' ')}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toBe(`${unsupportedNodeMessage(old!.version)}\n`);
      expect(r.stdout).toBe('');
    }
  });

  it('starts on the Node the tests run on', () => {
    assertBuilt();
    const r = spawnSync(process.execPath, [HERALD_BIN, '--version'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
