import { spawnSync } from 'node:child_process';
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chartSvg } from './chart.js';
import type { ScenarioResult } from './context.js';
import type { Environment } from './environment.js';
import type { BenchOptions } from './options.js';
import type { TargetCheck } from './targets.js';

export interface Report {
  stamp: string;
  opts: Readonly<BenchOptions>;
  env: Environment;
  results: Record<string, ScenarioResult>;
  targets: TargetCheck[];
  elapsedS: number;
  error?: string;
}

const n = (v: number, unit = '') => {
  if (!Number.isFinite(v)) return String(v);
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return `${v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 })}${unit}`;
};

function pressure(r: Report, max = false): number {
  const all = Object.values(r.results).flatMap((v) => v.figures.machineCpuPressure?.values ?? []).filter(Number.isFinite).sort((a, b) => a - b);
  return max ? all[all.length - 1] ?? NaN : all[Math.floor(all.length / 2)] ?? NaN;
}

function markdown(r: Report, png: string): string {
  const { env, opts } = r;
  const lines = [
    `# Herald benchmark ${r.stamp} (${opts.mode})`,
    '',
    `![chart](${png})`,
    '',
    `Machine: ${env.machine.cpus} × ${env.machine.model}, ${env.machine.memoryGiB} GiB, Linux ${env.machine.kernel}. ` +
      `Versions: Herald ${env.versions.herald} (${env.herald.revision}), Node ${env.versions.node}, Redis ${env.versions.redis}, BullMQ ${env.versions.bullmq}, ioredis ${env.versions.ioredis}, express ${env.versions.express}, undici ${env.versions.undici}, pino ${env.versions.pino}, ${env.versions.wrk}.`,
    '',
    `Settings: ${opts.runs} runs of ${opts.durationS} s (warm-up ${opts.warmupS} s), payload ${opts.payloadBytes} B, destination concurrency ${opts.concurrency}, ` +
      `drain backlog ${opts.drainEvents} events, big backlog ${opts.backlogEvents} events × 5 destinations, Redis AOF ${opts.aof ? 'on (everysec)' : 'off'}${opts.redisArgs.length ? ` with \`${opts.redisArgs.join(' ')}\`` : ''}${opts.replicas ? `, ${opts.replicas} replica(s)` : ''}${opts.ackReplicas ? `, ingest waits for ${opts.ackReplicas} (HERALD_ACK_REPLICAS)` : ''}, Herald log level ${opts.logLevel}, ingest ${opts.ingestAuth === 'key' ? 'with an API key on every request' : 'without authentication'}, ` +
      `pinning ${env.pinning ? 'on: the process measured (Herald, or the baseline standing in for it) on CPU 0; Redis, wrk, the receiver and the harness on CPU 1' : 'off'}. ` +
      `Every figure is the median of the runs, with min–max; ratios are medians of per-round ratios (Herald and its ceiling measured back to back). ` +
      `The CPU-efficiency ratio divides CPU time per operation (ceiling ÷ Herald, each process's own CPU, Redis excluded) and barely moves with other load on the machine. ` +
      `Other load during the run (PSI cpu "some avg10", sampled at the start of each measurement): median ${n(pressure(r))}%, max ${n(pressure(r, true))}%. Total time ${n(r.elapsedS)} s.`,
    '',
    ...(r.error ? [`**The run stopped early:** ${r.error}`, ''] : []),
    '## Targets',
    '',
    '| | target | Herald | ceiling | ratio / limit | CPU-efficiency ratio | |',
    '|---|---|---|---|---|---|---|',
    ...r.targets.map(
      (t) =>
        `| ${t.id} | ${t.target} | ${n(t.herald)} ${t.unit} | ${t.ceiling !== undefined ? n(t.ceiling) : '—'} | ${t.ratio !== undefined ? `${(t.ratio * 100).toFixed(0)}%${t.info ? '' : ` (≥ ${(t.limit * 100).toFixed(0)}%)`}` : `${t.kind === 'min' ? '≥' : '≤'} ${n(t.limit)}`} | ${t.cpuRatio !== undefined ? `${(t.cpuRatio * 100).toFixed(0)}%` : ''} | ${t.info ? '—' : t.pass ? '✅' : '❌'} |`,
    ),
    '',
    '## All figures',
    '',
    '| scenario | figure | median | min – max | unit |',
    '|---|---|---|---|---|',
  ];
  for (const [name, res] of Object.entries(r.results)) {
    for (const [k, f] of Object.entries(res.figures)) if (Number.isFinite(f.median)) lines.push(`| ${name} | ${k} | ${n(f.median)} | ${n(f.min)} – ${n(f.max)} | ${f.unit} |`);
  }
  const backlog = r.results.backlog?.details as { runs?: Array<Record<string, unknown>> } | undefined;
  const lastRun = backlog?.runs?.[backlog.runs.length - 1];
  if (lastRun) {
    lines.push('', '## Backlog: keys by kind', '', '```json', JSON.stringify({ keys: { base: lastRun.baseKeys, full: lastRun.fullKeys, afterDrain: lastRun.afterKeys }, memory: { base: lastRun.base, full: lastRun.full, after: lastRun.after }, sample: lastRun.sample, afterDrainEventStreamLengths: lastRun.eventStreamLengths, maxLenEvents: lastRun.maxLenEvents }, null, 1), '```');
  }
  const redisRows: string[] = [];
  for (const [name, res] of Object.entries(r.results)) {
    const d = res.details as { redisCommandsPerEvent?: Array<Record<string, Array<{ command: string; callsPerOp: number; usPerOp: number }>>>; redisCommandsPerDelivery?: Array<Array<{ command: string; callsPerOp: number; usPerOp: number }>> } | undefined;
    const lastEv = d?.redisCommandsPerEvent?.[d.redisCommandsPerEvent.length - 1];
    for (const [kind, rows] of Object.entries(lastEv ?? {})) redisRows.push(`| ${name} ${kind} (per event) | ${rows.map((x) => `${x.command} ×${x.callsPerOp} = ${x.usPerOp} µs`).join('; ')} |`);
    const lastDel = d?.redisCommandsPerDelivery?.[d.redisCommandsPerDelivery.length - 1];
    if (lastDel) redisRows.push(`| ${name} (per delivery) | ${lastDel.map((x) => `${x.command} ×${x.callsPerOp} = ${x.usPerOp} µs`).join('; ')} |`);
  }
  if (redisRows.length) lines.push('', '## What Redis does per operation (INFO commandstats, last run)', '', '| scenario | command × calls per operation = Redis µs per operation |', '|---|---|', ...redisRows);
  const errs = Object.entries(r.results)
    .filter(([, v]) => (v.details as { errors?: number } | undefined)?.errors)
    .map(([k, v]) => `${k}: ${(v.details as { errors: number }).errors}`);
  if (errs.length) lines.push('', `HTTP errors during load (non-2xx, timeouts, socket errors): ${errs.join(', ')}.`);
  lines.push('', 'Reproduce: see docs/performance.md. Raw data: the JSON file next to this one.', '');
  return lines.join('\n');
}

