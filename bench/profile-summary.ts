/**
 * Summarises V8 .cpuprofile files (from `node --cpu-prof`) without clinic or a browser:
 *
 *   node bench/dist/profile-summary.js PROFILE.cpuprofile [--top N] [--svg OUT.svg]
 *
 * Prints the top self-time functions, self time by owner (Herald's code, each npm package, Node
 * internals, GC), and inclusive time of Herald's own functions, as Markdown. With --svg it also
 * writes a flame graph (hover a frame for its name and share).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** Who a frame belongs to: `herald`, an npm package name, `node`, or a V8 pseudo-frame such as `(garbage collector)`. */
export function owner(f: CallFrame): string {
  if (f.url === '') return f.functionName.startsWith('(') ? f.functionName : '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(f.url);
  if (nm) return nm[1]!;
  if (f.url.startsWith('node:')) return 'node';
  if (/\/(dist\/)?(src|cmd)\//.test(f.url)) return 'herald';
  return 'other';
}

function label(f: CallFrame): string {
  const file = f.url ? f.url.replace(/^file:\/\//, '').replace(/^.*node_modules\//, '').replace(/^.*\/dist\//, '') : '';
  return `${f.functionName || '(anonymous)'}${file ? ` ${file}:${f.lineNumber + 1}` : ''}`;
}

export function summarise(p: CpuProfile, top = 25): { markdown: string; totalMs: number } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  // Self time per node from samples × their time deltas (hitCount × mean interval as a fallback).
  const selfUs = new Map<number, number>();
  if (p.samples && p.timeDeltas) {
    for (let i = 0; i < p.samples.length; i++) selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + Math.max(0, p.timeDeltas[i + 1] ?? p.timeDeltas[i] ?? 0));
  } else {
    const hits = p.nodes.reduce((n, x) => n + (x.hitCount ?? 0), 0);
    const per = (p.endTime - p.startTime) / Math.max(1, hits);
    for (const n of p.nodes) selfUs.set(n.id, (n.hitCount ?? 0) * per);
  }
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const idle = (n: ProfileNode) => n.callFrame.functionName === '(idle)';
  const busyUs = p.nodes.filter((n) => !idle(n)).reduce((s, n) => s + (selfUs.get(n.id) ?? 0), 0);
  const wallUs = p.endTime - p.startTime;

  const fnSelf = new Map<string, number>();
  const ownerSelf = new Map<string, number>();
  const heraldIncl = new Map<string, number>();
  for (const n of p.nodes) {
    const us = selfUs.get(n.id) ?? 0;
    if (us === 0 || idle(n)) continue;
    const key = `${label(n.callFrame)} [${owner(n.callFrame)}]`;
    fnSelf.set(key, (fnSelf.get(key) ?? 0) + us);
    ownerSelf.set(owner(n.callFrame), (ownerSelf.get(owner(n.callFrame)) ?? 0) + us);
    // Inclusive time of Herald functions: walk up the stack, counting each function once.
    const seen = new Set<string>();
    for (let id: number | undefined = n.id; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id)!.callFrame;
      if (owner(f) !== 'herald') continue;
      const k = label(f);
      if (seen.has(k)) continue;
      seen.add(k);
      heraldIncl.set(k, (heraldIncl.get(k) ?? 0) + us);
    }
  }
  const pct = (us: number) => `${((us / busyUs) * 100).toFixed(1)}%`;
  const ms = (us: number) => (us / 1000).toFixed(0);
  const rows = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `| ${k.replace(/\|/g, '\\|')} | ${ms(v)} | ${pct(v)} |`);
  const md = [
    `Wall ${ms(wallUs)} ms, on CPU ${ms(busyUs)} ms (${((busyUs / wallUs) * 100).toFixed(0)}% busy).`,
    '',
    '**Self time by owner**',
    '',
    '| owner | self ms | share of busy |',
    '|---|---|---|',
    ...rows(ownerSelf, 15),
    '',
    `**Top ${top} functions by self time**`,
    '',
    '| function | self ms | share of busy |',
    '|---|---|---|',
    ...rows(fnSelf, top),
    '',
    "**Herald's own functions, inclusive time** (everything they call)",
    '',
    '| function | total ms | share of busy |',
    '|---|---|---|',
    ...rows(heraldIncl, 15),
  ];
  return { markdown: md.join('\n'), totalMs: busyUs / 1000 };
}

