import { record } from '../autograd.js';
import type { ReduceOp } from '../backend/backend.js';
import { getBackend } from '../backend/index.js';
import { type Shape, normDim, shapeStr, splitAt } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { empty, expand } from './util.js';

interface Plan {
  outer: number;
  n: number;
  inner: number;
  /** The result's shape as the caller sees it (with or without keepdim). */
  shape: Shape;
  /** The result's shape with the reduced dim kept as 1: what broadcasts back to the input. */
  kept: Shape;
}

/** dim null/undefined reduces everything (to a 0-d tensor, or all-ones dims with keepdim). */
function plan(op: string, x: Tensor, dim: number | null | undefined, keepdim: boolean): Plan {
  if (dim === null || dim === undefined) {
    const kept = x.shape.map(() => 1);
    return { outer: 1, n: x.size, inner: 1, shape: keepdim ? kept : [], kept };
  }
  if (x.ndim === 0) {
    if (dim !== 0 && dim !== -1) throw new Error(`${op}: dim ${dim} is out of range for a 0-d tensor`);
    return { outer: 1, n: 1, inner: 1, shape: [], kept: [] };
  }
  const d = normDim(op, dim, x.ndim);
  const [outer, n, inner] = splitAt(x.shape, d);
  const kept = x.shape.map((s, i) => (i === d ? 1 : s));
  return { outer, n, inner, shape: keepdim ? kept : x.shape.filter((_, i) => i !== d), kept };
}

/** Sum over all elements or along dim. */
export function sum(x: Tensor, dim?: number | null, keepdim = false): Tensor {
  const p = plan('sum', x, dim, keepdim);
  const out = empty(p.shape);
  getBackend().reduce('sum', x.data, p.outer, p.n, p.inner, out.data, null);
  return record(out, 'sum', [x], (g) => [expand(g, p.kept, x.shape)]);
}

/** Mean over all elements or along dim (NaN for an empty reduction, as in PyTorch). */
export function mean(x: Tensor, dim?: number | null, keepdim = false): Tensor {
  const p = plan('mean', x, dim, keepdim);
  const out = empty(p.shape);
  const be = getBackend();
  be.reduce('sum', x.data, p.outer, p.n, p.inner, out.data, null);
  const scale = new Float32Array([1 / p.n]);
  be.binary('mul', out.data, p.shape, scale, [], out.data, p.shape);
  return record(out, 'mean', [x], (g) => {
    const gx = expand(g, p.kept, x.shape);
    be.binary('mul', gx.data, x.shape, scale, [], gx.data, x.shape);
    return [gx];
  });
}

function extreme(op: 'max' | 'min', x: Tensor, dim: number | null | undefined, keepdim: boolean): Tensor {
  if (x.size === 0) throw new Error(`${op}: cannot reduce an empty tensor of shape ${shapeStr(x.shape)}`);
  const p = plan(op, x, dim, keepdim);
  const out = empty(p.shape);
  const arg = new Float32Array(out.size);
  getBackend().reduce(op as ReduceOp, x.data, p.outer, p.n, p.inner, out.data, arg);
  const all = dim === null || dim === undefined;
  return record(out, op, [x], (g) => {
    const gx = empty(x.shape);
    if (all) {
      // Over the whole tensor PyTorch splits the gradient evenly among tied extremes.
      const v = out.data[0]!;
      let ties = 0;
      for (let i = 0; i < x.size; i++) if (x.data[i] === v) ties++;
      const share = g.data[0]! / ties;
      for (let i = 0; i < x.size; i++) if (x.data[i] === v) gx.data[i] = share;
    } else {
      // Along a dim, the gradient goes to the element whose index was returned.
      for (let o = 0; o < p.outer; o++) {
        for (let j = 0; j < p.inner; j++) {
          const r = o * p.inner + j;
          gx.data[(o * p.n + arg[r]!) * p.inner + j] = g.data[r]!;
        }
      }
    }
    return [gx];
  });
}

/** Largest value overall or along dim (values only; see argmax for the indices). */
export function max(x: Tensor, dim?: number | null, keepdim = false): Tensor {
  return extreme('max', x, dim, keepdim);
}

/** Smallest value overall or along dim (values only; see argmin for the indices). */
export function min(x: Tensor, dim?: number | null, keepdim = false): Tensor {
  return extreme('min', x, dim, keepdim);
}

function argExtreme(op: 'argmax' | 'argmin', x: Tensor, dim: number | null | undefined, keepdim: boolean): Tensor {
  if (x.size === 0) throw new Error(`${op}: cannot reduce an empty tensor of shape ${shapeStr(x.shape)}`);
  const p = plan(op, x, dim, keepdim);
  const vals = new Float32Array(Math.max(1, p.outer * p.inner));
  const idx = empty(p.shape);
  getBackend().reduce(op === 'argmax' ? 'max' : 'min', x.data, p.outer, p.n, p.inner, vals, idx.data);
  return idx;
}

/** Index of the largest value (flat index when dim is omitted), as a float tensor of integers;
 * the first one on ties. Not differentiable. */
export function argmax(x: Tensor, dim?: number | null, keepdim = false): Tensor {
  return argExtreme('argmax', x, dim, keepdim);
}

/** Index of the smallest value; see argmax. */
export function argmin(x: Tensor, dim?: number | null, keepdim = false): Tensor {
  return argExtreme('argmin', x, dim, keepdim);
}

