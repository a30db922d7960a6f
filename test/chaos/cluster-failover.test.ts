/**
 * `make test-chaos`: a Redis Cluster of 3 primaries and 3 replicas on loopback; real `herald ingest`
 * and `herald worker` processes reach it through HERALD_REDIS_CLUSTER_NODES. Three destinations live
 * on three different shards and every event goes to all three. Under steady single-event and batch
 * load the primary of one destination's shard is SIGKILLed. Ingest must answer 503 with Retry-After
 * (never 202 for what it did not store, never 500) while that slot has no primary, accept again by
 * itself once the cluster promotes the replica, and the workers must deliver everything.
 *
 * Counted per run: accepted (202), delivered, lost (accepted, not delivered somewhere), duplicated,
 * refused yet delivered (a 503 that said "not stored" for a destination that then got the event),
 * and the partial answers (503 partially_stored: stored for some destinations, not others).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '../../src/redis/client.js';
import { loadConfig } from '../../src/config/config.js';
import { openDeliveryQueue } from '../../src/queue/delivery-queue.js';
import { createRedis } from '../../src/redis/connection.js';
import { QUEUE_NAME, RedisKeys } from '../../src/redis/keys.js';
import { redisTarget } from '../../src/redis/redis-target.js';
import { failoverDestinations, loadThroughFailover } from '../support/failover-load.js';
import { processEnv, startIngestProcess, startWorkerProcess, type RunningHerald } from '../support/fleet.js';
import { pending } from '../support/process-fixture.js';
import type { Receiver } from '../support/receiver.js';
import { startRedisCluster, type RedisClusterUnderTest } from '../support/redis-cluster.js';
import type { RedisServer } from '../support/redis.js';
import { waitFor } from '../support/wait.js';

/** An answer as the accounting needs it: which destinations it says the event is not stored for, or all (`*`). */
interface Answer {
  seq: number;
  status: number;
  code: string | undefined;
  message: string | undefined;
  id: string | undefined;
}

