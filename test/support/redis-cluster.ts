import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { startRedis, waitForReplicasInSync, type RedisServer } from './redis.js';
import { waitFor } from './wait.js';

const run = promisify(execFile);

/** A Redis Cluster on loopback, as {@link startRedisCluster} made it. */
export interface RedisClusterUnderTest {
  /** The servers in start order; which are primaries changes with a failover ({@link primaries}). */
  servers: RedisServer[];
  /** `HERALD_REDIS_CLUSTER_NODES` for this cluster. */
  nodesEnv: string;
  /** The servers that are primaries now, by the cluster's own view (CLUSTER NODES), with their slot ranges. */
  primaries(): Promise<Array<{ server: RedisServer; slots: string[] }>>;
  /** The server whose primary holds `key`'s slot now. */
  primaryOf(key: string): Promise<RedisServer>;
  /** Waits until every node says `cluster_state:ok`. */
  waitForOk(timeoutMs?: number): Promise<void>;
  /** A test's Cluster client (closed with the cluster). */
  client(): Cluster;
  close(): Promise<void>;
}

/**
 * Starts `primaries × (1 + replicasPerPrimary)` redis-servers with `--cluster-enabled yes` (each with
 * Herald's settings: AOF, noeviction), joins them with `redis-cli --cluster create ...
 * --cluster-replicas N --cluster-yes`, and resolves once every node reports `cluster_state:ok`.
 * `--cluster-node-timeout` is short (1 s) so a killed primary's replica is promoted within seconds.
 */
export async function startRedisCluster(opts: { primaries?: number; replicasPerPrimary?: number; serverArgs?: string[] } = {}): Promise<RedisClusterUnderTest> {
  const primaries = opts.primaries ?? 3;
  const replicas = opts.replicasPerPrimary ?? 1;
  const servers: RedisServer[] = [];
  const clients: Array<Redis | Cluster> = [];
  try {
    for (let i = 0; i < primaries * (1 + replicas); i++) {
      servers.push(await startRedis(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '1000', ...(opts.serverArgs ?? [])]));
    }
    await run('redis-cli', ['--cluster', 'create', ...servers.map((s) => `127.0.0.1:${s.port}`), '--cluster-replicas', String(replicas), '--cluster-yes']);
  } catch (err) {
    for (const s of servers) await s.close();
    throw err;
  }

  const admin = (s: RedisServer) => {
    const c = new Redis({ port: s.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
    c.on('error', () => undefined);
    return c;
  };
  /** Asks one server a question, or undefined when it does not answer (stopped, killed). */
  const ask = async (s: RedisServer, ...args: string[]): Promise<string | undefined> => {
    const c = admin(s);
    try {
      await c.connect();
      return String(await c.call(args[0]!, ...args.slice(1)));
    } catch {
      return undefined;
    } finally {
      c.disconnect();
    }
  };
  const waitForOk = async (timeoutMs = 30_000) => {
    await waitFor(
      async () => {
        const states = await Promise.all(servers.map((s) => ask(s, 'CLUSTER', 'INFO')));
        const up = states.filter((x): x is string => x !== undefined);
        return up.length > 0 && up.every((x) => x.includes('cluster_state:ok'));
      },
      { timeoutMs, what: 'cluster_state:ok on every node' },
    );
  };
  const primariesNow = async () => {
    for (const s of servers) {
      const nodes = await ask(s, 'CLUSTER', 'NODES');
      if (nodes === undefined) continue;
      const out: Array<{ server: RedisServer; slots: string[] }> = [];
      for (const line of nodes.trim().split('\n')) {
        const [, addr = '', flags = '', , , , , , ...slots] = line.split(' ');
        if (!flags.split(',').includes('master') || flags.includes('fail')) continue;
        const port = Number(addr.split('@')[0]!.split(':')[1]);
        const server = servers.find((x) => x.port === port);
        if (server && slots.length > 0) out.push({ server, slots });
      }
      return out;
    }
    throw new Error('no cluster node answers');
  };
  await waitForOk();
  await waitForReplicasInSync(servers, primaries * replicas);
  return {
    servers,
    nodesEnv: servers.map((s) => `127.0.0.1:${s.port}`).join(','),
    primaries: primariesNow,
    async primaryOf(key) {
      let slot = NaN;
      for (const s of servers) {
        const reply = await ask(s, 'CLUSTER', 'KEYSLOT', key);
        if (reply !== undefined) {
          slot = Number(reply);
          break;
        }
      }
      for (const p of await primariesNow()) {
        for (const range of p.slots) {
          const [lo, hi = lo] = range.split('-').map(Number);
          if (slot >= lo! && slot <= hi!) return p.server;
        }
      }
      throw new Error(`no primary holds slot ${slot}`);
    },
    waitForOk,
    client() {
      const c = new Cluster(servers.map((s) => ({ host: '127.0.0.1', port: s.port })), { scaleReads: 'master' });
      c.on('error', () => undefined); // tests kill nodes on purpose
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) c.disconnect();
      await Promise.all(servers.map((s) => s.close()));
    },
  };
}
