import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, type Placement } from './procs.js';

export interface WrkResult {
  requests: number;
  durationS: number;
  /** Responses that were 2xx/3xx, per second. */
  okPerS: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  /** Client-side request latency in milliseconds. */
  latencyMs: { p50: number; p90: number; p95: number; p99: number; max: number; mean: number };
}

// done() prints one JSON line so the harness never scrapes wrk's human output.
const DONE = `
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},"lat":{"p50":%d,"p90":%d,"p95":%d,"p99":%d,"max":%d,"mean":%f}}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99), latency.max, latency.mean))
end
`;

/** Lua lines that set wrk's default headers: JSON content and `headers`. */
function headerLines(headers: Record<string, string>): string {
  return Object.entries({ 'content-type': 'application/json', ...headers }).map(([k, v]) => `wrk.headers["${k}"] = "${v}"\n`).join('');
}

/** A script that POSTs the same body on every request. */
export async function postScript(dir: string, name: string, body: string, headers: Record<string, string> = {}): Promise<string> {
  const file = join(dir, `${name}.lua`);
  const hs = headerLines(headers);
  await writeFile(file, `wrk.method = "POST"\n${hs}wrk.body = [==[${body}]==]\n${DONE}`);
  return file;
}

/**
 * A script that POSTs `body` with every occurrence of `placeholder` replaced by a fresh 8-digit
 * number (a counter per wrk thread, so one thread never repeats one): batches whose ordering keys are
 * all new. The placeholder is 8 characters, so the body keeps its length.
 */
export async function countingPostScript(dir: string, name: string, body: string, placeholder: string, headers: Record<string, string> = {}): Promise<string> {
  if (placeholder.length !== 8) throw new Error('countingPostScript: the placeholder must be 8 characters, the width of the numbers that replace it');
  const parts = body.split(placeholder);
  const file = join(dir, `${name}.lua`);
  const hs = headerLines(headers);
  await writeFile(
    file,
    `wrk.method = "POST"
${hs}local parts = { ${parts.map((p) => `[==[${p}]==]`).join(', ')} }
local n, buf = 0, {}
function request()
  for i = 1, #parts - 1 do
    n = n + 1
    buf[2 * i - 1] = parts[i]
    buf[2 * i] = string.format('%08d', n)
  end
  buf[2 * #parts - 1] = parts[#parts]
  return wrk.format(nil, nil, nil, table.concat(buf))
end
${DONE}`,
  );
  return file;
}

/**
 * A script for open-loop load at `ratePerS` (wrk2's idea in plain wrk): the thread keeps one Poisson
 * schedule of send times, and each connection that finishes a response waits for the next free slot
 * (`delay()`), or sends at once when the schedule is behind. The offered rate therefore does not drop
 * when responses slow down, as long as connections are free. Every body carries its slot time in
 * microseconds since the epoch (`payload.t`, clock_gettime through LuaJIT's FFI), not the moment it
 * went out, so time spent waiting for a connection counts as latency (no coordinated omission).
 * Requests sent as connections open (before any slot) carry their actual send time.
 */
export async function pacedScript(dir: string, name: string, ratePerS: number, padding: string, headers: Record<string, string> = {}): Promise<string> {
  const hs = Object.entries({ 'content-type': 'application/json', ...headers }).map(([k, v]) => `["${k}"] = "${v}"`).join(', ');
  const file = join(dir, `${name}.lua`);
  await writeFile(
    file,
    `local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec[1]")
local function now_us()
  ffi.C.clock_gettime(0, ts)
  return tonumber(ts[0].tv_sec) * 1000000 + math.floor(tonumber(ts[0].tv_nsec) / 1000)
end
local pad = [==[${padding}]==]
local mean_us = ${1e6 / ratePerS}
local next_slot = nil
local slots, first, last = {}, 1, 0
function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end
function delay()
  local now = now_us()
  next_slot = (next_slot or now) + (-math.log(1 - math.random()) * mean_us)
  if next_slot < now - 1000000 then next_slot = now - 1000000 end
  last = last + 1
  slots[last] = next_slot
  local wait = (next_slot - now) / 1000
  if wait < 0 then return 0 end
  return math.floor(wait + 0.5)
end
function request()
  local t = now_us()
  if first <= last then
    t = math.floor(slots[first])
    slots[first] = nil
    first = first + 1
  end
  local body = string.format('{"userID":"bench","type":"bench.e","payload":{"t":%d,"pad":"%s"}}', t, pad)
  return wrk.format("POST", nil, {${hs}}, body)
end
${DONE}`,
  );
  return file;
}

/** Runs wrk (one thread, on the infrastructure CPU unless placed elsewhere) and parses the JSON its script prints. */
export async function wrk(url: string, script: string, opts: { connections: number; durationS: number; threads?: number; placement?: Placement }): Promise<WrkResult> {
  const args = ['-t', String(opts.threads ?? 1), '-c', String(opts.connections), '-d', `${Math.max(1, Math.round(opts.durationS))}s`, '--timeout', '10s', '-s', script, url];
  const out = await run(opts.placement ?? 'infra', 'wrk', args, { timeoutMs: (opts.durationS + 60) * 1000 });
  const line = out.split('\n').find((l) => l.startsWith('WRKJSON '));
  if (!line) throw new Error(`wrk printed no result:\n${out}`);
  const j = JSON.parse(line.slice(8)) as { requests: number; duration_us: number; errors: WrkResult['errors']; lat: Record<string, number> };
  const durationS = j.duration_us / 1e6;
  const bad = j.errors.status + j.errors.timeout;
  const ms = (us: number | undefined) => (us ?? 0) / 1000;
  return {
    requests: j.requests,
    durationS,
    okPerS: Math.max(0, j.requests - bad) / durationS,
    errors: j.errors,
    latencyMs: { p50: ms(j.lat.p50), p90: ms(j.lat.p90), p95: ms(j.lat.p95), p99: ms(j.lat.p99), max: ms(j.lat.max), mean: ms(j.lat.mean) },
  };
}
