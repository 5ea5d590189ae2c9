import { noGrad } from '../autograd.js';
import { requireKnownOptions } from '../ops/args.js';
import { type Generator, requireGenerator } from '../random.js';
import { shapeStr, valueStr } from '../shape.js';
import { Tensor } from '../tensor.js';
import { randperm } from './dataset.js';
import { checkNumClasses, oneHotFor } from './transforms.js';

/** Options of mixup() and new MixUp(). */
export interface MixUpOptions {
  /** λ ~ Beta(alpha, alpha); 0.2–0.4 is usual. Must be > 0. */
  alpha: number;
  /** Needed when targets are class indices, to turn them into one-hot rows. */
  numClasses?: number;
  /** Source of λ and the pairing. Default: the library-wide generator. */
  generator?: Generator;
}

/** What mixup() returns: the blended batch and how it was blended. */
export interface MixedBatch {
  /** The blended inputs, x's shape. */
  x: Tensor;
  /** Probability targets [batch, classes]: use them with crossEntropy. */
  y: Tensor;
  /** The batch's λ. */
  lambda: number;
  /** The partner of each sample: x = λ·x + (1 − λ)·x[perm]. */
  perm: Int32Array;
}

/**
 * MixUp (Zhang et al., 2018): each sample is blended with a random partner from the same batch,
 * x̃ = λx + (1 − λ)x[perm], ỹ = λy + (1 − λ)y[perm], one λ ~ Beta(α, α) per batch. Targets may be
 * class indices [batch] (made one-hot with numClasses) or probability rows [batch, classes]; the
 * mixed targets are probabilities, which crossEntropy accepts directly.
 * @param x - inputs [batch, ...]
 * @param y - class indices [batch] or probabilities [batch, classes]
 * @param options - alpha, numClasses, generator
 */
export function mixup(x: Tensor, y: Tensor, options: MixUpOptions): MixedBatch {
  return mix('mixup', x, y, options);
}

const OPTION_KEYS = ['alpha', 'numClasses', 'generator'];

/** The options checked once, for mixup() and for MixUp's constructor, under the caller's name. */
function checkOptions(op: string, options: unknown): { alpha: number; numClasses: number | undefined; generator: Generator } {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new Error(`${op}: options must be an object { alpha, numClasses?, generator? }, got ${valueStr(options)}`);
  }
  const o = requireKnownOptions(op, options, OPTION_KEYS);
  const alpha = o['alpha'];
  if (typeof alpha !== 'number' || !(alpha > 0) || !Number.isFinite(alpha)) throw new Error(`${op}: alpha must be a positive finite number, got ${valueStr(alpha)}`);
  const numClasses = o['numClasses'];
  if (numClasses !== undefined) checkNumClasses(op, numClasses);
  return { alpha, numClasses, generator: requireGenerator(op, 'generator', o['generator']) };
}

function mix(op: string, x: unknown, y: unknown, options: unknown): MixedBatch {
  const { alpha, numClasses, generator: g } = checkOptions(op, options);
  if (!(x instanceof Tensor) || x.ndim < 1) throw new Error(`${op}: x must be a tensor with a batch dim, got ${x instanceof Tensor ? shapeStr(x.shape) : valueStr(x)}`);
  x._check(op);
  const n = x.shape[0]!;
  let targets: Tensor;
  if (y instanceof Tensor && y.ndim === 1 && y.shape[0] === n) {
    if (numClasses === undefined) throw new Error(`${op}: targets are class indices, so numClasses is needed to make them one-hot`);
    targets = oneHotFor(op, y, numClasses);
  } else if (y instanceof Tensor && y.ndim === 2 && y.shape[0] === n) {
    y._check(op);
    targets = y;
  } else {
    throw new Error(
      `${op}: targets must be class indices [${n}] or probabilities [${n}, classes] for x ${shapeStr(x.shape)}, got ${y instanceof Tensor ? shapeStr(y.shape) : valueStr(y)}`,
    );
  }
  const lambda = g.nextBeta(alpha, alpha);
  const perm = randperm(n, g);
  return noGrad(() => ({
    x: x.mul(lambda).add(x.indexSelect(perm).mul(1 - lambda)),
    y: targets.mul(lambda).add(targets.indexSelect(perm).mul(1 - lambda)),
    lambda,
    perm,
  }));
}

/** MixUp as a batch transform for fit(): `fit(model, { ..., batchTransform: new MixUp({ alpha: 0.2, numClasses: 10 }) })`. */
export class MixUp {
  /** @param options - alpha, numClasses (for index targets), generator; read again on every batch */
  constructor(readonly options: MixUpOptions) {
    checkOptions('MixUp', options);
  }

  /**
   * Mixes one batch [x, y] → [x̃, ỹ].
   * @param batch - inputs and targets, as a DataLoader yields them
   */
  apply(batch: readonly [Tensor, Tensor]): [Tensor, Tensor] {
    if (!Array.isArray(batch) || batch.length !== 2) throw new Error(`MixUp.apply: batch must be an [x, y] pair of tensors, got ${valueStr(batch)}`);
    // Options are re-read here: they are a public readonly field whose contents a caller can still change.
    const m = mix('MixUp.apply', batch[0], batch[1], this.options);
    return [m.x, m.y];
  }
}
