import type { ScenarioResult } from './context.js';
import type { Figure } from './stats.js';
import { pairedRatio } from './targets.js';

/** A bar: label, value, optional range (min–max) and optional target line. */
interface Bar {
  label: string;
  value: number;
  min?: number;
  max?: number;
  target?: number;
  /** Text drawn after the bar. */
  note: string;
  good?: boolean;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (n: number) => (n >= 10_000 ? `${(n / 1000).toFixed(0)}k` : n >= 1000 ? `${(n / 1000).toFixed(1)}k` : n >= 100 ? n.toFixed(0) : n.toFixed(1));

/** A horizontal bar panel; `log` uses a log10 axis (for throughputs spanning orders of magnitude). */
function panel(title: string, bars: Bar[], x: number, y: number, width: number, opts: { log?: boolean; unit: string; maxValue?: number }): { svg: string; height: number } {
  const labelW = 250;
  const noteW = 190;
  const plotW = width - labelW - noteW;
  const rowH = 24;
  const top = 30;
  const maxV = opts.maxValue ?? Math.max(...bars.map((b) => Math.max(b.max ?? b.value, b.target ?? 0))) * 1.05;
  const minLog = 2; // 100/s
  const scale = (v: number) => {
    if (!(v > 0)) return 0;
    if (!opts.log) return (Math.min(v, maxV) / maxV) * plotW;
    const top10 = Math.log10(maxV);
    return Math.max(0, ((Math.log10(v) - minLog) / (top10 - minLog)) * plotW);
  };
  const parts = [`<text x="${x}" y="${y + 18}" class="title">${esc(title)}</text>`];
  bars.forEach((b, i) => {
    const by = y + top + i * rowH;
    const w = scale(b.value);
    const colour = b.good === undefined ? '#4c78a8' : b.good ? '#54a24b' : '#e45756';
    parts.push(`<text x="${x + labelW - 8}" y="${by + 15}" class="label" text-anchor="end">${esc(b.label)}</text>`);
    parts.push(`<rect x="${x + labelW}" y="${by + 3}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${colour}"/>`);
    if (b.min !== undefined && b.max !== undefined) {
      const a = x + labelW + scale(Math.min(b.min, maxV));
      const c = x + labelW + scale(Math.min(b.max, maxV));
      parts.push(`<line x1="${a.toFixed(1)}" x2="${c.toFixed(1)}" y1="${by + rowH / 2}" y2="${by + rowH / 2}" stroke="#222" stroke-width="1.5"/>`);
      parts.push(`<line x1="${a.toFixed(1)}" x2="${a.toFixed(1)}" y1="${by + 7}" y2="${by + rowH - 7}" stroke="#222"/><line x1="${c.toFixed(1)}" x2="${c.toFixed(1)}" y1="${by + 7}" y2="${by + rowH - 7}" stroke="#222"/>`);
    }
    if (b.target !== undefined) {
      const t = x + labelW + scale(b.target);
      parts.push(`<line x1="${t.toFixed(1)}" x2="${t.toFixed(1)}" y1="${by}" y2="${by + rowH}" stroke="#000" stroke-width="2" stroke-dasharray="3,2"/>`);
    }
    parts.push(`<text x="${x + labelW + plotW + 8}" y="${by + 15}" class="note">${esc(b.note)}</text>`);
  });
  const axisY = y + top + bars.length * rowH + 4;
  parts.push(`<line x1="${x + labelW}" x2="${x + labelW + plotW}" y1="${axisY}" y2="${axisY}" stroke="#888"/>`);
  const ticks = opts.log ? [2, 3, 4, 5, 6].filter((e) => 10 ** e <= maxV * 1.01).map((e) => 10 ** e) : niceTicks(maxV);
  for (const t of ticks) {
    const tx = x + labelW + scale(t);
    parts.push(`<line x1="${tx.toFixed(1)}" x2="${tx.toFixed(1)}" y1="${axisY}" y2="${axisY + 4}" stroke="#888"/><text x="${tx.toFixed(1)}" y="${axisY + 16}" class="tick" text-anchor="middle">${opts.unit === '%' ? `${(t * 100).toFixed(0)}%` : fmt(t)}</text>`);
  }
  return { svg: parts.join('\n'), height: top + bars.length * rowH + 30 };
}

/** 0 and round steps (1, 2 or 5 × 10^n) up to `max`, about five of them. */
function niceTicks(max: number): number[] {
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let t = 0; t <= max * 1.0001; t += step) out.push(Number(t.toFixed(10)));
  return out;
}

