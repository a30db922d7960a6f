/**
 * The `herald` CLI as a person meets it: exit codes, one-line errors, the Redis of a running
 * `herald dev` found without REDIS_URL, and the dead-letter commands' paging, progress and summaries.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnrecoverableError, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDeliveryQueue } from '../../src/queue/delivery-queue.js';
import { DestinationRegistry } from '../../src/redis/destination-registry.js';
import { RedisKeys, QUEUE_NAME } from '../../src/redis/keys.js';
import { runHerald, runHeraldOnTerminal, spawnHerald } from '../support/cli.js';
import { freePort } from '../support/net.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { waitFor } from '../support/wait.js';

let redis: RedisServer;
let cwd: string;
const PREFIX = 'clitest';
const keys = new RedisKeys(PREFIX);
let env: Record<string, string>;

/** Declares `destination` and gives it `n` dead letters, dead-lettered the way a worker does. */
async function deadLetters(destination: string, n: number): Promise<string[]> {
  const c = redis.client();
  await new DestinationRegistry(c, keys).put({ name: destination, spec: { url: 'http://127.0.0.1:1/x' } as never });
  const queue = openDeliveryQueue(c, keys, destination);
  const ids = Array.from({ length: n }, (_, i) => `evt_${destination}_${String(i).padStart(4, '0')}`);
  for (const id of ids) await queue.add('d', { e: id, b: JSON.stringify({ id, payload: 'p' }) }, { jobId: id, attempts: 1, removeOnFail: false });
  const worker = new Worker(QUEUE_NAME, async () => {
    throw new UnrecoverableError('HTTP 404');
  }, { connection: { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null }, prefix: keys.queuePrefix(destination), concurrency: 8 });
  await waitFor(async () => (await queue.getFailedCount()) === n, { what: `${n} dead letters for ${destination}` });
  await worker.close();
  await queue.close();
  return ids;
}

beforeAll(async () => {
  redis = await startRedis();
  cwd = await mkdtemp(join(tmpdir(), 'herald-cli-'));
  env = { REDIS_URL: redis.url, HERALD_REDIS_PREFIX: PREFIX };
});

