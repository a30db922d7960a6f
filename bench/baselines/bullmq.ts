/**
 * Ceilings from BullMQ alone, on the same Redis and with the same job options and key layout as
 * Herald (jobId = event id, attempts, custom backoff, removeOnComplete, bounded event stream), so a
 * ratio to them isolates what Herald adds. Connections use ioredis defaults: auto-pipelining (which
 * Herald turns on) costs BullMQ CPU, measured at 36–50 vs 25–44 µs per added job and 87–100 vs
 * 67–69 µs per processed job; BENCH_BULLMQ_AUTOPIPELINE=1 turns it on here too.
 *
 *   node bullmq.js produce <redisUrl> add|bulk <queues> <concurrency> <durationS> <warmupS> [batch]
 *       `add`: one Queue.add per event per queue; `bulk`: Queue.addBulk of `batch` events per queue.
 *   node bullmq.js work <redisUrl> <jobs> <concurrency>
 *       prefills <jobs> jobs, then drains them with a no-op Worker.
 *
 * Prints one JSON line.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Queue, Worker, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';

const QUEUE = 'deliveries';
const prefix = (dest: string) => `bench:{d:${dest}}`;
const jobOpts = (id: string): JobsOptions => ({ jobId: id, attempts: 30, backoff: { type: 'herald' }, removeOnComplete: true, removeOnFail: false });
const newId = () => `evt_${randomUUID().replaceAll('-', '')}`;

function connection(url: string, forWorker = false): Redis {
  return new Redis(url, { enableAutoPipelining: process.env.BENCH_BULLMQ_AUTOPIPELINE === '1', maxRetriesPerRequest: forWorker ? null : 1, enableOfflineQueue: forWorker });
}

async function produce(url: string, mode: string, queues: number, concurrency: number, durationS: number, warmupS: number, batch: number): Promise<void> {
  const redis = connection(url);
  const qs = Array.from({ length: queues }, (_, i) => new Queue(QUEUE, { connection: redis, prefix: prefix(`base${i}`), streams: { events: { maxLen: 1000 } } }));
  await Promise.all(qs.map((q) => q.waitUntilReady()));
  const t0 = performance.now();
  let cpu0 = process.cpuUsage();
  setTimeout(() => (cpu0 = process.cpuUsage()), warmupS * 1000);
  const from = t0 + warmupS * 1000;
  const to = from + durationS * 1000;
  let jobs = 0;
  const loop = async () => {
    for (;;) {
      const started = performance.now();
      if (started >= to) return;
      if (mode === 'add') {
        const id = newId();
        await Promise.all(qs.map((q) => q.add('d', { e: id }, jobOpts(id))));
      } else {
        const ids = Array.from({ length: batch }, newId);
        await Promise.all(qs.map((q) => q.addBulk(ids.map((id) => ({ name: 'd', data: { e: id }, opts: jobOpts(id) })))));
      }
      const done = performance.now();
      // Count what completed inside the window, whenever it started; what ends after it is not counted.
      if (done >= from && done <= to) jobs += (mode === 'add' ? 1 : batch) * queues;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(`${JSON.stringify({ jobsPerS: jobs / durationS, eventsPerS: jobs / queues / durationS, jobs, cpuUsPerJob: (cpu.user + cpu.system) / jobs })}\n`);
  await Promise.all(qs.map((q) => q.close()));
  redis.disconnect();
}

async function work(url: string, total: number, concurrency: number): Promise<void> {
  const redis = connection(url);
  const q = new Queue(QUEUE, { connection: redis, prefix: prefix('noop'), streams: { events: { maxLen: 1000 } } });
  for (let left = total; left > 0; left -= 1000) {
    const ids = Array.from({ length: Math.min(1000, left) }, newId);
    await q.addBulk(ids.map((id) => ({ name: 'd', data: { e: id }, opts: jobOpts(id) })));
  }
  let completed = 0;
  let cpuAt10 = process.cpuUsage();
  let cpuUs = 0;
  let t10 = 0;
  let t90 = 0;
  const lo = Math.floor(total * 0.1);
  const hi = Math.floor(total * 0.9);
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((r) => (finish = r));
  const worker = new Worker(QUEUE, async () => undefined, {
    connection: connection(url, true),
    prefix: prefix('noop'),
    concurrency,
    lockDuration: 30_000,
    stalledInterval: 15_000,
    maxStalledCount: 20,
  });
  worker.on('completed', () => {
    completed++;
    if (completed === lo) {
      t10 = performance.now();
      cpuAt10 = process.cpuUsage();
    }
    if (completed === hi) {
      t90 = performance.now();
      const d = process.cpuUsage(cpuAt10);
      cpuUs = d.user + d.system;
    }
    if (completed === total) finish();
  });
  await finished;
  process.stdout.write(`${JSON.stringify({ jobsPerS: (hi - lo) / ((t90 - t10) / 1000), jobs: total, cpuUsPerJob: cpuUs / (hi - lo) })}\n`);
  await worker.close();
  await q.close();
  redis.disconnect();
}

const [cmd, url, ...rest] = process.argv.slice(2);
if (cmd === 'produce') await produce(url!, rest[0]!, Number(rest[1]), Number(rest[2]), Number(rest[3]), Number(rest[4]), Number(rest[5] ?? 100));
else if (cmd === 'work') await work(url!, Number(rest[0]), Number(rest[1]));
else throw new Error(`unknown command ${cmd}`);
process.exit(0);
