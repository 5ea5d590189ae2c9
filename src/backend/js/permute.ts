const TILE = 32;

/** Cache-blocked transpose of `batch` row-major r×c matrices. */
function transposeLast2(x: Float32Array, batch: number, r: number, c: number, out: Float32Array): void {
  const plane = r * c;
  for (let b = 0; b < batch; b++) {
    const off = b * plane;
    for (let i0 = 0; i0 < r; i0 += TILE) {
      const i1 = Math.min(i0 + TILE, r);
      for (let j0 = 0; j0 < c; j0 += TILE) {
        const j1 = Math.min(j0 + TILE, c);
        for (let i = i0; i < i1; i++) {
          for (let j = j0; j < j1; j++) out[off + j * r + i] = x[off + i * c + j]!;
        }
      }
    }
  }
}

export function permute(x: Float32Array, shape: readonly number[], axes: readonly number[], out: Float32Array): void {
  const rank = shape.length;
  const size = x.length;
  if (size === 0) return;
  let identityPrefix = true;
  for (let i = 0; i < rank - 2; i++) if (axes[i] !== i) identityPrefix = false;
  if (rank >= 2 && identityPrefix && axes[rank - 2] === rank - 1 && axes[rank - 1] === rank - 2) {
    const r = shape[rank - 2]!;
    const c = shape[rank - 1]!;
    transposeLast2(x, size / (r * c), r, c, out);
    return;
  }
  // General case: odometer over the output, reading the input through permuted strides.
  const inStrides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= shape[i]!;
  }
  const outShape = axes.map((a) => shape[a]!);
  const st = axes.map((a) => inStrides[a]!);
  const len = outShape[rank - 1] ?? 1;
  const lastStride = st[rank - 1] ?? 1;
  const idx = new Array<number>(rank).fill(0);
  let xo = 0;
  for (let o = 0; o < size; o += len) {
    for (let i = 0; i < len; i++) out[o + i] = x[xo + i * lastStride]!;
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      xo += st[d]!;
      if (idx[d]! < outShape[d]!) break;
      xo -= st[d]! * idx[d]!;
      idx[d] = 0;
    }
  }
}
