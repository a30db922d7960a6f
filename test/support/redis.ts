import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { REDIS_SERVER_ARGS } from '../../src/redis/server-settings.js';
import { freePort } from './net.js';
import { waitFor } from './wait.js';

export interface RedisServer {
  url: string;
  port: number;
  dir: string;
  /** Stops the server (SIGTERM unless `kill`); data in `dir` is kept so `start()` brings it back. */
  stop(opts?: { kill?: boolean }): Promise<void>;
  start(): Promise<void>;
  client(): Redis;
  close(): Promise<void>;
}

/**
 * Starts a private redis-server on a free port with AOF on, as production runs it.
 * Each test file gets its own, so files run in parallel without sharing state.
 */
export async function startRedis(extraArgs: string[] = []): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'herald-redis-'));
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const clients: Redis[] = [];

  const start = async () => {
    proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...REDIS_SERVER_ARGS, ...extraArgs],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined); // refused until the server listens; the loop below retries
    await waitFor(async () => {
      try {
        if (probe.status !== 'ready') await probe.connect();
        return (await probe.ping()) === 'PONG';
      } catch {
        probe.disconnect();
        return false;
      }
    }, { timeoutMs: 10_000, what: `redis-server on port ${port}` });
    probe.disconnect();
  };

  const stop = async ({ kill = false } = {}) => {
    const p = proc;
    // A server killed by a signal has a signalCode and no exitCode; either way it is gone.
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(kill ? 'SIGKILL' : 'SIGTERM');
    await exited;
  };

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    stop,
    start,
    client() {
      const c = new Redis({ port, host: '127.0.0.1' });
      c.on('error', () => undefined); // tests stop the server on purpose
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) c.disconnect();
      await stop({ kill: true });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Waits until `replicas` of the given servers are replicas whose first full sync with their primary
 * is done and whose link is up. A replica named by Sentinel or by the cluster may still be syncing,
 * holding none of its primary's data: a fault test that kills the primary then gets an empty server
 * promoted (Sentinel) or no promotion at all (Redis Cluster refuses a replica whose data is too old).
 */
export async function waitForReplicasInSync(servers: RedisServer[], replicas: number, timeoutMs = 60_000): Promise<void> {
  const clients = servers.map((s) => s.client());
  await waitFor(
    async () => {
      let inSync = 0;
      for (const c of clients) {
        const info = await c.info('replication');
        if (/^role:slave\r?$/m.test(info) && /^master_link_status:up\r?$/m.test(info) && /^master_sync_in_progress:0\r?$/m.test(info)) inSync++;
      }
      return inSync >= replicas;
    },
    { what: `${replicas} replica(s) to finish their first sync`, timeoutMs, intervalMs: 100 },
  );
}
