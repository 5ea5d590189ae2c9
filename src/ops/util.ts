import { getBackend } from '../backend/index.js';
import { type Shape, allocFloat32, checkShape, sameShape, sizeOf, valueStr } from '../shape.js';
import { Tensor, type TensorLike, ownedTensor } from '../tensor.js';
import { requireTensor } from './args.js';

/** Numbers become 0-d tensors so every op can treat its operands alike. */
export function asTensor(op: string, x: TensorLike): Tensor {
  if (x instanceof Tensor) return requireTensor(op, 'input', x);
  if (typeof x === 'number') return ownedTensor(new Float32Array([x]), []);
  throw new Error(`${op}: expected a Tensor or a number, got ${describe(x)}`);
}

export const describe = valueStr;

/**
 * A zero-filled tensor for library code (layers, ops, losses). `op` is the public function the
 * user called: a shape that can't be allocated (more elements than a Float32Array holds, which
 * [2^50, 0] reduced with keepdim asks for) is refused in its name, not in V8's or this helper's.
 */
export function empty(shape: Shape, op: string): Tensor {
  checkShape(op, shape);
  return ownedTensor(allocFloat32(op, sizeOf(shape)), shape);
}

/**
 * Like `empty`, but its values are unspecified (possibly a recycled array's): only for an output
 * the next kernel call overwrites in full, such as a GEMM's C with beta = 0.
 */
export function scratch(shape: Shape, op: string): Tensor {
  checkShape(op, shape);
  return ownedTensor(allocFloat32(op, sizeOf(shape), false), shape);
}

/** The backward of broadcasting: sums g (the output's shape) down to `shape`. */
export function unbroadcast(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const padded = new Array<number>(g.ndim - shape.length).fill(1).concat(shape);
  const out = empty(shape, 'backward');
  // Nothing to sum: zeros (and no backend call with dims it may not accept, such as [2^50, 0]).
  if (g.size === 0) return out;
  getBackend().sumTo(g._buf, g.shape, out._buf, padded);
  return out;
}

/** g (of `from`, a shape with size-1 dims) repeated along those dims to `to`. */
export function expand(g: Tensor, from: Shape, to: Shape): Tensor {
  const out = empty(to, 'backward');
  if (out.size === 0) return out;
  getBackend().binary('add', g._buf, from, ZERO, [], out._buf, to);
  return out;
}
const ZERO = new Float32Array(1);
