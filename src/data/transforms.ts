import { noGrad } from '../autograd.js';
import { empty } from '../ops/util.js';
import { copyFloat32, shapeStr, valueStr } from '../shape.js';
import { Tensor, ownedTensor } from '../tensor.js';

/**
 * Class indices [N] (integers stored as floats, as argmax returns them) → one-hot rows [N, C].
 * Throws on an index that is not an integer in [0, numClasses).
 * PyTorch: `torch.nn.functional.one_hot` (which returns integers).
 * @param labels - class indices, shape [N]
 * @param numClasses - C, the number of classes
 * @example
 * ```ts
 * oneHot(tensor([0, 2]), 3); // [[1, 0, 0], [0, 0, 1]]
 * ```
 */
export function oneHot(labels: Tensor, numClasses: number): Tensor {
  checkNumClasses('oneHot', numClasses);
  return oneHotFor('oneHot', labels, numClasses);
}

/** @internal numClasses checked the way oneHot checks it, under the caller's name (mixup). */
export function checkNumClasses(op: string, numClasses: unknown): asserts numClasses is number {
  if (typeof numClasses !== 'number' || !Number.isInteger(numClasses) || numClasses < 1) {
    throw new Error(`${op}: numClasses must be a positive integer, got ${valueStr(numClasses)}`);
  }
}

/** @internal oneHot with `op` (the function the user called) named in its errors. */
export function oneHotFor(op: string, labels: unknown, numClasses: number): Tensor {
  if (!(labels instanceof Tensor) || labels.ndim !== 1) {
    throw new Error(`${op}: labels must be a 1-D tensor of class indices, got ${labels instanceof Tensor ? shapeStr(labels.shape) : valueStr(labels)}`);
  }
  const src = labels._read(op);
  const n = labels.shape[0]!;
  const t = empty([n, numClasses], op);
  const out = t._data;
  // One write per row: a scatter of N indices, not a loop over N×C elements.
  for (let i = 0; i < n; i++) {
    const c = src[i]!;
    if (!Number.isInteger(c) || c < 0 || c >= numClasses) {
      throw new Error(`${op}: label ${c} at position ${i} is not a class index in [0, ${numClasses}) (numClasses ${numClasses})`);
    }
    out[i * numClasses + c] = 1;
  }
  return t;
}

function checkFeatures(op: string, x: Tensor, features?: number): void {
  if (!(x instanceof Tensor) || x.ndim !== 2) {
    throw new Error(`${op}: expected a [samples, features] tensor, got ${x instanceof Tensor ? shapeStr(x.shape) : valueStr(x)}`);
  }
  x._check(op); // refuses a detached buffer here, under the scaler's name
  if (features !== undefined && x.shape[1] !== features) {
    throw new Error(`${op}: fitted on ${features} features, got ${shapeStr(x.shape)}`);
  }
}

/** A scaler's fitted statistics as plain numbers (to store with a saved model). */
export interface ScalerState {
  /** Which scaler: StandardScaler ('standard') or MinMaxScaler ('minmax'). */
  kind: 'standard' | 'minmax';
  /** Subtracted from each feature. */
  shift: number[];
  /** Each feature is divided by this after the shift (1 where a feature is constant). */
  scale: number[];
}

/** What is wrong with a scaler state, or null. Values must survive float32 (1e300 → Infinity, 1e-50 → 0). */
function scalerStateProblem(state: unknown, kind: string): string | null {
  if (state === null || typeof state !== 'object' || Array.isArray(state)) return `got ${valueStr(state)}`;
  const st = state as Record<string, unknown>;
  if (st['kind'] !== kind) return `got kind ${typeof st['kind'] === 'string' ? JSON.stringify(st['kind']) : valueStr(st['kind'])}`;
  const { shift, scale } = st;
  if (!Array.isArray(shift)) return `got shift ${valueStr(shift)}`;
  if (!Array.isArray(scale)) return `got scale ${valueStr(scale)}`;
  if (shift.length !== scale.length) return `got ${shift.length} shifts and ${scale.length} scales`;
  for (let j = 0; j < shift.length; j++) {
    const a: unknown = shift[j];
    const b: unknown = scale[j];
    if (typeof a !== 'number' || !Number.isFinite(Math.fround(a))) return `got shift ${valueStr(a)} at position ${j}`;
    if (typeof b !== 'number' || !Number.isFinite(Math.fround(b)) || !(Math.fround(b) > 0)) return `got scale ${valueStr(b)} at position ${j}`;
  }
  return null;
}

/**
 * A per-feature affine map x → (x − shift) / scale, fitted on training data only and then applied
 * unchanged to validation and test data (fitting on them would leak their statistics).
 */
abstract class AffineScaler {
  /** Subtracted from each feature (null until fitted). */
  protected shift: Tensor | null = null;
  /** Each feature is divided by this after the shift (null until fitted). */
  protected scale: Tensor | null = null;
  /** The ScalerState kind this class saves as. */
  protected abstract readonly kind: ScalerState['kind'];

