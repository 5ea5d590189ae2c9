import { record } from '../autograd.js';
import { getBackend } from '../backend/index.js';
import { type Shape, normDim, shapeStr, splitAt } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { requireBoolean, requireTensor } from './args.js';
import { empty, expand } from './util.js';

/** float32 holds every integer up to 2^24 exactly: the longest dim whose indices a float tensor can return. */
export const EXACT_INDEX_LIMIT = 2 ** 24;

interface Plan {
  /** The reduced dim, or -1 when reducing over everything. */
  dim: number;
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
  requireTensor(op, 'input', x);
  requireBoolean(op, 'keepdim', keepdim);
  if (dim === null || dim === undefined) {
    const kept = x.shape.map(() => 1);
    return { dim: -1, outer: 1, n: x.size, inner: 1, shape: keepdim ? kept : [], kept };
  }
  if (x.ndim === 0) {
    // A 0-d tensor reduces along dim 0 or -1 (PyTorch treats it as one element).
    normDim(op, dim, 1);
    return { dim: 0, outer: 1, n: 1, inner: 1, shape: [], kept: [] };
  }
  const d = normDim(op, dim, x.ndim);
  const [outer, n, inner] = splitAt(x.shape, d);
  const kept = x.shape.map((s, i) => (i === d ? 1 : s));
  return { dim: d, outer, n, inner, shape: keepdim ? kept : x.shape.filter((_, i) => i !== d), kept };
}

/** Max/min and argmax/argmin need something to pick from (PyTorch refuses the same inputs). */
function checkPickable(op: string, x: Tensor, p: Plan): void {
  if (p.dim < 0 && x.size === 0) {
    throw new Error(`${op}: cannot reduce an empty tensor of shape ${shapeStr(x.shape)} over all dims; give a dim`);
  }
  // Nothing to pick from in a row, unless there are no rows ([0, 3].max(1) is an empty result).
  if (p.n === 0 && p.outer * p.inner > 0) throw new Error(`${op}: cannot reduce over a zero-size dim ${p.dim}`);
}

/**
 * Max/min values into `vals` and the exact index of each along the reduced dim. The backends
 * return indices as float32, exact below 2^24; a longer dim is reduced in chunks of 2^24 and the
 * chunks combined here (first index on ties; the first NaN wins, as in PyTorch).
 */
function argReduce(op: 'max' | 'min', x: Tensor, p: Plan, vals: Float32Array): Float64Array {
  const be = getBackend();
  const idx = new Float64Array(vals.length);
  if (vals.length === 0) return idx;
  if (p.n <= EXACT_INDEX_LIMIT) {
    const arg = new Float32Array(vals.length);
    be.reduce(op, x._buf, p.outer, p.n, p.inner, vals, arg);
    idx.set(arg);
    return idx;
  }
  const cv = new Float32Array(p.inner);
  const ca = new Float32Array(p.inner);
  const isMax = op === 'max';
  for (let o = 0; o < p.outer; o++) {
    for (let start = 0; start < p.n; start += EXACT_INDEX_LIMIT) {
      const len = Math.min(EXACT_INDEX_LIMIT, p.n - start);
      const from = (o * p.n + start) * p.inner;
      be.reduce(op, x._buf.subarray(from, from + len * p.inner), 1, len, p.inner, cv, ca);
      for (let j = 0; j < p.inner; j++) {
        const r = o * p.inner + j;
        const v = cv[j]!;
        const cur = vals[r]!;
        if (start === 0 || (cur === cur && (v !== v || (isMax ? v > cur : v < cur)))) {
          vals[r] = v;
          idx[r] = start + ca[j]!;
        }
      }
    }
  }
  return idx;
}

/**
 * Sum over all elements or along dim.
 * PyTorch: `torch.sum`.
 * @param x - input
 * @param dim - the dim to reduce; null or omitted reduces every element
 * @param keepdim - keep the reduced dim with size 1 (default false)
 */
export function sum(x: Tensor, dim?: number | null, keepdim = false): Tensor {
  const p = plan('sum', x, dim, keepdim);
  const out = empty(p.shape, 'sum');
  if (out.size > 0) getBackend().reduce('sum', x._buf, p.outer, p.n, p.inner, out._buf, null);
  return record(out, 'sum', [x], [], (g) => [expand(g, p.kept, x.shape)]);
}

/**
 * Mean over all elements or along dim (NaN for an empty reduction, as in PyTorch).
 * PyTorch: `torch.mean`.
 * @param x - input
 * @param dim - the dim to reduce; null or omitted reduces every element
 * @param keepdim - keep the reduced dim with size 1 (default false)
 */
export function mean(x: Tensor, dim?: number | null, keepdim = false): Tensor {
  const p = plan('mean', x, dim, keepdim);
  const out = empty(p.shape, 'mean');
  const be = getBackend();
  const scale = new Float32Array([1 / p.n]);
  if (out.size > 0) {
    be.reduce('sum', x._buf, p.outer, p.n, p.inner, out._buf, null);
    be.binary('mul', out._buf, p.shape, scale, [], out._buf, p.shape);
  }
  return record(out, 'mean', [x], [], (g) => {
    const gx = expand(g, p.kept, x.shape);
    if (gx.size > 0) be.binary('mul', gx._buf, x.shape, scale, [], gx._buf, x.shape);
    return [gx];
  });
}

