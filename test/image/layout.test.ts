/**
 * The container image, checked without Docker: the Dockerfile's COPY sources exist and survive
 * .dockerignore, test/image/build-layout.sh runs the same stages into a temp dir, and Herald starts
 * from that layout (read-only, as the chart runs it) with production dependencies only.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isIgnored, parseDockerfile, parseDockerignore, type Stage } from './dockerfile.js';
import { ROOT, podTemplates, render } from '../chart/helm.js';

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(dockerfile);
const script = readFileSync(join(ROOT, 'test/image/build-layout.sh'), 'utf8');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  bin: { herald: string };
  dependencies: Record<string, string>;
};

/** What Herald adds on top of the base image (node_modules + dist); see the Dockerfile's size note. */
const APP_BUDGET_BYTES = 100 * 1024 * 1024;

function stage(name: string): Stage {
  const s = stages.find((x) => x.name === name);
  if (!s) throw new Error(`Dockerfile has no stage "${name}"; stages: ${stages.map((x) => x.name).join(', ')}`);
  return s;
}
const runtime = stages.at(-1)!;

/** The array `name=(...)` of build-layout.sh. */
function scriptArray(name: string): string[] {
  const m = new RegExp(`^${name}=\\(([^)]*)\\)`, 'm').exec(script);
  if (!m) throw new Error(`build-layout.sh has no ${name}=(...)`);
  return m[1]!.trim().split(/\s+/);
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

function du(path: string): number {
  const st = statSync(path);
  return st.isDirectory() ? readdirSync(path).reduce((n, e) => n + du(join(path, e)), 0) : st.size;
}

describe('Dockerfile', () => {
  it('builds in stages: production dependencies, a build with dev dependencies, and a slim Node 24 runtime', () => {
    expect(stages.map((s) => s.name)).toEqual(['deps', 'build', 'tini', 'runtime']);
    for (const s of stages) expect(s.base, s.name).toMatch(/^node:24[.\d]*-[a-z]+-slim$/);
    expect(stage('deps').runs.some((r) => r.includes('npm ci --omit=dev'))).toBe(true);
    expect(stage('build').runs).toContain('npm run build');
    // The runtime stage gets no package manager run: dependencies come from the deps stage.
    expect(runtime.runs.filter((r) => /\bnpm\b/.test(r))).toEqual([]);
    expect(runtime.copies.map((c) => [c.from, c.sources.join(' ')])).toEqual([
      ['tini', '/usr/bin/tini'],
      ['deps', '/app/node_modules'],
      ['build', '/app/dist'],
      [undefined, 'package.json'],
    ]);
  });

  it('runs as a numeric non-root user, with tini as PID 1 and herald as the entrypoint', () => {
    expect(runtime.user).toMatch(/^[1-9][0-9]*:[1-9][0-9]*$/);
    expect(runtime.entrypoint).toEqual(['/usr/bin/tini', '--', 'node', `/app/${pkg.bin.herald}`]);
    // The worker Deployments the controller builds use this uid (src/controller/desired-deployment.ts).
    expect(runtime.user).toBe('65532:65532');
  });

  it('copies only files that exist and that .dockerignore lets into the build context', () => {
    const rules = parseDockerignore(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
    const sources = stages.flatMap((s) => s.copies.filter((c) => c.from === undefined).flatMap((c) => c.sources));
    expect(sources.length).toBeGreaterThan(0);
    for (const src of new Set(sources)) {
      const abs = join(ROOT, src);
      expect(existsSync(abs), `${src} does not exist`).toBe(true);
      const files = statSync(abs).isDirectory() ? walk(abs).map((f) => relative(ROOT, f)) : [src];
      const dropped = files.filter((f) => isIgnored(rules, f));
      expect(dropped, `.dockerignore drops files the Dockerfile copies from ${src}`).toEqual([]);
    }
    // And it keeps the heavy things out.
    for (const heavy of ['node_modules/yaml/package.json', 'dist/cmd/herald.js', '.tools/bin/helm', '.git/HEAD', 'test/chart/helm.ts']) {
      expect(isIgnored(rules, heavy), heavy).toBe(true);
    }
  });

  it('is mirrored by build-layout.sh: same COPY sources per stage, same npm and find commands', () => {
    const contextSources = (s: Stage) => s.copies.filter((c) => c.from === undefined).flatMap((c) => c.sources);
    expect(scriptArray('deps_context')).toEqual(contextSources(stage('deps')));
    expect(scriptArray('build_context')).toEqual(contextSources(stage('build')));
    expect(scriptArray('runtime_context')).toEqual(contextSources(runtime));
    const scriptLines = script.split('\n').map((l) => l.trim().replace(/\s+/g, ' '));
    for (const s of [stage('deps'), stage('build')]) {
      for (const run of s.runs) expect(scriptLines, `build-layout.sh lacks "${run}"`).toContain(run);
    }
  });
});

describe('image layout built without Docker', () => {
  let app: string;

  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-image-'));
    app = join(dir, 'app');
    const r = spawnSync('bash', [join(ROOT, 'test/image/build-layout.sh'), app], { cwd: ROOT, encoding: 'utf8', timeout: 150_000 });
    if (r.status !== 0) throw new Error(`build-layout.sh failed (${r.status ?? r.signal}):\n${r.stderr.slice(-4000)}`);
    // As readOnlyRootFilesystem: nothing under /app may be written at run time.
    for (const f of walk(app)) chmodSync(f, statSync(f).mode & ~0o222);
  }, 170_000);

  afterAll(() => {
    if (!app) return;
    for (const f of walk(app)) chmodSync(f, statSync(f).mode | 0o200);
    rmSync(dirname(app), { recursive: true, force: true });
  });

  function run(args: string[]) {
    // A bare environment, as in a pod: no REDIS_URL or other Herald settings, HOME not writable.
    return spawnSync(join(app, pkg.bin.herald), args, {
      cwd: '/',
      encoding: 'utf8',
      timeout: 30_000,
      env: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, HOME: '/nonexistent', NODE_ENV: 'production' },
    });
  }

  it('starts herald --help from the layout, through its shebang, listing every subcommand the chart and runbook use', () => {
    accessSync(join(app, pkg.bin.herald), constants.X_OK);
    const r = run(['--help']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const listed = [...r.stdout.matchAll(/^  ([a-z-]+)\s/gm)].map((m) => m[1]);
    // What the chart's containers run, `worker` for the controller's Deployments, and the operator
    // commands docs/runbook.md and NOTES.txt tell people to `kubectl exec`.
    const chartCommands = podTemplates(render())
      .flatMap(({ template }) => template.spec.containers as { image: string; args?: string[] }[])
      .filter((c) => !c.image.startsWith('redis:'))
      .map((c) => c.args?.[0]);
    const wanted = [...new Set([...chartCommands, 'worker', 'dlq', 'keys'])].sort();
    expect(wanted).toContain('ingest');
    expect(wanted.filter((c) => !listed.includes(c)), `herald --help lists: ${listed.join(', ')}`).toEqual([]);
  });

  it('prints the version from the package.json it was built from', () => {
    const r = run(['--version']);
    expect(r.stdout.trim()).toBe((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
  });

  it('holds production dependencies only, and every one of them loads', () => {
    // package-lock.json marks what only devDependencies need ("dev": true); none of it may ship.
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const devOnly = Object.entries(lock.packages).filter(([path, p]) => path !== '' && p.dev === true).map(([path]) => path);
    expect(devOnly).toContain('node_modules/typescript');
    expect(devOnly.filter((path) => existsSync(join(app, path)))).toEqual([]);
    const deps = Object.keys(pkg.dependencies);
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `for (const d of ${JSON.stringify(deps)}) await import(d);`], {
      cwd: join(app, 'dist'),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it(`keeps Herald's part of the image under ${APP_BUDGET_BYTES / 1024 / 1024} MB`, () => {
    const bytes = du(join(app, 'node_modules')) + du(join(app, 'dist'));
    expect(bytes).toBeLessThan(APP_BUDGET_BYTES);
    expect(walk(join(app, 'node_modules')).filter((f) => f.endsWith('.d.ts') || f.endsWith('.map'))).toEqual([]);
  });
});
