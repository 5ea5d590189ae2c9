import { defineConfig } from 'vitest/config';
import { mutationTestFiles } from './stryker.config.mjs';

// Stryker's test-runner processes carry STRYKER_MUTATOR_WORKER: there, run only the suites that
// exercise the mutated files (see stryker.config.mjs).
const underStryker = process.env['STRYKER_MUTATOR_WORKER'] !== undefined;

export default defineConfig({
  test: {
    include: underStryker ? mutationTestFiles : ['test/**/*.test.ts'],
    // Seeds fast-check (FC_SEED overrides; see the file).
    setupFiles: ['test/setup-fast-check.ts'],
    testTimeout: 60_000,
    // Two cores in CI: more workers than that only adds contention.
    maxWorkers: 2,
  },
});
