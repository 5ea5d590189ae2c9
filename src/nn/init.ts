/**
 * Weight initialisation, in place, with PyTorch's formulas (torch/nn/init.py), drawing from the
 * seeded library generator. Names end in "_" as PyTorch's do: they overwrite their argument.
 *
 * Every public function checks its own arguments and names itself in its errors, also when the
 * work is delegated (xavierUniform_ → uniform_): the user called xavierUniform_, not uniform_.
 */
import { requireKnownOptions } from '../ops/args.js';
import { defaultGenerator } from '../random.js';
import { shapeStr, valueStr } from '../shape.js';
import { type Tensor, tensorProblem } from '../tensor.js';

/** The nonlinearities calculateGain knows, by PyTorch's names. */
export type Nonlinearity = 'linear' | 'conv1d' | 'conv2d' | 'conv3d' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';

const FLOAT32_MAX = 3.4028234663852886e38;

/** t, checked to be a Tensor whose data is intact (writing into a transferred buffer would do nothing). */
function target(fn: string, t: unknown): Tensor {
  const bad = tensorProblem(t);
  if (bad !== null) throw new Error(`${fn}: tensor: ${bad}`);
  return t as Tensor;
}

function finite(fn: string, what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${fn}: ${what} must be a finite number, got ${valueStr(v)}`);
  return v;
}

/**
 * The recommended gain for a nonlinearity (leaky_relu takes its negative slope as param, default 0.01).
 * PyTorch: `torch.nn.init.calculate_gain`.
 * @param nonlinearity - e.g. 'relu', 'tanh', 'leaky_relu'
 * @param param - leaky_relu's negative slope
 */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  return gainOf('calculateGain', nonlinearity, param);
}

function gainOf(fn: string, nonlinearity: unknown, param: unknown): number {
  switch (nonlinearity) {
    case 'linear':
    case 'conv1d':
    case 'conv2d':
    case 'conv3d':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu': {
      const slope = param === undefined ? 0.01 : finite(fn, 'negative slope (param)', param);
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu':
      return 3 / 4;
    default:
      throw new Error(`${fn}: unknown nonlinearity ${valueStr(nonlinearity)} (expected linear, conv1d, conv2d, conv3d, sigmoid, tanh, relu, leaky_relu or selu)`);
  }
}

/**
 * fan_in and fan_out of a weight [out, in, ...receptive field].
 * @param t - a tensor with at least 2 dims
 */
export function calculateFans(t: Tensor): {
  /** in × receptive field size. */
  fanIn: number;
  /** out × receptive field size. */
  fanOut: number;
} {
  return fans('calculateFans', t);
}

function fans(fn: string, t: Tensor): { fanIn: number; fanOut: number } {
  target(fn, t);
  if (t.ndim < 2) throw new Error(`${fn}: fan in and fan out need a tensor with at least 2 dims, got ${shapeStr(t.shape)}`);
  let receptive = 1;
  for (let i = 2; i < t.ndim; i++) receptive *= t.shape[i]!;
  return { fanIn: t.shape[1]! * receptive, fanOut: t.shape[0]! * receptive };
}

/**
 * Fills t from U(a, b), in place.
 * PyTorch: `torch.nn.init.uniform_`.
 * @param t - the tensor to fill (overwritten)
 * @param a - lower bound (default 0)
 * @param b - upper bound (default 1)
 * @returns t
 */
export function uniform_(t: Tensor, a = 0, b = 1): Tensor {
  target('uniform_', t);
  return fillUniform('uniform_', t, a, b);
}

function fillUniform(fn: string, t: Tensor, a: unknown, b: unknown): Tensor {
  finite(fn, 'a', a);
  finite(fn, 'b', b);
  const lo = a as number;
  const hi = b as number;
  if (lo > hi) throw new Error(`${fn}: expected a <= b, got a ${lo} > b ${hi}`);
  // As PyTorch: a wider range has no float32 width, and its draws would be ±Infinity or NaN.
  if (hi - lo > FLOAT32_MAX) throw new Error(`${fn}: b - a must be at most ${FLOAT32_MAX} (the float32 maximum), got a ${lo}, b ${hi}`);
  const d = t._write(fn);
  defaultGenerator._fillUniform(d, lo, hi);
  return t;
}

/**
 * Fills t from N(mean, std²), in place.
 * PyTorch: `torch.nn.init.normal_`.
 * @param t - the tensor to fill (overwritten)
 * @param mean - default 0
 * @param std - standard deviation, ≥ 0 (default 1)
 * @returns t
 */
export function normal_(t: Tensor, mean = 0, std = 1): Tensor {
  target('normal_', t);
  return fillNormal('normal_', t, mean, std);
}

function fillNormal(fn: string, t: Tensor, mean: unknown, std: unknown): Tensor {
  const m = finite(fn, 'mean', mean);
  const s = finite(fn, 'std', std);
  if (s < 0) throw new Error(`${fn}: std must be >= 0, got ${s}`);
  const d = t._write(fn);
  defaultGenerator._fillNormal(d, m, s);
  return t;
}

/**
 * Fills t with value, in place.
 * PyTorch: `torch.nn.init.constant_`.
 * @param t - the tensor to fill (overwritten)
 * @param value - any number
 * @returns t
 */
export function constant_(t: Tensor, value: number): Tensor {
  return fillConstant('constant_', t, value);
}

function fillConstant(fn: string, t: Tensor, value: unknown): Tensor {
  target(fn, t);
  // Any number, NaN and ±Infinity included, as torch.nn.init.constant_ allows.
  if (typeof value !== 'number') throw new Error(`${fn}: value must be a number, got ${valueStr(value)}`);
  t._write(fn).fill(value);
  return t;
}

/**
 * Fills t with 0, in place; returns t.
 * PyTorch: `torch.nn.init.zeros_`.
 * @param t - the tensor to fill (overwritten)
 */
export const zeros_ = (t: Tensor): Tensor => fillConstant('zeros_', t, 0);
/**
 * Fills t with 1, in place; returns t.
 * PyTorch: `torch.nn.init.ones_`.
 * @param t - the tensor to fill (overwritten)
 */
export const ones_ = (t: Tensor): Tensor => fillConstant('ones_', t, 1);

function checkGain(fn: string, gain: unknown): number {
  const g = finite(fn, 'gain', gain);
  if (g < 0) throw new Error(`${fn}: gain must be >= 0, got ${g}`);
  return g;
}

/**
 * Fills t from U(−a, a) with a = gain·√(6 / (fanIn + fanOut)) (Glorot & Bengio 2010), in place.
 * PyTorch: `torch.nn.init.xavier_uniform_`.
 * @param t - a weight [out, in, …] (overwritten)
 * @param gain - scale (default 1; see calculateGain)
 * @returns t
 */
export function xavierUniform_(t: Tensor, gain = 1): Tensor {
  const fn = 'xavierUniform_';
  target(fn, t);
  const g = checkGain(fn, gain);
  if (t.size === 0) return t; // PyTorch: initializing a zero-element tensor is a no-op (its fans may be 0).
  const { fanIn, fanOut } = fans(fn, t);
  const a = g * Math.sqrt(6 / (fanIn + fanOut));
  return fillUniform(fn, t, -a, a);
}

/**
 * Fills t from N(0, std²) with std = gain·√(2 / (fanIn + fanOut)), in place.
 * PyTorch: `torch.nn.init.xavier_normal_`.
 * @param t - a weight [out, in, …] (overwritten)
 * @param gain - scale (default 1; see calculateGain)
 * @returns t
 */
export function xavierNormal_(t: Tensor, gain = 1): Tensor {
  const fn = 'xavierNormal_';
  target(fn, t);
  const g = checkGain(fn, gain);
  if (t.size === 0) return t; // PyTorch: initializing a zero-element tensor is a no-op (its fans may be 0).
  const { fanIn, fanOut } = fans(fn, t);
  return fillNormal(fn, t, 0, g * Math.sqrt(2 / (fanIn + fanOut)));
}

/** Options of kaimingUniform_ and kaimingNormal_; defaults are PyTorch's. */
export interface KaimingOptions {
  /** Negative slope of the leaky_relu that follows (used only with nonlinearity 'leaky_relu'). */
  a?: number;
  /** 'fanIn' (default) keeps the forward pass's variance; 'fanOut' the backward pass's. */
  mode?: 'fanIn' | 'fanOut';
  /** The nonlinearity that follows (default 'leaky_relu', which with a = 0 is ReLU's gain). */
  nonlinearity?: Nonlinearity;
}

function kaimingStd(fn: string, t: Tensor, o: KaimingOptions): number {
  target(fn, t);
  requireKnownOptions(fn, o, ['a', 'mode', 'nonlinearity']);
  const mode: unknown = o.mode ?? 'fanIn';
  // PyTorch's 'fan_in' spelled here would otherwise silently mean fanOut.
  if (mode !== 'fanIn' && mode !== 'fanOut') throw new Error(`${fn}: mode must be 'fanIn' or 'fanOut', got ${valueStr(mode)}`);
  const a = o.a === undefined ? 0 : finite(fn, 'a', o.a);
  const gain = gainOf(fn, o.nonlinearity ?? 'leaky_relu', a);
  // A zero-element tensor (PyTorch: a no-op) may have a zero fan; its std is never used.
  if (t.size === 0) return 0;
  const { fanIn, fanOut } = fans(fn, t);
  return gain / Math.sqrt(mode === 'fanIn' ? fanIn : fanOut);
}

/**
 * Fills t from U(−b, b) with b = gain·√(3 / fan) (He et al. 2015), in place. PyTorch's defaults:
 * a 0, fanIn, leaky_relu.
 * PyTorch: `torch.nn.init.kaiming_uniform_`.
 * @param t - a weight [out, in, …] (overwritten)
 * @param options - a, mode, nonlinearity
 * @returns t
 */
export function kaimingUniform_(t: Tensor, options: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd('kaimingUniform_', t, options);
  return fillUniform('kaimingUniform_', t, -bound, bound);
}

/**
 * Fills t from N(0, std²) with std = gain / √fan, in place.
 * PyTorch: `torch.nn.init.kaiming_normal_`.
 * @param t - a weight [out, in, …] (overwritten)
 * @param options - a, mode, nonlinearity
 * @returns t
 */
export function kaimingNormal_(t: Tensor, options: KaimingOptions = {}): Tensor {
  return fillNormal('kaimingNormal_', t, 0, kaimingStd('kaimingNormal_', t, options));
}
