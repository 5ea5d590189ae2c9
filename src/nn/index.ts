export { Module, parameter, isParameter } from './module.js';
export { Linear, Sequential, Identity, Flatten, ReLU, LeakyReLU, Sigmoid, Tanh, GELU, Softmax, LogSoftmax, Dropout } from './layers.js';
export type { LinearOptions } from './layers.js';
export * as init from './init.js';
export { mseLoss, l1Loss, crossEntropy, nllLoss, bceWithLogits, bce } from './losses.js';
export type { Reduction, ReductionOptions, CrossEntropyOptions, BceWithLogitsOptions } from './losses.js';
export { summary } from './summary.js';
export type { LayerSummary } from './summary.js';
