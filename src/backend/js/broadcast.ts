import type { BinaryOp } from '../backend.js';

/** Strides of `shape` (left-padded with 1s to `rank`) as seen from a broadcast output: 0 where
 * the dim is 1, so the same element is read again along that dim. */
function broadcastStrides(shape: readonly number[], rank: number): number[] {
  const strides = new Array<number>(rank).fill(0);
  let s = 1;
  for (let i = shape.length - 1, r = rank - 1; i >= 0; i--, r--) {
    const d = shape[i]!;
    strides[r] = d === 1 ? 0 : s;
    s *= d;
  }
  return strides;
}

// One loop per op and stride pattern: a switch or a closure inside the hot loop would cost more
// than the arithmetic itself.
function runRow(
  op: BinaryOp,
  a: Float32Array,
  ao: number,
  as: number,
  b: Float32Array,
  bo: number,
  bs: number,
  out: Float32Array,
  oo: number,
  len: number,
): void {
  if (as === 1 && bs === 1) {
    switch (op) {
      case 'add': for (let i = 0; i < len; i++) out[oo + i] = a[ao + i]! + b[bo + i]!; return;
      case 'sub': for (let i = 0; i < len; i++) out[oo + i] = a[ao + i]! - b[bo + i]!; return;
      case 'mul': for (let i = 0; i < len; i++) out[oo + i] = a[ao + i]! * b[bo + i]!; return;
      case 'div': for (let i = 0; i < len; i++) out[oo + i] = a[ao + i]! / b[bo + i]!; return;
    }
  }
  if (bs === 0) {
    const y = b[bo]!;
    switch (op) {
      case 'add': for (let i = 0; i < len; i++) out[oo + i] = a[ao + i * as]! + y; return;
      case 'sub': for (let i = 0; i < len; i++) out[oo + i] = a[ao + i * as]! - y; return;
      case 'mul': for (let i = 0; i < len; i++) out[oo + i] = a[ao + i * as]! * y; return;
      case 'div': for (let i = 0; i < len; i++) out[oo + i] = a[ao + i * as]! / y; return;
    }
  }
  if (as === 0) {
    const x = a[ao]!;
    switch (op) {
      case 'add': for (let i = 0; i < len; i++) out[oo + i] = x + b[bo + i * bs]!; return;
      case 'sub': for (let i = 0; i < len; i++) out[oo + i] = x - b[bo + i * bs]!; return;
      case 'mul': for (let i = 0; i < len; i++) out[oo + i] = x * b[bo + i * bs]!; return;
      case 'div': for (let i = 0; i < len; i++) out[oo + i] = x / b[bo + i * bs]!; return;
    }
  }
}

export function binary(
  op: BinaryOp,
  a: Float32Array,
  aShape: readonly number[],
  b: Float32Array,
  bShape: readonly number[],
  out: Float32Array,
  outShape: readonly number[],
): void {
  const size = out.length;
  if (size === 0) return;
  if (a.length === size && b.length === size) {
    runRow(op, a, 0, 1, b, 0, 1, out, 0, size);
    return;
  }
  if (b.length === 1 && a.length === size) {
    runRow(op, a, 0, 1, b, 0, 0, out, 0, size);
    return;
  }
  if (a.length === 1 && b.length === size) {
    runRow(op, a, 0, 0, b, 0, 1, out, 0, size);
    return;
  }
  const rank = outShape.length;
  const sa = broadcastStrides(aShape, rank);
  const sb = broadcastStrides(bShape, rank);
  const len = outShape[rank - 1]!;
  const rows = size / len;
  const idx = new Array<number>(rank).fill(0);
  let ao = 0;
  let bo = 0;
  for (let r = 0; r < rows; r++) {
    runRow(op, a, ao, sa[rank - 1]!, b, bo, sb[rank - 1]!, out, r * len, len);
    // Odometer over the outer dims, keeping the input offsets in step.
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      ao += sa[d]!;
      bo += sb[d]!;
      if (idx[d]! < outShape[d]!) break;
      ao -= sa[d]! * idx[d]!;
      bo -= sb[d]! * idx[d]!;
      idx[d] = 0;
    }
  }
}

export function sumTo(
  x: Float32Array,
  xShape: readonly number[],
  out: Float32Array,
  outShape: readonly number[],
): void {
  const rank = xShape.length;
  if (x.length === 0) {
    out.fill(0);
    return;
  }
  // Accumulate in float64: a bias gradient sums thousands of rows.
  const acc = new Float64Array(out.length);
  const so = broadcastStrides(outShape, rank);
  const len = xShape[rank - 1] ?? 1;
  const rows = x.length / len;
  const lastStride = rank > 0 ? so[rank - 1]! : 0;
  const idx = new Array<number>(rank).fill(0);
  let oo = 0;
  for (let r = 0; r < rows; r++) {
    const xo = r * len;
    if (lastStride === 0) {
      let s = 0;
      for (let i = 0; i < len; i++) s += x[xo + i]!;
      acc[oo] += s;
    } else {
      for (let i = 0; i < len; i++) acc[oo + i] += x[xo + i]!;
    }
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      oo += so[d]!;
      if (idx[d]! < xShape[d]!) break;
      oo -= so[d]! * idx[d]!;
      idx[d] = 0;
    }
  }
  for (let i = 0; i < out.length; i++) out[i] = acc[i]!;
}