function extreme(op: 'max' | 'min', x: Tensor, dim: number | null | undefined, keepdim: boolean): Tensor {
  const p = plan(op, x, dim, keepdim);
  checkPickable(op, x, p);
  const out = empty(p.shape, op);
  const arg = argReduce(op, x, p, out._data);
  const all = p.dim < 0;
  return record(out, op, [x], all ? [x, out] : [], (g) => {
    const gx = empty(x.shape, op);
    const be = getBackend();
    // Over the whole tensor PyTorch splits the gradient evenly among tied extremes (among the
    // NaNs when the result is NaN); along a dim it goes to the element whose index was returned.
    if (all) be.shareEqual(x._buf, out._data[0]!, g._data[0]!, gx._buf);
    else if (out.size > 0) be.scatterArg(g._buf, arg, p.outer, p.n, p.inner, gx._buf);
    return [gx];
  });
}

/**
 * Largest value overall or along dim (values only; see argmax for the indices).
 * PyTorch: `torch.amax`.
 * @param x - input
 * @param dim - the dim to reduce; null or omitted reduces every element
 * @param keepdim - keep the reduced dim with size 1 (default false)
 */
export function max(x: Tensor, dim?: number | null, keepdim = false): Tensor {
  return extreme('max', x, dim, keepdim);
}

/**
 * Smallest value overall or along dim (values only; see argmin for the indices).
 * PyTorch: `torch.amin`.
 * @param x - input
 * @param dim - the dim to reduce; null or omitted reduces every element
 * @param keepdim - keep the reduced dim with size 1 (default false)
 */
export function min(x: Tensor, dim?: number | null, keepdim = false): Tensor {
  return extreme('min', x, dim, keepdim);
}

function argExtreme(op: 'argmax' | 'argmin', x: Tensor, dim: number | null | undefined, keepdim: boolean): Tensor {
  const p = plan(op, x, dim, keepdim);
  checkPickable(op, x, p);
  const idx = empty(p.shape, op);
  if (idx.size === 0) return idx;
  if (p.n > EXACT_INDEX_LIMIT) {
    throw new Error(
      `${op}: the reduced ${p.dim < 0 ? 'tensor' : `dim ${p.dim}`} has ${p.n} elements, more than the 2^24 whose indices a float32 tensor holds exactly; use ${op}Indices(), which returns exact integers`,
    );
  }
  const vals = new Float32Array(idx.size);
  getBackend().reduce(op === 'argmax' ? 'max' : 'min', x._buf, p.outer, p.n, p.inner, vals, idx._buf);
  return idx;
}

/**
 * Index of the largest value (flat index when dim is omitted), as a float tensor of integers;
 * the first one on ties, the first NaN if there is one (PyTorch). Not differentiable. Throws when
 * the reduced dim is longer than 2^24 (float32 cannot hold those indices): use argmaxIndices.
 * PyTorch: `torch.argmax`.
 * @param x - input
 * @param dim - the dim to reduce; null or omitted reduces every element
 * @param keepdim - keep the reduced dim with size 1 (default false)
 */
export function argmax(x: Tensor, dim?: number | null, keepdim = false): Tensor {
  return argExtreme('argmax', x, dim, keepdim);
}

/**
 * Index of the smallest value; see argmax.
 * PyTorch: `torch.argmin`.
 * @param x - input
 * @param dim - the dim to reduce; null or omitted reduces every element
 * @param keepdim - keep the reduced dim with size 1 (default false)
 */
export function argmin(x: Tensor, dim?: number | null, keepdim = false): Tensor {
  return argExtreme('argmin', x, dim, keepdim);
}

function argIndices(op: 'argmaxIndices' | 'argminIndices', x: Tensor, dim: number | null | undefined): Float64Array {
  const p = plan(op, x, dim, false);
  checkPickable(op, x, p);
  const vals = new Float32Array(p.outer * p.inner);
  return argReduce(op === 'argmaxIndices' ? 'max' : 'min', x, p, vals);
}

/**
 * argmax as exact integers, for any length: a Float64Array laid out as argmax(x, dim)'s result
 * (one index per row of the other dims; one flat index when dim is omitted).
 * @param x - input
 * @param dim - the dim to reduce; null or omitted reduces every element
 */
export function argmaxIndices(x: Tensor, dim?: number | null): Float64Array {
  return argIndices('argmaxIndices', x, dim);
}

/**
 * argmin as exact integers; see argmaxIndices.
 * @param x - input
 * @param dim - the dim to reduce; null or omitted reduces every element
 */
export function argminIndices(x: Tensor, dim?: number | null): Float64Array {
  return argIndices('argminIndices', x, dim);
}

