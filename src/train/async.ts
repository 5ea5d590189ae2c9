import { noGrad } from '../autograd.js';
import { deferred, pin } from '../backend/deferred.js';
import { getBackend } from '../backend/index.js';
import type { DataLoader } from '../data/loader.js';
import type { Dataset } from '../data/dataset.js';
import { Module, setAsyncInference } from '../nn/module.js';
import { concat, slice } from '../ops/indexing.js';
import { valueStr } from '../shape.js';
import { Tensor } from '../tensor.js';
import { type EvaluateOptions, type EvaluateResult, checkSignal, evaluateWith, predict, predictBatches } from './evaluate.js';

export interface PredictAsyncOptions {
  /** Rows per forward pass (each pass is one batch of native work). Default 256. */
  batchSize?: number;
  /** Aborting rejects with the signal's reason between forward passes. */
  signal?: AbortSignal | undefined;
}

/**
 * The model's outputs for x in eval mode without a graph; the kernels run off the JS thread.
 * The pass is recorded synchronously (that is when eval mode is on, and when x and the weights
 * are copied), so the model may change mode or train while the promise is pending.
 */
function forwardAsync(model: Module, x: Tensor, own: ArrayBufferLike | null, weights: Weights): Promise<Tensor> {
  return deferred(() => {
    const was = model.training;
    model.eval();
    try {
      const out: unknown = noGrad(() => model.forward(x));
      if (!(out instanceof Tensor)) throw new Error(`forward() must return a Tensor, got ${valueStr(out)}`);
      return out;
    } finally {
      model.train(was);
    }
  }, own, weights);
}

/** The model's parameters as they were when an async call started (null: read them live). */
type Weights = ReadonlyMap<Float32Array, Float32Array> | null;

/**
 * Pins the weights for a call of several passes, so every pass uses the weights of the moment of
 * the call even if training updates them meanwhile. Only the native path runs passes later; the
 * TypeScript backend runs the whole call at once.
 */
function pinWeights(model: Module): Weights {
  return getBackend().name === 'native' ? pin(model.parameters()) : null;
}

/**
 * predict() that does not hold the event loop: with the native backend each forward pass (one
 * batch of `batchSize` rows) runs its kernels on a libuv worker thread, so a server keeps
 * answering meanwhile. A tensor input is copied when the call starts, and the weights when each
 * pass starts: the caller may change or transfer its arrays at once, and may keep training the
 * model. With the TypeScript backend the work runs on the calling thread and the promise resolves
 * on a later turn of the event loop. Same results as predict().
 */
export async function predictAsync(
  model: Module,
  input: Tensor | Dataset | DataLoader<Tensor[]>,
  options: PredictAsyncOptions = {},
): Promise<Tensor> {
  const who = 'predictAsync';
  const { batches, options: o } = predictBatches(who, model, input, options, ['batchSize', 'signal']);
  const signal = checkSignal(who, o['signal']);
  const aborted = (): boolean => signal?.aborted === true;
  if (aborted()) throw signal!.reason ?? new Error(`${who}: aborted`);
  if (getBackend().name !== 'native') {
    // Nothing runs off the thread: compute now, with everything as it is at the call.
    const out = predict(model, input, { batchSize: o['batchSize'] as number | undefined });
    await new Promise((resolve) => setImmediate(resolve));
    return out;
  }
  const weights = pinWeights(model);
  const outs: Tensor[] = [];
  if (input instanceof Tensor) {
    // The rows are read over several passes: copy them once now, while they are what the caller
    // passed, and hand each pass a view of that private copy (which it need not copy again).
    const own = noGrad(() => input.detach().clone());
    const rows = own.shape[0]!;
    const batchSize = (o['batchSize'] as number | undefined) ?? 256;
    for (let start = 0; start < rows || (rows === 0 && outs.length === 0); start += batchSize) {
      if (aborted()) break;
      const x = rows <= batchSize ? own : noGrad(() => slice(own, start, start + batchSize));
      outs.push(await forwardAsync(model, x, own._buf.buffer, weights));
    }
  } else {
    for (const batch of batches) {
      if (aborted()) break;
      outs.push(await forwardAsync(model, batch[0]!, null, weights));
    }
  }
  if (aborted()) throw signal!.reason ?? new Error(`${who}: aborted`);
  if (outs.length === 0) throw new Error(`${who}: no input rows`);
  return outs.length === 1 ? outs[0]! : noGrad(() => concat(outs, 0));
}

/**
 * evaluate() whose forward passes run off the JS thread (see predictAsync); the loss and the
 * metrics, which are small, are computed on the calling thread after each pass. The model is in
 * eval mode only while each pass is recorded, not for the whole run.
 */
export function evaluateAsync(
  model: Module,
  data: DataLoader<[Tensor, Tensor]> | Dataset<[Tensor, Tensor]> | readonly [Tensor, Tensor],
  options: EvaluateOptions = {},
): Promise<EvaluateResult> {
  let weights: Weights | undefined;
  return evaluateWith('evaluateAsync', model, data, options, (m, x) => forwardAsync(m, x, null, (weights ??= pinWeights(m))));
}

setAsyncInference({ predict: predictAsync, evaluate: evaluateAsync });
