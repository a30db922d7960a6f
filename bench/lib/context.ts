import type { BenchOptions } from './options.js';
import type { HeraldEnv } from './herald.js';
import type { ReceiverHandle } from './receiver-client.js';
import type { BenchRedis } from './redis.js';
import type { Figure } from './stats.js';

/** What every scenario gets: options, the private Redis and receiver, paths, and a logger for progress. */
export interface Ctx {
  opts: Readonly<BenchOptions>;
  redis: BenchRedis;
  receiver: ReceiverHandle;
  herald: HeraldEnv;
  /** Compiled bench scripts (bench/dist). */
  dist: string;
  tmpDir: string;
  logDir: string;
  log: (msg: string) => void;
}

/** Results of a scenario: named figures plus free-form details (errors, key census, CPU use). */
export interface ScenarioResult {
  figures: Record<string, Figure>;
  details?: Record<string, unknown>;
}