/** Writes `<stamp>.json`, `<stamp>.md` and `<stamp>.png` (SVG rendered by rsvg-convert) and copies them to `latest.*`. */
export async function writeReport(r: Report, profileDir?: string): Promise<string[]> {
  const dir = r.opts.resultsDir;
  const base = `${r.stamp}-${r.opts.mode}`;
  const files: string[] = [];
  const json = join(dir, `${base}.json`);
  await writeFile(json, `${JSON.stringify({ ...r, opts: { ...r.opts, heraldDir: undefined, resultsDir: undefined } }, null, 1)}\n`);
  files.push(json);
  if (r.opts.mode === 'profile') {
    if (profileDir) files.push(...(await profileReport(r, profileDir)));
    return files;
  }
  if (r.opts.mode === 'compare') {
    const md = join(dir, `${base}.md`);
    await writeFile(md, compareMarkdown(r));
    files.push(md);
    return files;
  }
  const svg = join(dir, 'tmp', `${base}.svg`);
  const subtitle = `${r.stamp} · ${r.opts.mode} · ${r.env.machine.cpus} × ${r.env.machine.model} · Herald ${r.env.herald.revision} · Node ${r.env.versions.node} · Redis ${r.env.versions.redis} · median of ${r.opts.runs} · other load: CPU pressure median ${n(pressure(r))}%`;
  await writeFile(svg, chartSvg(r.results, subtitle));
  const png = join(dir, `${base}.png`);
  const conv = spawnSync('rsvg-convert', ['-o', png, svg]);
  if (conv.status === 0) files.push(png);
  const md = join(dir, `${base}.md`);
  await writeFile(md, markdown(r, `${base}.png`));
  files.push(md);
  // Only a complete full run is what the README's "latest" stands for; a BENCH_ONLY run is a partial
  // one, and a run that stopped on an error is kept under its stamp only.
  if (!r.error && ((r.opts.mode === 'full' && r.opts.only.length === 0) || !(await exists(join(dir, 'latest.md'))))) {
    await copyFile(json, join(dir, 'latest.json'));
    if (conv.status === 0) await copyFile(png, join(dir, 'latest.png'));
    await writeFile(join(dir, 'latest.md'), markdown(r, 'latest.png'));
  }
  return files;
}

