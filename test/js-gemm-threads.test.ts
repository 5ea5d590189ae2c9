import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gemm as gemmOneThread, gemmAt } from '../src/backend/js/gemm.js';
import { _jsGemmFault, _jsGemmSplits, gemm, jsThreads, jsThreadsReady, releaseJsGemmScratch, setJsThreads } from '../src/backend/js/gemm-threads.js';
import { jsBackend } from '../src/backend/js/index.js';
import { getBackend, setBackend } from '../src/backend/index.js';
import { Adam, crossEntropy, Linear, manualSeed, ReLU, Sequential, tensor } from '../src/index.js';

// The TypeScript backend's GEMM split over worker threads (src/backend/js/gemm-threads.ts). Its
// workers run the built dist/esm copy of gemm.ts while this file runs the sources: the bitwise
// comparisons below also catch a stale build.

function filled(len: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const x = new Float32Array(len);
  for (let i = 0; i < len; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = s / 2 ** 31 - 1;
  }
  return x;
}

function sameBits(got: Float32Array, want: Float32Array): void {
  expect(got.length).toBe(want.length);
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < g.length; i++) if (g[i] !== w[i]) expect(`element ${i}: ${got[i]}`).toBe(`element ${i}: ${want[i]}`);
}

const threadsBefore = jsThreads();
afterAll(() => setJsThreads(threadsBefore));

