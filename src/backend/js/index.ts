import type { Backend } from '../backend.js';
import { binary, sumTo } from './broadcast.js';
import { adamStep, adamSteps, crossEntropy, rmspropStep, sgdStep } from './fused.js';
import { fingerprint } from './fingerprint.js';
import { copyBlocks, gatherRows, normPart, scatterAddRows, scatterArg, shareEqual } from './gather.js';
import { gemm } from './gemm.js';
import { composedLinearChain } from '../linear-chain.js';
import { linear, linearBackward } from './linear.js';
import { bceLoss, bceLossGrad, nllLoss, nllLossGrad } from './losses.js';
import { permute } from './permute.js';
import { dropoutMask, fillUniform } from './random.js';
import { reduce } from './reduce.js';
import { softmax, softmaxGrad } from './softmax.js';
import { unary, unaryGrad } from './unary.js';

/** The pure-TypeScript backend: always available, single-threaded. */
export const jsBackend: Backend = {
  name: 'js',
  info: () => ({ backend: 'js', isa: 'js', threads: 1 }),
  gemm,
  linear,
  linearBackward,
  linearChain: composedLinearChain(linear),
  setNumThreads: () => {},
  binary,
  unary,
  unaryGrad,
  sumTo,
  reduce,
  softmax,
  softmaxGrad,
  permute,
  gatherRows,
  scatterAddRows,
  copyBlocks,
  scatterArg,
  shareEqual,
  normPart,
  crossEntropy,
  adamStep,
  adamSteps,
  sgdStep,
  rmspropStep,
  nllLoss,
  nllLossGrad,
  bceLoss,
  bceLossGrad,
  fillUniform,
  dropoutMask,
  fingerprint,
};