afterAll(async () => {
  await redis?.close();
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

describe('exit codes and errors', () => {
  it('`herald` alone prints the help on stderr and exits 2', async () => {
    const r = await runHerald([], {}, { cwd });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Usage: herald <command>');
    expect(r.stdout).toBe('');
  });

  it('an unreachable Redis is one line naming the URL, exit 1, no stack trace', async () => {
    const port = await freePort();
    const r = await runHerald(['dlq', 'list', '--destination', 'orders'], { REDIS_URL: `redis://127.0.0.1:${port}` }, { cwd });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([`herald dlq: cannot reach Redis at redis://127.0.0.1:${port} (connection refused): start Redis, run \`make dev\` (the CLI finds its Redis by itself), or set REDIS_URL`]);
    expect(r.out).not.toContain('ioredis');
  });

  it('an unknown destination is an error (exit 1, no usage), for dlq and resume alike', async () => {
    await new DestinationRegistry(redis.client(), keys).put({ name: 'known', spec: { url: 'http://127.0.0.1:1/x' } as never });
    for (const args of [['dlq', 'list', '--destination', 'nosuch'], ['resume', '--destination', 'nosuch']]) {
      const r = await runHerald(args, env, { cwd });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('no destination "nosuch" in Redis');
      expect(r.stderr).toContain('known: known');
      expect(r.out).not.toContain('Usage:');
      expect(r.stdout).not.toContain('resumed');
    }
    // Asking did not create a queue for the typo.
    expect(await redis.client().exists(`${keys.queuePrefix('nosuch')}:${QUEUE_NAME}:meta`)).toBe(0);
  });

  it('a malformed flag names the flag and exits 2; a missing dead letter exits 1', async () => {
    const limit = await runHerald(['dlq', 'list', '--destination', 'known', '--limit', 'lots'], env, { cwd });
    expect(limit.code).toBe(2);
    expect(limit.stderr).toContain('--limit: "lots" is not a whole number');
    const port = await runHerald(['worker', '--destination', 'known', '--port', 'http'], env, { cwd });
    expect(port.code).toBe(2);
    expect(port.stderr).toContain('--port: "http" is not a port number');
    expect(port.stderr.split('\n')[0]).toBe('herald worker: --port: "http" is not a port number (0-65535)');
    const show = await runHerald(['dlq', 'show', '--destination', 'known', '--id', 'evt_none'], env, { cwd });
    expect(show.code).toBe(1);
    expect(show.stderr).toBe('herald dlq: no dead letter evt_none for destination known\n');
  });
});

describe('the Redis of a running `herald dev`', () => {
  it('is found through .dev/redis-url when REDIS_URL is unset', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'herald-devurl-'));
    try {
      await mkdir(join(dir, '.dev'));
      await writeFile(join(dir, '.dev', 'redis-url'), `${redis.url}\n`);
      const r = await runHerald(['dlq', 'list', '--destination', 'known'], { HERALD_REDIS_PREFIX: PREFIX }, { cwd: dir });
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('no dead letters for known\n');
      expect(r.code).toBe(0);
      // REDIS_URL, when set, wins over the note.
      const port = await freePort();
      const other = await runHerald(['dlq', 'list', '--destination', 'known'], { REDIS_URL: `redis://127.0.0.1:${port}` }, { cwd: dir });
      expect(other.stderr).toContain(`127.0.0.1:${port}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a stale note says that `herald dev` may have stopped', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'herald-devurl-'));
    try {
      const port = await freePort();
      await mkdir(join(dir, '.dev'));
      await writeFile(join(dir, '.dev', 'redis-url'), `redis://127.0.0.1:${port}\n`);
      const r = await runHerald(['dlq', 'list', '--destination', 'known'], {}, { cwd: dir });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`herald dlq: cannot reach Redis at redis://127.0.0.1:${port}, which .dev/redis-url names: is \`herald dev\` still running? Set REDIS_URL to use another Redis.\n`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('herald dlq', () => {
  it('lists a page with the total and pages on with --after', async () => {
    const ids = await deadLetters('paged', 7);
    const first = await runHerald(['dlq', 'list', '--destination', 'paged', '--limit', '3'], env, { cwd });
    expect(first.code).toBe(0);
    const lines = first.stdout.trim().split('\n');
    expect(lines[0]).toBe('showing 3 of 7 dead letters for paged, newest first');
    expect(lines.slice(1, 4).every((l) => / failed \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z  attempts 1  HTTP 404$/.test(l))).toBe(true);
    const more = lines[4]!;
    expect(more).toMatch(/^more: herald dlq list --destination paged --limit 3 --after evt_paged_\d{4}$/);
    const seen = new Set(lines.slice(1, 4).map((l) => l.split(' ')[0]));
    let after = more.split(' ').pop()!;
    for (let page = 0; page < 3 && after; page++) {
      const next = await runHerald(['dlq', 'list', '--destination', 'paged', '--limit', '3', '--after', after, '--json'], env, { cwd });
      const json = JSON.parse(next.stdout) as { total: number; items: Array<{ id: string; failedAt: string }>; next?: string };
      expect(json.total).toBe(7);
      for (const i of json.items) {
        expect(seen.has(i.id)).toBe(false);
        expect(i.failedAt).toMatch(/Z$/);
        seen.add(i.id);
      }
      after = json.next ?? '';
    }
    expect([...seen].sort()).toEqual(ids);
  });

  it('shows one dead letter readably, and as JSON with ISO times', async () => {
    const [id] = await deadLetters('shown', 1);
    const text = await runHerald(['dlq', 'show', '--destination', 'shown', '--id', id!], env, { cwd });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`dead letter ${id} of shown`);
    expect(text.stdout).toMatch(/  failed    \d{4}-\d\d-\d\dT[\d:.]+Z/);
    expect(text.stdout).toContain('body:');
    const json = JSON.parse((await runHerald(['dlq', 'show', '--destination', 'shown', '--id', id!, '--json'], env, { cwd })).stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ id, attempts: 1, reason: 'HTTP 404', body: { id, payload: 'p' } });
    expect(json.queuedAt).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
  });

  it('--dry-run lists what would be replayed and changes nothing', async () => {
    const ids = await deadLetters('dry', 2);
    const r = await runHerald(['dlq', 'replay', '--destination', 'dry', '--dry-run'], env, { cwd });
    expect(r.code).toBe(0);
    for (const id of ids) expect(r.stdout).toContain(id);
    expect(r.stdout).toContain('would replay 2 dead letters to dry (dry run: nothing changed)');
    expect((await runHerald(['dlq', 'list', '--destination', 'dry'], env, { cwd })).stdout).toContain('showing 2 of 2');
  });

  it('replay shows progress on a terminal and a summary at the end', async () => {
    await deadLetters('progress', 6);
    const r = await runHeraldOnTerminal(['dlq', 'replay', '--destination', 'progress', '--rate', '20'], env, { cwd });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/\rreplayed \d of 6 \([\d.…]+\/s/);
    expect(r.out).toContain('replayed 6 of 6 dead letters to progress');
    // Off a terminal: the summary only.
    await deadLetters('quiet', 2);
    const quiet = await runHerald(['dlq', 'replay', '--destination', 'quiet'], env, { cwd });
    expect(quiet.out).toBe('replayed 2 of 2 dead letters to quiet\n');
  });

  it('Ctrl-C stops a replay with a summary of how far it got', async () => {
    await deadLetters('stopped', 40);
    const p = spawnHerald(['dlq', 'replay', '--destination', 'stopped', '--rate', '4'], env, { cwd });
    // Wait for the first replayed delivery to leave the dead-letter store, then interrupt.
    const queue = openDeliveryQueue(redis.client(), keys, 'stopped');
    await waitFor(async () => (await queue.getFailedCount()) < 40, { what: 'the replay to start' });
    await queue.close();
    p.proc.kill('SIGINT');
    expect(await p.exited).toBe(130);
    expect(p.stdout()).toMatch(/^interrupted: replayed \d+ of 40 dead letters to stopped; the rest are still dead letters\n$/);
    const done = Number(/replayed (\d+) of/.exec(p.stdout())![1]);
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(40);
  });

  it('purge --all asks first: refused without a terminal unless --yes, declined on a terminal', async () => {
    await deadLetters('purged', 3);
    const refused = await runHerald(['dlq', 'purge', '--destination', 'purged', '--all'], env, { cwd });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('purge --all deletes all 3 dead letters of purged for good; pass --yes to confirm');
    const declined = await runHeraldOnTerminal(['dlq', 'purge', '--destination', 'purged', '--all'], env, { cwd, input: 'n\n' });
    expect(declined.out).toContain('Delete all 3 dead letters of purged for good? [y/N]');
    expect(declined.out).toContain('nothing purged');
    expect(declined.code).toBe(1);
    const yes = await runHerald(['dlq', 'purge', '--destination', 'purged', '--all', '--yes'], env, { cwd });
    expect(yes.code).toBe(0);
    expect(yes.stdout).toBe('purged 3 of 3 dead letters of purged\n');
  });

  it('skip deletes one dead letter by --id (what lets a blocked ordering key go on); without --id it is a usage error', async () => {
    const [first, second] = await deadLetters('skipped', 2);
    const usage = await runHerald(['dlq', 'skip', '--destination', 'skipped'], env, { cwd });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('skip needs --id');
    const r = await runHerald(['dlq', 'skip', '--destination', 'skipped', '--id', first!], env, { cwd });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`skipped dead letter ${first} of skipped: deleted; the next event of its ordering key goes\n`);
    expect((await runHerald(['dlq', 'list', '--destination', 'skipped', '--json'], env, { cwd })).stdout).toContain(second!);
    const again = await runHerald(['dlq', 'skip', '--destination', 'skipped', '--id', first!], env, { cwd });
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`herald dlq: no dead letter ${first} for destination skipped\n`);
  });
});
