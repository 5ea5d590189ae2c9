/**
 * Loss functions with PyTorch's semantics (torch.nn.functional): reduction 'mean' (default),
 * 'sum' or 'none'. Each custom gradient sits next to its forward.
 */
import { record } from '../autograd.js';
import { getBackend } from '../backend/index.js';
import { sameShape, shapeStr, valueStr } from '../shape.js';
import { Tensor, ownedTensor } from '../tensor.js';
import { empty } from '../ops/util.js';
import { requireFinite, requireInteger, requireOneOf, requireOptions, requireTensor } from '../ops/args.js';

/** How a loss combines its per-element values: their mean (default), their sum, or none (one per element). */
export type Reduction = 'mean' | 'sum' | 'none';

const REDUCTIONS: readonly Reduction[] = ['mean', 'sum', 'none'];

/** The options object and its reduction, checked before any work is done. */
function reductionOf(op: string, options: ReductionOptions | undefined): Reduction {
  const o = requireOptions(op, options);
  return o.reduction === undefined ? 'mean' : requireOneOf(op, 'reduction', o.reduction, REDUCTIONS);
}

function reduce(loss: Tensor, reduction: Reduction, op: string): Tensor {
  if (reduction === 'mean') return loss.mean();
  if (reduction === 'sum') return loss.sum();
  if (reduction === 'none') return loss;
  throw new Error(`${op}: reduction must be 'mean', 'sum' or 'none', got '${String(reduction)}'`);
}

function requireSameShape(op: string, input: Tensor, target: Tensor): void {
  requireTensor(op, 'input', input);
  requireTensor(op, 'target', target);
  if (!sameShape(input.shape, target.shape)) {
    throw new Error(`${op}: input ${shapeStr(input.shape)} and target ${shapeStr(target.shape)} must have the same shape`);
  }
}

/** The options every loss takes. */
export interface ReductionOptions {
  /** 'mean' (default), 'sum' or 'none'. */
  reduction?: Reduction;
}

/**
 * Mean squared error (x − y)².
 * PyTorch: `torch.nn.functional.mse_loss`.
 * @param input - predictions
 * @param target - targets, of input's shape
 * @param options - `reduction`: 'mean' (default), 'sum' or 'none'
 */
export function mseLoss(input: Tensor, target: Tensor, options: ReductionOptions = {}): Tensor {
  requireSameShape('mseLoss', input, target);
  return reduce(input.sub(target).pow(2), reductionOf('mseLoss', options), 'mseLoss');
}

/**
 * Mean absolute error |x − y| (gradient 0 where x = y, as PyTorch).
 * PyTorch: `torch.nn.functional.l1_loss`.
 * @param input - predictions
 * @param target - targets, of input's shape
 * @param options - `reduction`: 'mean' (default), 'sum' or 'none'
 */
export function l1Loss(input: Tensor, target: Tensor, options: ReductionOptions = {}): Tensor {
  requireSameShape('l1Loss', input, target);
  return reduce(input.sub(target).abs(), reductionOf('l1Loss', options), 'l1Loss');
}

/**
 * ignoreIndex, default -100 (PyTorch's). Bounded by 1e15, what the native kernel takes, so that a
 * huge one is refused on both backends alike (targets are float32: no class index comes close).
 */
function ignoreIndexOf(op: string, v: unknown): number {
  if (v === undefined) return -100;
  requireInteger(op, 'ignoreIndex', v);
  if (Math.abs(v as number) > 1e15) throw new Error(`${op}: ignoreIndex must be an integer in [-1e15, 1e15], got ${valueStr(v)}`);
  return v as number;
}

/** Options of crossEntropy (and, without labelSmoothing, nllLoss). */
export interface CrossEntropyOptions extends ReductionOptions {
  /** Class index whose rows are skipped (index targets only); PyTorch's default is -100. */
  ignoreIndex?: number;
  /** ε in [0, 1]: the target becomes (1 − ε)·target + ε/classes. */
  labelSmoothing?: number;
}

/**
 * The nllLoss kernel's [sum, count] for crossEntropy: one array reused (kernels that return a
 * value run at once, even in an async batch), so no call hands native code a fresh one.
 */
const nllStats = new Float64Array(2);

/**
 * Cross-entropy of logits [N, C] against class indices [N] (a tensor of integers) or class
 * probabilities [N, C] (soft labels, MixUp). Computed from the logits in one fused, stable
 * softmax + cross-entropy kernel that also produces the gradient.
 * PyTorch: `torch.nn.functional.cross_entropy`.
 * @param logits - unnormalised scores [N, C] (no softmax before)
 * @param target - class indices [N], or probabilities [N, C]
 * @param options - reduction, ignoreIndex, labelSmoothing
 * @example
 * ```ts
 * const loss = crossEntropy(model.forward(x), y); // y: class indices [N]
 * loss.backward();
 * ```
 */
