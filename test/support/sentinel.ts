import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startDelayProxy } from './delay-proxy.js';
import { freePort } from './net.js';
import { startRedis, waitForReplicasInSync, type RedisServer } from './redis.js';
import { waitFor } from './wait.js';

/** The master group name the test sentinels monitor. */
export const SENTINEL_MASTER = 'herald';

/** A primary, its replicas and three sentinels on loopback, as `startSentinelSet` made them. */
export interface SentinelSet {
  /** The servers in start order: [0] is the first primary, the rest its replicas. */
  servers: RedisServer[];
  sentinelPorts: number[];
  /** `HERALD_REDIS_SENTINELS` for these sentinels. */
  sentinelsEnv: string;
  /** The port the sentinels name as primary now (the proxy's, for the first primary of a delayed set). */
  primaryPort(): Promise<number>;
  /** The server behind a port the sentinels name. */
  serverAt(port: number): RedisServer;
  /** Waits until the sentinels name a primary other than `oldPort` and that server says it is one. */
  waitForPromotion(oldPort: number, timeoutMs?: number): Promise<number>;
  /** Starts one more replica of the current primary (the sentinels find it through the primary). */
  addReplica(): Promise<RedisServer>;
  /** Waits until the primary has `n` replicas connected and in sync (state online). */
  waitForReplicas(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts a real Redis primary, `replicas` replicas of it (`--replicaof`), and three `redis-server
 * --sentinel` processes with a generated config (quorum 2, down after 1 s), all on 127.0.0.1 and
 * free ports, each server with Herald's own settings (AOF, noeviction); `replicationDelayMs` makes each
 * replica receive the primary's stream that late (startDelayProxy). Resolves once every sentinel
 * sees the primary and its replicas.
 */
export async function startSentinelSet(opts: { replicas?: number; serverArgs?: string[]; replicationDelayMs?: number } = {}): Promise<SentinelSet> {
  const primary = await startRedis(opts.serverArgs ?? []);
  const servers = [primary];
  // With a replication delay the sentinels, clients and replicas reach the first primary through a
  // proxy that holds back only the replication stream (startDelayProxy).
  const proxy = opts.replicationDelayMs ? await startDelayProxy(primary.port, opts.replicationDelayMs) : undefined;
  const primaryAddress = proxy?.port ?? primary.port;
  for (let i = 0; i < (opts.replicas ?? 1); i++) servers.push(await startRedis([...(opts.serverArgs ?? []), '--replicaof', '127.0.0.1', String(primaryAddress)]));
  /** The server behind an address the sentinels name. */
  const serverAt = (port: number) => (port === proxy?.port ? primary : servers.find((s) => s.port === port)!);
  const dir = await mkdtemp(join(tmpdir(), 'herald-sentinel-'));
  const procs: ChildProcess[] = [];
  const sentinelPorts: number[] = [];
  const clients: Redis[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const file = join(dir, `sentinel-${i}.conf`);
    // Sentinel rewrites its config file as it learns the set, so each gets a writable one of its own.
    await writeFile(
      file,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${primaryAddress} 2`,
        `sentinel down-after-milliseconds ${SENTINEL_MASTER} 1000`,
        `sentinel failover-timeout ${SENTINEL_MASTER} 10000`,
        `sentinel parallel-syncs ${SENTINEL_MASTER} 1`,
        '',
      ].join('\n'),
    );
    procs.push(spawn('redis-server', [file, '--sentinel'], { stdio: ['ignore', 'ignore', 'inherit'] }));
    sentinelPorts.push(port);
    const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 100 });
    c.on('error', () => undefined); // refused until the sentinel listens
    clients.push(c);
  }
  const ask = async (c: Redis, ...args: string[]) => {
    if (c.status === 'wait') await c.connect();
    return c.call('SENTINEL', ...args);
  };
  const replicas = servers.length - 1;
  // A fault test starts from replicas in sync (see waitForReplicasInSync).
  await waitForReplicasInSync(servers.slice(1), replicas);
  await waitFor(
    async () => {
      for (const c of clients) {
        const master = (await ask(c, 'MASTER', SENTINEL_MASTER)) as string[];
        const fields = Object.fromEntries(master.flatMap((v, i, a) => (i % 2 === 0 ? [[v, a[i + 1]]] : [])));
        if (Number(fields['num-slaves']) < replicas || Number(fields['num-other-sentinels']) < 2) return false;
      }
      return true;
    },
    { what: 'the sentinels to see the primary, its replicas and each other', timeoutMs: 30_000, intervalMs: 200 },
  );
  const primaryPort = async () => {
    for (const c of clients) {
      try {
        const addr = (await ask(c, 'GET-MASTER-ADDR-BY-NAME', SENTINEL_MASTER)) as [string, string] | null;
        if (addr) return Number(addr[1]);
      } catch {
        // try the next sentinel
      }
    }
    throw new Error('no sentinel answered');
  };
  const serverClients = new Map<number, Redis>();
  const serverClient = (port: number) => {
    let c = serverClients.get(port);
    if (!c) serverClients.set(port, (c = serverAt(port).client()));
    return c;
  };
  return {
    servers,
    sentinelPorts,
    sentinelsEnv: sentinelPorts.map((p) => `127.0.0.1:${p}`).join(','),
    primaryPort,
    serverAt,
    async waitForPromotion(oldPort, timeoutMs = 60_000) {
      return waitFor(
        async () => {
          const port = await primaryPort();
          if (port === oldPort) return undefined;
          const role = (await serverClient(port).call('ROLE')) as [string];
          return role[0] === 'master' ? port : undefined;
        },
        { what: 'a replica to be promoted', timeoutMs, intervalMs: 100 },
      );
    },
    async addReplica() {
      // Right after a failover a sentinel that has not heard of it yet still names the old primary
      // (whose delay proxy still listens): a replica of that would never sync. Wait until every
      // sentinel names the same server and it says it is the primary.
      const port = await waitFor(
        async () => {
          const named = new Set<number>();
          for (const c of clients) {
            const addr = (await ask(c, 'GET-MASTER-ADDR-BY-NAME', SENTINEL_MASTER)) as [string, string] | null;
            if (addr) named.add(Number(addr[1]));
          }
          const [only] = named;
          if (named.size !== 1 || only === undefined) return undefined;
          const role = (await serverClient(only).call('ROLE')) as [string];
          return role[0] === 'master' ? only : undefined;
        },
        { what: 'every sentinel to name one primary that says it is one', timeoutMs: 60_000, intervalMs: 100 },
      );
      const server = await startRedis([...(opts.serverArgs ?? []), '--replicaof', '127.0.0.1', String(port)]);
      servers.push(server);
      await waitForReplicasInSync([server], 1);
      return server;
    },
    async waitForReplicas(n, timeoutMs = 60_000) {
      await waitFor(
        async () => {
          const info = await serverClient(await primaryPort()).info('replication');
          return [...info.matchAll(/^slave\d+:.*state=online/gm)].length >= n;
        },
        { what: `${n} replica(s) online`, timeoutMs, intervalMs: 200 },
      );
    },
    async close() {
      for (const c of clients) c.disconnect();
      await Promise.all(
        procs.map((p) => {
          if (p.exitCode !== null || p.signalCode !== null) return undefined;
          const exited = new Promise((r) => p.once('exit', r));
          p.kill('SIGKILL');
          return exited;
        }),
      );
      await proxy?.close();
      await Promise.all(servers.map((s) => s.close()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
