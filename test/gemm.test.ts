import { expect, it } from 'vitest';
import fc from 'fast-check';
import type { Backend } from '../src/backend/backend.js';
import { describeBackends } from './helpers/backends.js';

/** Deterministic data so a failure reproduces: mulberry32, uniform in [-1, 1). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

function filled(len: number, seed: number): Float32Array {
  const next = random(seed);
  const x = new Float32Array(len);
  for (let i = 0; i < len; i++) x[i] = next();
  return x;
}

interface Case {
  transA: boolean;
  transB: boolean;
  m: number;
  n: number;
  k: number;
  alpha: number;
  beta: number;
}

/**
 * Float64 reference by plain index arithmetic, plus the per-element error bound. Products of two
 * float32 values are exact in float64 and the sums here are as good as exact, so `want` is the true
 * result to ~1e-16. Any summation order in float32 stays within γ_k·Σ|a·b| of it (Higham,
 * "Accuracy and Stability of Numerical Algorithms", eq. 3.5: |fl(xᵀy) − xᵀy| ≤ γ_n·|x|ᵀ|y| with
 * γ_n = n·u/(1 − n·u), u = 2⁻²⁴); three more roundings cover the alpha scaling, the beta·C term and
 * the final store, so the bound holds for a float32-accumulating native kernel as well as for the
 * TypeScript one (which accumulates in float64 and is far inside it). An indexing bug is off by
 * O(Σ|a·b|), orders of magnitude outside it.
 */
function reference(t: Case, a: Float32Array, b: Float32Array, c0: Float32Array): { want: Float64Array; tol: Float64Array } {
  const { transA, transB, m, n, k, alpha, beta } = t;
  const u = 2 ** -24;
  const gamma = ((k + 3) * u) / (1 - (k + 3) * u);
  const want = new Float64Array(m * n);
  const tol = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      let abs = 0;
      for (let p = 0; p < k; p++) {
        const x = transA ? a[p * m + i]! : a[i * k + p]!;
        const y = transB ? b[j * k + p]! : b[p * n + j]!;
        s += x * y;
        abs += Math.abs(x * y);
      }
      const cij = beta === 0 ? 0 : beta * c0[i * n + j]!;
      want[i * n + j] = alpha * s + cij;
      tol[i * n + j] = gamma * (Math.abs(alpha) * abs + Math.abs(cij)) + 1e-30;
    }
  }
  return { want, tol };
}

/** Index and values of the first element outside its bound, or null. */
function firstMismatch(got: Float32Array, want: Float64Array, tol: Float64Array): string | null {
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i]! - want[i]!);
    if (!(err <= tol[i]!)) return `C[${i}] = ${got[i]}, want ${want[i]} (|err| ${err} > tol ${tol[i]})`;
  }
  return null;
}

const label = (t: Case): string =>
  `${t.transA ? 'T' : 'N'}${t.transB ? 'T' : 'N'} m=${t.m} n=${t.n} k=${t.k} alpha=${t.alpha} beta=${t.beta}`;

/** Runs one case on fresh data; C starts as NaN when beta = 0 so leftovers would show. */
function check(backend: Backend, t: Case, seed = 1): void {
  const a = filled(t.m * t.k, seed);
  const b = filled(t.k * t.n, seed + 1);
  const c = t.beta === 0 ? new Float32Array(t.m * t.n).fill(NaN) : filled(t.m * t.n, seed + 2);
  const { want, tol } = reference(t, a, b, c);
  backend.gemm(t.transA, t.transB, t.m, t.n, t.k, t.alpha, a, b, t.beta, c);
  expect(firstMismatch(c, want, tol), label(t)).toBeNull();
}

const TRANS: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];