export function crossEntropy(logits: Tensor, target: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const reduction = reductionOf('crossEntropy', options);
  const ignoreIndex = ignoreIndexOf('crossEntropy', options.ignoreIndex);
  const eps = options.labelSmoothing === undefined ? 0 : requireFinite('crossEntropy', 'labelSmoothing', options.labelSmoothing);
  requireTensor('crossEntropy', 'logits', logits);
  requireTensor('crossEntropy', 'target', target);
  if (logits.ndim !== 2) throw new Error(`crossEntropy: logits must be [batch, classes], got ${shapeStr(logits.shape)}`);
  if (!(eps >= 0 && eps <= 1)) throw new Error(`crossEntropy: labelSmoothing must be in [0, 1], got ${eps}`);
  const [rows, classes] = logits.shape as [number, number];
  if (classes === 0) throw new Error(`crossEntropy: logits ${shapeStr(logits.shape)} have no classes`);
  const probs = target.ndim === 2;
  if (probs ? target.shape[0] !== rows || target.shape[1] !== classes : target.ndim !== 1 || target.shape[0] !== rows) {
    throw new Error(
      `crossEntropy: target ${shapeStr(target.shape)} must be class indices [${rows}] or probabilities [${rows}, ${classes}] for logits ${shapeStr(logits.shape)}`,
    );
  }
  const rowLoss = empty([rows], 'crossEntropy');
  // Rows that count towards a mean: all of them, less ignored rows for index targets. The nllLoss
  // kernel checks the targets and counts them (its row losses are overwritten below).
  let count = rows;
  if (!probs) {
    const bad = getBackend().nllLoss(logits._data, rows, classes, target._data, ignoreIndex, rowLoss._data, nllStats);
    if (bad >= 0) throw new Error(`crossEntropy: target ${target._data[bad]} at row ${bad} is not a class index in [0, ${classes})`);
    count = nllStats[1]!;
  }
  const dlogits = logits.requiresGrad ? empty(logits.shape, 'crossEntropy') : null;
  const total = getBackend().crossEntropy(logits._data, rows, classes, target._data, probs, eps, ignoreIndex, 1, null, rowLoss._data, dlogits?._data ?? null);
  let out: Tensor;
  if (reduction === 'none') out = rowLoss;
  else if (reduction === 'sum') out = ownedTensor(new Float32Array([total]), []);
  else if (reduction === 'mean') out = ownedTensor(new Float32Array([total / count]), []);
  else throw new Error(`crossEntropy: reduction must be 'mean', 'sum' or 'none', got '${String(reduction)}'`);
  // The row losses of a reduced loss, and (below) the gradient once backward has used it, go
  // back to the buffer pool: fresh arrays for them cost a training step at batch 128 about 20 us
  // (2 threads, Intel VM), mostly the garbage collection their memory brings on.
  if (out !== rowLoss) rowLoss.dispose();
  if (!dlogits) return out;
  dlogits._graphPrivate = true;
  return record(out, 'crossEntropy', [logits], [dlogits], (g) => {
    const gx = empty(logits.shape, 'crossEntropy');
    if (reduction === 'none') {
      getBackend().binary('mul', dlogits._data, dlogits.shape, g._data, [rows, 1], gx._data, gx.shape);
    } else {
      const k = new Float32Array([reduction === 'mean' ? g._data[0]! / count : g._data[0]!]);
      getBackend().binary('mul', dlogits._data, dlogits.shape, k, [], gx._data, gx.shape);
    }
    return [gx];
  });
}

/**
 * Negative log-likelihood of log-probabilities [N, C] at class indices [N]: −logp[n, target[n]].
 * PyTorch: `torch.nn.functional.nll_loss`.
 * @param logProbs - log-probabilities [N, C] (e.g. from logSoftmax)
 * @param target - class indices [N]
 * @param options - reduction, ignoreIndex
 */
