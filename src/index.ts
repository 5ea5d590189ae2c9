/**
 * tensorgrad's public API. Everything users can import is re-exported here; nothing else is public.
 */
import { announceBackend, registerCopy } from './backend/index.js';
import { join } from 'node:path';
import { packageRoot } from './backend/root.js';
export { Tensor } from './tensor.js';
export type { NestedArray, TensorLike, IndexLike, BackwardOptions } from './tensor.js';
export type { Shape } from './shape.js';
export { noGrad, isGradEnabled } from './autograd.js';
export type { GradNode, SavedTensor } from './autograd.js';
export { tensor, zeros, ones, full, rand, randn, arange, eye, zerosLike, onesLike } from './creation.js';
export type { TensorOptions } from './creation.js';
export { manualSeed, Generator, defaultGenerator } from './random.js';
export { backendInfo, setNumThreads } from './backend/index.js';
export type { BackendInfo } from './backend/index.js';
export { emptyCache } from './pool.js';
export { add, sub, mul, div, neg, pow, sqrt, exp, log, abs, clamp } from './ops/elementwise.js';
export { relu, leakyRelu, sigmoid, tanh, gelu } from './ops/activation.js';
export { softmax, logSoftmax } from './ops/softmax.js';
export { matmul } from './ops/matmul.js';
export { linear, linearRelu } from './ops/linear.js';
export { reshape, flatten, transpose, permute, squeeze, unsqueeze } from './ops/shape.js';
export { sum, mean, max, min, argmax, argmin, argmaxIndices, argminIndices } from './ops/reduce.js';
export { indexSelect, slice, concat, stack } from './ops/indexing.js';
export { dropout } from './ops/dropout.js';
export * from './nn/index.js';
export * from './optim/index.js';
export * from './data/index.js';
export * from './train/index.js';
export * from './io/index.js';

// Announce a fallback to the TypeScript backend (no loadable native addon) when the library loads,
// on stderr, once: not after the first minutes of synchronous work.
announceBackend();
// `__filename` exists only in the CommonJS build.
registerCopy(
  typeof __filename === 'string' ? 'CommonJS' : 'an ES module',
  typeof __filename === 'string' ? __filename : join(packageRoot(), 'dist', 'esm', 'index.js'),
);
