import { afterAll, beforeAll } from 'vitest';
import { startRedis, type RedisServer } from './redis.js';
import { startHerald, type HeraldUnderTest } from './herald.js';
import { startReceiver, type Receiver } from './receiver.js';
import { processEnv, startIngestProcess, startWorkerProcess, type RunningHerald } from './fleet.js';

/**
 * A test file's Redis, an in-process "control plane" (publishes destinations, reads Redis) and
 * helpers that start ingest and worker *processes* against it; everything stops after the file.
 */
export function useProcessFixture() {
  const state = {} as { redis: RedisServer; control: HeraldUnderTest };
  const receivers: Receiver[] = [];
  const procs: RunningHerald[] = [];

  beforeAll(async () => {
    state.redis = await startRedis();
    state.control = await startHerald({ redisUrl: state.redis.url, withWorkers: false });
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill()));
    await state.control?.close();
    await Promise.all(receivers.map((r) => r.close()));
    await state.redis?.close();
  });

  const env = (extra: Record<string, string> = {}) => processEnv(state.redis.url, state.control.config.HERALD_REDIS_PREFIX, extra);
  return {
    get redis() {
      return state.redis;
    },
    get control() {
      return state.control;
    },
    receivers,
    procs,
    env,
    async ingestProcess(): Promise<RunningHerald> {
      const p = await startIngestProcess(env());
      procs.push(p);
      return p;
    },
    async workerProcess(destination: string): Promise<RunningHerald> {
      const p = await startWorkerProcess(destination, env());
      procs.push(p);
      return p;
    },
    async receiver(delayMs = 0): Promise<Receiver> {
      const r = await startReceiver(() => ({ status: 200, ...(delayMs ? { delayMs } : {}) }));
      receivers.push(r);
      return r;
    },
  };
}

/** Deliveries not yet finished: waiting, running or waiting for a retry. */
export const pending = (c: Record<string, number>) => (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0);
export const deliveredIds = (r: Receiver) => new Set(r.delivered().map((x) => String(x.headers['webhook-id'])));