/** The destinations a 503 says the event is certainly not stored for: all for store_unavailable, those named for partially_stored. */
function notStoredFor(a: Answer, all: readonly string[]): string[] {
  if (a.code === 'store_unavailable') return [...all];
  if (a.code !== 'partially_stored') return [];
  const m = /not stored for ((?:"[^"]+"(?:, )?)+)/.exec(a.message ?? '');
  return m ? [...m[1]!.matchAll(/"([^"]+)"/g)].map((x) => x[1]!) : [];
}

describe.each([
  { mode: 'default', ackReplicas: '0' },
  { mode: 'acknowledge after replication', ackReplicas: '1' },
])('Redis Cluster failover under batch and single load, $mode', ({ mode, ackReplicas }) => {
  let cluster: RedisClusterUnderTest;
  let control: RedisClient;
  const prefix = `c${Math.random().toString(36).slice(2, 8)}`;
  const keys = new RedisKeys(prefix);
  const receivers: Receiver[] = [];
  const procs: RunningHerald[] = [];
  const destinations: Array<{ name: string; primary: RedisServer }> = [];
  let env: Record<string, string>;

  beforeAll(async () => {
    cluster = await startRedisCluster({ primaries: 3, replicasPerPrimary: 1 });
    env = processEnv({ redisUrl: '', clusterNodes: cluster.nodesEnv }, prefix, { HERALD_ACK_REPLICAS: ackReplicas, HERALD_ACK_REPLICAS_TIMEOUT: '500ms' });
    control = createRedis(redisTarget(loadConfig(env)), { name: 'test', forBullmqWorker: true });
    control.on('error', () => undefined);
    for (let i = 0; destinations.length < 3 && i < 200; i++) {
      const primary = await cluster.primaryOf(`${keys.queuePrefix(`d${i}`)}:${QUEUE_NAME}:wait`);
      if (!destinations.some((d) => d.primary === primary)) destinations.push({ name: `d${i}`, primary });
    }
    await failoverDestinations(control, keys, destinations.map((d) => d.name), receivers);
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill()));
    control?.disconnect();
    await Promise.all(receivers.map((r) => r.close()));
    await cluster?.close();
  });

  it('answers 503 while a shard has no primary, recovers after the promotion, and counts what was lost', async ({ annotate }) => {
    const names = destinations.map((d) => d.name);
    expect(names).toHaveLength(3);
    const ingest = await startIngestProcess(env);
    procs.push(ingest);
    for (const d of names) procs.push(await startWorkerProcess(d, env));

    const victim = destinations[0]!;
    const { batches, singleResults, crashedAt, goneAt, promotedAt } = await loadThroughFailover({
      ingestUrl: ingest.url,
      kill: () => victim.primary.stop({ kill: true }),
      promote: async () => {
        await waitFor(async () => (await cluster.primaryOf(`${keys.queuePrefix(victim.name)}:${QUEUE_NAME}:wait`).catch(() => victim.primary)) !== victim.primary, { what: 'the replica promoted', timeoutMs: 30_000 });
        await cluster.waitForOk();
      },
      refusing: 'while the shard has no primary',
      // Acknowledging after replication needs a replica: the killed server comes back as one.
      ...(ackReplicas !== '0' ? { afterPromotion: async () => void (await victim.primary.start(), await cluster.waitForOk()) } : {}),
    });
    expect(procs.some((p) => p.dead()), procs.map((p) => p.output()).join('\n')).toBe(false);

    const answers: Answer[] = [
      ...singleResults.map((x) => ({ seq: x.seq, status: x.status, code: x.code, message: x.message, id: x.id })),
      ...batches.results.flatMap((b) => b.seqs.map((seq) => ({ seq, status: b.ids.has(seq) ? 202 : b.status, code: b.code, message: b.message, id: b.ids.get(seq) }))),
    ];
    const accepted = answers.filter((a) => a.status === 202);
    const ids = (r: Receiver) => new Set(r.delivered().map((x) => String(x.headers['webhook-id'])));
    await waitFor(() => receivers.every((r) => accepted.every((a) => ids(r).has(a.id!))), { what: 'every accepted event delivered everywhere', timeoutMs: 60_000, intervalMs: 500 }).catch(() => undefined);
    const queues = names.map((d) => openDeliveryQueue(control, keys, d));
    await waitFor(async () => (await Promise.all(queues.map((q) => q.getJobCounts('waiting', 'active', 'delayed')))).every((c) => pending(c) === 0), { what: 'the queues to drain', timeoutMs: 60_000 });
    await Promise.all(queues.map((q) => q.close()));

    const got = receivers.map(ids);
    const lost = accepted.filter((a) => got.some((g) => !g.has(a.id!)));
    const seqsAt = receivers.map((r) => new Set(r.delivered().map((x) => Number(x.json?.payload?.seq))));
    // A 503 that said "not stored" for a destination, which then got the event anyway.
    const refusedDelivered = answers.filter((a) => a.status !== 202 && notStoredFor(a, names).some((d) => seqsAt[names.indexOf(d)]!.has(a.seq))).length;
    const partial = answers.filter((a) => a.code === 'partially_stored');
    const partialDelivered = partial.filter((a) => seqsAt.some((s) => s.has(a.seq))).length;
    const deliveries = receivers.reduce((n, r) => n + r.delivered().length, 0);
    const duplicates = deliveries - got.reduce((n, g) => n + g.size, 0);
    const byCode: Record<string, number> = {};
    for (const a of answers) byCode[a.code ?? String(a.status)] = (byCode[a.code ?? String(a.status)] ?? 0) + 1;
    const summary =
      `cluster failover, ${mode} (HERALD_ACK_REPLICAS=${ackReplicas}): ${accepted.length} events accepted (${singleResults.filter((x) => x.status === 202).length} single, ${batches.accepted().length} in batches), ` +
      `${deliveries} deliveries to ${names.length} destinations on 3 shards, ${lost.length} lost, ${duplicates} duplicates, ${refusedDelivered} refused yet delivered, ` +
      `${partial.length} answered partially_stored (${partialDelivered} of them delivered where stored); promotion ${promotedAt - crashedAt} ms after the kill; answers by code ${JSON.stringify(byCode)}`;
    console.log(summary);
    await annotate(summary);

    for (const x of singleResults.filter((r) => r.status !== 202)) {
      expect({ seq: x.seq, status: x.status, code: x.code }).toMatchObject({ status: 503 });
      expect(x.retryAfter, `503 for seq ${x.seq} without Retry-After`).toBeTruthy();
    }
    for (const b of batches.results) expect([202, 207, 503]).toContain(b.status);
    expect(refusedDelivered).toBe(0);
    if (ackReplicas !== '0') expect(lost).toEqual([]);
    // Only what the dead primary had acknowledged and not yet replicated can be lost: sent before it died.
    else for (const l of lost) expect(singleResults.find((x) => x.seq === l.seq)?.sentAt ?? batches.results.find((b) => b.seqs.includes(l.seq))!.sentAt).toBeLessThanOrEqual(goneAt);
  });
});
