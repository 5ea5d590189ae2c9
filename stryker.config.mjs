// Mutation testing of the core numeric code: `npm run test:mutation` (slow: minutes per file on
// two cores, so a tool, not a CI step). One file: `npx stryker run --mutate src/ops/reduce.ts`.
// @ts-check

/**
 * The suites that exercise the mutated files (both backends each), so a run stays minutes long.
 * vitest.config.ts narrows its `include` to these inside Stryker's worker processes. (Stryker's
 * own `testFiles` option would do it too, but with it the vitest runner activates static
 * mutants — module-level constants — after the module has loaded, so they all "survive":
 * stryker-js issues #6144 and #6209.)
 */
export const mutationTestFiles = [
  'test/autograd.test.ts',
  'test/ops-grad.test.ts',
  'test/properties.test.ts',
  'test/tensor.test.ts',
  'test/fused.test.ts',
  'test/optim.test.ts',
  'test/nn.test.ts',
  'test/torch-fixtures.test.ts',
  'test/errors.test.ts',
  'test/broadcast-grad.test.ts',
  'test/reduce-ties.test.ts',
  'test/losses-edge.test.ts',
  'test/optim-reference.test.ts',
  'test/elementwise-edge.test.ts',
  'test/integrity.test.ts',
];

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  // Files to mutate: the autograd core, the ops and losses whose gradients it runs, the
  // optimizers, and the TS backend's broadcasting and fused kernels.
  mutate: [
    'src/autograd.ts',
    'src/ops/elementwise.ts',
    'src/ops/reduce.ts',
    'src/nn/losses.ts',
    'src/optim/adam.ts',
    'src/optim/sgd.ts',
    'src/backend/js/broadcast.ts',
    'src/backend/js/fused.ts',
  ],
  // Run the suites above (vitest.config.ts picks them), not vitest's guess of related files.
  vitest: { configFile: 'vitest.config.ts', related: false },
  coverageAnalysis: 'perTest',
  // Two cores shared with other work; raise with --concurrency on a free machine.
  concurrency: 1,
  timeoutMS: 20_000,
  ignorePatterns: ['dist', 'demo', 'bench', 'examples', 'coverage', '*.tgz'],
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'coverage/mutation/mutation.html' },
  jsonReporter: { fileName: 'coverage/mutation/mutation.json' },
  thresholds: { high: 90, low: 80, break: null },
};
