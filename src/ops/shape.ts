import { record } from '../autograd.js';
import { getBackend } from '../backend/index.js';
import { type Shape, checkShape, normDim, shapeStr, sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { requireTensor } from './args.js';
import { describe, empty } from './util.js';

function resolveShape(x: Tensor, shape: readonly number[]): number[] {
  if (!Array.isArray(shape)) throw new Error(`reshape: shape must be an array of dims, got ${describe(shape)}`);
  const out = shape.slice();
  const free = out.indexOf(-1);
  if (free !== out.lastIndexOf(-1)) throw new Error(`reshape: only one dim can be -1, got ${shapeStr(shape)}`);
  if (free >= 0) {
    const rest = sizeOf(out.filter((_, i) => i !== free));
    if (rest === 0 || x.size % rest !== 0) {
      throw new Error(`reshape: cannot reshape tensor of shape ${shapeStr(x.shape)} (${x.size} elements) into ${shapeStr(shape)}`);
    }
    out[free] = x.size / rest;
  }
  checkShape('reshape', out);
  if (sizeOf(out) !== x.size) {
    throw new Error(`reshape: cannot reshape tensor of shape ${shapeStr(x.shape)} (${x.size} elements) into ${shapeStr(shape)}`);
  }
  return out;
}

/**
 * Same data, new shape (one dim may be -1). The result shares the buffer: no copy.
 * PyTorch: `torch.reshape`.
 * @param x - input
 * @param shape - the new dims, as arguments or one array
 */
export function reshape(x: Tensor, ...shape: number[] | [readonly number[]]): Tensor {
  requireTensor('reshape', 'input', x);
  const dims: readonly number[] = Array.isArray(shape[0]) ? (shape[0] as readonly number[]) : (shape as number[]);
  const s = resolveShape(x, dims);
  return record(x._view(x._buf, s), 'reshape', [x], [], (g) => [g._view(g._buf, x.shape)]);
}

/**
 * Merges dims startDim..endDim into one.
 * PyTorch: `torch.flatten`.
 * @param x - input
 * @param startDim - first dim to merge (default 0)
 * @param endDim - last dim to merge, inclusive (default -1)
 */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  requireTensor('flatten', 'input', x);
  // A 0-d tensor flattens as if it had one dim (PyTorch).
  const s = normDim('flatten', startDim, Math.max(1, x.ndim), 'startDim');
  const e = normDim('flatten', endDim, Math.max(1, x.ndim), 'endDim');
  if (x.ndim === 0) return reshape(x, [1]);
  if (s > e) throw new Error(`flatten: startDim ${startDim} comes after endDim ${endDim}`);
  return reshape(x, [...x.shape.slice(0, s), sizeOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
}

/**
 * Inserts a size-1 dim at `dim`.
 * PyTorch: `torch.unsqueeze`.
 * @param x - input
 * @param dim - where the new dim goes, in -(ndim+1)..ndim
 */
export function unsqueeze(x: Tensor, dim: number): Tensor {
  requireTensor('unsqueeze', 'input', x);
  const d = normDim('unsqueeze', dim, x.ndim + 1);
  return reshape(x, [...x.shape.slice(0, d), 1, ...x.shape.slice(d)]);
}

/**
 * Removes size-1 dims: all of them, or only `dim` (a no-op if that dim is not 1).
 * PyTorch: `torch.squeeze`.
 * @param x - input
 * @param dim - the dim to remove; omit to remove every size-1 dim
 */
export function squeeze(x: Tensor, dim?: number): Tensor {
  requireTensor('squeeze', 'input', x);
  if (dim === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const d = normDim('squeeze', dim, x.ndim);
  return x.shape[d] === 1 ? reshape(x, [...x.shape.slice(0, d), ...x.shape.slice(d + 1)]) : x;
}

/**
 * Reorders dims: result dim i is input dim axes[i]. Copies into a new contiguous buffer.
 * PyTorch: `torch.permute`.
 * @param x - input
 * @param axes - a permutation of 0..ndim-1
 */
export function permute(x: Tensor, axes: readonly number[]): Tensor {
  requireTensor('permute', 'input', x);
  if (!Array.isArray(axes)) throw new Error(`permute: axes must be an array of dims, got ${describe(axes)}`);
  if (axes.length !== x.ndim) {
    throw new Error(`permute: tensor of shape ${shapeStr(x.shape)} needs ${x.ndim} axes, got ${shapeStr(axes)}`);
  }
  const ax = axes.map((a) => normDim('permute', a, x.ndim, 'axis'));
  if (new Set(ax).size !== ax.length) throw new Error(`permute: repeated axis in ${shapeStr(axes)}`);
  const outShape: Shape = ax.map((a) => x.shape[a]!);
  const out = empty(outShape, 'permute');
  if (out.size > 0) getBackend().permute(x._buf, x.shape, ax, out._buf);
  const inverse = new Array<number>(ax.length);
  ax.forEach((a, i) => (inverse[a] = i));
  return record(out, 'permute', [x], [], (g) => {
    const gx = empty(x.shape, 'permute');
    if (gx.size > 0) getBackend().permute(g._buf, outShape, inverse, gx._buf);
    return [gx];
  });
}

/**
 * Swaps two dims.
 * PyTorch: `torch.transpose`.
 * @param x - input
 * @param dim0 - first dim
 * @param dim1 - second dim
 */
export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  requireTensor('transpose', 'input', x);
  const d0 = normDim('transpose', dim0, x.ndim, 'dim0');
  const d1 = normDim('transpose', dim1, x.ndim, 'dim1');
  if (d0 === d1) return x;
  const axes = x.shape.map((_, i) => i);
  axes[d0] = d1;
  axes[d1] = d0;
  return permute(x, axes);
}

/** Transpose of a matrix (a 0-d or 1-d tensor is returned as is, as in PyTorch). */
export function t(x: Tensor): Tensor {
  requireTensor('T', 'input', x);
  if (x.ndim > 2) throw new Error(`T: expects a tensor with at most 2 dims, got shape ${shapeStr(x.shape)}; use transpose(dim0, dim1)`);
  return x.ndim < 2 ? x : transpose(x, 0, 1);
}
