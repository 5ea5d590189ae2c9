import { noGrad } from '../autograd.js';
import { shapeStr } from '../shape.js';
import { Tensor } from '../tensor.js';

/**
 * Class indices [N] (integers stored as floats, as argmax returns them) → one-hot rows [N, C].
 * Throws on an index that is not an integer in [0, numClasses).
 */
export function oneHot(labels: Tensor, numClasses: number): Tensor {
  if (!(labels instanceof Tensor) || labels.ndim !== 1) {
    throw new Error(`oneHot: labels must be a 1-D tensor of class indices, got ${labels instanceof Tensor ? shapeStr(labels.shape) : typeof labels}`);
  }
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new Error(`oneHot: numClasses must be a positive integer, got ${numClasses}`);
  const n = labels.shape[0]!;
  const out = new Float32Array(n * numClasses);
  // One write per row: a scatter of N indices, not a loop over N×C elements.
  for (let i = 0; i < n; i++) {
    const c = labels.data[i]!;
    if (!Number.isInteger(c) || c < 0 || c >= numClasses) {
      throw new Error(`oneHot: label ${c} at position ${i} is not a class index in [0, ${numClasses})`);
    }
    out[i * numClasses + c] = 1;
  }
  return new Tensor(out, [n, numClasses]);
}

function checkFeatures(op: string, x: Tensor, features?: number): void {
  if (!(x instanceof Tensor) || x.ndim !== 2) {
    throw new Error(`${op}: expected a [samples, features] tensor, got ${x instanceof Tensor ? shapeStr(x.shape) : typeof x}`);
  }
  if (features !== undefined && x.shape[1] !== features) {
    throw new Error(`${op}: fitted on ${features} features, got ${shapeStr(x.shape)}`);
  }
}

/** A scaler's fitted statistics as plain numbers (to store with a saved model). */
export interface ScalerState {
  kind: 'standard' | 'minmax';
  /** Subtracted from each feature. */
  shift: number[];
  /** Each feature is divided by this after the shift (1 where a feature is constant). */
  scale: number[];
}

/**
 * A per-feature affine map x → (x − shift) / scale, fitted on training data only and then applied
 * unchanged to validation and test data (fitting on them would leak their statistics).
 */
abstract class AffineScaler {
  protected shift: Tensor | null = null;
  protected scale: Tensor | null = null;
  protected abstract readonly kind: ScalerState['kind'];

  /** Computes the statistics from x [samples, features]; returns this. */
  abstract fit(x: Tensor): this;

  get fitted(): boolean {
    return this.shift !== null;
  }

  /** (x − shift) / scale, feature by feature; x is [samples, features]. A new tensor, no graph. */
  transform(x: Tensor): Tensor {
    if (this.shift === null || this.scale === null) throw new Error(`${this.constructor.name}.transform: call fit() first`);
    checkFeatures(`${this.constructor.name}.transform`, x, this.shift.size);
    const shift = this.shift;
    const scale = this.scale;
    return noGrad(() => x.sub(shift).div(scale));
  }

  fitTransform(x: Tensor): Tensor {
    return this.fit(x).transform(x);
  }

  toJSON(): ScalerState {
    if (this.shift === null || this.scale === null) throw new Error(`${this.constructor.name}.toJSON: call fit() first`);
    return { kind: this.kind, shift: Array.from(this.shift.data), scale: Array.from(this.scale.data) };
  }

  /** Restores statistics saved by toJSON(); returns this. */
  loadJSON(state: ScalerState): this {
    const ok =
      state !== null &&
      typeof state === 'object' &&
      state.kind === this.kind &&
      Array.isArray(state.shift) &&
      Array.isArray(state.scale) &&
      state.shift.length === state.scale.length &&
      state.shift.every(Number.isFinite) &&
      state.scale.every((v) => Number.isFinite(v) && v > 0);
    if (!ok) {
      throw new Error(`${this.constructor.name}.loadJSON: expected { kind: "${this.kind}", shift: number[], scale: number[] } of equal lengths, finite, scale > 0`);
    }
    const n = state.shift.length;
    return this.setStats(new Tensor(Float32Array.from(state.shift), [n]), new Tensor(Float32Array.from(state.scale), [n]));
  }

  protected setStats(shift: Tensor, spread: Tensor): this {
    // A constant feature has spread 0: leave it centred but unscaled instead of dividing by zero.
    const s = spread.data.slice();
    for (let j = 0; j < s.length; j++) if (!(s[j]! > 0)) s[j] = 1;
    this.shift = new Tensor(shift.data.slice(), [shift.size]);
    this.scale = new Tensor(s, [s.length]);
    return this;
  }
}

/** Standardisation: subtract each feature's mean, divide by its (population) standard deviation. */
export class StandardScaler extends AffineScaler {
  protected readonly kind = 'standard' as const;

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

/** Min-max scaling of each feature to [0, 1] (on the data it was fitted on). */
export class MinMaxScaler extends AffineScaler {
  protected readonly kind = 'minmax' as const;

  fit(x: Tensor): this {
    checkFeatures('MinMaxScaler.fit', x);
    if (x.shape[0] === 0) throw new Error('MinMaxScaler.fit: no samples');
    return noGrad(() => {
      const lo = x.min(0);
      return this.setStats(lo, x.max(0).sub(lo));
    });
  }
}

/** Rebuilds a fitted scaler from its toJSON() state (e.g. read back from a saved model). */
export function scalerFromJSON(state: ScalerState): StandardScaler | MinMaxScaler {
  const kind = (state as Partial<ScalerState> | null)?.kind;
  if (kind !== 'standard' && kind !== 'minmax') throw new Error(`scalerFromJSON: kind must be "standard" or "minmax", got ${JSON.stringify(kind)}`);
  return (kind === 'standard' ? new StandardScaler() : new MinMaxScaler()).loadJSON(state);
}
