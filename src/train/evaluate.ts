import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { noGrad } from '../autograd.js';
import { type Dataset, TensorDataset } from '../data/dataset.js';
import { DataLoader } from '../data/loader.js';
import { bceWithLogits, crossEntropy, l1Loss, mseLoss, nllLoss } from '../nn/losses.js';
import { Module } from '../nn/module.js';
import { requireKnownOptions } from '../ops/args.js';
import { concat, slice } from '../ops/indexing.js';
import { shapeStr, valueStr } from '../shape.js';
import { Tensor } from '../tensor.js';
import { ConfusionMatrix, type Metric, metricByName } from './metrics.js';

/** The loss functions fit/evaluate know by name. */
export type LossName = 'crossEntropy' | 'nll' | 'mse' | 'l1' | 'bceWithLogits';
/** A loss: (model output, target) → one-element tensor, or a name. */
export type LossLike = LossName | ((output: Tensor, target: Tensor) => Tensor);
/** A metric by name ('accuracy', 'top5') or a Metric object. */
export type MetricLike = string | Metric;

const LOSSES: Record<LossName, (o: Tensor, t: Tensor) => Tensor> = {
  crossEntropy: (o, t) => crossEntropy(o, t),
  nll: (o, t) => nllLoss(o, t),
  mse: (o, t) => mseLoss(o, t),
  l1: (o, t) => l1Loss(o, t),
  bceWithLogits: (o, t) => bceWithLogits(o, t),
};

export function checkModel(who: string, model: unknown): Module {
  if (!(model instanceof Module)) throw new Error(`${who}: model must be a Module, got ${valueStr(model)}`);
  return model;
}

/** A batch size option, checked here so the error names the function the user called, not DataLoader. */
export function checkBatchSize(who: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new Error(`${who}: batchSize must be a positive integer, got ${valueStr(v)}`);
  return v;
}

export function checkSignal(who: string, v: unknown): AbortSignal | undefined {
  if (v !== undefined && !(v instanceof AbortSignal)) throw new Error(`${who}: signal must be an AbortSignal, got ${valueStr(v)}`);
  return v;
}

export function resolveLoss(who: string, loss: LossLike | undefined): (o: Tensor, t: Tensor) => Tensor {
  if (typeof loss === 'function') {
    const user = loss;
    return (o, t) => {
      const l: unknown = user(o, t);
      // backward() and item() need one value; anything else would fail later with a vaguer message.
      if (!(l instanceof Tensor)) throw new Error(`${who}: the loss function must return a Tensor, got ${valueStr(l)}`);
      if (l.size !== 1) throw new Error(`${who}: the loss function must return a single value, got shape ${shapeStr(l.shape)}`);
      return l;
    };
  }
  const name: unknown = loss ?? 'crossEntropy';
  const f = typeof name === 'string' && Object.hasOwn(LOSSES, name) ? LOSSES[name as LossName] : undefined;
  if (f === undefined) {
    const shown = typeof name === 'string' ? `'${name.length > 40 ? `${name.slice(0, 40)}…` : name}'` : valueStr(name);
    throw new Error(`${who}: unknown loss ${shown}; use one of ${Object.keys(LOSSES).join(', ')} or a function`);
  }
  if (name !== 'crossEntropy' && name !== 'nll') return f;
  return (o, t) => {
    // Over one class the softmax is 1 and the loss 0 whatever the weights: a regression model
    // that forgot `loss: 'mse'` would report a perfect, untrained run.
    if (o instanceof Tensor && o.ndim === 2 && o.shape[1] === 1) {
      throw new Error(`${name}: the model has a single output, so every prediction is that one class (loss 0); for regression pass loss: 'mse', for two classes use 2 outputs or 'bceWithLogits'`);
    }
    return f(o, t);
  };
}

/** The metrics reported when none are named: accuracy for the classification losses (the default loss is one). */
export function defaultMetrics(loss: LossLike | undefined): MetricLike[] {
  return loss === undefined || loss === 'crossEntropy' || loss === 'nll' ? ['accuracy'] : [];
}

