import { noGrad } from '../autograd.js';
import { defaultGenerator, type Generator } from '../random.js';
import { shapeStr } from '../shape.js';
import { Tensor } from '../tensor.js';
import { randperm } from './dataset.js';
import { oneHot } from './transforms.js';

export interface MixUpOptions {
  /** λ ~ Beta(alpha, alpha); 0.2–0.4 is usual. Must be > 0. */
  alpha: number;
  /** Needed when targets are class indices, to turn them into one-hot rows. */
  numClasses?: number;
  /** Source of λ and the pairing. Default: the library-wide generator. */
  generator?: Generator;
}

export interface MixedBatch {
  x: Tensor;
  /** Probability targets [batch, classes]: use them with crossEntropy. */
  y: Tensor;
  lambda: number;
  /** The partner of each sample: x = λ·x + (1 − λ)·x[perm]. */
  perm: Int32Array;
}

/**
 * MixUp (Zhang et al., 2018): each sample is blended with a random partner from the same batch,
 * x̃ = λx + (1 − λ)x[perm], ỹ = λy + (1 − λ)y[perm], one λ ~ Beta(α, α) per batch. Targets may be
 * class indices [batch] (made one-hot with numClasses) or probability rows [batch, classes]; the
 * mixed targets are probabilities, which crossEntropy accepts directly.
 */
export function mixup(x: Tensor, y: Tensor, options: MixUpOptions): MixedBatch {
  const { alpha } = options;
  if (!(alpha > 0) || !Number.isFinite(alpha)) throw new Error(`mixup: alpha must be a positive number, got ${alpha}`);
  if (!(x instanceof Tensor) || x.ndim < 1) throw new Error('mixup: x must be a tensor with a batch dim');
  const n = x.shape[0]!;
  let targets: Tensor;
  if (y instanceof Tensor && y.ndim === 1 && y.shape[0] === n) {
    if (options.numClasses === undefined) throw new Error('mixup: targets are class indices, so numClasses is needed to make them one-hot');
    targets = oneHot(y, options.numClasses);
  } else if (y instanceof Tensor && y.ndim === 2 && y.shape[0] === n) {
    targets = y;
  } else {
    throw new Error(
      `mixup: targets must be class indices [${n}] or probabilities [${n}, classes] for x ${shapeStr(x.shape)}, got ${y instanceof Tensor ? shapeStr(y.shape) : typeof y}`,
    );
  }
  const g = options.generator ?? defaultGenerator;
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
  constructor(readonly options: MixUpOptions) {
    if (!(options.alpha > 0) || !Number.isFinite(options.alpha)) throw new Error(`MixUp: alpha must be a positive number, got ${options.alpha}`);
  }

  /** Mixes one batch [x, y] → [x̃, ỹ]. */
  apply(batch: readonly [Tensor, Tensor]): [Tensor, Tensor] {
    const m = mixup(batch[0], batch[1], this.options);
    return [m.x, m.y];
  }
}
