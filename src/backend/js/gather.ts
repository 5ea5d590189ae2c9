/**
 * Row gathers, scatters and block copies (indexSelect, concat, max/min backward) and the partial
 * norms of gradient clipping. Same bits as the native kernels (native/kernels/gather.cc): every
 * float result is one float32 operation or a copy, and the norm sums run in float64 in the order
 * written here.
 */

/** See Backend.gatherRows. */
export function gatherRows(x: Float32Array, row: number, idx: Int32Array, out: Float32Array): void {
  if (row === 0) return;
  for (let i = 0; i < idx.length; i++) {
    const from = idx[i]! * row;
    out.set(x.subarray(from, from + row), i * row);
  }
}

/** See Backend.scatterAddRows. */
export function scatterAddRows(g: Float32Array, row: number, idx: Int32Array, gx: Float32Array): void {
  for (let i = 0; i < (row > 0 ? idx.length : 0); i++) {
    const dst = idx[i]! * row;
    const src = i * row;
    for (let j = 0; j < row; j++) gx[dst + j] += g[src + j]!;
  }
}

/** See Backend.copyBlocks. */
export function copyBlocks(src: Float32Array, srcStride: number, dst: Float32Array, dstStride: number, rows: number, width: number): void {
  if (width === 0) return;
  for (let r = 0; r < rows; r++) dst.set(src.subarray(r * srcStride, r * srcStride + width), r * dstStride);
}

/** See Backend.scatterArg. */
export function scatterArg(g: Float32Array, arg: Float64Array, outer: number, n: number, inner: number, gx: Float32Array): void {
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const r = o * inner + j;
      gx[(o * n + arg[r]!) * inner + j] = g[r]!;
    }
  }
}

/** See Backend.shareEqual. */
export function shareEqual(x: Float32Array, v: number, total: number, gx: Float32Array): number {
  const nan = v !== v;
  let count = 0;
  for (let i = 0; i < x.length; i++) {
    const u = x[i]!;
    if (nan ? u !== u : u === v) count++;
  }
  if (count === 0) return 0;
  const share = total / count;
  for (let i = 0; i < x.length; i++) {
    const u = x[i]!;
    if (nan ? u !== u : u === v) gx[i] = share;
  }
  return count;
}

/** See Backend.normPart. */
export function normPart(x: Float32Array, ord: number): number {
  const n = x.length;
  if (ord === Infinity) {
    let m = 0;
    for (let i = 0; i < n; i++) {
      const a = Math.abs(x[i]!);
      if (a !== a) return NaN;
      if (a > m) m = a;
    }
    return m;
  }
  // Four running sums, added pairwise at the end: the native kernel keeps the same four.
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const n4 = n - (n % 4);
  let i = 0;
  if (ord === 2) {
    for (; i < n4; i += 4) {
      const a = x[i]!;
      const b = x[i + 1]!;
      const c = x[i + 2]!;
      const d = x[i + 3]!;
      s0 += a * a;
      s1 += b * b;
      s2 += c * c;
      s3 += d * d;
    }
    for (; i < n; i++) s0 += x[i]! * x[i]!;
  } else if (ord === 1) {
    for (; i < n4; i += 4) {
      s0 += Math.abs(x[i]!);
      s1 += Math.abs(x[i + 1]!);
      s2 += Math.abs(x[i + 2]!);
      s3 += Math.abs(x[i + 3]!);
    }
    for (; i < n; i++) s0 += Math.abs(x[i]!);
  } else {
    for (; i < n4; i += 4) {
      s0 += Math.pow(Math.abs(x[i]!), ord);
      s1 += Math.pow(Math.abs(x[i + 1]!), ord);
      s2 += Math.pow(Math.abs(x[i + 2]!), ord);
      s3 += Math.pow(Math.abs(x[i + 3]!), ord);
    }
    for (; i < n; i++) s0 += Math.pow(Math.abs(x[i]!), ord);
  }
  return s0 + s1 + (s2 + s3);
}
