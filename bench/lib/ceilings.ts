import { join } from 'node:path';
import type { Ctx, ScenarioResult } from './context.js';
import { eventJson } from './herald.js';
import { run, start, waitUntil } from './procs.js';
import { startReceiver } from './receiver-client.js';
import { flush, redisBenchmark } from './redis.js';
import { figure } from './stats.js';
import { postScript, wrk } from './wrk.js';

/** `redis-benchmark` ops/s (50 clients; plain and pipelined ×16). */
export async function redisCeiling(ctx: Ctx): Promise<ScenarioResult> {
  const n = ctx.opts.mode === 'full' ? 200_000 : 40_000;
  const runs: Array<Record<string, number>> = [];
  for (let i = 0; i < ctx.opts.runs; i++) {
    runs.push(await redisBenchmark(ctx.redis.port, n));
    await flush(ctx.redis.client);
  }
  const figures: ScenarioResult['figures'] = {};
  for (const test of Object.keys(runs[0] ?? {})) figures[test] = figure(runs.map((r) => r[test] ?? NaN), 'ops/s');
  return { figures };
}

async function startReady(ctx: Ctx, name: string, script: string, args: string[] = []): Promise<{ port: number; stop: () => Promise<unknown>; cpuSeconds: () => number }> {
  const proc = start({ name, placement: 'sut', cmd: process.execPath, args: [join(ctx.dist, script), '0', ...args], logDir: ctx.logDir, captureStdout: true });
  let port = 0;
  await waitUntil(name, () => {
    const m = /READY (\d+)/.exec(proc.stdout());
    if (m) port = Number(m[1]);
    return port > 0;
  });
  return { port, stop: () => proc.stop(5_000), cpuSeconds: () => proc.cpuSeconds() };
}

/**
 * Requests/s of a bare server that only parses the JSON body, driven like single-event ingest (50
 * connections): express 5 (T1's ceiling), or plain `node:http` (the floor under any Node handler).
 */
export async function httpCeiling(ctx: Ctx, server: 'express' | 'node'): Promise<ScenarioResult> {
  const srv = await startReady(ctx, `${server}-baseline`, 'baselines/http-server.js', [server]);
  try {
    const script = await postScript(ctx.tmpDir, `${server}-single`, eventJson(ctx.opts.payloadBytes));
    const url = `http://127.0.0.1:${srv.port}/ingest`;
    await wrk(url, script, { connections: 50, durationS: ctx.opts.warmupS });
    const rs = [];
    for (let i = 0; i < ctx.opts.runs; i++) {
      const cpu0 = srv.cpuSeconds();
      const r = await wrk(url, script, { connections: 50, durationS: ctx.opts.durationS });
      rs.push({ ...r, cpuUs: ((srv.cpuSeconds() - cpu0) / r.requests) * 1e6 });
    }
    return { figures: { reqPerS: figure(rs.map((r) => r.okPerS), 'req/s'), p99Ms: figure(rs.map((r) => r.latencyMs.p99), 'ms'), cpuUsPerRequest: figure(rs.map((r) => r.cpuUs), 'µs CPU/request') } };
  } finally {
    await srv.stop();
  }
}

/** Requests/s of the benchmark receiver alone (its own instance on the SUT CPU), with a delivery-sized body. */
export async function receiverCeiling(ctx: Ctx): Promise<ScenarioResult> {
  const rcv = await startReceiver(ctx.dist, ctx.logDir, 'sut', 'receiver-baseline');
  try {
    const body = JSON.stringify({ id: 'evt_00000000000000000000000000000000', type: 'bench.e', timestamp: new Date().toISOString(), userID: 'bench-user', payload: JSON.parse(eventJson(ctx.opts.payloadBytes)).payload });
    const script = await postScript(ctx.tmpDir, 'receiver-alone', body);
    const url = rcv.url('alone');
    await wrk(url, script, { connections: ctx.opts.concurrency, durationS: ctx.opts.warmupS });
    const rs = [];
    for (let i = 0; i < ctx.opts.runs; i++) rs.push(await wrk(url, script, { connections: ctx.opts.concurrency, durationS: ctx.opts.durationS }));
    return { figures: { reqPerS: figure(rs.map((r) => r.okPerS), 'req/s') } };
  } finally {
    await rcv.proc.stop(5_000);
  }
}

async function bullmq(ctx: Ctx, args: string[]): Promise<{ jobsPerS: number; cpuUsPerJob: number }> {
  const out = await run('sut', process.execPath, [join(ctx.dist, 'baselines/bullmq.js'), ...args], { timeoutMs: 600_000 });
  return JSON.parse(out.trim().split('\n').pop()!) as { jobsPerS: number; cpuUsPerJob: number };
}

/** Bare BullMQ: Queue.add (50 in flight), addBulk of 100 to 1 and to 5 queues (10 in flight), and a no-op Worker draining a backlog. */
export type BullmqCase = 'add' | 'addBulk1' | 'addBulk5' | 'addBulk20' | 'noopWorker';

export async function bullmqCeilings(ctx: Ctx, which: BullmqCase[]): Promise<ScenarioResult> {
  const { opts, redis } = ctx;
  const d = String(opts.durationS);
  const w = String(opts.warmupS);
  const all: Record<BullmqCase, string[]> = {
    add: ['produce', redis.url, 'add', '1', '50', d, w],
    addBulk1: ['produce', redis.url, 'bulk', '1', '10', d, w, '100'],
    addBulk5: ['produce', redis.url, 'bulk', '5', '10', d, w, '100'],
    addBulk20: ['produce', redis.url, 'bulk', '20', '10', d, w, '100'],
    noopWorker: ['work', redis.url, String(opts.drainEvents), String(opts.concurrency)],
  };
  const rate: Record<string, number[]> = {};
  const cpu: Record<string, number[]> = {};
  for (let i = 0; i < opts.runs; i++) {
    for (const name of which) {
      const args = all[name];
      await flush(redis.client);
      const r = await bullmq(ctx, args);
      (rate[name] ??= []).push(r.jobsPerS);
      (cpu[name] ??= []).push(r.cpuUsPerJob);
    }
  }
  await flush(redis.client);
  return {
    figures: {
      ...Object.fromEntries(Object.entries(rate).map(([k, v]) => [k, figure(v, 'jobs/s')])),
      ...Object.fromEntries(Object.entries(cpu).map(([k, v]) => [`${k}CpuUsPerJob`, figure(v, 'µs CPU/job')])),
    },
  };
}
