/**
 * Loss functions with PyTorch's semantics (torch.nn.functional): reduction 'mean' (default),
 * 'sum' or 'none'. Each custom gradient sits next to its forward.
 */
import { record } from '../autograd.js';
import { getBackend } from '../backend/index.js';
import { shapeStr } from '../shape.js';
import { Tensor } from '../tensor.js';
import { empty } from '../ops/util.js';

export type Reduction = 'mean' | 'sum' | 'none';

function reduce(loss: Tensor, reduction: Reduction, op: string): Tensor {
  if (reduction === 'mean') return loss.mean();
  if (reduction === 'sum') return loss.sum();
  if (reduction === 'none') return loss;
  throw new Error(`${op}: reduction must be 'mean', 'sum' or 'none', got '${String(reduction)}'`);
}

function sameShape(op: string, input: Tensor, target: Tensor): void {
  if (!(target instanceof Tensor)) throw new Error(`${op}: target must be a Tensor`);
  if (input.shape.length !== target.shape.length || input.shape.some((d, i) => d !== target.shape[i])) {
    throw new Error(`${op}: input ${shapeStr(input.shape)} and target ${shapeStr(target.shape)} must have the same shape`);
  }
}

export interface ReductionOptions {
  reduction?: Reduction;
}

/** Mean squared error (x − y)². */
export function mseLoss(input: Tensor, target: Tensor, options: ReductionOptions = {}): Tensor {
  sameShape('mseLoss', input, target);
  return reduce(input.sub(target).pow(2), options.reduction ?? 'mean', 'mseLoss');
}

/** Mean absolute error |x − y| (gradient 0 where x = y, as PyTorch). */
export function l1Loss(input: Tensor, target: Tensor, options: ReductionOptions = {}): Tensor {
  sameShape('l1Loss', input, target);
  return reduce(input.sub(target).abs(), options.reduction ?? 'mean', 'l1Loss');
}

export interface CrossEntropyOptions extends ReductionOptions {
  /** Class index whose rows are skipped (index targets only); PyTorch's default is -100. */
  ignoreIndex?: number;
  /** ε in [0, 1]: the target becomes (1 − ε)·target + ε/classes. */
  labelSmoothing?: number;
}

/**
 * Cross-entropy of logits [N, C] against class indices [N] (a tensor of integers) or class
 * probabilities [N, C] (soft labels, MixUp). Computed from the logits in one fused, stable
 * softmax + cross-entropy kernel that also produces the gradient.
 */
export function crossEntropy(logits: Tensor, target: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const reduction = options.reduction ?? 'mean';
  const ignoreIndex = options.ignoreIndex ?? -100;
  const eps = options.labelSmoothing ?? 0;
  if (logits.ndim !== 2) throw new Error(`crossEntropy: logits must be [batch, classes], got ${shapeStr(logits.shape)}`);
  if (!(eps >= 0 && eps <= 1)) throw new Error(`crossEntropy: labelSmoothing must be in [0, 1], got ${eps}`);
  const [rows, classes] = logits.shape as [number, number];
  if (!(target instanceof Tensor)) throw new Error('crossEntropy: target must be a Tensor');
  const probs = target.ndim === 2;
  if (probs ? target.shape[0] !== rows || target.shape[1] !== classes : target.ndim !== 1 || target.shape[0] !== rows) {
    throw new Error(
      `crossEntropy: target ${shapeStr(target.shape)} must be class indices [${rows}] or probabilities [${rows}, ${classes}] for logits ${shapeStr(logits.shape)}`,
    );
  }
  if (!probs) {
    for (let r = 0; r < rows; r++) {
      const t = target.data[r]!;
      if (t !== ignoreIndex && !(Number.isInteger(t) && t >= 0 && t < classes)) {
        throw new Error(`crossEntropy: target ${t} at row ${r} is not a class index in [0, ${classes})`);
      }
    }
  }
  // Rows that count towards a mean: all of them, less ignored rows for index targets.
  let count = rows;
  if (!probs) for (let r = 0; r < rows; r++) if (target.data[r] === ignoreIndex) count--;
  const rowLoss = empty([rows]);
  const dlogits = logits.requiresGrad ? empty(logits.shape) : null;
  const total = getBackend().crossEntropy(logits.data, rows, classes, target.data, probs, eps, ignoreIndex, 1, null, rowLoss.data, dlogits?.data ?? null);
  let out: Tensor;
  if (reduction === 'none') out = rowLoss;
  else if (reduction === 'sum') out = new Tensor(new Float32Array([total]), []);
  else if (reduction === 'mean') out = new Tensor(new Float32Array([total / count]), []);
  else throw new Error(`crossEntropy: reduction must be 'mean', 'sum' or 'none', got '${String(reduction)}'`);
  if (!dlogits) return out;
  return record(out, 'crossEntropy', [logits], (g) => {
    const gx = empty(logits.shape);
    if (reduction === 'none') {
      getBackend().binary('mul', dlogits.data, dlogits.shape, g.data, [rows, 1], gx.data, gx.shape);
    } else {
      const k = new Float32Array([reduction === 'mean' ? g.data[0]! / count : g.data[0]!]);
      getBackend().binary('mul', dlogits.data, dlogits.shape, k, [], gx.data, gx.shape);
    }
    return [gx];
  });
}

