import { primariesOf, type RedisClient } from '../redis/client.js';
import { ReplicationUnconfirmedError, StoreOutcomeUnknownError } from './errors.js';

/** How ingest makes a write durable before it answers 202, decided once from the server (see {@link durabilityPlan}). */
export type DurabilityPlan =
  /** Redis' own pace (`HERALD_DURABILITY=fast`). */
  | { kind: 'fast' }
  /** Redis fsyncs every write before it replies (`appendfsync always`): nothing to add. */
  | { kind: 'fsync-always' }
  /** After each write, `WAITAOF 1 0 <timeout>` until the local AOF has it on disk (Redis 7.2+). */
  | { kind: 'waitaof' };

/** Redis cannot give the durability `HERALD_DURABILITY=strict` asks for; the message says what to change. */
export class DurabilityError extends Error {
  readonly code = 'HERALD_DURABILITY';
}

/** What a Redis server says about its persistence, as read by {@link readPersistence}. */
export interface Persistence {
  version: string;
  appendonly: string | undefined;
  appendfsync: string | undefined;
}

/**
 * The plan for `mode` on a server with `p`: pure, so the choice is tested without a server.
 * strict prefers `appendfsync always` (no extra command), then WAITAOF (Redis ≥ 7.2, needs the AOF on);
 * anything else cannot be strict.
 * @throws DurabilityError for strict on a server that can do neither.
 */
export function durabilityPlan(mode: 'strict' | 'fast', p: Persistence): DurabilityPlan {
  if (mode === 'fast') return { kind: 'fast' };
  if (p.appendonly !== 'yes') throw new DurabilityError(`HERALD_DURABILITY=strict needs Redis' append-only file: Redis has appendonly ${p.appendonly ?? 'unknown'}. Set \`appendonly yes\` and \`appendfsync always\` in redis.conf, or HERALD_DURABILITY=fast.`);
  if (p.appendfsync === 'always') return { kind: 'fsync-always' };
  if (supportsWaitAof(p.version)) return { kind: 'waitaof' };
  throw new DurabilityError(
    `HERALD_DURABILITY=strict needs Redis to fsync before it replies: Redis ${p.version} has appendfsync ${p.appendfsync ?? 'unknown'} and no WAITAOF (Redis 7.2+). ` +
      'Set `appendfsync always` in redis.conf (or CONFIG SET appendfsync always), upgrade to Redis 7.2+, or set HERALD_DURABILITY=fast.',
  );
}

/** Whether `version` (x.y.z) has WAITAOF, which Redis added in 7.2. */
export function supportsWaitAof(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 7 || (major === 7 && minor >= 2);
}

/**
 * The plan for `mode` on every primary `redis` writes to (one, or each of a Cluster's): the strictest
 * any of them needs, since one write path serves them all (WAITAOF on a server that fsyncs always
 * only costs a reply).
 * @throws DurabilityError naming what the first unfit primary lacks.
 */
export async function durabilityPlanOf(mode: 'strict' | 'fast', redis: RedisClient): Promise<DurabilityPlan> {
  let plan: DurabilityPlan = { kind: mode === 'fast' ? 'fast' : 'fsync-always' };
  for (const server of primariesOf(redis)) {
    const p = durabilityPlan(mode, await readPersistence(server));
    if (p.kind === 'waitaof') plan = p;
  }
  return plan;
}

/** Reads the server's version and AOF settings (CONFIG may be renamed away on managed Redis: then undefined). */
export async function readPersistence(redis: RedisClient): Promise<Persistence> {
  const info = await redis.info('server');
  const version = /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? '0.0.0';
  let appendonly: string | undefined;
  let appendfsync: string | undefined;
  try {
    appendonly = ((await redis.config('GET', 'appendonly')) as string[])[1];
    appendfsync = ((await redis.config('GET', 'appendfsync')) as string[])[1];
  } catch {
    // CONFIG not allowed: strict then fails closed, naming what it could not check.
  }
  return { version, appendonly, appendfsync };
}

/** What ingest waits for after a write besides the local disk: `replicas` replicas' copy (Redis WAIT), at most `timeoutMs`. */
export interface ReplicationPlan {
  replicas: number;
  timeoutMs: number;
}

/**
 * The replication wait for HERALD_ACK_REPLICAS (undefined for 0). A separate WAIT rather than WAITAOF's
 * numreplicas: what a failover loses is a write no replica has, and WAIT confirms the replica has it
 * in memory, without asking replicas to run (and fsync) an append-only file of their own.
 */
export function replicationPlan(replicas: number, timeoutMs: number): ReplicationPlan | undefined {
  return replicas > 0 ? { replicas, timeoutMs } : undefined;
}

/** A warning when the primary has fewer replicas connected than `plan` needs (every write would then answer 503 after the timeout). */
export function replicationWarning(plan: ReplicationPlan | undefined, connectedReplicas: number | undefined): string | undefined {
  if (!plan || connectedReplicas === undefined || connectedReplicas >= plan.replicas) return undefined;
  return `HERALD_ACK_REPLICAS=${plan.replicas} but the Redis primary has ${connectedReplicas} replica(s) connected: until more connect, every event is answered 503 replication_unconfirmed after ${plan.timeoutMs} ms`;
}

/** How many replicas the primary has connected (INFO replication), the fewest of a Cluster's primaries; undefined where INFO is not allowed (managed Redis). */
export async function connectedReplicas(redis: RedisClient): Promise<number | undefined> {
  try {
    let fewest: number | undefined;
    for (const server of primariesOf(redis)) {
      const m = /connected_slaves:(\d+)/.exec(await server.info('replication'));
      if (m) fewest = Math.min(fewest ?? Infinity, Number(m[1]));
    }
    return fewest;
  } catch {
    return undefined;
  }
}

/**
 * What ingest answers after `WAITAOF 1 0 <timeout>` behind a write: nothing when the local AOF has it
 * on disk, else that the write is in Redis but its durability is unknown.
 * @throws StoreOutcomeUnknownError
 */
export function assertAofSynced(reply: [number, number]): void {
  if (reply[0] < 1) throw new StoreOutcomeUnknownError(new Error('WAITAOF timed out: the write is in Redis but not yet on disk'));
}

/** What ingest answers after a `WAIT` for `plan`: nothing when enough replicas have the write. @throws ReplicationUnconfirmedError */
export function assertReplicated(plan: ReplicationPlan, copies: number): void {
  if (copies < plan.replicas) throw new ReplicationUnconfirmedError(plan.replicas, copies, plan.timeoutMs);
}
