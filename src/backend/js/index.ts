import type { Backend } from '../backend.js';
import { binary, sumTo } from './broadcast.js';
import { adamStep, adamSteps, crossEntropy, rmspropStep, sgdStep } from './fused.js';
import { fingerprint } from './fingerprint.js';
import { copyBlocks, gatherRows, normPart, scatterAddRows, scatterArg, shareEqual } from './gather.js';
import { gemm, jsThreads, releaseJsGemmScratch, setJsThreads } from './gemm-threads.js';
import { composedLinearChain } from '../linear-chain.js';
import { linear, linearBackward } from './linear.js';
import { bceLoss, bceLossGrad, nllLoss, nllLossGrad } from './losses.js';
import { permute } from './permute.js';
import { dropoutMask, fillUniform } from './random.js';
import { reduce } from './reduce.js';
import { softmax, softmaxGrad } from './softmax.js';
import { unary, unaryGrad } from './unary.js';

/** The pure-TypeScript backend: always available; its GEMM splits over worker threads (gemm-threads.ts). */
export const jsBackend: Backend = {
  name: 'js',
  info: () => ({ backend: 'js', isa: 'js', threads: jsThreads() }),
  gemm,
  linear,
  linearBackward,
  linearChain: composedLinearChain(linear),
  setNumThreads: setJsThreads,
  releaseScratch: releaseJsGemmScratch,
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
