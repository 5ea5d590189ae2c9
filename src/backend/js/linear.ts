import { gemm } from './gemm.js';

/** C = act(A·Bᵀ + bias): the GEMM, then one pass for bias and ReLU. */
export function linear(
  m: number,
  n: number,
  k: number,
  a: Float32Array,
  b: Float32Array,
  bias: Float32Array | null,
  relu: boolean,
  c: Float32Array,
): void {
  if (m === 0 || n === 0) return;
  gemm(false, true, m, n, k, 1, a, b, 0, c);
  if (bias === null && !relu) return;
  for (let i = 0; i < m; i++) {
    const row = i * n;
    for (let j = 0; j < n; j++) {
      let v = c[row + j]!;
      if (bias !== null) v += bias[j]!;
      // NaN (and -0) pass through the ReLU, as in the native epilogue and PyTorch.
      c[row + j] = relu && v < 0 ? 0 : v;
    }
  }
}