/** Before/after table of a compare run: medians and the median of per-round after÷before ratios. */
function compareMarkdown(r: Report): string {
  const lines = [
    `# Herald before/after ${r.stamp}`,
    '',
    `Before: \`${r.opts.heraldLabel ?? r.env.herald.revision}\` on Node ${r.env.versions.node}; after: \`${r.opts.compareLabel}\` on Node ${r.env.versions.compareNode ?? r.env.versions.node}. ${r.opts.runs} rounds, each running every scenario on the before build and then on the after build ` +
      `(${r.opts.durationS} s of load, ${r.opts.drainEvents}-event drains). Machine: ${r.env.machine.cpus} × ${r.env.machine.model}; other load (PSI cpu some avg10) median ${n(pressure(r))}%, max ${n(pressure(r, true))}%.`,
    '',
    '| scenario | figure | before (median, min–max) | after (median, min–max) | after ÷ before (median of rounds) |',
    '|---|---|---|---|---|',
  ];
  for (const [name, res] of Object.entries(r.results)) {
    if (!name.startsWith('before:')) continue;
    const other = r.results[name.replace('before:', 'after:')];
    for (const [k, f] of Object.entries(res.figures)) {
      const g = other?.figures[k];
      if (!g || k.startsWith('machine')) continue;
      const ratios = f.values.map((v, i) => (g.values[i] ?? NaN) / v).filter(Number.isFinite).sort((a, b) => a - b);
      const mid = ratios[Math.floor(ratios.length / 2)];
      lines.push(`| ${name.slice(7)} | ${k} (${f.unit}) | ${n(f.median)} (${n(f.min)}–${n(f.max)}) | ${n(g.median)} (${n(g.min)}–${n(g.max)}) | ${mid !== undefined ? `×${mid.toFixed(2)}` : '—'} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Summarises the Herald processes' CPU profiles into `profile-<stamp>.md` plus a flame graph PNG per process. */
async function profileReport(r: Report, profileDir: string): Promise<string[]> {
  const { readdir, readFile, mkdir } = await import('node:fs/promises');
  const { summarise, flameSvg } = await import('../profile-summary.js');
  const outDir = join(r.opts.resultsDir, 'profiles');
  await mkdir(outDir, { recursive: true });
  const wantedProfiles = (await readdir(profileDir)).filter((f) => f.endsWith('.cpuprofile') && !f.includes('prefill')).sort();
  const parts = [
    `# Herald CPU profiles ${r.stamp}`,
    '',
    `\`node --cpu-prof\` of each Herald process under the load of one scenario (${r.opts.durationS} s of wrk for ingest; a ${r.opts.drainEvents}-event backlog for the worker; ingest and worker together, unpinned, at the latency scenario's rate). ` +
      `Machine: ${r.env.machine.cpus} × ${r.env.machine.model}; Herald ${r.env.herald.revision}; pinning ${r.env.pinning ? 'on' : 'off'}. Figures of the profiled runs (slower than unprofiled):`,
    '',
    ...Object.entries(r.results).flatMap(([k, v]) => Object.entries(v.figures).filter(([f]) => !f.startsWith('machine')).map(([f, x]) => `- ${k} ${f}: ${x.median.toFixed(1)} ${x.unit}`)),
    '',
  ];
  const files: string[] = [];
  for (const f of wantedProfiles) {
    const profile = JSON.parse(await readFile(join(profileDir, f), 'utf8')) as Parameters<typeof summarise>[0];
    const name = f.replace(/\.cpuprofile$/, '');
    const svg = join(profileDir, `${name}.svg`);
    await writeFile(svg, flameSvg(profile, `${name} (${r.stamp})`));
    const png = join(outDir, `${r.stamp}-${name}.png`);
    if (spawnSync('rsvg-convert', ['-o', png, svg]).status === 0) files.push(png);
    parts.push(`## ${name}`, '', `Flame graph: [${r.stamp}-${name}.png](${r.stamp}-${name}.png) (SVG with hover titles: \`${svg}\`)`, '', summarise(profile, 25).markdown, '');
  }
  const md = join(outDir, `${r.stamp}-profile.md`);
  await writeFile(md, parts.join('\n'));
  files.push(md);
  return files;
}

async function exists(p: string): Promise<boolean> {
  const { access } = await import('node:fs/promises');
  return access(p).then(
    () => true,
    () => false,
  );
}