describe('TypeScript GEMM on worker threads', () => {
  beforeAll(async () => {
    setJsThreads(3);
    expect(await jsThreadsReady()).toBe(true);
  });

  it('gives the one-thread bits for any shape, transposes, alpha and beta, and splits the large ones', () => {
    const before = _jsGemmSplits();
    let large = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 260 }),
        fc.integer({ min: 1, max: 260 }),
        fc.integer({ min: 1, max: 300 }),
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom(1, -0.5, 2),
        fc.constantFrom(0, 1, -0.25),
        fc.integer(),
        (m, n, k, transA, transB, alpha, beta, seed) => {
          const a = filled(m * k, seed);
          const b = filled(n * k, seed + 1);
          const c0 = filled(m * n, seed + 2);
          // beta = 0 must overwrite whatever C held, NaN included.
          if (beta === 0) c0.fill(Number.NaN, 0, Math.min(5, c0.length));
          const want = c0.slice();
          gemmOneThread(transA, transB, m, n, k, alpha, a, b, beta, want);
          const got = c0.slice();
          gemm(transA, transB, m, n, k, alpha, a, b, beta, got);
          sameBits(got, want);
          if (m * n * k >= 1 << 18 && Math.max(m, n) >= 48 && Math.min(m, n) > 2) large++;
        },
      ),
      { numRuns: 120 },
    );
    // Not vacuous: products big enough to split were drawn, and were split.
    expect(large).toBeGreaterThan(5);
    expect(_jsGemmSplits() - before).toBeGreaterThanOrEqual(large);
  });

  it('splits the MLP products of a batch-128 step over the threads with the same bits, and leaves thin ones alone', () => {
    for (const [transA, transB, m, n, k] of [
      [false, true, 128, 512, 784],
      [false, false, 128, 784, 512],
      [true, false, 512, 784, 128],
      [true, false, 10, 256, 128],
      // Blocks wider than the kernel's 1024-column B block.
      [false, false, 30, 2200, 20],
      // Thin products (the direct path) are not split: copying their long operand costs about
      // as much as computing with it.
      [false, true, 1, 512, 784],
      [false, false, 2, 600, 300],
      [true, false, 300, 1, 1000],
    ] as const) {
      const a = filled(m * k, m);
      const b = filled(n * k, n);
      const want = new Float32Array(m * n);
      gemmOneThread(transA, transB, m, n, k, 1, a, b, 0, want);
      const got = new Float32Array(m * n).fill(Number.NaN);
      const before = _jsGemmSplits();
      gemm(transA, transB, m, n, k, 1, a, b, 0, got);
      expect(_jsGemmSplits() - before).toBe(m * n * k >= 1 << 18 && Math.min(m, n) > 2 ? 1 : 0);
      sameBits(got, want);
    }
  });

  it('leaves an idle process idle: workers stop polling soon after the last product', async () => {
    const [m, n, k] = [128, 256, 128];
    const a = filled(m * k, 12);
    const b = filled(n * k, 13);
    const c = new Float32Array(m * n);
    const before = _jsGemmSplits();
    for (let i = 0; i < 5; i++) gemm(false, false, m, n, k, 1, a, b, 0, c);
    expect(_jsGemmSplits() - before).toBe(5);
    await new Promise((r) => setTimeout(r, 50));
    const start = process.cpuUsage();
    await new Promise((r) => setTimeout(r, 500));
    const used = process.cpuUsage(start);
    // Workers that kept polling would burn about 500 ms each in this window; sleeping ones next to nothing.
    expect((used.user + used.system) / 1000).toBeLessThan(100);
  });

  it('reads only the first m·k, n·k and m·n elements of longer arrays', () => {
    const [m, n, k] = [96, 200, 120];
    const a = filled(m * k + 7, 1);
    const b = filled(n * k + 3, 2);
    const c = filled(m * n + 5, 3);
    const want = c.slice();
    gemmOneThread(false, false, m, n, k, 1, a.subarray(0, m * k), b.subarray(0, n * k), 0.5, want.subarray(0, m * n));
    const before = _jsGemmSplits();
    gemm(false, false, m, n, k, 1, a, b, 0.5, c);
    expect(_jsGemmSplits() - before).toBe(1);
    sameBits(c, want);
  });

  it('keeps giving the same bits after emptyCache() lets the shared buffer go, and after the thread count changes', () => {
    const [m, n, k] = [150, 90, 160];
    const a = filled(m * k, 4);
    const b = filled(n * k, 5);
    const want = new Float32Array(m * n);
    gemmOneThread(true, true, m, n, k, 1, a, b, 0, want);
    const first = new Float32Array(m * n);
    gemm(true, true, m, n, k, 1, a, b, 0, first);
    sameBits(first, want);
    expect(releaseJsGemmScratch()).toBeGreaterThanOrEqual((m * k + n * k + m * n) * 4);
    expect(releaseJsGemmScratch()).toBe(0);
    const got = new Float32Array(m * n);
    gemm(true, true, m, n, k, 1, a, b, 0, got);
    sameBits(got, want);
    setJsThreads(1);
    const before = _jsGemmSplits();
    got.fill(0);
    gemm(true, true, m, n, k, 1, a, b, 0, got);
    expect(_jsGemmSplits()).toBe(before);
    sameBits(got, want);
  });

  it('restarts stopped workers when the count goes back up', async () => {
    setJsThreads(1);
    setJsThreads(2);
    expect(await jsThreadsReady()).toBe(true);
    const [m, n, k] = [128, 256, 64];
    const a = filled(m * k, 6);
    const b = filled(n * k, 7);
    const want = new Float32Array(m * n);
    gemmOneThread(false, true, m, n, k, 1, a, b, 0, want);
    const got = new Float32Array(m * n);
    const before = _jsGemmSplits();
    gemm(false, true, m, n, k, 1, a, b, 0, got);
    expect(_jsGemmSplits() - before).toBe(1);
    sameBits(got, want);
  });
});

describe('TypeScript GEMM workers that stop or fail', () => {
  const [m, n, k] = [128, 256, 64];
  const a = filled(m * k, 8);
  const b = filled(n * k, 9);
  const want = new Float32Array(m * n);
  beforeAll(() => gemmOneThread(false, false, m, n, k, 1, a, b, 0, want));

  it('a worker stopped while it loads neither hangs nor passes for its replacement', async () => {
    setJsThreads(1);
    setJsThreads(2);
    // Starts worker 1 and runs on this thread (the worker is still loading) ...
    const got = new Float32Array(m * n);
    gemm(false, false, m, n, k, 1, a, b, 0, got);
    sameBits(got, want);
    // ... which is stopped before it is ready, and replaced.
    setJsThreads(1);
    setJsThreads(2);
    expect(await jsThreadsReady(20_000)).toBe(true);
    const before = _jsGemmSplits();
    got.fill(0);
    gemm(false, false, m, n, k, 1, a, b, 0, got);
    expect(_jsGemmSplits() - before).toBe(1);
    sameBits(got, want);
  });

  it('computes the whole product here when a worker fails, warns, and keeps later products here', async () => {
    setJsThreads(2);
    expect(await jsThreadsReady()).toBe(true);
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      _jsGemmFault('fail-next');
      const got = new Float32Array(m * n).fill(Number.NaN);
      const before = _jsGemmSplits();
      gemm(false, false, m, n, k, 1, a, b, 0, got);
      expect(_jsGemmSplits() - before).toBe(1);
      sameBits(got, want);
      got.fill(0);
      gemm(false, false, m, n, k, 1, a, b, 0, got);
      expect(_jsGemmSplits() - before).toBe(1);
      sameBits(got, want);
      await new Promise((r) => setImmediate(r));
      expect(warnings.some((w) => w.includes('runs on one thread') && w.includes('was not sent'))).toBe(true);
    } finally {
      process.off('warning', onWarning);
      _jsGemmFault('reset');
    }
    const got = new Float32Array(m * n);
    const before = _jsGemmSplits();
    gemm(false, false, m, n, k, 1, a, b, 0, got);
    expect(_jsGemmSplits() - before).toBe(1);
    sameBits(got, want);
  });
});

