/**
 * Fault injection on the alert path: the SMTP server refuses every message (451) while deliveries
 * and dead letters keep flowing. Alerts must never slow deliveries down, and the digest must still
 * arrive, once, when SMTP is back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRedis, type TestRedis } from '../support/test-redis.js';
import type { RedisClient } from '../../src/redis/client.js';
import { startHerald, type HeraldUnderTest } from '../support/herald.js';
import { always, startReceiver, type Receiver } from '../support/receiver.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp.js';
import { metricValue, processEnv, startWorkerProcess, type RunningHerald } from '../support/fleet.js';
import { startBlackhole, type Blackhole } from '../support/blackhole.js';
import { waitFor } from '../support/wait.js';
import { DeadLetters } from '../../src/dead-letters/dead-letters.js';
import { EventStore } from '../../src/event-store/event-store.js';
import { openDeliveryQueue } from '../../src/queue/delivery-queue.js';

let redis: TestRedis;
let smtp: SmtpSink;
let herald: HeraldUnderTest<RedisClient>;
const receivers: Receiver[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
  smtp = await startSmtpSink();
  herald = await startHerald({ ...redis.target, smtpUrl: smtp.url });
});

afterAll(async () => {
  await herald?.close();
  await Promise.all(receivers.map((r) => r.close()));
  await smtp?.close();
  await redis?.close();
});

async function receiver(b: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const r = await startReceiver(b);
  receivers.push(r);
  return r;
}

const alerts = async (labels: Record<string, string>) => metricValue(await herald.registry.metrics(), 'herald_alert_emails_total', labels);

/** Sends `healthy` events to the healthy destination and `dead` to a broken one, all at once; resolves with the time until all healthy ones arrived. */
async function burst(healthy: Receiver, healthyType: string, deadType: string, counts: { healthy: number; dead: number }): Promise<number> {
  const before = healthy.delivered().length;
  const started = performance.now();
  const posts = [
    ...Array.from({ length: counts.healthy }, (_, i) => herald.post({ userID: 'u', payload: i, type: healthyType })),
    ...Array.from({ length: counts.dead }, (_, i) => herald.post({ userID: 'u', payload: i, type: deadType })),
  ];
  const answers = await Promise.all(posts);
  expect(answers.every((a) => a.status === 202)).toBe(true);
  await waitFor(() => healthy.delivered().length - before >= counts.healthy, { what: `${counts.healthy} healthy deliveries`, timeoutMs: 30_000 });
  return performance.now() - started;
}

describe('SMTP down', () => {
  it('leaves delivery throughput unaffected, and the digest arrives once when SMTP is back', async ({ annotate }) => {
    const healthy = await receiver(() => ({ status: 200, delayMs: 5 }));
    await herald.publish('healthy', { url: healthy.url, filter: { types: ['ok.*'] }, concurrency: 10 });
    await herald.publish('broken-a', { url: (await receiver(always(400))).url, filter: { types: ['a.*'] } });
    await herald.publish('broken-b', { url: (await receiver(always(400))).url, filter: { types: ['b.*'] } });

    // Baseline, SMTP up: broken-a dead-letters and its digest goes out.
    await burst(healthy, 'ok.warmup', 'a.warmup', { healthy: 100, dead: 5 });
    const up = await burst(healthy, 'ok.up', 'a.up', { healthy: 400, dead: 20 });
    await waitFor(() => smtp.mails.find((m) => m.subject.startsWith('[Herald] broken-a:')), { what: 'the baseline digest' });

    // SMTP refuses everything: broken-b's digest fails while the healthy destination is busy.
    smtp.setDown(true);
    const mailsBefore = smtp.mails.length;
    const down = await burst(healthy, 'ok.down', 'b.down', { healthy: 400, dead: 20 });
    const failedSends = await waitFor(() => alerts({ destination: 'broken-b', kind: 'digest', result: 'failed' }), { what: 'a failed digest send' });
    const queue = openDeliveryQueue(herald.redis, herald.rt.keys, 'broken-b');
    const dlq = new DeadLetters(queue, new EventStore(herald.redis, herald.rt.keys));
    // After ten failures in a row broken-b's attempts are paced, so the last dead letters may follow the first digest try.
    await waitFor(async () => (await dlq.count()) === 20, { what: "broken-b's 20 dead letters" });
    expect(smtp.mails).toHaveLength(mailsBefore);

    const summary = `smtp: 400 deliveries took ${Math.round(up)} ms with SMTP up, ${Math.round(down)} ms with SMTP down (${failedSends} failed digest sends)`;
    console.log(summary);
    await annotate(summary);
    // Generous for a shared 2-core machine, yet far below what a delivery path waiting on SMTP would take.
    expect(down).toBeLessThanOrEqual(3 * up + 2_000);

    // SMTP back: the held digest goes out at the next retry (10 s after the first failure), once.
    smtp.setDown(false);
    const digest = await waitFor(() => smtp.mails.find((m) => m.subject.startsWith('[Herald] broken-b:')), { what: 'the digest after SMTP recovered', timeoutMs: 60_000 });
    expect(digest.subject).toBe('[Herald] broken-b: 20 events dead-lettered');
    expect(digest.text).toContain('herald dlq replay --destination broken-b');
    // The worker counts the send once the SMTP server has answered it, just after the sink has the mail.
    await waitFor(async () => (await alerts({ destination: 'broken-b', kind: 'digest', result: 'sent' })) === 1, { what: 'the sent digest to be counted' });
    // The loop keeps running; nothing more for broken-b is due, so no second copy arrives.
    await waitFor(async () => (await herald.redis.xlen(herald.rt.keys.alertPending('broken-b'))) === 0, { what: 'the pending notes to be trimmed' });
    expect(smtp.mails.filter((m) => m.subject.startsWith('[Herald] broken-b:'))).toHaveLength(1);
    await queue.close();
  }, 180_000);
});

