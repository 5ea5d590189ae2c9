import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    // Two cores in CI: more workers than that only adds contention.
    maxWorkers: 2,
  },
});
