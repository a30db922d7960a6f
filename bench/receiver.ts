/**
 * The benchmark's webhook receiver, run as its own process on the infrastructure CPU.
 *
 *   POST /r/<name>/<failPercent>[/lat]   answers 200, or 500 with probability failPercent/100;
 *                                        with /lat, records producer→receiver latency from payload.t (µs
 *                                        since the epoch) and accept→receiver latency from `timestamp`
 *   GET  /stats                          counts, a (time, delivered) series per name, latency percentiles
 *   POST /reset                          forgets everything
 *
 * Prints `READY <port>` on stdout once listening.
 */
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';

interface Counter {
  ok: number;
  fail: number;
  series: Array<[number, number]>;
  lastSampled: number;
  lat: number[];
  acceptLat: number[];
}

const counters = new Map<string, Counter>();
const nowMs = () => performance.timeOrigin + performance.now();

function counter(name: string): Counter {
  let c = counters.get(name);
  if (!c) {
    c = { ok: 0, fail: 0, series: [], lastSampled: -1, lat: [], acceptLat: [] };
    counters.set(name, c);
  }
  return c;
}

// A 20 ms sampler keeps a cheap series of delivered counts; rates come from it, not per request.
setInterval(() => {
  const t = nowMs();
  for (const c of counters.values()) {
    if (c.ok !== c.lastSampled) {
      c.series.push([t, c.ok]);
      c.lastSampled = c.ok;
    }
  }
}, 20).unref();

function percentiles(values: number[]): { count: number; p50: number; p95: number; p99: number; max: number } | undefined {
  if (values.length === 0) return undefined;
  const s = Float64Array.from(values).sort();
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
  return { count: s.length, p50: at(50), p95: at(95), p99: at(99), max: s[s.length - 1]! };
}

const server = createServer((req, res) => {
  const url = req.url ?? '/';
  if (req.method === 'GET' && url === '/stats') {
    const out: Record<string, unknown> = {};
    for (const [name, c] of counters) {
      out[name] = { ok: c.ok, fail: c.fail, series: [...c.series, [nowMs(), c.ok]], lat: percentiles(c.lat), acceptLat: percentiles(c.acceptLat) };
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
    return;
  }
  if (req.method === 'POST' && url === '/reset') {
    counters.clear();
    res.writeHead(204).end();
    return;
  }
  const m = /^\/r\/([^/]+)\/(\d+)(\/lat)?/.exec(url);
  if (!m) {
    res.writeHead(404).end();
    return;
  }
  const c = counter(m[1]!);
  const failPct = Number(m[2]);
  const wantLat = m[3] !== undefined;
  const chunks: Buffer[] = [];
  req.on('data', (d: Buffer) => {
    if (wantLat) chunks.push(d);
  });
  req.on('end', () => {
    if (failPct > 0 && (failPct >= 100 || Math.random() * 100 < failPct)) {
      c.fail++;
      res.writeHead(500, { 'content-length': '0' }).end();
      return;
    }
    c.ok++;
    if (wantLat) {
      const t = nowMs();
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { timestamp?: string; payload?: { t?: number } };
        if (typeof body.payload?.t === 'number') c.lat.push(t - body.payload.t / 1000);
        if (body.timestamp) c.acceptLat.push(t - Date.parse(body.timestamp));
      } catch {
        // not a benchmark body; counted, not timed
      }
    }
    res.writeHead(200, { 'content-length': '0' }).end();
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const a = server.address();
  process.stdout.write(`READY ${typeof a === 'object' && a ? a.port : 0}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
