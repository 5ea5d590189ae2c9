/**
 * The TypeScript backend's GEMM on several threads. C is cut into blocks of whole columns (or of
 * whole rows, when it is taller than wide), as many as threads are worth using; the calling
 * thread computes the first block and worker_threads (gemm-worker.ts) the others, each with
 * gemmAt on the operands copied into one SharedArrayBuffer, and the caller copies C back out.
 *
 * Every element of C is summed by gemmAt in the same order whatever block it falls in (its K
 * blocking depends on k alone, and every block stays on the whole product's packed path), so the
 * result is bitwise that of one thread, for any thread count (test/js-gemm-threads.test.ts).
 *
 * The calling thread blocks in Atomics.wait until the workers are done, as it would while
 * computing alone: a backend call is synchronous. Workers start on the first product big enough
 * to use them; until they have loaded, products run on the calling thread alone. Elementwise
 * kernels, reductions and the optimizers stay on the calling thread.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { packageRoot } from '../root.js';
import { gemm as gemmOneThread, usesDirect } from './gemm.js';
import { CTL_BYTES, CTL_DONE, CTL_FAILED, incWord, type Job, jobSlot, MAX_THREADS, readyWord, runBlock, wakeWord, writeJob } from './gemm-job.js';

/**
 * Multiply-adds (m·n·k) per thread below which a product is not split further. Measured on the
 * Intel VM with workers polling between jobs, each product alone, 2 threads against 1: 64³
 * (2^18) 94 -> 71 µs, 128×10×256 131 -> 100, 96³ 281 -> 176. Smaller blocks were not measured.
 */
const MIN_MNK_PER_THREAD = 1 << 17;
/** Narrowest block of C a thread gets, in columns or rows. */
const MIN_BLOCK = 24;
/** Blocks start at multiples of this (the kernel tile's 3 rows and 2 columns), so no tile is cut. */
const BLOCK_ALIGN = 6;

interface WorkerSlot {
  worker: Worker;
  port: MessagePort;
  /** The data buffer generation this worker was last sent. */
  sentGen: number;
}

let threads = defaultThreads();
const ctl = new SharedArrayBuffer(CTL_BYTES);
const ctlI = new Int32Array(ctl);
/** workers[id - 1] is worker id, which computes block id of a split product. */
const workers: WorkerSlot[] = [];
let data = new SharedArrayBuffer(0);
let dataF = new Float32Array(data);
let dataGen = 0;
let splits = 0;
/** Test hook: the next split product hands its workers a buffer generation they never get. */
let breakNext = false;
/** Why products no longer use workers (one failed or could not start), or null while they may. */
let disabledBy: string | null = null;

function defaultThreads(): number {
  const v = process.env['TENSORGRAD_NUM_THREADS'];
  if (v !== undefined && /^\d+$/.test(v) && Number(v) >= 1) return Math.min(Number(v), MAX_THREADS);
  return Math.max(1, Math.min(availableParallelism(), MAX_THREADS));
}

/** Threads the TypeScript backend's GEMM may use. */
export function jsThreads(): number {
  return threads;
}

/** Sets them (setNumThreads): workers past the new count stop, new ones start when first needed. */
export function setJsThreads(n: number): void {
  threads = n;
  while (workers.length > n - 1) stopWorker(workers.length, workers.pop()!);
}

function stopWorker(id: number, w: WorkerSlot): void {
  // The incarnation first: a worker that has not yet reached its loop checks it after reading its
  // wake word, so it sees one change or the other.
  Atomics.add(ctlI, incWord(id), 1);
  Atomics.add(ctlI, wakeWord(id), 1);
  Atomics.notify(ctlI, wakeWord(id));
  w.port.close();
}

function disable(reason: string): void {
  if (disabledBy !== null) return;
  disabledBy = reason;
  process.emitWarning(`tensorgrad: the TypeScript backend's GEMM runs on one thread from now on: ${reason}`);
}

/** Starts workers 1..count that are not running yet; true when all of them wait for jobs. */
function workersReady(count: number): boolean {
  if (disabledBy !== null) return false;
  while (workers.length < count) startWorker(workers.length + 1);
  return readyPrefix(count) === count;
}

/** How many of workers 1..count, from the first, wait for jobs. */
function readyPrefix(count: number): number {
  let id = 1;
  while (id <= count && Atomics.load(ctlI, readyWord(id)) === Atomics.load(ctlI, incWord(id)) + 1) id++;
  return id - 1;
}

