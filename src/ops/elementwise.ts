import { record } from '../autograd.js';
import type { BinaryOp, UnaryOp } from '../backend/backend.js';
import { getBackend } from '../backend/index.js';
import { broadcastShapes } from '../shape.js';
import { Tensor, type TensorLike } from '../tensor.js';
import { asTensor, empty, unbroadcast } from './util.js';

function binary(op: BinaryOp, x: Tensor, y: Tensor): Tensor {
  const shape = broadcastShapes(op, x.shape, y.shape);
  const out = empty(shape);
  getBackend().binary(op, x.data, x.shape, y.data, y.shape, out.data, shape);
  return out;
}

export function add(a: TensorLike, b: TensorLike): Tensor {
  const x = asTensor('add', a);
  const y = asTensor('add', b);
  return record(binary('add', x, y), 'add', [x, y], (g) => [
    x.requiresGrad ? unbroadcast(g, x.shape) : null,
    y.requiresGrad ? unbroadcast(g, y.shape) : null,
  ]);
}

export function sub(a: TensorLike, b: TensorLike): Tensor {
  const x = asTensor('sub', a);
  const y = asTensor('sub', b);
  return record(binary('sub', x, y), 'sub', [x, y], (g) => [
    x.requiresGrad ? unbroadcast(g, x.shape) : null,
    y.requiresGrad ? unbroadcast(neg(g), y.shape) : null,
  ]);
}

export function mul(a: TensorLike, b: TensorLike): Tensor {
  const x = asTensor('mul', a);
  const y = asTensor('mul', b);
  return record(binary('mul', x, y), 'mul', [x, y], (g) => [
    x.requiresGrad ? unbroadcast(binary('mul', g, y), x.shape) : null,
    y.requiresGrad ? unbroadcast(binary('mul', g, x), y.shape) : null,
  ]);
}

export function div(a: TensorLike, b: TensorLike): Tensor {
  const x = asTensor('div', a);
  const y = asTensor('div', b);
  const out = binary('div', x, y);
  return record(out, 'div', [x, y], (g) => {
    const gy = binary('div', g, y);
    // d(x/y)/dy = -(x/y)/y, reusing the forward result.
    return [
      x.requiresGrad ? unbroadcast(gy, x.shape) : null,
      y.requiresGrad ? unbroadcast(neg(binary('mul', gy, out)), y.shape) : null,
    ];
  });
}

/** An elementwise map and its derivative, both computed by the backend. */
export function unaryOp(op: UnaryOp, a: TensorLike, p0 = 0, p1 = 0): Tensor {
  const x = asTensor(op, a);
  const y = empty(x.shape);
  getBackend().unary(op, x.data, y.data, p0, p1);
  return record(y, op, [x], (g) => {
    const gx = empty(x.shape);
    getBackend().unaryGrad(op, x.data, y.data, g.data, gx.data, p0, p1);
    return [gx];
  });
}

export const neg = (x: TensorLike): Tensor => unaryOp('neg', x);
export const sqrt = (x: TensorLike): Tensor => unaryOp('sqrt', x);
export const exp = (x: TensorLike): Tensor => unaryOp('exp', x);
export const log = (x: TensorLike): Tensor => unaryOp('log', x);
export const abs = (x: TensorLike): Tensor => unaryOp('abs', x);

/** x ** exponent for a scalar exponent. */
export function pow(x: TensorLike, exponent: number): Tensor {
  if (typeof exponent !== 'number') throw new Error(`pow: exponent must be a number, got ${typeof exponent}`);
  return unaryOp('pow', x, exponent);
}

/** Limits values to [min, max]; either bound may be omitted (null/undefined). */
export function clamp(x: TensorLike, min?: number | null, max?: number | null): Tensor {
  if ((min === undefined || min === null) && (max === undefined || max === null)) {
    throw new Error('clamp: at least one of min and max must be given');
  }
  const lo = min ?? -Infinity;
  const hi = max ?? Infinity;
  if (lo > hi) throw new Error(`clamp: min (${lo}) is greater than max (${hi})`);
  return unaryOp('clamp', x, lo, hi);
}
