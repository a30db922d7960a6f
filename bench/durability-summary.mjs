// Summarises bench/durability.sh: per mode, the median and min-max over rounds of ingest-fanout1's figures, and each mode's ratio to the first (of medians; min-max of the per-round ratios).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, ...modes] = process.argv.slice(2);
const keys = [
  ['singleEventsPerS', 'single events/s'],
  ['singleP50Ms', 'single p50 ms'],
  ['singleP99Ms', 'single p99 ms'],
  ['singleCpuUsPerEvent', 'single: ingest CPU µs/event'],
  ['singleRedisCpuUsPerEvent', 'single: Redis CPU µs/event'],
  ['batchEventsPerS', 'batch events/s'],
  ['batchP99Ms', 'batch (100) p99 ms'],
  ['batchCpuUsPerEvent', 'batch: ingest CPU µs/event'],
  ['batchRedisCpuUsPerJob', 'batch: Redis CPU µs/job'],
];
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)] : NaN; };
const values = {};
for (const m of modes) {
  values[m] = {};
  for (const d of readdirSync(dir).filter((d) => d.startsWith(`${m}-`) && !d.endsWith('.log'))) {
    for (const f of readdirSync(join(dir, d)).filter((f) => f.endsWith('.json') && f !== 'latest.json')) {
      const run = JSON.parse(readFileSync(join(dir, d, f), 'utf8'));
      const sc = run.results?.['ingest-fanout1'];
      const figs = sc?.figures ?? {};
      for (const [k] of keys) if (figs[k]) (values[m][k] ??= []).push(figs[k].median);
    }
  }
}
const base = modes[0];
const LABELS = { everysec: 'everysec', always: 'appendfsync always', replica: 'everysec + replica', wait1: 'everysec + replica + WAIT 1' };
const label = (m) => LABELS[m] ?? m;
const fmt = (v) => (Number.isFinite(v) ? (v >= 100 ? Math.round(v).toLocaleString('en') : v.toFixed(2)) : '—');
const range = (xs) => (xs.length ? `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}` : '—');
console.log(`| figure | ${modes.map(label).join(' | ')} | ${modes.slice(1).map((m) => `${label(m)} / ${label(base)}`).join(' | ')} |`);
console.log(`|---|${modes.map(() => '---').join('|')}|${modes.slice(1).map(() => '---').join('|')}|`);
for (const [k, name] of keys) {
  const xs = modes.map((m) => values[m][k] ?? []);
  const med = xs.map(median);
  // Rounds are interleaved, so round i of each mode ran side by side: ratios pair them.
  const ratios = xs.slice(1).map((x) => x.map((v, i) => v / xs[0][i]).filter(Number.isFinite));
  console.log(`| ${name} | ${med.map((v, i) => `${fmt(v)} (${range(xs[i])})`).join(' | ')} | ${med.slice(1).map((v, i) => `×${(v / med[0]).toFixed(2)} (×${Math.min(...ratios[i]).toFixed(2)}–${Math.max(...ratios[i]).toFixed(2)})`).join(' | ')} |`);
}
console.log(`\n${Object.values(values[base]).map((v) => v.length)[0] ?? 0} rounds per mode, interleaved; median (min–max).`);
