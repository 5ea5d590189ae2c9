/**
 * Float64 reference implementations of the ops, written independently of the library's kernels
 * in the plainest way (index arithmetic, no blocking, no fast paths). Forward results are
 * compared against them and gradients against their central finite differences.
 */

export interface Ref {
  data: Float64Array;
  shape: number[];
}

export const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function ref(data: ArrayLike<number>, shape: readonly number[]): Ref {
  return { data: Float64Array.from(data), shape: [...shape] };
}

function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** Multi-index of flat position `flat` in `shape`. */
function unravel(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let i = shape.length - 1; i >= 0; i--) {
    idx[i] = flat % shape[i]!;
    flat = Math.floor(flat / shape[i]!);
  }
  return idx;
}

function ravel(idx: readonly number[], shape: readonly number[]): number {
  const st = strides(shape);
  return idx.reduce((acc, v, i) => acc + v * st[i]!, 0);
}

export function broadcastShape(a: readonly number[], b: readonly number[]): number[] | null {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return null;
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Element of x read at output multi-index idx under broadcasting. */
function bget(x: Ref, idx: readonly number[]): number {
  const off = idx.length - x.shape.length;
  const own = x.shape.map((d, i) => (d === 1 ? 0 : idx[off + i]!));
  return x.data[ravel(own, x.shape)]!;
}

export function binaryRef(op: 'add' | 'sub' | 'mul' | 'div', a: Ref, b: Ref): Ref {
  const shape = broadcastShape(a.shape, b.shape);
  if (!shape) throw new Error('bad broadcast');
  const out = new Float64Array(size(shape));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, shape);
    const x = bget(a, idx);
    const y = bget(b, idx);
    out[i] = op === 'add' ? x + y : op === 'sub' ? x - y : op === 'mul' ? x * y : x / y;
  }
  return { data: out, shape };
}

function erf(x: number): number {
  // Maclaurin series near 0, continued fraction of erfc further out: float64-accurate.
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = ax;
    let s = ax;
    for (let n = 1; n < 80; n++) {
      term *= (-ax * ax) / n;
      s += term / (2 * n + 1);
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * s;
  }
  let f = 0;
  for (let n = 60; n >= 1; n--) f = (n / 2) / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}

export const unaryRefFns: Record<string, (x: number, p0: number, p1: number) => number> = {
  neg: (x) => -x,
  abs: (x) => Math.abs(x),
  sqrt: (x) => Math.sqrt(x),
  exp: (x) => Math.exp(x),
  log: (x) => Math.log(x),
  pow: (x, p) => Math.pow(x, p),
  clamp: (x, lo, hi) => Math.min(hi, Math.max(lo, x)),
  relu: (x) => Math.max(0, x),
  leakyRelu: (x, s) => (x > 0 ? x : s * x),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  tanh: (x) => Math.tanh(x),
  geluTanh: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  geluErf: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
};

export function unaryRef(op: string, x: Ref, p0 = 0, p1 = 0): Ref {
  const f = unaryRefFns[op]!;
  return { data: x.data.map((v) => f(v, p0, p1)), shape: [...x.shape] };
}

/** C = op(A)·op(B) for 2-D A, B. */
export function gemmRef(transA: boolean, transB: boolean, m: number, n: number, k: number, a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += (transA ? a[p * m + i]! : a[i * k + p]!) * (transB ? b[j * k + p]! : b[p * n + j]!);
      c[i * n + j] = s;
    }
  }
  return c;
}

export function matmulRef(a: Ref, b: Ref): Ref {
  if (a.shape.length === 1 && b.shape.length === 1) {
    const r = matmulRef({ data: a.data, shape: [1, a.shape[0]!] }, { data: b.data, shape: [b.shape[0]!, 1] });
    return { data: r.data, shape: [] };
  }
  if (a.shape.length === 1) {
    const r = matmulRef({ data: a.data, shape: [1, a.shape[0]!] }, b);
    return { data: r.data, shape: [...r.shape.slice(0, -2), r.shape[r.shape.length - 1]!] };
  }
  if (b.shape.length === 1) {
    const r = matmulRef(a, { data: b.data, shape: [b.shape[0]!, 1] });
    return { data: r.data, shape: r.shape.slice(0, -1) };
  }
  const k = a.shape[a.shape.length - 1]!;
  const m = a.shape[a.shape.length - 2]!;
  const n = b.shape[b.shape.length - 1]!;
  const batch = size(a.shape.slice(0, -2));
  const out = new Float64Array(batch * m * n);
  for (let t = 0; t < batch; t++) {
    const bOff = b.shape.length === 2 ? 0 : t * k * n;
    const c = gemmRef(false, false, m, n, k, a.data.subarray(t * m * k), b.data.subarray(bOff));
    out.set(c, t * m * n);
  }
  return { data: out, shape: [...a.shape.slice(0, -1), n] };
}