type R = Record<string, ScenarioResult | undefined>;
const fig = (r: R, s: string, f: string): Figure | undefined => r[s]?.figures[f];

/** Renders the summary chart: Herald as a share of its ceilings, absolute throughputs, latency percentiles. */
export function chartSvg(r: R, subtitle: string): string {
  const W = 1200;
  const ratios: Bar[] = [];
  const ratio = (label: string, h: Figure | undefined, c: Figure | undefined, target?: number) => {
    if (!h || !c) return;
    const v = pairedRatio(h.values, c.values);
    // Whiskers: the range of per-round ratios when paired, else Herald's range over the ceiling's median.
    const per = h.values.length === c.values.length ? h.values.map((x, i) => x / c.values[i]!).filter(Number.isFinite) : [];
    const lo = per.length ? Math.min(...per) : h.min / c.median;
    const hi = per.length ? Math.max(...per) : h.max / c.median;
    ratios.push({ label, value: v, min: lo, max: hi, ...(target !== undefined ? { target, good: v >= target } : {}), note: `${fmt(h.median)} / ${fmt(c.median)} = ${(v * 100).toFixed(0)}%` });
  };
  ratio('ingest 1 event (vs express)', fig(r, 'ingest-fanout1', 'singleEventsPerS'), fig(r, 'ceiling-express', 'reqPerS'), 0.8);
  ratio('ingest 1 event (vs bare node:http)', fig(r, 'ingest-fanout1', 'singleEventsPerS'), fig(r, 'ceiling-node-http', 'reqPerS'));
  ratio('ingest 1 event, 5 dests (vs express)', fig(r, 'ingest-fanout5', 'singleEventsPerS'), fig(r, 'ceiling-express', 'reqPerS'));
  ratio('ingest 1 event, 20 dests (vs express)', fig(r, 'ingest-fanout20', 'singleEventsPerS'), fig(r, 'ceiling-express', 'reqPerS'));
  ratio('batch, 1 dest (jobs vs addBulk)', fig(r, 'ingest-fanout1', 'batchJobsPerS'), fig(r, 'ceiling-bullmq', 'addBulk1'));
  ratio('batch, 5 dests (jobs vs addBulk)', fig(r, 'ingest-fanout5', 'batchJobsPerS'), fig(r, 'ceiling-bullmq', 'addBulk5'), 0.6);
  ratio('batch, 20 dests (jobs vs addBulk)', fig(r, 'ingest-fanout20', 'batchJobsPerS'), fig(r, 'ceiling-bullmq', 'addBulk20'));
  ratio('delivery (vs no-op worker)', fig(r, 'delivery', 'deliveriesPerS'), fig(r, 'ceiling-bullmq', 'noopWorker'), 0.5);
  ratio('healthy + 100% failing (shared)', fig(r, 'failing-shared', 'withFail100PerS'), fig(r, 'failing-shared', 'soloPerS'), 0.9);
  ratio('healthy + 20% failing (shared)', fig(r, 'failing-shared', 'withFail20PerS'), fig(r, 'failing-shared', 'soloPerS'));
  ratio('healthy + 100% failing, breaker', fig(r, 'failing-shared-breaker', 'withFail100PerS'), fig(r, 'failing-shared-breaker', 'soloPerS'), 0.9);
  ratio('healthy + 100% failing (split)', fig(r, 'failing-split', 'withFail100PerS'), fig(r, 'failing-split', 'soloPerS'), 0.9);

  const abs: Bar[] = [];
  const a = (label: string, f: Figure | undefined, unit: string) => f && abs.push({ label, value: f.median, min: f.min, max: f.max, note: `${fmt(f.median)} ${unit}` });
  a('redis-benchmark SET', fig(r, 'ceiling-redis', 'SET'), 'ops/s');
  a('redis-benchmark SET -P16', fig(r, 'ceiling-redis', 'SET -P16'), 'ops/s');
  a('bare express', fig(r, 'ceiling-express', 'reqPerS'), 'req/s');
  a('bare node:http', fig(r, 'ceiling-node-http', 'reqPerS'), 'req/s');
  a('receiver alone', fig(r, 'ceiling-receiver', 'reqPerS'), 'req/s');
  a('BullMQ add', fig(r, 'ceiling-bullmq', 'add'), 'jobs/s');
  a('BullMQ addBulk ×5 queues', fig(r, 'ceiling-bullmq', 'addBulk5'), 'jobs/s');
  a('BullMQ no-op worker', fig(r, 'ceiling-bullmq', 'noopWorker'), 'jobs/s');
  a('Herald ingest 1 event', fig(r, 'ingest-fanout1', 'singleEventsPerS'), 'ev/s');
  a('Herald batch, 1 dest', fig(r, 'ingest-fanout1', 'batchEventsPerS'), 'ev/s');
  a('Herald batch, 5 dests', fig(r, 'ingest-fanout5', 'batchEventsPerS'), 'ev/s');
  a('Herald delivery', fig(r, 'delivery', 'deliveriesPerS'), 'del/s');
  a('Herald backlog drain (5 dests)', fig(r, 'backlog', 'drainDeliveriesPerS'), 'del/s');
  const batchTarget = abs.find((b) => b.label === 'Herald batch, 1 dest');
  if (batchTarget) {
    batchTarget.target = 50_000;
    batchTarget.good = batchTarget.value >= 50_000;
  }

  const lat: Bar[] = [];
  const l = (label: string, f: Figure | undefined, target?: number) =>
    f && lat.push({ label, value: f.median, min: f.min, max: f.max, ...(target !== undefined ? { target, good: f.median <= target } : {}), note: `${f.median.toFixed(1)} ms` });
  l('ingest→delivery p50 @50%', fig(r, 'latency', 'p50Ms'), 10);
  l('ingest→delivery p95 @50%', fig(r, 'latency', 'p95Ms'));
  l('ingest→delivery p99 @50%', fig(r, 'latency', 'p99Ms'), 50);
  l('ingest request p50 (c=50, max rate)', fig(r, 'ingest-fanout1', 'singleP50Ms'));
  l('ingest request p99 (c=50, max rate)', fig(r, 'ingest-fanout1', 'singleP99Ms'));
  l('batch request p99 (c=10, max rate)', fig(r, 'ingest-fanout1', 'batchP99Ms'));

  let y = 50;
  const body: string[] = [];
  for (const [title, bars, o] of [
    ['Herald as a share of its ceiling (median; whiskers min–max; dashed = target)', ratios, { unit: '%', maxValue: Math.min(1.5, Math.max(1.05, ...ratios.map((b) => b.max ?? b.value))) }],
    ['Throughput, per second (log scale)', abs, { unit: '/s', log: true }],
    ['Latency, milliseconds (dashed = target)', lat, { unit: 'ms' }],
  ] as const) {
    if (bars.length === 0) continue;
    const p = panel(title, bars, 20, y, W - 40, o);
    body.push(p.svg);
    y += p.height + 20;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}">
<style>text{font-family:'DejaVu Sans',sans-serif;fill:#222}.title{font-size:15px;font-weight:bold}.label{font-size:12px}.note{font-size:12px}.tick{font-size:10px;fill:#555}.head{font-size:18px;font-weight:bold}.sub{font-size:11px;fill:#555}</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="20" y="24" class="head">Herald benchmark</text><text x="20" y="40" class="sub">${esc(subtitle)}</text>
${body.join('\n')}
</svg>`;
}
