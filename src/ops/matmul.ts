import { record } from '../autograd.js';
import { getBackend } from '../backend/index.js';
import { shapeStr, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { reshape } from './shape.js';
import { requireTensor } from './args.js';
import { empty, scratch } from './util.js';

function incompatible(a: Tensor, b: Tensor, why: string): Error {
  return new Error(`matmul: shapes ${shapeStr(a.shape)} and ${shapeStr(b.shape)} are incompatible (${why})`);
}

/**
 * Matrix product with PyTorch's rules for the supported ranks:
 * - 2-D @ 2-D: [m, k] @ [k, n] → [m, n];
 * - N-D @ 2-D: [..., m, k] @ [k, n] → [..., m, n] (one GEMM over all leading rows);
 * - 3-D @ 3-D: [b, m, k] @ [b, k, n] → [b, m, n] (batched);
 * - a 1-D operand is a row (left) or column (right) vector whose dim is dropped from the result.
 * Gradients: dA = dC·Bᵀ and dB = Aᵀ·dC, computed by the GEMM's transpose flags, never by
 * materialising a transpose.
 * PyTorch: `torch.matmul` (`a @ b`).
 * @param a - left operand
 * @param b - right operand
 * @example
 * ```ts
 * const y = matmul(randn([32, 784]), randn([784, 10])); // [32, 10]
 * ```
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  requireTensor('matmul', 'input', a);
  requireTensor('matmul', 'other', b);
  if (a.ndim === 0 || b.ndim === 0) throw incompatible(a, b, 'both operands need at least one dim');
  if (a.ndim === 1 && b.ndim === 1) {
    if (a.shape[0] !== b.shape[0]) throw incompatible(a, b, `${a.shape[0]} != ${b.shape[0]}`);
    return reshape(matmul(reshape(a, [1, -1]), reshape(b, [-1, 1])), []);
  }
  if (a.ndim === 1) {
    const out = matmul(reshape(a, [1, -1]), b);
    return reshape(out, [...out.shape.slice(0, -2), out.shape[out.ndim - 1]!]);
  }
  if (b.ndim === 1) {
    const out = matmul(a, reshape(b, [-1, 1]));
    return reshape(out, out.shape.slice(0, -1));
  }
  if (b.ndim === 2) return matmulFolded(a, b);
  if (a.ndim === 3 && b.ndim === 3) return matmulBatched(a, b);
  throw incompatible(a, b, 'supported: 2-D @ 2-D, N-D @ 2-D, 3-D @ 3-D with equal batch, and 1-D operands');
}

/** [..., m, k] @ [k, n]: the leading dims fold into the rows of one GEMM (the data is contiguous). */
function matmulFolded(a: Tensor, b: Tensor): Tensor {
  const k = a.shape[a.ndim - 1]!;
  const n = b.shape[1]!;
  if (b.shape[0] !== k) throw incompatible(a, b, `inner dims ${k} != ${b.shape[0]}`);
  // The 2-D case without slice/spread copies of the shape: they were half of a small product's
  // overhead outside the kernel (16×16×16: 1.09 → 0.70 µs per call, the kernel 0.39).
  const flat = a.ndim === 2;
  const rows = flat ? a.shape[0]! : sizeOf(a.shape.slice(0, -1));
  // A GEMM with beta = 0 writes every element of C (zeros when k = 0): a recycled array will do.
  const out = scratch(flat ? [rows, n] : [...a.shape.slice(0, -1), n], 'matmul');
  if (out.size > 0) getBackend().gemm(false, false, rows, n, k, 1, a._buf, b._buf, 0, out._buf);
  return record(out, 'matmul', [a, b], a.requiresGrad ? (b.requiresGrad ? [a, b] : [b]) : [a], (g) => {
    const be = getBackend();
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    // An empty product contributes nothing: zeros, without backend calls on dims like 2^50.
    if (a.requiresGrad) {
      ga = scratch(a.shape, 'matmul');
      if (ga.size > 0) be.gemm(false, true, rows, k, n, 1, g._buf, b._buf, 0, ga._buf);
    }
    if (b.requiresGrad) {
      gb = scratch(b.shape, 'matmul');
      if (gb.size > 0) be.gemm(true, false, k, n, rows, 1, a._buf, g._buf, 0, gb._buf);
    }
    return [ga, gb];
  });
}

function matmulBatched(a: Tensor, b: Tensor): Tensor {
  const [batch, m, k] = a.shape as [number, number, number];
  const [bb, kb, n] = b.shape as [number, number, number];
  if (batch !== bb) throw incompatible(a, b, `batch sizes ${batch} != ${bb}`);
  if (k !== kb) throw incompatible(a, b, `inner dims ${k} != ${kb}`);
  const out = empty([batch, m, n], 'matmul');
  const be = getBackend();
  for (let i = 0; i < (out.size > 0 ? batch : 0); i++) {
    be.gemm(false, false, m, n, k, 1, a._buf.subarray(i * m * k, (i + 1) * m * k), b._buf.subarray(i * k * n, (i + 1) * k * n), 0, out._buf.subarray(i * m * n, (i + 1) * m * n));
  }
  return record(out, 'matmul', [a, b], a.requiresGrad ? (b.requiresGrad ? [a, b] : [b]) : [a], (g) => {
    const be = getBackend();
    const ga = a.requiresGrad ? empty(a.shape, 'matmul') : null;
    const gb = b.requiresGrad ? empty(b.shape, 'matmul') : null;
    // Zero batches, or empty matrices (then the gradients are all zeros): nothing to do.
    const work = (ga !== null && ga.size > 0) || (gb !== null && gb.size > 0);
    for (let i = 0; i < (work ? batch : 0); i++) {
      const gi = g._data.subarray(i * m * n, (i + 1) * m * n);
      const ai = a._data.subarray(i * m * k, (i + 1) * m * k);
      const bi = b._data.subarray(i * k * n, (i + 1) * k * n);
      if (ga) be.gemm(false, true, m, k, n, 1, gi, bi, 0, ga._buf.subarray(i * m * k, (i + 1) * m * k));
      if (gb) be.gemm(true, false, k, n, m, 1, ai, gi, 0, gb._buf.subarray(i * k * n, (i + 1) * k * n));
    }
    return [ga, gb];
  });
}
