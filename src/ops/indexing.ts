import { record } from '../autograd.js';
import { getBackend } from '../backend/index.js';
import { normDim, shapeStr, sizeOf, splitAt } from '../shape.js';
import { type IndexLike, Tensor } from '../tensor.js';
import { requireInteger, requireTensor } from './args.js';
import { describe, empty } from './util.js';
import { unsqueeze } from './shape.js';

/** Validates row indices: integers in [0, rows). */
function toIndices(op: string, indices: IndexLike, rows: number): Int32Array {
  let src: ArrayLike<number>;
  if (indices instanceof Tensor) {
    requireTensor(op, 'indices', indices);
    if (indices.ndim > 1) throw new Error(`${op}: indices must be 1-D, got shape ${shapeStr(indices.shape)}`);
    src = indices._read(op);
  } else if (indices instanceof Int32Array || Array.isArray(indices)) {
    src = indices;
  } else {
    throw new Error(`${op}: indices must be a Tensor, an Int32Array or an array of numbers, got ${describe(indices)}`);
  }
  const out = new Int32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      throw new Error(`${op}: indices must be integers, got ${describe(v)} at position ${i}`);
    }
    if (v < 0 || v >= rows) {
      throw new Error(`${op}: index ${v} at position ${i} is out of range for dim 0 of size ${rows}`);
    }
    out[i] = v;
  }
  return out;
}

/**
 * Rows of x picked by integer indices along dim 0 (repeats allowed):
 * out[i] = x[indices[i]]. The backward adds each row's gradient back into the row it came from.
 * PyTorch: `torch.index_select(x, 0, indices)`.
 * @param x - input with at least 1 dim
 * @param indices - row indices in 0..rows-1: a tensor of integers, Int32Array or number[]
 */
export function indexSelect(x: Tensor, indices: IndexLike): Tensor {
  requireTensor('indexSelect', 'input', x);
  if (x.ndim === 0) throw new Error('indexSelect: cannot index a 0-d tensor');
  const idx = toIndices('indexSelect', indices, x.shape[0]!);
  const row = sizeOf(x.shape.slice(1));
  const out = empty([idx.length, ...x.shape.slice(1)], 'indexSelect');
  // Nothing to copy without indices or with empty rows, however long the other dim (a
  // [0, 2^53] input has rows of 2^53 elements, beyond what the native kernel accepts).
  const copies = row > 0 && idx.length > 0;
  if (copies) getBackend().gatherRows(x._buf, row, idx, out._buf);
  return record(out, 'indexSelect', [x], [], (g) => {
    const gx = empty(x.shape, 'indexSelect');
    if (copies) getBackend().scatterAddRows(g._buf, row, idx, gx._buf);
    return [gx];
  });
}

/**
 * Rows start..end (end exclusive; negative values count from the end, out-of-range values are
 * clipped, as in Python slicing) along dim 0. The result is a view: it shares x's buffer.
 * PyTorch: `x[start:end]`.
 * @param x - input with at least 1 dim
 * @param start - first row
 * @param end - one past the last row (default: all rows)
 */
export function slice(x: Tensor, start: number, end?: number): Tensor {
  requireTensor('slice', 'input', x);
  if (x.ndim === 0) throw new Error('slice: cannot slice a 0-d tensor');
  requireInteger('slice', 'start', start);
  if (end !== undefined) requireInteger('slice', 'end', end);
  const rows = x.shape[0]!;
  const clip = (v: number): number => Math.min(rows, Math.max(0, v < 0 ? v + rows : v));
  const s = clip(start);
  const e = Math.max(s, end === undefined ? rows : clip(end));
  const row = sizeOf(x.shape.slice(1));
  const out = x._view(x._buf.subarray(s * row, e * row), [e - s, ...x.shape.slice(1)]);
  return record(out, 'slice', [x], [], (g) => {
    const gx = empty(x.shape, 'slice');
    gx._data.set(g._data, s * row);
    return [gx];
  });
}

function isList(x: readonly Tensor[]): boolean {
  return Array.isArray(x as unknown);
}

/**
 * Joins tensors along an existing dim; all other dims must match.
 * PyTorch: `torch.cat`.
 * @param tensors - at least one tensor
 * @param dim - the dim to join along (default 0)
 */
export function concat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (!isList(tensors) || tensors.length === 0) throw new Error('concat: expected a non-empty array of tensors');
  tensors.forEach((t, i) => {
    requireTensor('concat', `element ${i}`, t);
  });
  const first = tensors[0]!;
  if (first.ndim === 0) throw new Error('concat: cannot concatenate 0-d tensors; use stack');
  const d = normDim('concat', dim, first.ndim);
  for (const t of tensors) {
    if (t.ndim !== first.ndim || t.shape.some((s, i) => i !== d && s !== first.shape[i])) {
      throw new Error(`concat: shapes ${shapeStr(first.shape)} and ${shapeStr(t.shape)} differ outside dim ${d}`);
    }
  }
  const [outer, , inner] = splitAt(first.shape, d);
  const widths = tensors.map((t) => t.shape[d]! * inner);
  const total = widths.reduce((a, b) => a + b, 0);
  const out = empty(
    first.shape.map((s, i) => (i === d ? tensors.reduce((n, t) => n + t.shape[d]!, 0) : s)),
    'concat',
  );
  const be = getBackend();
  let offset = 0;
  tensors.forEach((t, k) => {
    const w = widths[k]!;
    // w = 0: nothing to copy, however large outer is (a [2^50, 0] input).
    if (w > 0 && outer > 0) be.copyBlocks(t._buf, w, out._buf.subarray(offset), total, outer, w);
    offset += w;
  });
  return record(out, 'concat', tensors, [], (g) => {
    let off = 0;
    return tensors.map((t, k) => {
      const w = widths[k]!;
      const start = off;
      off += w;
      if (!t.requiresGrad) return null;
      const gt = empty(t.shape, 'concat');
      if (w > 0 && outer > 0) getBackend().copyBlocks(g._buf.subarray(start), total, gt._buf, w, outer, w);
      return gt;
    });
  });
}

/**
 * Joins same-shaped tensors along a new dim.
 * PyTorch: `torch.stack`.
 * @param tensors - at least one tensor, all of one shape
 * @param dim - where the new dim goes (default 0)
 */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  if (!isList(tensors) || tensors.length === 0) throw new Error('stack: expected a non-empty array of tensors');
  const first = tensors[0]!;
  for (const [i, t] of tensors.entries()) {
    requireTensor('stack', `element ${i}`, t);
    if (t.ndim !== first.ndim || t.shape.some((s, i) => s !== first.shape[i])) {
      throw new Error(`stack: shapes ${shapeStr(first.shape)} and ${shapeStr(t.shape)} differ; stack needs equal shapes`);
    }
  }
  const d = normDim('stack', dim, first.ndim + 1);
  return concat(tensors.map((t) => unsqueeze(t, d)), d);
}
