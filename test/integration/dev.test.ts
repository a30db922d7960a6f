/**
 * `herald dev` as `make dev` runs it: its private Redis, the URL it notes for the CLI, what it logs,
 * and Ctrl-C with deliveries still queued. Each run has its own directory, ports and redis-server.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertRedisReachable } from '../../src/redis/reachable.js';
import { HERALD_BIN, runHerald, spawnHerald, type HeraldProcess } from '../support/cli.js';
import { freePort } from '../support/net.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { waitFor } from '../support/wait.js';

const dirs: string[] = [];
const running: HeraldProcess[] = [];

async function devDir(receiverPort: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'herald-dev-'));
  dirs.push(dir);
  await writeFile(join(dir, 'destinations.yaml'), [
    'apiVersion: herald.dev/v1alpha1', 'kind: Destination', 'metadata: {name: fine}', `spec: {url: "http://127.0.0.1:${receiverPort}/ok/fine"}`,
    '---',
    'apiVersion: herald.dev/v1alpha1', 'kind: Destination', 'metadata: {name: failing}',
    // One long wait between attempts: the event is still queued when Ctrl-C comes.
    `spec: {url: "http://127.0.0.1:${receiverPort}/fail/x", retry: {schedule: [1h], maxAttempts: 2}}`,
    '',
  ].join('\n'));
  return dir;
}

/** JSON log lines of a dev process' output. */
function logLines(out: string): Array<Record<string, unknown>> {
  return out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

afterAll(async () => {
  for (const p of running) if (p.proc.exitCode === null) p.proc.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('herald dev', () => {
  it('notes its Redis for the CLI, logs each delivery, and on Ctrl-C stops cleanly saying what is left queued', async () => {
    const receiverPort = await freePort();
    const dir = await devDir(receiverPort);
    // Its own process group, as a shell's foreground job: SIGINT to the group is Ctrl-C.
    const dev = spawnHerald(['dev', '--destinations', 'destinations.yaml', '--port', '0', '--receiver', String(receiverPort)], {}, { cwd: dir, detached: true });
    running.push(dev);
    await waitFor(() => dev.output().includes('Herald dev is running'), { what: 'herald dev to start', timeoutMs: 30_000 });
    const logs = logLines(dev.stdout());

    const url = (await readFile(join(dir, '.dev', 'redis-url'), 'utf8')).trim();
    expect(url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    expect(logs.some((l) => String(l.msg).includes(`export REDIS_URL=${url}`))).toBe(true);
    const listening = logs.find((l) => l.msg === 'Ingest listening')!;
    expect(listening.host).toBe('127.0.0.1');
    // The auth warning comes once ingest is up, after the line that says so.
    expect(logs.findIndex((l) => String(l.msg).startsWith('Ingest authentication is OFF'))).toBeGreaterThan(logs.indexOf(listening));

    const res = await fetch(`http://127.0.0.1:${listening.port as number}/ingest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userID: 'u', payload: 'p' }) });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const delivered = await waitFor(() => logLines(dev.stdout()).find((l) => l.msg === 'Delivered event' && l.eventId === id), { what: 'the info-level delivery line' });
    expect(delivered).toMatchObject({ level: 'info', destination: 'fine', status: 200 });
    await waitFor(() => logLines(dev.stdout()).some((l) => l.msg === 'Delivery failed; will retry' && l.eventId === id), { what: 'the failing destination to schedule its retry' });

    // The CLI in another terminal of the same directory finds the dev Redis without REDIS_URL.
    const dlq = await runHerald(['dlq', 'list', '--destination', 'failing'], {}, { cwd: dir });
    expect(dlq.stdout).toBe('no dead letters for failing\n');
    expect(dlq.code).toBe(0);

    process.kill(-dev.proc.pid!, 'SIGINT');
    expect(await dev.exited).toBe(0);
    const out = dev.output();
    expect(out).not.toContain('ECONNREFUSED');
    const stopped = logLines(dev.stdout()).find((l) => String(l.msg).startsWith('Stopped;'));
    expect(stopped?.msg).toBe('Stopped; 1 delivery left queued, kept in Redis for the next start: failing 1 (1 awaiting a retry)');
    expect(existsSync(join(dir, '.dev', 'redis-url'))).toBe(false);
    // The private redis-server was stopped too (after the workers, or they would have logged errors).
    await expect(assertRedisReachable(url, 2_000)).rejects.toThrow('connection refused');
  }, 90_000);

  it('logs readable, coloured lines on a terminal (and JSON elsewhere, as above)', async () => {
    const dir = await devDir(await freePort());
    const command = `${process.execPath} ${HERALD_BIN} dev --destinations destinations.yaml --port 0`;
    const tty = spawn('script', ['-qefc', command, '/dev/null'], { cwd: dir, env: { PATH: process.env.PATH ?? '', TERM: 'xterm' }, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let out = '';
    tty.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise((r) => tty.once('exit', r));
    let url: string | undefined;
    try {
      await waitFor(() => out.includes('Herald dev is running'), { what: 'herald dev on a terminal to start', timeoutMs: 30_000 });
      expect(out).toMatch(/\d\d:\d\d:\d\d\.\d{3}\u001b\[0m \u001b\[32mINFO \u001b\[0m .*Herald dev is running/);
      expect(out).not.toContain('{"level"');
      url = (await readFile(join(dir, '.dev', 'redis-url'), 'utf8')).trim();
    } finally {
      process.kill(-tty.pid!, 'SIGINT');
      await exited;
    }
    // The terminal went away under herald dev (its pty closed: SIGHUP), and it still stopped its
    // private redis-server on the way out rather than leaving it running.
    await waitFor(async () => (await assertRedisReachable(url, 1_000).then(() => false, () => true)), { what: 'the private redis-server to stop with the terminal', timeoutMs: 30_000 });
  }, 60_000);

  describe('that cannot listen', () => {
    let redis: RedisServer;
    let blocker: Server;
    let port: number;
    beforeAll(async () => {
      redis = await startRedis();
      blocker = createServer();
      await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
      port = (blocker.address() as { port: number }).port;
    });
    afterAll(async () => {
      blocker?.close();
      await redis?.close();
    });

    it('says which flag picks another port, and has started nothing and published nothing', async () => {
      const dir = await devDir(await freePort());
      const withOwnRedis = await runHerald(['dev', '--destinations', 'destinations.yaml', '--port', String(port)], {}, { cwd: dir });
      expect(withOwnRedis.code).toBe(1);
      expect(withOwnRedis.stderr).toBe(`herald dev: port ${port} on 127.0.0.1 is already in use: pick another with --port N or HERALD_HTTP_PORT\n`);
      expect(withOwnRedis.stdout).toBe('');
      expect(existsSync(join(dir, '.dev'))).toBe(false);

      const receiverTaken = await runHerald(['dev', '--destinations', 'destinations.yaml', '--port', '0', '--receiver', String(port)], { REDIS_URL: redis.url }, { cwd: dir });
      expect(receiverTaken.code).toBe(1);
      expect(receiverTaken.stderr).toContain('pick another with --receiver PORT');
      expect(receiverTaken.out).not.toContain('authentication is OFF');
      expect(await redis.client().exists('herald:destinations')).toBe(0);
    });

    it('an unreachable REDIS_URL is one line, before anything starts', async () => {
      const dir = await devDir(await freePort());
      const gone = await freePort();
      const r = await runHerald(['dev', '--destinations', 'destinations.yaml', '--port', '0'], { REDIS_URL: `redis://127.0.0.1:${gone}` }, { cwd: dir });
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(`cannot reach Redis at redis://127.0.0.1:${gone} (connection refused)`);
    });
  });
});