/** Negative log-likelihood of log-probabilities [N, C] at class indices [N]: −logp[n, target[n]]. */
export function nllLoss(logProbs: Tensor, target: Tensor, options: Omit<CrossEntropyOptions, 'labelSmoothing'> = {}): Tensor {
  const reduction = options.reduction ?? 'mean';
  const ignoreIndex = options.ignoreIndex ?? -100;
  if (logProbs.ndim !== 2) throw new Error(`nllLoss: input must be [batch, classes], got ${shapeStr(logProbs.shape)}`);
  const [rows, classes] = logProbs.shape as [number, number];
  if (!(target instanceof Tensor) || target.ndim !== 1 || target.shape[0] !== rows) {
    throw new Error(`nllLoss: target must be class indices [${rows}], got ${target instanceof Tensor ? shapeStr(target.shape) : typeof target}`);
  }
  const loss = empty([rows]);
  let count = 0;
  for (let r = 0; r < rows; r++) {
    const t = target.data[r]!;
    if (t === ignoreIndex) continue;
    if (!(Number.isInteger(t) && t >= 0 && t < classes)) throw new Error(`nllLoss: target ${t} at row ${r} is not a class index in [0, ${classes})`);
    loss.data[r] = -logProbs.data[r * classes + t]!;
    count++;
  }
  let out: Tensor;
  if (reduction === 'none') out = loss;
  else if (reduction === 'sum' || reduction === 'mean') {
    let s = 0;
    for (let r = 0; r < rows; r++) s += loss.data[r]!;
    out = new Tensor(new Float32Array([reduction === 'mean' ? s / count : s]), []);
  } else throw new Error(`nllLoss: reduction must be 'mean', 'sum' or 'none', got '${String(reduction)}'`);
  return record(out, 'nllLoss', [logProbs], (g) => {
    const gx = empty(logProbs.shape);
    for (let r = 0; r < rows; r++) {
      const t = target.data[r]!;
      if (t === ignoreIndex) continue;
      gx.data[r * classes + t] = -(reduction === 'none' ? g.data[r]! : reduction === 'mean' ? g.data[0]! / count : g.data[0]!);
    }
    return [gx];
  });
}

export interface BceWithLogitsOptions extends ReductionOptions {
  /** Weight of the positive term, broadcast along the last dim (PyTorch's pos_weight). */
  posWeight?: Tensor;
}

/**
 * Binary cross-entropy on logits, stable for any logit:
 * (1 − y)·x + l·(log(1 + e^(−|x|)) + max(−x, 0)) with l = 1 + (posWeight − 1)·y.
 */
export function bceWithLogits(input: Tensor, target: Tensor, options: BceWithLogitsOptions = {}): Tensor {
  sameShape('bceWithLogits', input, target);
  const pw = options.posWeight;
  const last = input.shape[input.ndim - 1] ?? 1;
  if (pw && pw.size !== 1 && pw.size !== last) {
    throw new Error(`bceWithLogits: posWeight ${shapeStr(pw.shape)} must have 1 or ${last} elements`);
  }
  const n = input.size;
  const loss = empty(input.shape);
  const weightAt = (i: number) => (pw ? pw.data[pw.size === 1 ? 0 : i % last]! : 1);
  for (let i = 0; i < n; i++) {
    const x = input.data[i]!;
    const y = target.data[i]!;
    const l = 1 + (weightAt(i) - 1) * y;
    loss.data[i] = (1 - y) * x + l * (Math.log1p(Math.exp(-Math.abs(x))) + Math.max(-x, 0));
  }
  const elementwise = record(loss, 'bceWithLogits', [input, target], (g) => {
    const gx = empty(input.shape);
    for (let i = 0; i < n; i++) {
      const x = input.data[i]!;
      const y = target.data[i]!;
      const l = 1 + (weightAt(i) - 1) * y;
      const s = x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
      // d/dx = (1 − y) − l·(1 − σ(x))
      gx.data[i] = g.data[i]! * ((1 - y) - l * (1 - s));
    }
    return [gx, null];
  });
  return reduce(elementwise, options.reduction ?? 'mean', 'bceWithLogits');
}

/** Binary cross-entropy on probabilities; logs are clamped at −100 as in PyTorch. */
export function bce(input: Tensor, target: Tensor, options: ReductionOptions = {}): Tensor {
  sameShape('bce', input, target);
  const n = input.size;
  const loss = empty(input.shape);
  for (let i = 0; i < n; i++) {
    const p = input.data[i]!;
    if (!(p >= 0 && p <= 1)) throw new Error(`bce: input values must be probabilities in [0, 1], got ${p} at ${i}`);
    const y = target.data[i]!;
    loss.data[i] = -(y * Math.max(Math.log(p), -100) + (1 - y) * Math.max(Math.log(1 - p), -100));
  }
  const elementwise = record(loss, 'bce', [input, target], (g) => {
    const gx = empty(input.shape);
    for (let i = 0; i < n; i++) {
      const p = input.data[i]!;
      const y = target.data[i]!;
      gx.data[i] = (g.data[i]! * (p - y)) / Math.max((1 - p) * p, 1e-12);
    }
    return [gx, null];
  });
  return reduce(elementwise, options.reduction ?? 'mean', 'bce');
}
