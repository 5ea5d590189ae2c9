/**
 * What the calling thread and the GEMM workers share (gemm-threads.ts, gemm-worker.ts): the layout
 * of the control buffer, the job a worker is handed, and how a thread computes its block of it.
 *
 * Control buffer: Int32 words (workers done with the current product, a worker failed, then per
 * worker id a wake counter, an incarnation and a ready word), then from JOB_OFFSET one job slot of
 * float64s per worker id. Each worker reads only its own slot and waits only on its own wake word, and the
 * calling thread writes a slot only while that worker is idle (it waits for every worker of a
 * product before it returns), so no worker can read a job half written.
 */
import { gemmAt } from './gemm.js';

export const MAX_THREADS = 1024;
export const CTL_DONE = 0;
export const CTL_FAILED = 1;
const CTL_WORDS = 16;
/** Word wakeWord(id) counts the jobs handed to worker id; it waits for it to change. */
export const wakeWord = (id: number): number => CTL_WORDS + 3 * id;
/**
 * Word incWord(id) is the incarnation of worker id: stopping a worker increments it (the worker
 * leaves its loop when it sees the change) and a worker started later for the same id gets the
 * new value, so a stopped worker that wakes late can neither take a job nor pass for ready.
 */
export const incWord = (id: number): number => CTL_WORDS + 3 * id + 1;
/** Word readyWord(id) is 1 + the incarnation of the worker id waiting for jobs (0: none yet). */
export const readyWord = (id: number): number => CTL_WORDS + 3 * id + 2;
const JOB_OFFSET = (CTL_WORDS + 3 * MAX_THREADS) * 4;
const SLOT = 16;
export const CTL_BYTES = JOB_OFFSET + MAX_THREADS * SLOT * 8;

/**
 * Columns or rows [lo, hi) of C = alpha·op(A)·op(B) + beta·C, with A, B and C at offsets in one
 * shared float array of generation `gen`.
 */
export interface Job {
  transA: boolean;
  transB: boolean;
  m: number;
  n: number;
  k: number;
  alpha: number;
  beta: number;
  aOff: number;
  bOff: number;
  cOff: number;
  /** The block is whole columns of C (else whole rows). */
  byCols: boolean;
  lo: number;
  hi: number;
  gen: number;
}

export function jobSlot(ctl: SharedArrayBuffer, id: number): Float64Array {
  return new Float64Array(ctl, JOB_OFFSET + id * SLOT * 8, SLOT);
}

export function writeJob(v: Float64Array, j: Job): void {
  v[0] = j.transA ? 1 : 0;
  v[1] = j.transB ? 1 : 0;
  v[2] = j.m;
  v[3] = j.n;
  v[4] = j.k;
  v[5] = j.alpha;
  v[6] = j.beta;
  v[7] = j.aOff;
  v[8] = j.bOff;
  v[9] = j.cOff;
  v[10] = j.byCols ? 1 : 0;
  v[11] = j.lo;
  v[12] = j.hi;
  v[13] = j.gen;
}

export function readJob(v: Float64Array): Job {
  return {
    transA: v[0] === 1,
    transB: v[1] === 1,
    m: v[2]!,
    n: v[3]!,
    k: v[4]!,
    alpha: v[5]!,
    beta: v[6]!,
    aOff: v[7]!,
    bOff: v[8]!,
    cOff: v[9]!,
    byCols: v[10] === 1,
    lo: v[11]!,
    hi: v[12]!,
    gen: v[13]!,
  };
}

/** The job's block of C, computed in the shared floats `f`. */
export function runBlock(j: Job, f: Float32Array): void {
  const { lo, hi } = j;
  if (hi <= lo) return;
  const lda = j.transA ? j.m : j.k;
  const ldb = j.transB ? j.k : j.n;
  if (j.byCols) {
    // Columns lo..hi of op(B) are rows of B when transB, else its columns.
    const bOff = j.bOff + lo * (j.transB ? ldb : 1);
    gemmAt(j.transA, j.transB, j.m, hi - lo, j.k, j.alpha, f, j.aOff, lda, f, bOff, ldb, j.beta, f, j.cOff + lo, j.n);
  } else {
    const aOff = j.aOff + lo * (j.transA ? 1 : lda);
    gemmAt(j.transA, j.transB, hi - lo, j.n, j.k, j.alpha, f, aOff, lda, f, j.bOff, ldb, j.beta, f, j.cOff + lo * j.n, j.n);
  }
}
