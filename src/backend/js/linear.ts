import { gemm } from './gemm-threads.js';
import { reduce } from './reduce.js';
import { bitsOf, maskRelu, relu32 } from './relu.js';

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
  // One loop per case, so that no test but the loop's own runs per element. NaN (and -0) pass
  // through the ReLU, as in the native epilogue and PyTorch (relu32).
  if (!relu) {
    for (let i = 0; i < m; i++) {
      const row = i * n;
      for (let j = 0; j < n; j++) c[row + j]! += bias![j]!;
    }
  } else if (bias === null) {
    for (let i = 0; i < m * n; i++) c[i] = relu32(c[i]!);
  } else {
    for (let i = 0; i < m; i++) {
      const row = i * n;
      // The sum rounded to float32 first, as storing it and reading it back would.
      for (let j = 0; j < n; j++) c[row + j] = relu32(Math.fround(c[row + j]! + bias[j]!));
    }
  }
}

/**
 * Backend.linearBackward: the ReLU mask (maskRelu's bit mask) and the bias sums in one pass over g
 * (each column summed in float64 down the rows, as reduce's sum), then gemm for gx and gw.
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
    // unaryGrad's relu (maskRelu: NaN in y passes the gradient, as PyTorch's threshold_backward).
    if (gb === null) maskRelu(y, g, gy, rows * outF);
    else {
      const acc = new Float64Array(outF);
      const gBits = bitsOf(g);
      const gyBits = bitsOf(gy);
      for (let i = 0; i < rows; i++) {
        const row = i * outF;
        for (let j = 0; j < outF; j++) {
          const e = row + j;
          gyBits[e] = gBits[e]! & -!(y[e]! <= 0);
          acc[j] += gy[e]!;
        }
      }
      gb.set(acc);
    }
    d = gy;
  } else if (gb !== null) {
    reduce('sum', g, 1, rows, outF, gb, null);
  }
  if (gx !== null && w !== null) gemm(false, false, rows, inF, outF, 1, d, w, 0, gx);
  if (gw !== null && x !== null) gemm(true, false, outF, inF, rows, 1, d, x, 0, gw);
}
