import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/chaos/**', 'node_modules/**'],
    // Every answer a test gets from Herald's HTTP API is held to the OpenAPI document.
    setupFiles: ['test/support/api-contract-setup.ts'],
    // Integration files each start their own redis-server; two cores run two files at a time well.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
