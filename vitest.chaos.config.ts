import { defineConfig } from 'vitest/config';

/**
 * `make test-chaos`: the long fault-injection runs (thousands of events, repeated SIGKILLs, Redis
 * crashes). One file at a time, so the processes each file starts have the machine's two cores to
 * themselves and timings stay meaningful.
 */
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.test.ts', 'test/integration/faults-redis-full.test.ts'],
    // Tests that only run here (too load-sensitive for the parallel `make test`) check this.
    env: { HERALD_SUITE: 'chaos' },
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 15 * 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
