import { noGrad } from '../autograd.js';
import { deferred, nextTurn, pin } from '../backend/deferred.js';
import { getBackend } from '../backend/index.js';
import type { DataLoader } from '../data/loader.js';
import type { Dataset } from '../data/dataset.js';
import { Module, setAsyncInference } from '../nn/module.js';
import { concat } from '../ops/indexing.js';
import { scratch } from '../ops/util.js';
import { keepsNoInput } from '../nn/layers.js';
import { givePooled } from '../pool.js';
import { valueStr } from '../shape.js';
import { Tensor, tensorProblem } from '../tensor.js';
import { type EvaluateOptions, type EvaluateResult, checkSignal, evaluateWith, predictBatches, rowBatches } from './evaluate.js';

/** Options of predictAsync() and evaluateAsync() (and the Module methods of the same names). */
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
  return deferred(() => forwardNow(model, x), own, weights);
}

/**
 * One pass in eval mode without a graph, on the calling thread: what forwardAsync records, and
 * the whole pass for the TypeScript backend, which has no thread to move work to. Callers run every pass of a call in one synchronous stretch (no await between
 * passes), so, as with the native path's pinned weights, training that interleaves with the
 * pending promise can't change the weights between two passes of one call.
 */
function forwardNow(model: Module, x: Tensor): Tensor {
  const was = model.training;
  model.eval();
  try {
    const out: unknown = noGrad(() => model.forward(x));
    if (!(out instanceof Tensor)) throw new Error(`forward() must return a Tensor, got ${valueStr(out)}`);
    return out;
  } finally {
    model.train(was);
  }
}

/** The model's parameters as they were when an async call started (null: read them live). */
type Weights = Map<Float32Array, Float32Array> | null;

/**
 * Pins the weights for a call of several passes, so every pass uses the weights of the moment of
 * the call even if training updates them meanwhile. Only the native path runs passes later; the
 * TypeScript backend runs the whole call at once.
 */
function pinWeights(who: string, model: Module): Weights {
  if (getBackend().name !== 'native') return null;
  const params = model.parameters();
  // Checked here so a disposed parameter is reported under the caller's name, not "Tensor".
  for (const p of params) p._check(who);
  return pin(params);
}

/**
 * predict() that does not hold the event loop: with the native backend each forward pass (one
 * batch of `batchSize` rows) runs its kernels on a libuv worker thread, so a server keeps
 * answering meanwhile. A tensor input is copied when the call starts, and the weights when each
 * pass starts: the caller may change or transfer its arrays at once, and may keep training the
 * model. With the TypeScript backend the work runs on the calling thread and the promise resolves
 * on a later turn of the event loop. Same results as predict().
 * @param model - the model
 * @param input - a tensor [N, ...], a dataset, or a DataLoader
 * @param options - batchSize (default 256), signal
 * @returns the outputs [N, outputs]
 * @example
 * ```ts
 * // in an HTTP handler: the event loop keeps serving while this runs
 * const logits = await predictAsync(model, batch, { batchSize: 512 });
 * ```
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
  // With the TypeScript backend nothing runs off the thread: every pass runs now, with no await
  // between them (so the weights are those of the call), and the promise resolves a turn later.
  const native = getBackend().name === 'native';
  const weights = pinWeights(who, model);
  const pass = (x: Tensor, own: ArrayBufferLike | null): Tensor | Promise<Tensor> =>
    native ? forwardAsync(model, x, own, weights) : forwardNow(model, x);
  const outs: Tensor[] = [];
  if (input instanceof Tensor) {
    // The rows are read over several passes: copy them once now, while they are what the caller
    // passed, and hand each pass a view of that private copy (which it need not copy again). On
    // both backends, so that a forward returning (a view of) its input does not hand back the
    // caller's array, which the caller may overwrite at once.
    // The copy comes from the buffer pool when it can: a fresh array of a few MB is pages that
    // fault in on this thread as the rows are copied (a 6.4 MB input took 7-9 ms of the event
    // loop on a 2-vCPU VM).
    const own = noGrad(() => scratch(input.shape, who));
    own._write(who).set(input._read(who));
    const batchSize = (o['batchSize'] as number | undefined) ?? 256;
    // No rows: one pass over the empty input, for the model's [0, outputs] (as predict()).
    const views = own.shape[0] === 0 ? [[own]] : rowBatches(own, batchSize);
    for (const [x] of views) {
      if (aborted()) break;
      const out = pass(x!, own._buf.buffer);
      outs.push(out instanceof Promise ? await out : out);
    }
    // Every pass has run. The copy goes back to the pool when nothing can still reach it: no
    // module of the model keeps its input (built-in layers only), and no output is (a view of) it.
    const copy = own._storage.base;
    if (keepsNoInput(model) && outs.every((t) => t._storage.base.buffer !== copy.buffer)) givePooled(copy);
  } else {
    for (const batch of batches) {
      if (aborted()) break;
      const out = pass(batch[0]!, null);
      outs.push(out instanceof Promise ? await out : out);
    }
  }
  if (!native) await nextTurn();
  // Checked after the last pass too: a signal aborted while the promise was pending rejects it
  // on both backends, even when every pass had already run.
  if (aborted()) throw signal!.reason ?? new Error(`${who}: aborted`);
  if (outs.length === 0) throw new Error(`${who}: no input rows`);
  return outs.length === 1 ? outs[0]! : noGrad(() => concat(outs, 0));
}

/**
 * evaluate() whose forward passes run off the JS thread (see predictAsync); the loss and the
 * metrics, which are small, are computed on the calling thread after each pass. The model is in
 * eval mode only while each pass is recorded, not for the whole run.
 * @param model - the model
 * @param data - a DataLoader, a dataset of (input, target) pairs, or an [x, y] pair
 * @param options - loss, metrics, batchSize, confusionMatrix, classNames, signal
 */
export async function evaluateAsync(
  model: Module,
  data: DataLoader<[Tensor, Tensor]> | Dataset<[Tensor, Tensor]> | readonly [Tensor, Tensor],
  options: EvaluateOptions = {},
): Promise<EvaluateResult> {
  const who = 'evaluateAsync';
  // An [x, y] pair is read batch by batch after awaits: copy it now, as predictAsync copies its
  // input, so the caller may overwrite or transfer x and y at once (else later batches read the
  // new values). Anything else invalid is left for evaluateWith to report.
  let own: ArrayBufferLike | null = null;
  const pair: readonly unknown[] | null = Array.isArray(data) ? data : null;
  if (pair !== null && pair.length === 2 && pair.every((t) => tensorProblem(t) === null)) {
    const [x, y] = noGrad(() => (pair as readonly Tensor[]).map((t) => t.detach().clone()));
    own = x!._buf.buffer;
    data = [x!, y!];
  }
  if (getBackend().name !== 'native') {
    // Every pass now, with no await between them (see forwardNow); resolve on a later turn.
    const result = await evaluateWith(who, model, data, options, forwardNow);
    await nextTurn();
    return result;
  }
  let weights: Weights | undefined;
  return evaluateWith(who, model, data, options, (m, x) => forwardAsync(m, x, own, (weights ??= pinWeights(who, m))));
}

setAsyncInference({ predict: predictAsync, evaluate: evaluateAsync });
