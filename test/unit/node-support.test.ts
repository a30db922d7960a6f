import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NODE_FLOOR_MAJOR, unsupportedNodeMessage } from '../../src/cli/node-support.js';
import { ROOT } from '../support/cli.js';

const HOW = 'install Node.js 24 LTS (in a Herald checkout: PATH="$(bash test/tools/node.sh):$PATH")';

describe('unsupportedNodeMessage', () => {
  it('accepts Node 24 and later', () => {
    for (const v of ['24.0.0', '24.22.3', 'v24.22.3', '25.1.0', '26.0.0-pre', '100.0.0']) expect(unsupportedNodeMessage(v), v).toBeUndefined();
  });

  it('refuses Node 18, 20 and 22 with one line naming the required version, the running one and how to get it', () => {
    expect(unsupportedNodeMessage('20.20.2')).toBe(`herald: Node.js 24 or later is required, this is Node.js v20.20.2; ${HOW}`);
    expect(unsupportedNodeMessage('18.19.1')).toBe(`herald: Node.js 24 or later is required, this is Node.js v18.19.1; ${HOW}`);
    expect(unsupportedNodeMessage('v23.11.0')).toBe(`herald: Node.js 24 or later is required, this is Node.js v23.11.0; ${HOW}`);
    expect(unsupportedNodeMessage('20.20.2')).not.toContain('\n');
  });

  it('refuses a version it cannot read rather than guessing', () => {
    expect(unsupportedNodeMessage('')).toBe(`herald: Node.js 24 or later is required, this is Node.js v; ${HOW}`);
    expect(unsupportedNodeMessage('banana')).toMatch(/^herald: Node\.js 24 or later is required, this is Node\.js vbanana; /);
  });

  it('compares majors as numbers, not strings', () => {
    expect(unsupportedNodeMessage('3.0.0', 24)).toBeDefined();
    expect(unsupportedNodeMessage('100.0.0', 24)).toBeUndefined();
    expect(unsupportedNodeMessage('9.9.9', 10)).toBeDefined();
  });
});

describe('the Node floor is the same everywhere', () => {
  it('matches package.json engines, the pinned test Node and the Dockerfile base image', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    expect(pkg.engines.node).toBe(`>=${NODE_FLOOR_MAJOR}`);
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { engines?: { node: string } }> };
    expect(lock.packages['']?.engines?.node).toBe(pkg.engines.node);
    const pinned = readFileSync(join(ROOT, 'test/tools/node-version'), 'utf8').trim();
    expect(pinned).toMatch(new RegExp(`^${NODE_FLOOR_MAJOR}\\.\\d+\\.\\d+$`));
    expect(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')).toMatch(new RegExp(`^ARG NODE_IMAGE=node:${NODE_FLOOR_MAJOR}-bookworm-slim$`, 'm'));
  });

  it('is what these tests run on (make test and .ci/run put the pinned Node first on PATH)', () => {
    expect(unsupportedNodeMessage(process.versions.node), `tests run on Node ${process.version}`).toBeUndefined();
  });
});
