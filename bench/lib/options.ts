import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** Which preset a run uses: `quick` stays under two minutes, `full` is the complete run, `profile` records CPU profiles. */
export type Mode = 'quick' | 'full' | 'profile' | 'compare';

/** Every knob of the benchmark, read once from the environment and the command line, then frozen. */
export interface BenchOptions {
  mode: Mode;
  /** Repetitions of every measured figure; the report shows their median and min–max. */
  runs: number;
  /** Seconds of load per HTTP measurement (after a warm-up of `warmupS`). */
  durationS: number;
  warmupS: number;
  /** Events prefilled for the delivery-at-saturation and failing-destination scenarios. */
  drainEvents: number;
  /** Events in the backlog scenario (each queued for 5 destinations). */
  backlogEvents: number;
  backlogRuns: number;
  /** Size in bytes of each event's `payload` JSON value. */
  payloadBytes: number;
  /** `spec.concurrency` of every benchmark destination, and of the bare BullMQ worker. */
  concurrency: number;
  /** Root of the Herald build under test (holds dist/cmd/herald.js). */
  heraldDir: string;
  /** Label recorded for that build (git revision, or what BENCH_HERALD_LABEL says). */
  heraldLabel?: string;
  /** The node binary that runs that build's Herald processes (BENCH_HERALD_NODE); default the harness's own. */
  heraldNode: string;
  /** `compare` mode: the second build (BENCH_COMPARE), measured interleaved with the first. */
  compareDir?: string;
  compareLabel?: string;
  /** The node binary for the second build (BENCH_COMPARE_NODE); default {@link BenchOptions.heraldNode}. */
  compareNode?: string;
  /** Pin the system under test to CPU 0 and everything else to CPU 1 with taskset. */
  pin: boolean;
  /** Run Redis with AOF (appendfsync everysec) as production does. */
  aof: boolean;
  /** Extra redis-server arguments (BENCH_REDIS_ARGS, space-separated), e.g. `--hash-max-listpack-value 512`. */
  redisArgs: string[];
  /** Replicas of the bench Redis to start (BENCH_REDIS_REPLICAS), on the infrastructure CPU beside it; default 0. */
  replicas: number;
  /** HERALD_ACK_REPLICAS for ingest (BENCH_ACK_REPLICAS): wait for that many replicas after each write; default 0. */
  ackReplicas: number;
  /** Herald's log level in the benchmark (production default: info). */
  logLevel: string;
  /** Comma-separated scenario names to run; empty runs all. */
  only: string[];
  /** `key`: ingest checks an API key on every request (the production default); `off`: HERALD_INGEST_AUTH=off. */
  ingestAuth: 'key' | 'off';
  /** Also run the failing-destination scenario with `spec.circuitBreaker` on the failing one (default: when the build supports it). */
  breaker: boolean;
  /**
   * Sizes of the Redis Clusters the `cluster` scenario measures beside one Redis (BENCH_CLUSTER_PRIMARIES,
   * comma-separated primaries, e.g. `1,3,6`); default 1 and 3: the 1-primary cluster is what the others
   * are divided by to see growth with shards, and what is divided by one Redis to see cluster mode's own cost.
   */
  clusterPrimaries: number[];
  /** Where results go; `tmp/` below it holds logs, Redis data and profiles (git-ignored). */
  resultsDir: string;
  keepLogs: boolean;
}

const PRESETS: Record<Mode, Omit<BenchOptions, 'mode' | 'heraldDir' | 'heraldNode' | 'pin' | 'aof' | 'redisArgs' | 'replicas' | 'ackReplicas' | 'logLevel' | 'only' | 'ingestAuth' | 'breaker' | 'resultsDir' | 'keepLogs' | 'payloadBytes' | 'concurrency' | 'clusterPrimaries'>> = {
  quick: { runs: 3, durationS: 2, warmupS: 1, drainEvents: 3_000, backlogEvents: 2_000, backlogRuns: 1 },
  full: { runs: 3, durationS: 10, warmupS: 3, drainEvents: 60_000, backlogEvents: 1_000_000, backlogRuns: 1 },
  profile: { runs: 1, durationS: 15, warmupS: 2, drainEvents: 60_000, backlogEvents: 0, backlogRuns: 0 },
  compare: { runs: 5, durationS: 3, warmupS: 1, drainEvents: 6_000, backlogEvents: 0, backlogRuns: 0 },
};

/** Whether the Herald build knows `spec.circuitBreaker` (older builds reject it as an unknown field). */
function breakerSupported(heraldDir: string): boolean {
  try {
    return readFileSync(resolve(heraldDir, 'dist/src/api/destination.js'), 'utf8').includes('circuitBreaker');
  } catch {
    return false;
  }
}