const COLOURS: Record<string, string> = { herald: '#e45756', node: '#72b7b2', bullmq: '#f58518', ioredis: '#eeca3b', express: '#54a24b', undici: '#4c78a8', pino: '#b279a2', zod: '#9d755d', 'prom-client': '#ff9da6' };

/** An icicle-style flame graph (root at the top) of the profile's call tree, idle time left out. */
export function flameSvg(p: CpuProfile, title: string, width = 1600): string {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const total = new Map<number, number>();
  const hits = (id: number): number => {
    const n = byId.get(id)!;
    if (n.callFrame.functionName === '(idle)') return 0;
    const t = (n.hitCount ?? 0) + (n.children ?? []).reduce((s, c) => s + hits(c), 0);
    total.set(id, t);
    return t;
  };
  const root = p.nodes[0]!;
  const all = hits(root.id);
  const rowH = 16;
  const rects: string[] = [];
  let maxDepth = 0;
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  const draw = (id: number, x: number, depth: number) => {
    const t = total.get(id) ?? 0;
    const w = (t / all) * width;
    if (w < 0.4 || depth > 48) return;
    maxDepth = Math.max(maxDepth, depth);
    const n = byId.get(id)!;
    const name = label(n.callFrame);
    const colour = COLOURS[owner(n.callFrame)] ?? '#bab0ac';
    const y = 30 + depth * rowH;
    const text = w > 40 ? `<text x="${(x + 3).toFixed(1)}" y="${y + 12}" font-size="10" font-family="DejaVu Sans Mono,monospace" clip-path="inset(0 0 0 0)">${esc(name.slice(0, Math.floor(w / 6.2)))}</text>` : '';
    rects.push(`<g><title>${esc(name)} [${owner(n.callFrame)}] ${((t / all) * 100).toFixed(2)}%</title><rect x="${x.toFixed(1)}" y="${y}" width="${Math.max(0.4, w - 0.4).toFixed(1)}" height="${rowH - 1}" fill="${colour}"/>${text}</g>`);
    let cx = x;
    for (const c of n.children ?? []) {
      draw(c, cx, depth + 1);
      cx += ((total.get(c) ?? 0) / all) * width;
    }
  };
  draw(root.id, 0, 0);
  const h = 30 + (maxDepth + 1) * rowH + 10;
  const legend = Object.entries(COLOURS)
    .map(([k, c], i) => `<rect x="${700 + i * 95}" y="8" width="10" height="10" fill="${c}"/><text x="${714 + i * 95}" y="17" font-size="11" font-family="DejaVu Sans">${k}</text>`)
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${h}" viewBox="0 0 ${width} ${h}"><rect width="100%" height="100%" fill="#fff"/><text x="4" y="18" font-size="13" font-family="DejaVu Sans" font-weight="bold">${esc(title)}</text>${legend}${rects.join('')}</svg>`;
}

if (process.argv[1] && basename(process.argv[1]).startsWith('profile-summary')) {
  const args = process.argv.slice(2);
  const file = args.find((a) => a.endsWith('.cpuprofile'));
  if (!file) {
    process.stderr.write('usage: profile-summary PROFILE.cpuprofile [--top N] [--svg OUT.svg]\n');
    process.exit(2);
  }
  const topArg = args.indexOf('--top');
  const svgArg = args.indexOf('--svg');
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const { markdown } = summarise(profile, topArg >= 0 ? Number(args[topArg + 1]) : 25);
  process.stdout.write(`### ${basename(file)}\n\n${markdown}\n`);
  if (svgArg >= 0) writeFileSync(args[svgArg + 1]!, flameSvg(profile, basename(file)));
}
