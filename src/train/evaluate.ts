import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { noGrad } from '../autograd.js';
import { type Dataset, TensorDataset } from '../data/dataset.js';
import { DataLoader } from '../data/loader.js';
import { bceWithLogits, crossEntropy, l1Loss, mseLoss, nllLoss } from '../nn/losses.js';
import type { Module } from '../nn/module.js';
import { concat } from '../ops/indexing.js';
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

export function resolveLoss(loss: LossLike | undefined): (o: Tensor, t: Tensor) => Tensor {
  if (typeof loss === 'function') return loss;
  const name = loss ?? 'crossEntropy';
  const f = LOSSES[name];
  if (f === undefined) throw new Error(`unknown loss '${String(name)}'; use one of ${Object.keys(LOSSES).join(', ')} or a function`);
  if (name !== 'crossEntropy' && name !== 'nll') return f;
  return (o, t) => {
    // Over one class the softmax is 1 and the loss 0 whatever the weights: a regression model
    // that forgot `loss: 'mse'` would report a perfect, untrained run.
    if (o.ndim === 2 && o.shape[1] === 1) {
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
export function resolveMetrics(list: readonly MetricLike[]): Metric[] {
  return list.map((m) => {
    if (typeof m === 'string') return metricByName(m);
    if (m !== null && typeof m === 'object' && typeof m.update === 'function' && typeof m.compute === 'function') return m;
    throw new Error('metrics must be names or objects with reset(), update() and compute()');
  });
}

/** Accepts a DataLoader, a dataset, or an [x, y] pair of tensors; datasets get batched here. */
export function toLoader(
  what: string,
  data: DataLoader<[Tensor, Tensor]> | Dataset<[Tensor, Tensor]> | readonly [Tensor, Tensor],
  batchSize: number,
  shuffle: boolean,
): DataLoader<[Tensor, Tensor]> {
  if (data instanceof DataLoader) return data;
  if (Array.isArray(data) && data.length === 2 && data[0] instanceof Tensor && data[1] instanceof Tensor) {
    return new DataLoader(new TensorDataset(data[0], data[1]), { batchSize, shuffle });
  }
  const d = data as Dataset<[Tensor, Tensor]>;
  if (d !== null && typeof d === 'object' && typeof d.get === 'function' && Number.isInteger(d.length)) {
    return new DataLoader(d, { batchSize, shuffle });
  }
  throw new Error(`${what} must be a DataLoader, a Dataset or an [x, y] pair of tensors`);
}

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

export interface EvaluateResult {
  /** Mean loss over the samples. */
  loss: number;
  /** Each metric's value, e.g. { accuracy: 0.97 }. */
  metrics: Record<string, number>;
  samples: number;
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
 */
export async function evaluate(
  model: Module,
  data: DataLoader<[Tensor, Tensor]> | Dataset<[Tensor, Tensor]> | readonly [Tensor, Tensor],
  options: EvaluateOptions = {},
): Promise<EvaluateResult> {
  const loader = toLoader('evaluate: data', data, options.batchSize ?? 256, false);
  const lossFn = resolveLoss(options.loss);
  const metrics = resolveMetrics(options.metrics ?? defaultMetrics(options.loss));
  for (const m of metrics) m.reset();
  let cm: ConfusionMatrix | undefined;
  return inEval(model, async () => {
    let lossSum = 0;
    let samples = 0;
    for (const [x, y] of loader.transientBatches()) {
      noGrad(() => {
        const out = model.forward(x);
        const n = x.shape[0]!;
        lossSum += lossFn(out, y).item() * n;
        samples += n;
        for (const m of metrics) m.update(out, y);
        if (options.confusionMatrix) {
          cm ??= new ConfusionMatrix(out.shape[1]!, options.classNames);
          cm.update(out, y);
        }
      });
      await yieldToEventLoop();
      if (options.signal?.aborted) throw options.signal.reason ?? new Error('evaluate: aborted');
    }
    const result: EvaluateResult = {
      loss: samples ? lossSum / samples : Number.NaN,
      metrics: Object.fromEntries(metrics.map((m) => [m.name, m.compute()])),
      samples,
    };
    if (cm !== undefined) result.confusionMatrix = cm;
    return result;
  });
}

export interface PredictOptions {
  /** Rows per forward pass. Default 256. */
  batchSize?: number;
}

/**
 * The model's outputs for every row of `input` (a tensor [N, ...], a dataset or a DataLoader whose
 * first element is the input), in eval mode, without a graph, batched. Returns [N, outputs].
 */
export function predict(model: Module, input: Tensor | Dataset | DataLoader<Tensor[]>, options: PredictOptions = {}): Tensor {
  const batchSize = options.batchSize ?? 256;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`predict: batchSize must be a positive integer, got ${batchSize}`);
  let loader: Iterable<Tensor[]>;
  if (input instanceof Tensor) {
    if (input.ndim === 0) throw new Error('predict: input must have a batch dim, got a 0-d tensor');
    loader = new DataLoader(new TensorDataset(input) as Dataset<[Tensor]>, { batchSize });
  } else if (input instanceof DataLoader) {
    loader = input;
  } else if (input !== null && typeof input === 'object' && typeof (input as Dataset).get === 'function') {
    loader = new DataLoader(input as Dataset, { batchSize });
  } else {
    throw new Error('predict: input must be a Tensor, a Dataset or a DataLoader');
  }
  const was = model.training;
  model.eval();
  try {
    const outs: Tensor[] = [];
    noGrad(() => {
      for (const batch of loader) outs.push(model.forward(batch[0]!));
    });
    if (outs.length === 0) throw new Error('predict: no input rows');
    return outs.length === 1 ? outs[0]! : noGrad(() => concat(outs, 0));
  } finally {
    model.train(was);
  }
}