function startWorker(id: number): void {
  const { port1, port2 } = new MessageChannel();
  // The ESM build is the entry under either build, as trainInWorker's is (src/train/worker.ts).
  const entry = join(packageRoot(), 'dist', 'esm', 'backend', 'js', 'gemm-worker.js');
  const worker = new Worker(entry, { workerData: { ctl, port: port2, id, inc: Atomics.load(ctlI, incWord(id)) }, transferList: [port2] });
  const slot: WorkerSlot = { worker, port: port1, sentGen: 0 };
  // A worker that cannot start (no dist/ build, too little memory) or ends leaves products on this
  // thread; one that was stopped on purpose is no longer in `workers`.
  worker.on('error', (e: unknown) => {
    if (workers.includes(slot)) disable(`GEMM worker ${id} failed: ${e instanceof Error ? e.message : String(e)}`);
  });
  worker.on('exit', (code: number) => {
    if (workers.includes(slot)) disable(`GEMM worker ${id} exited (code ${code})`);
  });
  // Idle workers must not keep the process alive.
  worker.unref();
  port1.unref();
  workers.push(slot);
}

/** Blocks an m×n×k product is split into (1: not split), and whether they are blocks of columns. */
function plan(m: number, n: number, k: number): { pieces: number; byCols: boolean } {
  const byCols = n >= m;
  // Thin products (one or two rows or columns: gemm.ts's direct path) stay on this thread: their
  // long operand would be copied for about one multiply-add per element (a batch-1 forward pass
  // through a 784-512-256-10 MLP took 448 µs on one thread and 573 split). Packed ones are cut
  // into blocks at least MIN_BLOCK wide, so every block takes the packed path too.
  if (threads <= 1 || k === 0 || usesDirect(m, n, k)) return { pieces: 1, byCols };
  const side = byCols ? n : m;
  const pieces = Math.min(threads, Math.floor(side / MIN_BLOCK), Math.floor((m * n * k) / MIN_MNK_PER_THREAD));
  return { pieces: Math.max(1, pieces), byCols };
}

/** Start of block t of `pieces` over `side` columns or rows: nearly equal, aligned to the tile. */
function blockStart(t: number, pieces: number, side: number): number {
  if (t >= pieces) return side;
  return Math.min(side, Math.round((side * t) / pieces / BLOCK_ALIGN) * BLOCK_ALIGN);
}

/**
 * A shared buffer of at least `floats` (false if it cannot be had); a bigger one is a new
 * generation, posted to each worker with its next job.
 */
function reserveData(floats: number): boolean {
  if (dataF.length >= floats) return true;
  try {
    data = new SharedArrayBuffer(Math.max(floats, Math.ceil(dataF.length * 1.5)) * 4);
  } catch {
    // Out of memory for the copies: the product still runs, on this thread.
    return false;
  }
  dataF = new Float32Array(data);
  dataGen++;
  return true;
}

/**
 * Lets the shared buffer go (emptyCache): the workers that hold it are handed an empty one with an
 * empty block, so no thread keeps it; the next split product makes a new one. Returns its bytes.
 */
export function releaseJsGemmScratch(): number {
  const bytes = data.byteLength;
  if (bytes === 0) return 0;
  dropData();
  if (disabledBy === null) {
    const ready = readyPrefix(workers.length);
    const empty = (): Job => ({ transA: false, transB: false, m: 0, n: 0, k: 0, alpha: 1, beta: 0, aOff: 0, bOff: 0, cOff: 0, byCols: true, lo: 0, hi: 0, gen: dataGen });
    if (ready > 0 && runSplit(ready + 1, empty, () => {}) !== 'ok') retire('while it was handed an empty buffer');
  }
  return bytes;
}

/** Worker waits past this many milliseconds (or 20 times the calling thread's own block) count as a dead worker. */
const WORKER_TIMEOUT_MS = 10_000;
/** How long the calling thread polls the done counter before it sleeps in Atomics.wait (see gemm-worker.ts's SPIN_MS). */
const MAIN_SPIN_MS = 1;

/**
 * Hands job(t) to worker t for t = 1..pieces-1, runs `own` (block 0) here, and waits until every
 * worker has counted itself done. 'failed': a worker threw; 'timeout': one did not answer, most
 * likely because it died (Node ends a worker that runs out of heap without a JS exception).
 */