describe('gemmAt on blocks of larger arrays', () => {
  it('computes a block of C from strided operands with the bits of the whole product', () => {
    fc.assert(
      fc.property(
        // From 1, so the direct paths (a side of 1 or 2) run on strided operands too.
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 300 }),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 0, max: 9 }),
        (m, n, k, transA, transB, pad) => {
          const a = filled(m * k, m);
          const b = filled(n * k, n);
          const want = new Float32Array(m * n);
          gemmOneThread(transA, transB, m, n, k, 1, a, b, 0, want);
          // The same operands inside bigger arrays: `pad` extra elements per row and in front.
          const rowsA = transA ? k : m;
          const colsA = transA ? m : k;
          const rowsB = transB ? n : k;
          const colsB = transB ? k : n;
          const lda = colsA + pad;
          const ldb = colsB + pad;
          const ldc = n + pad;
          const A = new Float32Array(pad + rowsA * lda).fill(Number.NaN);
          const B = new Float32Array(pad + rowsB * ldb).fill(Number.NaN);
          for (let r = 0; r < rowsA; r++) A.set(a.subarray(r * colsA, (r + 1) * colsA), pad + r * lda);
          for (let r = 0; r < rowsB; r++) B.set(b.subarray(r * colsB, (r + 1) * colsB), pad + r * ldb);
          const C = new Float32Array(pad + m * ldc).fill(-7);
          gemmAt(transA, transB, m, n, k, 1, A, pad, lda, B, pad, ldb, 0, C, pad, ldc);
          for (let i = 0; i < m; i++) {
            sameBits(C.subarray(pad + i * ldc, pad + i * ldc + n), want.subarray(i * n, (i + 1) * n));
            // The padding between rows of C is left alone.
            for (let j = n; j < ldc && pad + i * ldc + j < C.length; j++) expect(C[pad + i * ldc + j]).toBe(-7);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('training on the TypeScript backend with threads', () => {
  it('gives every weight the same bits on 1 and 2 threads, and backendInfo reports the count', async () => {
    const previous = getBackend();
    setBackend(jsBackend);
    try {
      const train = (threads: number): Float32Array[] => {
        setJsThreads(threads);
        expect(jsBackend.info().threads).toBe(threads);
        manualSeed(7);
        const model = new Sequential(new Linear(200, 256), new ReLU(), new Linear(256, 64), new ReLU(), new Linear(64, 10));
        const opt = new Adam(model.parameters(), { lr: 1e-3 });
        const x = tensor(filled(128 * 200, 11), [128, 200]);
        const labels = tensor(Float32Array.from({ length: 128 }, (_, i) => (i * 7) % 10), [128]);
        for (let step = 0; step < 4; step++) {
          opt.zeroGrad();
          crossEntropy(model.forward(x), labels).backward();
          opt.step();
        }
        return model.parameters().map((p) => p.data.slice());
      };
      const one = train(1);
      setJsThreads(2);
      expect(await jsThreadsReady()).toBe(true);
      const before = _jsGemmSplits();
      const two = train(2);
      expect(_jsGemmSplits() - before).toBeGreaterThan(4);
      expect(two.length).toBe(one.length);
      for (let i = 0; i < one.length; i++) sameBits(two[i]!, one[i]!);
    } finally {
      setBackend(previous);
    }
  });
});
