import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { REDIS_SERVER_ARGS } from '../redis/server-settings.js';

export class RedisServerMissingError extends Error {
  readonly code = 'HERALD_NO_REDIS_SERVER';
  constructor() {
    super('redis-server was not found on PATH. Install it (Debian/Ubuntu: `sudo apt-get install redis-server`, macOS: `brew install redis`) or set REDIS_URL to a running Redis.');
  }
}

export interface LocalRedis {
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts a private redis-server for `herald dev` on a free loopback port, configured as production
 * should be (REDIS_SERVER_ARGS), with its data under `dir` so events survive a restart of `herald dev`.
 */
export async function startLocalRedis(dir: string): Promise<LocalRedis> {
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const proc: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...REDIS_SERVER_ARGS], {
    stdio: ['ignore', 'ignore', 'pipe'],
    // Its own process group: Ctrl-C in the terminal signals `herald dev` only, which stops this
    // server itself once its workers have let go of it, instead of losing Redis first.
    detached: true,
  });
  // Whatever way this process ends (a second Ctrl-C, a crash), it takes the server with it.
  const killOnExit = () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
  };
  process.once('exit', killOnExit);
  const spawnError = new Promise<never>((_, reject) => {
    proc.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? new RedisServerMissingError() : err));
    proc.once('exit', (code) => reject(new Error(`redis-server exited with code ${code} before it was ready`)));
  });
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 100 });
  probe.on('error', () => undefined); // refused until redis-server listens; the loop below retries
  const ready = (async () => {
    for (let i = 0; i < 200; i++) {
      try {
        if (probe.status === 'wait' || probe.status === 'end') await probe.connect();
        if ((await probe.ping()) === 'PONG') return;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    throw new Error('redis-server did not answer within 10 s');
  })();
  try {
    await Promise.race([ready, spawnError]);
  } catch (err) {
    killOnExit();
    throw err;
  } finally {
    probe.disconnect();
  }
  spawnError.catch(() => undefined);
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      process.off('exit', killOnExit);
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}
