import { record } from '../autograd.js';
import type { BinaryOp, UnaryOp } from '../backend/backend.js';
import { getBackend } from '../backend/index.js';
import { broadcastShapes, valueStr } from '../shape.js';
import { Tensor, type TensorLike } from '../tensor.js';
import { asTensor, empty, unbroadcast } from './util.js';

function binary(op: BinaryOp, x: Tensor, y: Tensor): Tensor {
  const shape = broadcastShapes(op, x.shape, y.shape);
  const out = empty(shape, op);
  if (out.size > 0) getBackend().binary(op, x._buf, x.shape, y._buf, y.shape, out._buf, shape);
  return out;
}

/**
 * Elementwise sum a + b with broadcasting (a number counts as a 0-d tensor).
 * PyTorch: `torch.add`.
 * @param a - left operand
 * @param b - right operand
 * @example
 * ```ts
 * add(tensor([[1], [2]]), tensor([10, 20])); // [[11, 21], [12, 22]]
 * ```
 */
export function add(a: TensorLike, b: TensorLike): Tensor {
  const x = asTensor('add', a);
  const y = asTensor('add', b);
  return record(binary('add', x, y), 'add', [x, y], [], (g) => [
    x.requiresGrad ? unbroadcast(g, x.shape) : null,
    y.requiresGrad ? unbroadcast(g, y.shape) : null,
  ]);
}

/**
 * Elementwise difference a − b with broadcasting (a number counts as a 0-d tensor).
 * PyTorch: `torch.sub`.
 * @param a - left operand
 * @param b - right operand
 */
export function sub(a: TensorLike, b: TensorLike): Tensor {
  const x = asTensor('sub', a);
  const y = asTensor('sub', b);
  return record(binary('sub', x, y), 'sub', [x, y], [], (g) => [
    x.requiresGrad ? unbroadcast(g, x.shape) : null,
    y.requiresGrad ? unbroadcast(neg(g), y.shape) : null,
  ]);
}

/**
 * Elementwise product a · b with broadcasting (a number counts as a 0-d tensor).
 * PyTorch: `torch.mul`.
 * @param a - left operand
 * @param b - right operand
 */
export function mul(a: TensorLike, b: TensorLike): Tensor {
  const x = asTensor('mul', a);
  const y = asTensor('mul', b);
  return record(binary('mul', x, y), 'mul', [x, y], x.requiresGrad ? (y.requiresGrad ? [x, y] : [y]) : [x], (g) => [
    x.requiresGrad ? unbroadcast(binary('mul', g, y), x.shape) : null,
    y.requiresGrad ? unbroadcast(binary('mul', g, x), y.shape) : null,
  ]);
}

/**
 * Elementwise quotient a / b with broadcasting (a number counts as a 0-d tensor).
 * PyTorch: `torch.div`.
 * @param a - left operand
 * @param b - right operand
 */
export function div(a: TensorLike, b: TensorLike): Tensor {
  const x = asTensor('div', a);
  const y = asTensor('div', b);
  const out = binary('div', x, y);
  return record(out, 'div', [x, y], y.requiresGrad ? [y, out] : [y], (g) => {
    const gy = binary('div', g, y);
    // d(x/y)/dy = -(x/y)/y, reusing the forward result.
    return [
      x.requiresGrad ? unbroadcast(gy, x.shape) : null,
      y.requiresGrad ? unbroadcast(neg(binary('mul', gy, out)), y.shape) : null,
    ];
  });
}

/**
 * What each map's derivative reads (both backends' unaryGrad kernels): its output for sqrt, exp,
 * sigmoid and tanh, nothing for neg, its input otherwise. Backward checks exactly these for
 * in-place changes. A new map must be listed here if its kernel reads the output.
 */
function unaryReads(op: UnaryOp, x: Tensor, y: Tensor): Tensor[] {
  switch (op) {
    case 'neg': return [];
    case 'sqrt': case 'exp': case 'sigmoid': case 'tanh': return [y];
    default: return [x];
  }
}

/** An elementwise map and its derivative, both computed by the backend. */
export function unaryOp(op: UnaryOp, a: TensorLike, p0 = 0, p1 = 0, name: string = op): Tensor {
  const x = asTensor(name, a);
  const y = empty(x.shape, name);
  if (y.size > 0) getBackend().unary(op, x._buf, y._buf, p0, p1);
  return record(y, op, [x], unaryReads(op, x, y), (g) => {
    const gx = empty(x.shape, name);
    if (gx.size > 0) getBackend().unaryGrad(op, x._buf, y._buf, g._buf, gx._buf, p0, p1);
    return [gx];
  });
}

/**
 * −x elementwise. PyTorch: `torch.neg`.
 * @param x - input
 */
export const neg = (x: TensorLike): Tensor => unaryOp('neg', x);
/**
 * √x elementwise (NaN below 0). PyTorch: `torch.sqrt`.
 * @param x - input
 */
export const sqrt = (x: TensorLike): Tensor => unaryOp('sqrt', x);
/**
 * e^x elementwise. PyTorch: `torch.exp`.
 * @param x - input
 */
export const exp = (x: TensorLike): Tensor => unaryOp('exp', x);
/**
 * Natural logarithm elementwise (−Infinity at 0, NaN below). PyTorch: `torch.log`.
 * @param x - input
 */
export const log = (x: TensorLike): Tensor => unaryOp('log', x);
/**
 * |x| elementwise. PyTorch: `torch.abs`.
 * @param x - input
 */
export const abs = (x: TensorLike): Tensor => unaryOp('abs', x);

/**
 * x ** exponent for a finite scalar exponent. (An infinite or NaN exponent is refused: JS's
 * Math.pow and C's pow disagree there, e.g. 1 ** Infinity, so the backends would.)
 * PyTorch: `torch.pow`.
 * @param x - base
 * @param exponent - a finite number
 */
export function pow(x: TensorLike, exponent: number): Tensor {
  if (typeof exponent !== 'number' || !Number.isFinite(exponent)) {
    throw new Error(`pow: exponent must be a finite number, got ${valueStr(exponent)}`);
  }
  return unaryOp('pow', x, exponent);
}

/**
 * Limits values to [min, max]; either bound may be omitted (null/undefined); ±Infinity is allowed,
 * NaN is not. NaN elements stay NaN, as in PyTorch.
 * PyTorch: `torch.clamp`.
 * @param x - input
 * @param min - lower bound (null/undefined: none)
 * @param max - upper bound (null/undefined: none)
 */
export function clamp(x: TensorLike, min?: number | null, max?: number | null): Tensor {
  const bound = (name: string, v: unknown): number | null => {
    if (v === undefined || v === null) return null;
    if (typeof v !== 'number' || Number.isNaN(v)) throw new Error(`clamp: ${name} must be a number, null or undefined, got ${valueStr(v)}`);
    return v;
  };
  const lo = bound('min', min);
  const hi = bound('max', max);
  if (lo === null && hi === null) throw new Error('clamp: at least one of min and max must be given');
  if (lo !== null && hi !== null && lo > hi) throw new Error(`clamp: min (${lo}) is greater than max (${hi})`);
  return unaryOp('clamp', x, lo ?? -Infinity, hi ?? Infinity);
}
