import type { ReduceOp } from '../backend.js';

export function reduce(
  op: ReduceOp,
  x: Float32Array,
  outer: number,
  n: number,
  inner: number,
  out: Float32Array,
  arg: Float32Array | null,
): void {
  // An empty output has nothing to compute, however large `outer` is (a [2^50, 3, 0] tensor).
  if (outer === 0 || inner === 0) return;
  if (op === 'sum') {
    if (inner === 1) {
      for (let o = 0; o < outer; o++) {
        let s = 0; // float64 accumulator: sums over long rows stay accurate
        const base = o * n;
        for (let i = 0; i < n; i++) s += x[base + i]!;
        out[o] = s;
      }
      return;
    }
    // Walk rows in memory order; accumulate a whole [inner] row at a time in float64.
    const acc = new Float64Array(inner);
    for (let o = 0; o < outer; o++) {
      acc.fill(0);
      for (let i = 0; i < n; i++) {
        const base = (o * n + i) * inner;
        for (let j = 0; j < inner; j++) acc[j] += x[base + j]!;
      }
      out.set(acc, o * inner);
    }
    return;
  }
  const isMax = op === 'max';
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * n * inner + j;
      let best = x[base]!;
      let bi = 0;
      // NaN wins, as in PyTorch: a NaN anywhere in the slice is the max and the min.
      if (best === best) {
        for (let i = 1; i < n; i++) {
          const v = x[base + i * inner]!;
          if (v !== v) {
            best = v;
            bi = i;
            break;
          }
          if (isMax ? v > best : v < best) {
            best = v;
            bi = i;
          }
        }
      }
      out[o * inner + j] = best;
      if (arg) arg[o * inner + j] = bi;
    }
  }
}