export function permuteRef(x: Ref, axes: readonly number[]): Ref {
  const shape = axes.map((a) => x.shape[a]!);
  const out = new Float64Array(x.data.length);
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, shape);
    const src = new Array<number>(axes.length);
    axes.forEach((a, j) => (src[a] = idx[j]!));
    out[i] = x.data[ravel(src, x.shape)]!;
  }
  return { data: out, shape };
}

/** Reduction along dim (or everything when dim is null). */
export function reduceRef(op: 'sum' | 'mean' | 'max' | 'min', x: Ref, dim: number | null, keepdim: boolean): Ref {
  const f = (vals: number[]): number =>
    op === 'sum'
      ? vals.reduce((a, b) => a + b, 0)
      : op === 'mean'
        ? vals.reduce((a, b) => a + b, 0) / vals.length
        : op === 'max'
          ? Math.max(...vals)
          : Math.min(...vals);
  if (dim === null) {
    return { data: Float64Array.of(f([...x.data])), shape: keepdim ? x.shape.map(() => 1) : [] };
  }
  const d = dim < 0 ? dim + x.shape.length : dim;
  const kept = x.shape.map((s, i) => (i === d ? 1 : s));
  const out = new Float64Array(size(kept));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, kept);
    const vals: number[] = [];
    for (let j = 0; j < x.shape[d]!; j++) {
      idx[d] = j;
      vals.push(x.data[ravel(idx, x.shape)]!);
    }
    out[i] = f(vals);
  }
  return { data: out, shape: keepdim ? kept : x.shape.filter((_, i) => i !== d) };
}

export function softmaxRef(x: Ref, dim: number, log: boolean): Ref {
  const d = dim < 0 ? dim + x.shape.length : dim;
  const out = new Float64Array(x.data.length);
  const kept = x.shape.map((s, i) => (i === d ? 1 : s));
  for (let i = 0; i < size(kept); i++) {
    const idx = unravel(i, kept);
    const pos: number[] = [];
    for (let j = 0; j < x.shape[d]!; j++) {
      idx[d] = j;
      pos.push(ravel(idx, x.shape));
    }
    const mx = Math.max(...pos.map((p) => x.data[p]!));
    const z = pos.reduce((s, p) => s + Math.exp(x.data[p]! - mx), 0);
    for (const p of pos) out[p] = log ? x.data[p]! - mx - Math.log(z) : Math.exp(x.data[p]! - mx) / z;
  }
  return { data: out, shape: [...x.shape] };
}

export function indexSelectRef(x: Ref, indices: readonly number[]): Ref {
  const row = size(x.shape.slice(1));
  const out = new Float64Array(indices.length * row);
  indices.forEach((r, i) => out.set(x.data.subarray(r * row, (r + 1) * row), i * row));
  return { data: out, shape: [indices.length, ...x.shape.slice(1)] };
}

export function concatRef(xs: readonly Ref[], dim: number): Ref {
  const shape = [...xs[0]!.shape];
  shape[dim] = xs.reduce((s, x) => s + x.shape[dim]!, 0);
  const out = new Float64Array(size(shape));
  for (let i = 0; i < out.length; i++) {
    const idx = unravel(i, shape);
    let j = idx[dim]!;
    let t = 0;
    while (j >= xs[t]!.shape[dim]!) j -= xs[t++]!.shape[dim]!;
    idx[dim] = j;
    out[i] = xs[t]!.data[ravel(idx, xs[t]!.shape)]!;
  }
  return { data: out, shape };
}

export function sliceRef(x: Ref, start: number, end: number): Ref {
  const row = size(x.shape.slice(1));
  return { data: x.data.slice(start * row, end * row), shape: [end - start, ...x.shape.slice(1)] };
}

export function reshapeRef(x: Ref, shape: readonly number[]): Ref {
  return { data: x.data, shape: [...shape] };
}