describe('SMTP that accepts connections and never answers', () => {
  let hole: Blackhole;
  let worker: RunningHerald;
  let solo: HeraldUnderTest<RedisClient>;
  let dead: Receiver;
  let ok: Receiver;

  beforeAll(async () => {
    hole = await startBlackhole();
    dead = await receiver(always(400));
    ok = await receiver(() => ({ status: 200 }));
    // Its own key prefix and no in-process workers: one worker process delivers both destinations
    // and is the only one sending alerts, to an SMTP server that never says hello.
    solo = await startHerald({ ...redis.target, withWorkers: false });
    await solo.publish('hung-dead', { url: dead.url, filter: { types: ['dead'] } });
    await solo.publish('hung-ok', { url: ok.url, filter: { types: ['ok'] } });
    worker = await startWorkerProcess(
      ['hung-dead', 'hung-ok'],
      processEnv(redis.target, solo.config.HERALD_REDIS_PREFIX, { SMTP_URL: hole.url('smtp'), ALERT_EMAIL_TO: 'ops@example.test', HERALD_DIGEST_WINDOW: '100ms', HERALD_SHUTDOWN_TIMEOUT: '5s' }),
    );
  });

  afterAll(async () => {
    await worker?.kill();
    await solo?.close();
    await hole?.close();
  });

  it('holds up neither deliveries nor dead-lettering while a digest send hangs', async () => {
    expect((await solo.post({ userID: 'u', payload: 'first', type: 'dead' })).status).toBe(202);
    await waitFor(() => hole.connections() > 0, { what: 'a digest send to the hung SMTP server', timeoutMs: 10_000 });
    const answers = await Promise.all([
      ...Array.from({ length: 200 }, (_, i) => solo.post({ userID: 'u', payload: i, type: 'ok' })),
      ...Array.from({ length: 10 }, (_, i) => solo.post({ userID: 'u', payload: i, type: 'dead' })),
    ]);
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 202));
    await waitFor(() => ok.delivered().length === 200 && dead.received.length === 11, { what: 'deliveries and dead letters to go on', timeoutMs: 60_000 });
    const queue = openDeliveryQueue(solo.redis, solo.rt.keys, 'hung-dead');
    // The receiver has answered; the worker moves each job to the dead-letter store right after.
    const dlq = new DeadLetters(queue, new EventStore(solo.redis, solo.rt.keys));
    await waitFor(async () => (await dlq.count()) === 11, { what: 'all 11 dead letters to be stored', timeoutMs: 15_000 });
    const deadIds = new Set(dead.received.map((r) => r.headers['webhook-id']));
    expect(new Set((await dlq.list({})).map((d) => d.id))).toEqual(deadIds);
    await queue.close();
  }, 120_000);

  // Regression (was: hung SMTP blocks shutdown): WorkerPool.close awaits DeadLetterAlerts.close, which awaits
  // the digest send in progress; nodemailer waits 30 s for a greeting (and far longer on a stalled
  // socket), so SIGTERM runs into HERALD_SHUTDOWN_TIMEOUT, the Redis and ops-server closers get 0 ms,
  // and the worker exits 1.
  it('does not hold up a worker\'s graceful shutdown: SIGTERM still exits 0 promptly', async () => {
    await waitFor(() => hole.open() > 0, { what: 'a digest send hanging on the SMTP server', timeoutMs: 10_000 });
    worker.proc.kill('SIGTERM');
    const code = await worker.exited;
    // Exit code 0 means every closer finished inside the worker's own HERALD_SHUTDOWN_TIMEOUT (5 s);
    // past it the worker exits 1 and logs which closer failed.
    expect({ code, closeFailed: worker.output().includes('Close failed') }).toEqual({ code: 0, closeFailed: false });
  }, 60_000);
});
