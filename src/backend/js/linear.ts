import { gemm } from './gemm.js';
import { reduce } from './reduce.js';

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

/**
 * Backend.linearBackward: the ReLU mask and the bias sums in one pass over g (each column summed
 * in float64 down the rows, as reduce's sum), then gemm for gx and gw.
 */
export function linearBackward(
  rows: number,
  outF: number,
  inF: number,
  g: Float32Array,
  y: Float32Array | null,
  x: Float32Array | null,
  w: Float32Array | null,
  gy: Float32Array | null,
  gx: Float32Array | null,
  gw: Float32Array | null,
  gb: Float32Array | null,
): void {
  let d = g;
  if (y !== null && gy !== null) {
    const acc = gb !== null ? new Float64Array(outF) : null;
    for (let i = 0; i < rows; i++) {
      const row = i * outF;
      for (let j = 0; j < outF; j++) {
        // unaryGrad's relu: NaN in y passes the gradient, as PyTorch's threshold_backward.
        const v = y[row + j]! <= 0 ? 0 : g[row + j]!;
        gy[row + j] = v;
        if (acc !== null) acc[j] += v;
      }
    }
    if (gb !== null && acc !== null) gb.set(acc);
    d = gy;
  } else if (gb !== null) {
    reduce('sum', g, 1, rows, outF, gb, null);
  }
  if (gx !== null && w !== null) gemm(false, false, rows, inF, outF, 1, d, w, 0, gx);
  if (gw !== null && x !== null) gemm(true, false, outF, inF, rows, 1, d, x, 0, gw);
}