/** Metric objects for names (fresh ones), or the objects themselves. */
export function resolveMetrics(who: string, list: unknown): Metric[] {
  if (!Array.isArray(list)) throw new Error(`${who}: metrics must be an array of names ('accuracy', 'top5') or Metric objects, got ${valueStr(list)}`);
  return list.map((m: unknown, i) => {
    if (typeof m === 'string') {
      try {
        return metricByName(m);
      } catch (e) {
        throw new Error(`${who}: ${(e as Error).message}`, { cause: e });
      }
    }
    const o = m as Partial<Metric> | null;
    if (o !== null && typeof o === 'object' && typeof o.reset === 'function' && typeof o.update === 'function' && typeof o.compute === 'function' && typeof o.name === 'string') return o as Metric;
    throw new Error(`${who}: metrics[${i}] must be a name or an object with name, reset(), update() and compute(), got ${valueStr(m)}`);
  });
}

/** Feeds a batch to each metric; a metric refusing it is reported under the caller's name. */
export function updateMetrics(who: string, metrics: readonly Metric[], out: Tensor, y: Tensor): void {
  for (const m of metrics) {
    try {
      m.update(out, y);
    } catch (e) {
      throw new Error(`${who}: metric '${m.name}': ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }
}

/**
 * Accepts a DataLoader, a dataset, or an [x, y] pair of tensors; datasets get batched here. `what`
 * ("fit: train") prefixes every error, including those of the dataset and loader built here.
 */
export function toLoader(
  what: string,
  data: DataLoader<[Tensor, Tensor]> | Dataset<[Tensor, Tensor]> | readonly [Tensor, Tensor],
  batchSize: number,
  shuffle: boolean,
): DataLoader<[Tensor, Tensor]> {
  if (data instanceof DataLoader) return data;
  if (Array.isArray(data)) {
    const [x, y] = data as unknown[];
    if (data.length !== 2 || !(x instanceof Tensor) || !(y instanceof Tensor)) {
      throw new Error(`${what}: an [x, y] pair must hold exactly two Tensors, got ${data.length} items`);
    }
    if (x.ndim === 0 || y.ndim === 0 || x.shape[0] !== y.shape[0]) {
      throw new Error(`${what}: x ${shapeStr(x.shape)} and y ${shapeStr(y.shape)} must have the same number of rows (dim 0)`);
    }
    try {
      return new DataLoader(new TensorDataset(x, y), { batchSize, shuffle });
    } catch (e) {
      throw new Error(`${what}: ${(e as Error).message}`, { cause: e });
    }
  }
  const d = data as Dataset<[Tensor, Tensor]>;
  if (d !== null && typeof d === 'object' && typeof d.get === 'function') {
    try {
      return new DataLoader(d, { batchSize, shuffle });
    } catch (e) {
      throw new Error(`${what}: ${(e as Error).message}`, { cause: e });
    }
  }
  throw new Error(`${what} must be a DataLoader, a Dataset or an [x, y] pair of tensors, got ${valueStr(data)}`);
}

/** Options of evaluate() and evaluateAsync(). */
export interface EvaluateOptions {
  /** Default 'crossEntropy'. */
  loss?: LossLike;
  /** Default ['accuracy'] for classification losses. */
  metrics?: MetricLike[];
  /** Batch size when `data` is a dataset or a pair of tensors. Default 256. */
  batchSize?: number;
  /** Also build a confusion matrix (classification). */
  confusionMatrix?: boolean;
  /** Class names for the confusion matrix. */
  classNames?: readonly string[];
  /** Aborting rejects with the signal's reason between batches. */
  signal?: AbortSignal | undefined;
}

/** What evaluate() returns. */
export interface EvaluateResult {
  /** Mean loss over the samples. */
  loss: number;
  /** Each metric's value, e.g. { accuracy: 0.97 }. */
  metrics: Record<string, number>;
  /** Number of samples evaluated. */
  samples: number;
  /** The confusion matrix, when `confusionMatrix: true` was asked for. */
  confusionMatrix?: ConfusionMatrix;
}

/** Runs `fn` with the model in eval mode, then restores its mode. */
function inEval<T>(model: Module, fn: () => Promise<T>): Promise<T> {
  const was = model.training;
  model.eval();
  return fn().finally(() => model.train(was));
}

/**
 * Loss and metrics of `model` on `data`, in eval mode (Dropout off) and without building a graph.
 * Yields to the event loop between batches.
 * @param model - the model to evaluate
 * @param data - a DataLoader, a dataset of (input, target) pairs, or an [x, y] pair of tensors
 * @param options - loss, metrics, batchSize (default 256), confusionMatrix, classNames, signal
 * @example
 * ```ts
 * const { loss, metrics } = await evaluate(model, [xTest, yTest]);
 * console.log(loss, metrics.accuracy);
 * ```
 */
export function evaluate(
  model: Module,
  data: DataLoader<[Tensor, Tensor]> | Dataset<[Tensor, Tensor]> | readonly [Tensor, Tensor],
  options: EvaluateOptions = {},
): Promise<EvaluateResult> {
  return evaluateWith('evaluate', model, data, options, null);
}

/**
 * The model's outputs for x in eval mode without a graph, computed off the JS thread (set by
 * train/async.ts, which imports this file).
 */
export type AsyncForward = (model: Module, x: Tensor) => Promise<Tensor> | Tensor;

/**
 * evaluate() and evaluateAsync(): with `forwardAsync` null, each batch's forward pass runs here
 * with the model in eval mode for the whole run; otherwise forwardAsync runs it (and sets eval
 * mode only while it records the pass), and the loss and metrics are computed here after it.
 */
export async function evaluateWith(
  who: string,
  model: Module,
  data: DataLoader<[Tensor, Tensor]> | Dataset<[Tensor, Tensor]> | readonly [Tensor, Tensor],
  options: EvaluateOptions,
  forwardAsync: AsyncForward | null,
): Promise<EvaluateResult> {
  checkModel(who, model);
  const o = requireKnownOptions(who, options, ['loss', 'metrics', 'batchSize', 'confusionMatrix', 'classNames', 'signal']);
  const batchSize = checkBatchSize(who, o['batchSize'], 256);
  const wantCm = o['confusionMatrix'] ?? false;
  if (typeof wantCm !== 'boolean') throw new Error(`${who}: confusionMatrix must be a boolean, got ${valueStr(wantCm)}`);
  const classNames = o['classNames'];
  if (classNames !== undefined && (!Array.isArray(classNames) || !classNames.every((n) => typeof n === 'string'))) {
    throw new Error(`${who}: classNames must be an array of strings, got ${valueStr(classNames)}`);
  }
  const signal = checkSignal(who, o['signal']);
  const lossFn = resolveLoss(who, o['loss'] as LossLike | undefined);
  const metrics = resolveMetrics(who, o['metrics'] ?? defaultMetrics(o['loss'] as LossLike | undefined));
  const loader = toLoader(`${who}: data`, data, batchSize, false);
  for (const m of metrics) m.reset();
  let cm: ConfusionMatrix | undefined;
  const run = async (): Promise<EvaluateResult> => {
    let lossSum = 0;
    let samples = 0;
    for (const [x, y] of loader.transientBatches()) {
      // A forward that returns a Tensor (evaluateAsync on the TS backend) is not awaited, so all
      // passes run in one synchronous stretch with the weights of the call.
      const r = forwardAsync === null ? undefined : forwardAsync(model, x);
      const out = r instanceof Promise ? await r : r;
      noGrad(() => {
        const o = out ?? model.forward(x);
        const n = x.shape[0]!;
        lossSum += lossFn(o, y).item() * n;
        samples += n;
        updateMetrics(who, metrics, o, y);
        if (wantCm) {
          if (!(o instanceof Tensor) || o.ndim !== 2) throw new Error(`${who}: confusionMatrix needs outputs [batch, classes], got ${o instanceof Tensor ? shapeStr(o.shape) : valueStr(o)}`);
          cm ??= new ConfusionMatrix(o.shape[1]!, classNames as string[] | undefined);
          cm.update(o, y);
        }
      });
      if (forwardAsync === null) await yieldToEventLoop();
      if (signal?.aborted) throw signal.reason ?? new Error(`${who}: aborted`);
    }
    const result: EvaluateResult = {
      loss: samples ? lossSum / samples : Number.NaN,
      metrics: Object.fromEntries(metrics.map((m) => [m.name, m.compute()])),
      samples,
    };
    if (cm !== undefined) result.confusionMatrix = cm;
    return result;
  };
  return forwardAsync === null ? inEval(model, run) : run();
}

/** Options of predict(). */
export interface PredictOptions {
  /** Rows per forward pass. Default 256. */
  batchSize?: number;
}

/** Checks predict's input and options; the batches to run (empty when the input has no rows). */
export function predictBatches(
  who: string,
  model: Module,
  input: Tensor | Dataset | DataLoader<Tensor[]>,
  options: object,
  known: readonly string[],
): { batches: Iterable<Tensor[]>; options: Record<string, unknown> } {
  checkModel(who, model);
  const o = requireKnownOptions(who, options, known);
  const batchSize = checkBatchSize(who, o['batchSize'], 256);
  if (input instanceof Tensor) {
    input._check(who);
    if (input.ndim === 0) throw new Error(`${who}: input must have a batch dim, got a 0-d tensor`);
    return { batches: rowBatches(input, batchSize), options: o };
  }
  if (input instanceof DataLoader) return { batches: input, options: o };
  if (input !== null && typeof input === 'object' && !Array.isArray(input) && typeof (input as Dataset).get === 'function') {
    try {
      return { batches: new DataLoader(input as Dataset, { batchSize }), options: o };
    } catch (e) {
      throw new Error(`${who}: ${(e as Error).message}`, { cause: e });
    }
  }
  throw new Error(`${who}: input must be a Tensor, a Dataset or a DataLoader, got ${valueStr(input)}`);
}

/**
 * @internal Batches of a tensor's rows as views (what a DataLoader over it without shuffling
 * yields), without building one: a batch-1 predict() pays only the forward pass. None for no rows.
 */
export function* rowBatches(x: Tensor, batchSize: number): Generator<Tensor[]> {
  const rows = x.shape[0]!;
  if (rows <= batchSize) {
    if (rows > 0) yield [x];
    return;
  }
  for (let start = 0; start < rows; start += batchSize) yield [noGrad(() => slice(x, start, start + batchSize))];
}

/**
 * The model's outputs for every row of `input` (a tensor [N, ...], a dataset or a DataLoader whose
 * first element is the input), in eval mode, without a graph, batched. Returns [N, outputs].
 * PyTorch: `model.eval()` then `model(x)` under `torch.no_grad()`, batched.
 * @param model - the model
 * @param input - a tensor [N, ...], a dataset, or a DataLoader
 * @param options - batchSize (default 256)
 * @example
 * ```ts
 * const classes = predict(model, xTest).argmax(1); // [N]
 * ```
 */
export function predict(model: Module, input: Tensor | Dataset | DataLoader<Tensor[]>, options: PredictOptions = {}): Tensor {
  const who = 'predict';
  const { batches } = predictBatches(who, model, input, options, ['batchSize']);
  const was = model.training;
  model.eval();
  try {
    const outs: Tensor[] = [];
    noGrad(() => {
      for (const batch of batches) outs.push(model.forward(batch[0]!));
      // No rows: the model's output for the empty input, as PyTorch gives ([0, outputs]).
      if (outs.length === 0 && input instanceof Tensor) outs.push(model.forward(input));
    });
    if (outs.length === 0) throw new Error('predict: no input rows');
    return outs.length === 1 ? outs[0]! : noGrad(() => concat(outs, 0));
  } finally {
    model.train(was);
  }
}