/** A node binary named by `name` (a path, or a command on PATH), checked to exist and run. */
function nodeBinary(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  const r = spawnSync(v, ['--version'], { encoding: 'utf8' });
  if (r.status !== 0 || !/^v\d+\./.test(r.stdout)) throw new Error(`${name}=${v} is not a node binary that runs (${r.error?.message ?? r.stderr.trim()})`);
  return v;
}

function num(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got "${v}"`);
  return n;
}

/** A comma-separated list of distinct whole numbers from 1 to 16 (primaries of a bench cluster), in ascending order. */
function primariesList(env: NodeJS.ProcessEnv, name: string, fallback: number[]): number[] {
  const v = env[name];
  if (v === undefined || v.trim() === '') return fallback;
  const ns = v.split(',').map((x) => Number(x.trim()));
  if (ns.some((n) => !Number.isInteger(n) || n < 1 || n > 16)) throw new Error(`${name} must list whole numbers of primaries from 1 to 16, e.g. "1,3,6", got "${v}"`);
  return [...new Set(ns)].sort((a, b) => a - b);
}

function bool(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  return v === '1' || v === 'true' || v === 'yes';
}

/** Parses `--mode quick|full|profile` and the BENCH_* environment variables (see bench/README.md). */
export function loadOptions(argv: string[], env: NodeJS.ProcessEnv, benchDir: string): Readonly<BenchOptions> {
  const modeArg = argv[argv.indexOf('--mode') + 1];
  const mode = (argv.includes('--mode') ? modeArg : env.BENCH_MODE ?? 'quick') as Mode;
  if (!(mode in PRESETS)) throw new Error(`--mode must be quick, full, profile or compare, got "${mode}"`);
  const compareDir = env.BENCH_COMPARE ? resolve(env.BENCH_COMPARE) : undefined;
  if (mode === 'compare' && !compareDir) throw new Error('--mode compare needs BENCH_COMPARE=DIR (the "after" build; BENCH_HERALD is "before")');
  if (compareDir && !existsSync(resolve(compareDir, 'dist/cmd/herald.js'))) throw new Error(`no Herald build at ${compareDir}/dist/cmd/herald.js`);
  const p = PRESETS[mode];
  const heraldDir = resolve(env.BENCH_HERALD ?? resolve(benchDir, '..'));
  if (!existsSync(resolve(heraldDir, 'dist/cmd/herald.js'))) throw new Error(`no Herald build at ${heraldDir}/dist/cmd/herald.js: run \`npm run build\` (or point BENCH_HERALD at a built tree)`);
  const heraldNode = nodeBinary(env, 'BENCH_HERALD_NODE') ?? process.execPath;
  const compareNode = nodeBinary(env, 'BENCH_COMPARE_NODE');
  return Object.freeze({
    mode,
    runs: Math.max(1, Math.round(num(env, 'BENCH_RUNS', p.runs))),
    durationS: num(env, 'BENCH_DURATION', p.durationS),
    warmupS: num(env, 'BENCH_WARMUP', p.warmupS),
    drainEvents: Math.round(num(env, 'BENCH_DRAIN_EVENTS', p.drainEvents)),
    backlogEvents: Math.round(num(env, 'BENCH_BACKLOG', p.backlogEvents)),
    backlogRuns: Math.round(num(env, 'BENCH_BACKLOG_RUNS', p.backlogRuns)),
    payloadBytes: Math.round(num(env, 'BENCH_PAYLOAD_BYTES', 256)),
    concurrency: Math.round(num(env, 'BENCH_CONCURRENCY', 50)),
    heraldDir,
    heraldNode,
    ...(compareNode ? { compareNode } : {}),
    ...(env.BENCH_HERALD_LABEL ? { heraldLabel: env.BENCH_HERALD_LABEL } : {}),
    ...(compareDir ? { compareDir, compareLabel: env.BENCH_COMPARE_LABEL ?? compareDir } : {}),
    pin: bool(env, 'BENCH_PIN', true),
    aof: bool(env, 'BENCH_REDIS_AOF', true),
    redisArgs: (env.BENCH_REDIS_ARGS ?? '').split(' ').filter(Boolean),
    replicas: Math.max(0, Math.round(num(env, 'BENCH_REDIS_REPLICAS', 0))),
    ackReplicas: Math.max(0, Math.round(num(env, 'BENCH_ACK_REPLICAS', 0))),
    logLevel: env.BENCH_LOG_LEVEL ?? 'info',
    only: (env.BENCH_ONLY ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    ingestAuth: env.BENCH_INGEST_AUTH === 'off' ? 'off' : 'key',
    breaker: bool(env, 'BENCH_BREAKER', breakerSupported(heraldDir)),
    clusterPrimaries: primariesList(env, 'BENCH_CLUSTER_PRIMARIES', [1, 3]),
    resultsDir: resolve(env.BENCH_RESULTS ?? resolve(benchDir, 'results')),
    keepLogs: bool(env, 'BENCH_KEEP_LOGS', false),
  });
}
