/**
 * GFLOP/s of the pure-TypeScript SGEMM against @tensorflow/tfjs-backend-cpu and a naive triple loop.
 *
 *   node --import tsx bench/gemm-js.ts
 *
 * Shapes: the Linear layers of a 784-512-256-10 MLP at batch 128, each in its three GEMM forms
 * (forward Y = X·W is NN, weight gradient dW = Xᵀ·G is TN, input gradient dX = G·Wᵀ is NT), and
 * square NN products. Each cell is 2·m·n·k / median time, after warm-up (tinybench). With more
 * than one thread (TENSORGRAD_NUM_THREADS, default the available cores) a second column times the
 * backend's GEMM split over its worker threads (src/backend/js/gemm-threads.ts); tfjs-cpu has one.
 */
import { cpus } from 'node:os';
import { Bench } from 'tinybench';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { gemm } from '../src/backend/js/gemm.js';
import { gemm as gemmSplit, jsThreads, jsThreadsReady } from '../src/backend/js/gemm-threads.js';

interface Shape {
  label: string;
  form: 'NN' | 'TN' | 'NT';
  transA: boolean;
  transB: boolean;
  m: number;
  n: number;
  k: number;
}

/** The three GEMMs of a Linear layer with input X[M,K] and weight W[K,N]. */
function linear(M: number, K: number, N: number): Shape[] {
  const label = `${M}x${K}x${N}`;
  return [
    { label, form: 'NN', transA: false, transB: false, m: M, n: N, k: K }, // Y[M,N] = X[M,K]·W[K,N]
    { label, form: 'TN', transA: true, transB: false, m: K, n: N, k: M }, // dW[K,N] = X[M,K]ᵀ·G[M,N]
    { label, form: 'NT', transA: false, transB: true, m: M, n: K, k: N }, // dX[M,K] = G[M,N]·W[K,N]ᵀ
  ];
}

const square = (s: number): Shape => ({
  label: `${s}x${s}x${s}`,
  form: 'NN',
  transA: false,
  transB: false,
  m: s,
  n: s,
  k: s,
});

const SHAPES: Shape[] = [
  ...linear(128, 784, 512),
  ...linear(128, 512, 256),
  ...linear(128, 256, 10),
  square(64),
  square(128),
  square(256),
  square(512),
];

function random(len: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const x = new Float32Array(len);
  for (let i = 0; i < len; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = s / 2147483648 - 1;
  }
  return x;
}

/** The textbook loop over the stored layouts, as a floor for what any kernel should beat. */
function naive(t: Shape, a: Float32Array, b: Float32Array, c: Float32Array): void {
  const { m, n, k } = t;
  const aRow = t.transA ? 1 : k;
  const aCol = t.transA ? m : 1;
  const bRow = t.transB ? 1 : n;
  const bCol = t.transB ? k : 1;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * aRow + p * aCol]! * b[p * bRow + j * bCol]!;
      c[i * n + j] = s;
    }
  }
}

/** Median milliseconds per call: at least `iterations` calls and `time` ms, after warm-up. */
function medianMs(fn: () => void, time: number): number {
  const bench = new Bench({ time, iterations: 5, warmupTime: 100, warmupIterations: 2, throws: true });
  bench.add('fn', fn);
  const [task] = bench.runSync();
  const result = task?.result;
  if (result?.state !== 'completed') throw new Error(`benchmark did not complete: ${result?.state}`);
  return result.latency.p50;
}

function maxAbsDiff(x: Float32Array, y: Float32Array | Int32Array | Uint8Array): number {
  let d = 0;
  for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i]! - y[i]!));
  return d;
}

async function main(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();

  const threads = jsThreads();
  if (threads > 1 && !(await jsThreadsReady())) throw new Error('the TypeScript GEMM workers did not start (is dist/ built? npm run build:ts)');
  const cpu = cpus();
  console.log(`# SGEMM, pure TypeScript vs tfjs-backend-cpu ${tf.version_core}`);
  console.log('');
  console.log(`Node ${process.version}, ${cpu[0]?.model ?? 'unknown CPU'} (${cpu.length} logical cores), single thread${threads > 1 ? ` (and the split GEMM on ${threads} threads)` : ''}.`);
  console.log('GFLOP/s = 2·m·n·k / median time. Shapes are M×K×N of a Linear layer X[M,K]·W[K,N]: NN is the forward');
  console.log('pass, TN the weight gradient Xᵀ·G, NT the input gradient G·Wᵀ; (m,n,k) is the GEMM actually run.');
  console.log('');
  const split = threads > 1 ? ` tensorgrad-js ${threads} threads |` : '';
  console.log(`| shape | form | m,n,k | tensorgrad-js |${split} tfjs-cpu | naive | tensorgrad/tfjs |${threads > 1 ? ` ${threads} threads/tfjs |` : ''}`);
  console.log(`|---|---|---|---:|${threads > 1 ? '---:|' : ''}---:|---:|---:|${threads > 1 ? '---:|' : ''}`);

  // Let V8 settle every path (all forms, edge tiles) before anything is timed, so the first rows
  // are not measured while the kernel is still being optimized.
  for (const t of SHAPES) {
    const a = random(t.m * t.k, 0);
    const b = random(t.k * t.n, 0);
    const c = new Float32Array(t.m * t.n);
    for (let i = 0; i < 3; i++) gemm(t.transA, t.transB, t.m, t.n, t.k, 1, a, b, 0, c);
  }

  let seed = 1;
  for (const t of SHAPES) {
    const { m, n, k } = t;
    const a = random(m * k, seed++);
    const b = random(k * n, seed++);
    const c = new Float32Array(m * n);
    // tfjs sees the same stored matrices: A is [m,k] or [k,m], B is [k,n] or [n,k].
    const ta = tf.tensor2d(a, t.transA ? [k, m] : [m, k]);
    const tb = tf.tensor2d(b, t.transB ? [n, k] : [k, n]);

    gemm(t.transA, t.transB, m, n, k, 1, a, b, 0, c);
    const check = tf.matMul(ta, tb, t.transA, t.transB);
    const diff = maxAbsDiff(c, check.dataSync());
    check.dispose();
    if (!(diff <= 1e-4 * k)) throw new Error(`${t.label} ${t.form}: tensorgrad and tfjs differ by ${diff}`);

    const flop = 2 * m * n * k;
    const ours = medianMs(() => gemm(t.transA, t.transB, m, n, k, 1, a, b, 0, c), 400);
    const oursSplit = threads > 1 ? medianMs(() => gemmSplit(t.transA, t.transB, m, n, k, 1, a, b, 0, c), 400) : NaN;
    const theirs = medianMs(() => {
      const y = tf.matMul(ta, tb, t.transA, t.transB);
      y.dataSync(); // read back inside the timed region, as a caller of matMul would
      y.dispose();
    }, 300);
    const floor = medianMs(() => naive(t, a, b, c), 200);
    ta.dispose();
    tb.dispose();

    const gf = (ms: number): string => (flop / (ms * 1e6)).toFixed(2);
    const splitCell = threads > 1 ? ` ${gf(oursSplit)} |` : '';
    const splitRatio = threads > 1 ? ` ${(theirs / oursSplit).toFixed(1)}x |` : '';
    console.log(
      `| ${t.label} | ${t.form} | ${m},${n},${k} | ${gf(ours)} |${splitCell} ${gf(theirs)} | ${gf(floor)} | ${(theirs / ours).toFixed(1)}x |${splitRatio}`,
    );
  }
}

await main();