export function nllLoss(logProbs: Tensor, target: Tensor, options: Omit<CrossEntropyOptions, 'labelSmoothing'> = {}): Tensor {
  const reduction = reductionOf('nllLoss', options);
  const ignoreIndex = ignoreIndexOf('nllLoss', options.ignoreIndex);
  requireTensor('nllLoss', 'input', logProbs);
  if (logProbs.ndim !== 2) throw new Error(`nllLoss: input must be [batch, classes], got ${shapeStr(logProbs.shape)}`);
  const [rows, classes] = logProbs.shape as [number, number];
  requireTensor('nllLoss', 'target', target);
  if (target.ndim !== 1 || target.shape[0] !== rows) {
    throw new Error(`nllLoss: target must be class indices [${rows}], got ${shapeStr(target.shape)}`);
  }
  const loss = empty([rows], 'nllLoss');
  const stats = new Float64Array(2);
  const bad = getBackend().nllLoss(logProbs._data, rows, classes, target._data, ignoreIndex, loss._data, stats);
  if (bad >= 0) throw new Error(`nllLoss: target ${target._data[bad]} at row ${bad} is not a class index in [0, ${classes})`);
  const sum = stats[0]!;
  const count = stats[1]!;
  let out: Tensor;
  if (reduction === 'none') out = loss;
  else if (reduction === 'sum' || reduction === 'mean') out = ownedTensor(new Float32Array([reduction === 'mean' ? sum / count : sum]), []);
  else throw new Error(`nllLoss: reduction must be 'mean', 'sum' or 'none', got '${String(reduction)}'`);
  return record(out, 'nllLoss', [logProbs], [target], (g) => {
    const gx = empty(logProbs.shape, 'nllLoss');
    const perRow = reduction === 'none';
    const gScalar = perRow ? 0 : reduction === 'mean' ? g._data[0]! / count : g._data[0]!;
    getBackend().nllLossGrad(rows, classes, target._data, ignoreIndex, perRow ? g._data : null, gScalar, gx._data);
    return [gx];
  });
}

/** Options of bceWithLogits. */
export interface BceWithLogitsOptions extends ReductionOptions {
  /** Weight of the positive term, broadcast along the last dim (PyTorch's pos_weight). */
  posWeight?: Tensor;
}

/**
 * Binary cross-entropy on logits, stable for any logit:
 * (1 − y)·x + l·(log(1 + e^(−|x|)) + max(−x, 0)) with l = 1 + (posWeight − 1)·y.
 * PyTorch: `torch.nn.functional.binary_cross_entropy_with_logits`.
 * @param input - logits
 * @param target - targets in [0, 1], of input's shape
 * @param options - reduction, posWeight
 */
export function bceWithLogits(input: Tensor, target: Tensor, options: BceWithLogitsOptions = {}): Tensor {
  const reduction = reductionOf('bceWithLogits', options);
  requireSameShape('bceWithLogits', input, target);
  const pw = options.posWeight === undefined ? undefined : requireTensor('bceWithLogits', 'posWeight', options.posWeight);
  const last = input.shape[input.ndim - 1] ?? 1;
  if (pw && pw.size !== 1 && pw.size !== last) {
    throw new Error(`bceWithLogits: posWeight ${shapeStr(pw.shape)} must have 1 or ${last} elements`);
  }
  const loss = empty(input.shape, 'bceWithLogits');
  const pwData = pw ? pw._data : null;
  getBackend().bceLoss(true, input._data, target._data, pwData, last, loss._data);
  const elementwise = record(loss, 'bceWithLogits', [input, target], pw ? [input, target, pw] : [input, target], (g) => {
    const gx = input.requiresGrad ? empty(input.shape, 'bceWithLogits') : null;
    const gy = target.requiresGrad ? empty(target.shape, 'bceWithLogits') : null;
    getBackend().bceLossGrad(true, input._data, target._data, pw ? pw._data : null, last, g._data, gx?._data ?? null, gy?._data ?? null);
    return [gx, gy];
  });
  return reduce(elementwise, reduction, 'bceWithLogits');
}

/**
 * Binary cross-entropy on probabilities; logs are clamped at −100 as in PyTorch.
 * PyTorch: `torch.nn.functional.binary_cross_entropy`.
 * @param input - probabilities in [0, 1]
 * @param target - targets in [0, 1], of input's shape
 * @param options - `reduction`: 'mean' (default), 'sum' or 'none'
 */
export function bce(input: Tensor, target: Tensor, options: ReductionOptions = {}): Tensor {
  const reduction = reductionOf('bce', options);
  requireSameShape('bce', input, target);
  const loss = empty(input.shape, 'bce');
  const bad = getBackend().bceLoss(false, input._data, target._data, null, 1, loss._data);
  if (bad >= 0) throw new Error(`bce: input values must be probabilities in [0, 1], got ${input._data[bad]} at ${bad}`);
  const elementwise = record(loss, 'bce', [input, target], [input, target], (g) => {
    const gx = input.requiresGrad ? empty(input.shape, 'bce') : null;
    const gy = target.requiresGrad ? empty(target.shape, 'bce') : null;
    getBackend().bceLossGrad(false, input._data, target._data, null, 1, g._data, gx?._data ?? null, gy?._data ?? null);
    return [gx, gy];
  });
  return reduce(elementwise, reduction, 'bce');
}