  /**
   * Computes the statistics from x [samples, features]; returns this.
   * @param x - training data, [samples, features]
   */
  abstract fit(x: Tensor): this;

  /** True once fit() or loadJSON() has run. */
  get fitted(): boolean {
    return this.shift !== null;
  }

  /**
   * (x − shift) / scale, feature by feature; x is [samples, features]. A new tensor, no graph.
   * @param x - data with the fitted number of features
   */
  transform(x: Tensor): Tensor {
    if (this.shift === null || this.scale === null) throw new Error(`${this.constructor.name}.transform: call fit() first`);
    checkFeatures(`${this.constructor.name}.transform`, x, this.shift.size);
    const shift = this.shift;
    const scale = this.scale;
    return noGrad(() => x.sub(shift).div(scale));
  }

  /**
   * fit(x) then transform(x). PyTorch has none; scikit-learn's `fit_transform`.
   * @param x - training data, [samples, features]
   */
  fitTransform(x: Tensor): Tensor {
    return this.fit(x).transform(x);
  }

  /** The fitted statistics as plain numbers (JSON.stringify calls it). */
  toJSON(): ScalerState {
    if (this.shift === null || this.scale === null) throw new Error(`${this.constructor.name}.toJSON: call fit() first`);
    return { kind: this.kind, shift: Array.from(this.shift._data), scale: Array.from(this.scale._data) };
  }

  /**
   * Restores statistics saved by toJSON(); returns this.
   * @param state - what toJSON() returned
   */
  loadJSON(state: ScalerState): this {
    const op = `${this.constructor.name}.loadJSON`;
    const bad = scalerStateProblem(state, this.kind);
    if (bad !== null) {
      throw new Error(`${op}: expected { kind: "${this.kind}", shift: number[], scale: number[] } of equal lengths, finite in float32, scale > 0; ${bad}`);
    }
    const n = state.shift.length;
    return this.setStats(ownedTensor(Float32Array.from(state.shift), [n]), ownedTensor(Float32Array.from(state.scale), [n]));
  }

  /**
   * Stores the fitted statistics; a zero spread becomes 1 (a constant feature maps to 0).
   * @param shift - subtracted from each feature, [features]
   * @param spread - each feature's spread, [features]
   */
  protected setStats(shift: Tensor, spread: Tensor): this {
    // A constant feature has spread 0: leave it centred but unscaled instead of dividing by zero.
    const s = copyFloat32(spread._data);
    for (let j = 0; j < s.length; j++) if (!(s[j]! > 0)) s[j] = 1;
    this.shift = ownedTensor(copyFloat32(shift._data), [shift.size]);
    this.scale = ownedTensor(s, [s.length]);
    return this;
  }
}

/**
 * Standardisation: subtract each feature's mean, divide by its (population) standard deviation.
 * scikit-learn: `StandardScaler`.
 * @example
 * ```ts
 * const scaler = new StandardScaler().fit(xTrain);
 * const xTestScaled = scaler.transform(xTest);
 * ```
 */
export class StandardScaler extends AffineScaler {
  /** 'standard'. */
  protected readonly kind = 'standard' as const;

  /**
   * Computes each feature's mean and standard deviation; returns this.
   * @param x - training data, [samples, features]
   */
  fit(x: Tensor): this {
    checkFeatures('StandardScaler.fit', x);
    if (x.shape[0] === 0) throw new Error('StandardScaler.fit: no samples');
    return noGrad(() => {
      const mean = x.mean(0);
      const std = x.sub(mean).pow(2).mean(0).sqrt();
      return this.setStats(mean, std);
    });
  }
}

/** Min-max scaling of each feature to [0, 1] (on the data it was fitted on). scikit-learn: `MinMaxScaler`. */
export class MinMaxScaler extends AffineScaler {
  /** 'minmax'. */
  protected readonly kind = 'minmax' as const;

  /**
   * Computes each feature's minimum and range; returns this.
   * @param x - training data, [samples, features]
   */
  fit(x: Tensor): this {
    checkFeatures('MinMaxScaler.fit', x);
    if (x.shape[0] === 0) throw new Error('MinMaxScaler.fit: no samples');
    return noGrad(() => {
      const lo = x.min(0);
      return this.setStats(lo, x.max(0).sub(lo));
    });
  }
}

/**
 * Rebuilds a fitted scaler from its toJSON() state (e.g. read back from a saved model).
 * @param state - a ScalerState
 */
export function scalerFromJSON(state: ScalerState): StandardScaler | MinMaxScaler {
  const kind = (state as Partial<ScalerState> | null)?.kind;
  if (kind !== 'standard' && kind !== 'minmax') throw new Error(`scalerFromJSON: kind must be "standard" or "minmax", got ${typeof kind === 'string' ? JSON.stringify(kind) : valueStr(kind)}`);
  return (kind === 'standard' ? new StandardScaler() : new MinMaxScaler()).loadJSON(state);
}
