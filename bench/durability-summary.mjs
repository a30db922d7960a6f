// Summarises bench/durability.sh: medians per mode of ingest-fanout1's figures, and each mode's ratio to the first.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, ...modes] = process.argv.slice(2);
const keys = [['singleEventsPerS', 'single events/s'], ['singleP99Ms', 'single p99 ms'], ['batchEventsPerS', 'batch events/s'], ['batchP99Ms', 'batch (100) p99 ms']];
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
console.log(`| figure | ${modes.map((m) => `appendfsync ${m}`).join(' | ')} | ${modes.slice(1).map((m) => `${m} / ${base}`).join(' | ')} |`);
console.log(`|---|${modes.map(() => '---').join('|')}|${modes.slice(1).map(() => '---').join('|')}|`);
for (const [k, label] of keys) {
  const med = modes.map((m) => median(values[m][k] ?? []));
  const fmt = (v) => (Number.isFinite(v) ? (v >= 100 ? Math.round(v).toLocaleString('en') : v.toFixed(2)) : '—');
  console.log(`| ${label} | ${med.map(fmt).join(' | ')} | ${med.slice(1).map((v) => `×${(v / med[0]).toFixed(2)}`).join(' | ')} |`);
}
console.log(`\n${Object.values(values[base]).map((v) => v.length)[0] ?? 0} rounds per mode, interleaved.`);