function runSplit(pieces: number, job: (t: number) => Job, own: () => void): 'ok' | 'failed' | 'timeout' {
  Atomics.store(ctlI, CTL_DONE, 0);
  Atomics.store(ctlI, CTL_FAILED, 0);
  for (let id = 1; id < pieces; id++) {
    const w = workers[id - 1]!;
    // Posted before the job, so it is on the worker's port when the worker reads the job.
    if (w.sentGen !== dataGen) {
      w.port.postMessage({ gen: dataGen, data });
      w.sentGen = dataGen;
    }
    writeJob(jobSlot(ctl, id), job(id));
    Atomics.add(ctlI, wakeWord(id), 1);
    Atomics.notify(ctlI, wakeWord(id));
  }
  const t0 = performance.now();
  own();
  const deadline = performance.now() + Math.max(WORKER_TIMEOUT_MS, 20 * (performance.now() - t0));
  // Poll first: a worker usually finishes within microseconds of this thread, and a thread woken
  // from Atomics.wait resumes tens of microseconds late.
  const spinEnd = performance.now() + MAIN_SPIN_MS;
  for (let i = 0; Atomics.load(ctlI, CTL_DONE) < pieces - 1; i++) {
    if ((i & 63) === 63 && performance.now() > spinEnd) break;
  }
  for (let done = Atomics.load(ctlI, CTL_DONE); done < pieces - 1; done = Atomics.load(ctlI, CTL_DONE)) {
    const left = deadline - performance.now();
    if (left <= 0) return 'timeout';
    Atomics.wait(ctlI, CTL_DONE, done, Math.min(left, 1000));
  }
  return Atomics.load(ctlI, CTL_FAILED) === 0 ? 'ok' : 'failed';
}

/**
 * Gives up on the workers: a new (empty) data buffer, so a late worker writes where nobody reads,
 * and no split product from now on, so its late count reaches no other product.
 */
function retire(why: string): void {
  disable(`a GEMM worker did not answer within ${WORKER_TIMEOUT_MS / 1000} s ${why}`);
  dropData();
}

/** An empty data buffer of a new generation in place of the current one. */
function dropData(): void {
  data = new SharedArrayBuffer(0);
  dataF = new Float32Array(data);
  dataGen++;
}

/**
 * C = alpha·op(A)·op(B) + beta·C (Backend.gemm), split over the backend's threads when the product
 * is large enough; bitwise the same as gemm.ts's gemm() for any thread count.
 */
export function gemm(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  b: Float32Array,
  beta: number,
  c: Float32Array,
): void {
  const { pieces, byCols } = alpha === 0 ? { pieces: 1, byCols: true } : plan(m, n, k);
  if (pieces <= 1 || !workersReady(pieces - 1)) {
    gemmOneThread(transA, transB, m, n, k, alpha, a, b, beta, c);
    return;
  }
  const mk = m * k;
  const nk = n * k;
  const mn = m * n;
  if (!reserveData(mk + nk + mn)) {
    gemmOneThread(transA, transB, m, n, k, alpha, a, b, beta, c);
    return;
  }
  splits++;
  const f = dataF;
  f.set(a.length === mk ? a : a.subarray(0, mk), 0);
  f.set(b.length === nk ? b : b.subarray(0, nk), mk);
  if (beta !== 0) f.set(c.length === mn ? c : c.subarray(0, mn), mk + nk);
  const side = byCols ? n : m;
  const gen = breakNext ? -1 : dataGen;
  breakNext = false;
  const job = (t: number): Job => ({
    transA,
    transB,
    m,
    n,
    k,
    alpha,
    beta,
    aOff: 0,
    bOff: mk,
    cOff: mk + nk,
    byCols,
    lo: blockStart(t, pieces, side),
    hi: blockStart(t + 1, pieces, side),
    gen,
  });
  const outcome = runSplit(pieces, job, () => runBlock(job(0), f));
  if (outcome !== 'ok') {
    // A worker's block is missing: this thread computes the whole product from the caller's
    // arrays (C is untouched so far), and later products stay here.
    if (outcome === 'timeout') retire('for its block of a product');
    else disable(failure(pieces));
    gemmOneThread(transA, transB, m, n, k, alpha, a, b, beta, c);
    return;
  }
  c.set(f.subarray(mk + nk, mk + nk + mn));
}

/** The first error a worker of the last product posted back. */
function failure(pieces: number): string {
  for (let id = 1; id < pieces; id++) {
    const m = receiveMessageOnPort(workers[id - 1]!.port) as { message: { error?: string } } | undefined;
    if (m?.message.error !== undefined) return `GEMM worker ${id} failed: ${m.message.error}`;
  }
  return 'a GEMM worker failed';
}

/**
 * Resolves to true once the workers the current thread count can use are running (they start on
 * the first large product; tests and benchmarks wait here so they time or check the split path),
 * or to false if they could not start within `timeoutMs`.
 */
export async function jsThreadsReady(timeoutMs = 30_000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!workersReady(threads - 1)) {
    if (disabledBy !== null || Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

/** @internal Products split over threads so far in this thread, for the tests. */
export function _jsGemmSplits(): number {
  return splits;
}

/**
 * @internal For the tests: makes the next split product's workers fail (they are handed a data
 * buffer that was never sent), or, with `reset`, lets products use workers again after a failure.
 */
export function _jsGemmFault(what: 'fail-next' | 'reset'): void {
  if (what === 'fail-next') breakNext = true;
  else disabledBy = null;
}
