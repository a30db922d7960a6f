import type { Ctx, ScenarioResult } from './context.js';
import { prefill, startIngest, startWorker, type BenchDestination, type HeraldProc } from './herald.js';
import { dest, resetWith } from './scenarios.js';
import { figure, rateBetween } from './stats.js';

/** How the worker processes are laid out: one process for every destination, or one per destination (as the controller deploys them). */
export type Topology = 'shared' | 'split';

type Phase = 'solo' | 'fail100' | 'fail20';

/**
 * Both destinations exist in every phase, so every event goes to both and is stored alike (one shared
 * body, ADR 0007): what differs in `solo` is only that no worker delivers the failing one.
 */
function phaseDests(ctx: Ctx, phase: Phase, withBreaker: boolean): BenchDestination[] {
  const retry = { schedule: ['200ms', '1s'], maxAttempts: phase === 'fail20' ? 10 : 3 };
  const breaker = withBreaker ? { circuitBreaker: { failureThreshold: 5, probeInterval: '1s' } } : {};
  return [dest(ctx, 'healthy'), dest(ctx, 'failing', phase === 'fail20' ? 20 : 100, { retry, ...breaker })];
}

/**
 * A healthy destination's drain rate alone, then next to one that fails 100 % (and 20 %) of the time
 * with short retry delays, both with `drainEvents` events queued. The healthy destination's worker is
 * on the SUT CPU; in `split` topology the failing one's worker gets CPU 1 (with Redis and the receiver).
 */
export async function failingScenario(ctx: Ctx, topology: Topology, breaker = false): Promise<ScenarioResult> {
  const N = ctx.opts.drainEvents;
  const rates: Record<Phase, number[]> = { solo: [], fail100: [], fail20: [] };
  const failingAttempts: Record<Phase, number[]> = { solo: [], fail100: [], fail20: [] };
  for (let i = 0; i < ctx.opts.runs; i++) {
    for (const phase of breaker ? (['solo', 'fail100'] as const) : (['solo', 'fail100', 'fail20'] as const)) {
      const dests = phaseDests(ctx, phase, breaker);
      await resetWith(ctx, dests);
      const ingest = await startIngest(ctx.herald, 'infra', 'ingest-prefill');
      await prefill(ingest.url, N, ctx.opts.payloadBytes, ctx.herald.apiKey);
      await ingest.stop();
      await ctx.receiver.reset();
      const workers: HeraldProc[] = [];
      try {
        if (phase === 'solo') workers.push(await startWorker(ctx.herald, ['healthy'], 'sut', `worker-${topology}`));
        else if (topology === 'shared') workers.push(await startWorker(ctx.herald, dests.map((d) => d.name), 'sut', `worker-${topology}`));
        else {
          // The failing worker starts first: a Node process's start-up (about a second of CPU, on the
          // core Redis and the receiver use) would otherwise land inside the healthy one's measured
          // window, and the target is about a neighbour that fails, not one that boots.
          workers.push(await startWorker(ctx.herald, ['failing'], 'infra', 'worker-failing'));
          workers.push(await startWorker(ctx.herald, ['healthy'], 'sut', 'worker-healthy'));
        }
        await ctx.receiver.waitFor('healthy', N, 600_000);
        const st = await ctx.receiver.stats();
        const h = st.healthy!;
        rates[phase].push(rateBetween(h.series, N));
        const window = (h.series[h.series.length - 1]![0] - h.series[0]![0]) / 1000;
        failingAttempts[phase].push(((st.failing?.fail ?? 0) + (st.failing?.ok ?? 0)) / window);
      } finally {
        await Promise.all(workers.map((w) => w.stop()));
      }
    }
  }
  const figures: ScenarioResult['figures'] = {
    soloPerS: figure(rates.solo, 'deliveries/s'),
    withFail100PerS: figure(rates.fail100, 'deliveries/s'),
    failingAttemptsPerSFail100: figure(failingAttempts.fail100, 'attempts/s'),
  };
  if (rates.fail20.length > 0) {
    figures.withFail20PerS = figure(rates.fail20, 'deliveries/s');
    figures.failingAttemptsPerSFail20 = figure(failingAttempts.fail20, 'attempts/s');
  }
  return {
    figures,
    details: { topology, breaker },
  };
}