describeBackends('gemm', (backend) => {
  it('all four transpose forms agree with the reference', () => {
    for (const [transA, transB] of TRANS) {
      for (const [m, n, k] of [
        [8, 8, 8],
        [37, 23, 51],
        [64, 100, 300],
      ] as const) {
        check(backend(), { transA, transB, m, n, k, alpha: 1, beta: 0 });
      }
    }
  });

  it('alpha and beta: overwrite (NaN in C ignored), accumulate, scale', () => {
    for (const [alpha, beta] of [
      [1, 0],
      [1, 1],
      [-0.5, 0.3],
      [2, -1],
      [0.25, 0],
      [0, 0.5],
      [0, 0],
    ] as const) {
      for (const [transA, transB] of TRANS) {
        check(backend(), { transA, transB, m: 19, n: 21, k: 33, alpha, beta });
        check(backend(), { transA, transB, m: 70, n: 45, k: 300, alpha, beta });
        check(backend(), { transA, transB, m: 2, n: 9, k: 5, alpha, beta });
      }
    }
  });

  it('odd sizes 1, 3, 17, 65, 127 in every combination of m, n, k', () => {
    const sizes = [1, 3, 17, 65, 127];
    let seed = 10;
    for (const m of sizes) {
      for (const n of sizes) {
        for (const k of sizes) {
          // Each shape under one transpose form, cycling so every form meets every size.
          const [transA, transB] = TRANS[seed % 4]!;
          check(backend(), { transA, transB, m, n, k, alpha: 1, beta: seed % 3 === 0 ? 0.5 : 0 }, seed++);
        }
      }
    }
  });

  it('thin shapes (single or double rows or columns, tiny products)', () => {
    for (const [m, n, k] of [
      [1, 300, 200],
      [2, 300, 200],
      [300, 1, 200],
      [300, 2, 200],
      [1, 1, 500],
      [2, 2, 2],
      [3, 3, 3],
      [4, 4, 4],
      [1, 7, 1],
      [200, 150, 1],
      [200, 150, 2],
      [1, 2100, 20],
      [2100, 2, 20],
    ] as const) {
      for (const [transA, transB] of TRANS) check(backend(), { transA, transB, m, n, k, alpha: 0.5, beta: 0.3 });
    }
  });

  it('sizes crossing the cache-block boundaries', () => {
    for (const [m, n, k] of [
      [33, 65, 255],
      [33, 65, 256],
      [33, 65, 257],
      [31, 9, 784],
      [131, 7, 513],
      [130, 20, 40],
      [260, 24, 100],
      [20, 1030, 40],
    ] as const) {
      for (const [transA, transB] of TRANS) check(backend(), { transA, transB, m, n, k, alpha: 1, beta: 0 });
    }
  });

  it('k = 0 gives beta·C, and an empty C is left alone', () => {
    for (const [transA, transB] of TRANS) {
      const zeros = new Float32Array(6).fill(NaN);
      backend().gemm(transA, transB, 2, 3, 0, 1, new Float32Array(0), new Float32Array(0), 0, zeros);
      expect(Array.from(zeros)).toEqual([0, 0, 0, 0, 0, 0]);

      const scaled = Float32Array.from([1, 2, 3, 4, 5, 6]);
      backend().gemm(transA, transB, 2, 3, 0, 1, new Float32Array(0), new Float32Array(0), 0.5, scaled);
      expect(Array.from(scaled)).toEqual([0.5, 1, 1.5, 2, 2.5, 3]);

      // An empty view into a live buffer: nothing around it may be written.
      const untouched = Float32Array.from([7, 8]);
      backend().gemm(transA, transB, 0, 3, 4, 1, new Float32Array(0), new Float32Array(12), 0, untouched.subarray(1, 1));
      backend().gemm(transA, transB, 3, 0, 4, 1, new Float32Array(12), new Float32Array(0), 0, untouched.subarray(1, 1));
      expect(Array.from(untouched)).toEqual([7, 8]);
    }
  });

  it('reads and writes subarray views with a nonzero byteOffset', () => {
    for (const [transA, transB] of TRANS) {
      for (const [m, n, k] of [
        [5, 7, 3],
        [40, 33, 70],
        [1, 50, 20],
        [50, 2, 20],
      ] as const) {
        const t: Case = { transA, transB, m, n, k, alpha: 1.5, beta: 0.5 };
        const aBuf = filled(m * k + 13, 3);
        const bBuf = filled(k * n + 29, 4);
        const cBuf = filled(m * n + 11, 5);
        const a = aBuf.subarray(7, 7 + m * k);
        const b = bBuf.subarray(21, 21 + k * n);
        const c = cBuf.subarray(5, 5 + m * n);
        const before = cBuf.slice();
        const { want, tol } = reference(t, a.slice(), b.slice(), c.slice());
        backend().gemm(transA, transB, m, n, k, t.alpha, a, b, t.beta, c);
        expect(firstMismatch(c, want, tol), label(t)).toBeNull();
        // Nothing outside the view of C moves.
        expect(Array.from(cBuf.subarray(0, 5))).toEqual(Array.from(before.subarray(0, 5)));
        expect(Array.from(cBuf.subarray(5 + m * n))).toEqual(Array.from(before.subarray(5 + m * n)));
      }
    }
  });

  it('property: random small shapes, transposes, alpha and beta', () => {
    fc.assert(
      fc.property(
        fc.record({
          transA: fc.boolean(),
          transB: fc.boolean(),
          m: fc.integer({ min: 0, max: 40 }),
          n: fc.integer({ min: 0, max: 40 }),
          k: fc.integer({ min: 0, max: 60 }),
          alpha: fc.constantFrom(1, -0.5, 2, 0),
          beta: fc.constantFrom(0, 1, 0.3, -2),
        }),
        fc.integer({ min: 1, max: 1_000_000 }),
        (t, seed) => {
          check(backend(), t, seed);
        },
      ),
      { numRuns: 300 },
    );
  });
});
