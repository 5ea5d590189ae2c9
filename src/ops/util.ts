import { getBackend } from '../backend/index.js';
import { type Shape, sizeOf } from '../shape.js';
import { Tensor, type TensorLike } from '../tensor.js';

/** Numbers become 0-d tensors so every op can treat its operands alike. */
export function asTensor(op: string, x: TensorLike): Tensor {
  if (x instanceof Tensor) return x;
  if (typeof x === 'number') return new Tensor(new Float32Array([x]), []);
  throw new Error(`${op}: expected a Tensor or a number, got ${describe(x)}`);
}

export function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  if (typeof x === 'object') return (x as object).constructor?.name ?? 'an object';
  return typeof x;
}

export function empty(shape: Shape): Tensor {
  return new Tensor(new Float32Array(sizeOf(shape)), shape);
}

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** The backward of broadcasting: sums g (the output's shape) down to `shape`. */
export function unbroadcast(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const padded = new Array<number>(g.ndim - shape.length).fill(1).concat(shape);
  const out = empty(shape);
  getBackend().sumTo(g.data, g.shape, out.data, padded);
  return out;
}

/** g (of `from`, a shape with size-1 dims) repeated along those dims to `to`. */
export function expand(g: Tensor, from: Shape, to: Shape): Tensor {
  const out = empty(to);
  getBackend().binary('add', g.data, from, ZERO, [], out.data, to);
  return out;
}
const ZERO = new Float32Array(1);
