import { readFileSync } from 'node:fs';
import type { Ctx, ScenarioResult } from './context.js';
import { figure } from './stats.js';

/** Appends one round's values to the figures of earlier rounds, keeping the round order (for paired ratios). */
export function merge(into: ScenarioResult | undefined, add: ScenarioResult): ScenarioResult {
  if (!into) return add;
  const figures = { ...into.figures };
  for (const [k, f] of Object.entries(add.figures)) {
    const prev = figures[k];
    figures[k] = figure([...(prev?.values ?? []), ...f.values], f.unit);
  }
  const details = { ...into.details, ...add.details };
  for (const [k, v] of Object.entries(add.details ?? {})) {
    const prev = into.details?.[k];
    if (typeof v === 'number' && typeof prev === 'number') details[k] = prev + v;
    else if (Array.isArray(v) && Array.isArray(prev)) details[k] = [...prev, ...v];
  }
  return { figures, details };
}

/** A copy of the context whose scenarios run once (rounds repeat them). */
export function once(ctx: Ctx): Ctx {
  return { ...ctx, opts: Object.freeze({ ...ctx.opts, runs: 1 }) };
}

/** How busy the machine is besides us: /proc/pressure/cpu "some avg10" (% of time runnable tasks waited) and the load average. */
export function machineLoad(): { cpuPressure: number; load1: number } {
  let cpuPressure = NaN;
  try {
    cpuPressure = Number(/some avg10=([0-9.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'))?.[1] ?? NaN);
  } catch {
    // no PSI on this kernel
  }
  const load1 = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  return { cpuPressure, load1 };
}
