/**
 * Async batches: run a piece of tensor code (a model's forward pass) with its native kernels off
 * the JS thread.
 *
 * `deferred(fn)` runs fn at once on the JS thread with a recording backend installed: every
 * kernel call is checked and appended to a batch instead of running, and the ops around them
 * (shape logic, allocation, autograd bookkeeping) run as usual. The batch then goes to the addon's
 * runAsync, which runs the kernels in order on a libuv thread, and the promise resolves with fn's
 * result once they have run.
 *
 * What keeps this safe:
 * - Private buffers. Arrays allocated during recording (allocFloat32) belong to the batch. Any
 *   other array a kernel reads (the input, the weights, a constant) is copied when first used, so
 *   the caller may write or transfer its own arrays the moment deferred() returns its promise, and
 *   training may update the weights meanwhile. A kernel that would write an array the batch does
 *   not own (an in-place update of outside state) is not deferred: the batch so far runs on the
 *   JS thread, then that kernel.
 * - Values are read only when they exist. Tensor accessors that JS code reads values through
 *   (`_data`, `_read`, `_write`, `data`) call a guard while a batch exists: during recording,
 *   reading an array that a recorded kernel reads or writes first runs the batch so far on the JS
 *   thread (so code that inspects values mid-forward stays correct, just not deferred); while the
 *   batch runs on the other thread, touching its arrays throws. Ops hand arrays to kernels
 *   through the unguarded `_buf`, which never reads values.
 * - Kernels that return a value (crossEntropy, fingerprint) or update optimizer state run on
 *   the JS thread, after the batch so far.
 *
 * With the TypeScript backend, or an addon without runAsync, fn runs synchronously and the
 * promise resolves on a later turn of the event loop.
 */
import { givePooled } from '../pool.js';
import { copyFloat32, onAlloc } from '../shape.js';
import { type Storage, type Tensor, setAccessGuard, setBufHook, setDisposeHook } from '../tensor.js';
import type { Backend } from './backend.js';
import { getBackend, setBackend } from './index.js';
import { composedLinearChain } from './linear-chain.js';
import { packedFrozen } from '../ops/packed-weights.js';
import { type NativeAddon, loadAddon } from './native.js';

/** One kernel call in the addon's argument order: [kernel name, ...arguments]. */
type Command = [DeferrableKernel, ...unknown[]];
type DeferrableKernel =
  | 'gemm'
  | 'linearBackward'
  | 'binary'
  | 'unary'
  | 'unaryGrad'
  | 'sumTo'
  | 'reduce'
  | 'softmax'
  | 'softmaxGrad'
  | 'permute';

/**
 * Copies of outside arrays kept between batches, so a served model's weights are copied once, not
 * on every call. One is reused only while its storage's version is the one copied and no user code
 * holds the array (Storage.exposed): then nothing can have changed it. Dropped with the source.
 */
const snapshots = new WeakMap<Float32Array, { copy: Float32Array; version: number; storage: Storage }>();

/** A private copy of `a` (of `storage`), reused from an earlier batch while still current. */
function copyOf(a: Float32Array, storage: Storage | undefined): Float32Array {
  if (storage === undefined || storage.exposed) return copyFloat32(a);
  const kept = snapshots.get(a);
  if (kept !== undefined && kept.storage === storage && kept.version === storage.version) return kept.copy;
  const copy = copyFloat32(a);
  snapshots.set(a, { copy, version: storage.version, storage });
  return copy;
}

/**
 * Private copies of these tensors' values as they are now, for several deferred() calls to read
 * in place of the tensors (so every pass of one predictAsync call sees the same weights).
 */
export function pin(tensors: Iterable<Tensor>): Map<Float32Array, Float32Array> {
  const out = new Map<Float32Array, Float32Array>();
  for (const t of tensors) {
    const a = t._buf;
    out.set(a, copyOf(a, t._storage));
  }
  return out;
}

/** Which batch's not-yet-run kernels read or write each buffer. */
const owners = new WeakMap<ArrayBufferLike, Batch>();
/** The batch being recorded now (recording is synchronous, so there is at most one). */
let recording: Batch | null = null;
/** Batches recording or running; the access guard is installed while there are any. */
let live = 0;

class Batch {
  state: 'recording' | 'running' | 'done' = 'recording';
  commands: Command[] = [];
  /** Buffers only the library can reach: allocated during recording, or copies made here. */
  readonly own = new WeakSet<ArrayBufferLike>();
  /**
   * Arrays only this batch's commands use (linearChain's activations between layers, tensors made
   * and disposed during recording): handed to the buffer pool once the batch has run, so the next
   * call's reuse them instead of fresh memory (fresh arrays on every predictAsync call made the C
   * allocator grow and trim its heap each time: 4.5-7 ms instead of 2-2.3 for a batch-256 MLP
   * forward on one thread, most of it page faults).
   */
  readonly recycle: Float32Array[] = [];
  /** Outside arrays already copied (so the weights are copied once per batch). */
  readonly copies = new Map<Float32Array, Float32Array>();
  /** The storage of each array ops handed to a kernel (Tensor._buf reports it). */
  readonly storages = new Map<Float32Array, Storage>();
  /**
   * Copies taken before recording (a model's weights when a predictAsync call started), shared by
   * every pass of that call; unpin() drops the ones JS code has since touched.
   */
  pinned: Map<Float32Array, Float32Array> | null = null;
  /** Buffers the queued commands touch (to release their owner entries). */
  touched: ArrayBufferLike[] = [];
  /**
   * Settles once every kernel recorded into this batch has run (or failed): a deferred() call
   * nested in this batch's recording (predictAsync inside a forward) queued its kernels here, so
   * its result exists only then.
   */
  readonly settled: Promise<void>;
  settle!: (error?: unknown) => void;

  constructor(
    readonly addon: NativeAddon,
    readonly real: Backend,
  ) {
    this.settled = new Promise<void>((resolve, reject) => {
      this.settle = (error?: unknown) => (error === undefined ? resolve() : reject(error));
    });
    this.settled.catch(() => {}); // only nested calls await it; the outer call reports the error
  }

  /** The array a queued kernel reads: this batch's own, or a private copy of an outside one. */
  input(a: Float32Array): Float32Array {
    if (this.own.has(a.buffer)) {
      this.touch(a.buffer);
      return a;
    }
    let c = this.copies.get(a) ?? this.pinned?.get(a);
    if (c === undefined) {
      c = copyOf(a, this.storages.get(a));
      this.copies.set(a, c);
      this.own.add(c.buffer);
    }
    this.touch(c.buffer);
    return c;
  }

  /**
   * JS code is at `raw`, an outside array, during recording, and may write it (a forward that
   * updates its own weights or reads one with item()): the copy pinned at the call's start no
   * longer stands for it, for the rest of this pass and the call's later passes, which then read
   * it as it is when they are recorded, as predict() would. Views cut from its buffer too.
   */
  unpin(raw: Float32Array): void {
    const p = this.pinned;
    if (p === null || p.size === 0 || p.delete(raw)) return;
    for (const k of p.keys()) if (k.buffer === raw.buffer) p.delete(k);
  }

  maybeInput(a: Float32Array | null): Float32Array | null {
    return a === null ? null : this.input(a);
  }

  touch(b: ArrayBufferLike): void {
    if (owners.get(b) !== this) {
      owners.set(b, this);
      this.touched.push(b);
    }
  }

  /**
   * Queues a kernel whose outputs are `outputs`; `build` maps its inputs (so copies are made only
   * for a queued command). An output the batch does not own is outside state: run now instead.
   */
  record(outputs: readonly (Float32Array | null)[], now: () => void, build: () => Command): void {
    for (const o of outputs) {
      if (o !== null && !this.own.has(o.buffer)) {
        this.runNow(now);
        return;
      }
    }
    const cmd = build();
    for (const o of outputs) if (o !== null) this.touch(o.buffer);
    this.commands.push(cmd);
  }

  /** Runs the queued kernels on the JS thread (JS code is about to read or write their arrays). */
  flush(): void {
    const cmds = this.commands;
    this.commands = [];
    this.release();
    const a = this.addon as unknown as Record<DeferrableKernel, (...args: unknown[]) => void>;
    for (const [name, ...args] of cmds) a[name](...args);
  }

  runNow<T>(now: () => T): T {
    this.flush();
    return now();
  }

  release(): void {
    for (const b of this.touched) if (owners.get(b) === this) owners.delete(b);
    this.touched = [];
  }
}

function guard(raw: Float32Array, op: string): void {
  const b = owners.get(raw.buffer);
  if (b === undefined) {
    // JS code is at an array no queued kernel uses; it may write it, so a copy taken of it
    // earlier could go stale: take fresh ones from here on.
    if (recording !== null && !recording.own.has(raw.buffer)) {
      recording.copies.clear();
      recording.unpin(raw);
    }
    return;
  }
  if (b.state === 'recording') b.flush();
  else if (b.state === 'running') {
    throw new Error(`${op}: this tensor is still being computed by an async call (predictAsync/evaluateAsync); await its promise first`);
  }
}

/** The Backend that queues kernels into `b` (the real one runs whatever can't be queued). */
function recorder(b: Batch): Backend {
  const real = b.real;
  const shape = (s: readonly number[]): number[] => s.slice();
  const linear: Backend['linear'] = (m, n, k, x, w, bias, relu, c) =>
    b.record(
      [c],
      () => real.linear(m, n, k, x, w, bias, relu, c),
      () => {
        const wc = b.input(w);
        // A private copy (pinned or snapshot) never changes, so its packed form stays valid; an
        // array of the batch's own may still be written by a queued kernel. A weight whose array
        // user code holds gets a fresh copy on every call: packing that would be work per call.
        const st = b.storages.get(w);
        const packed = wc !== w && st !== undefined && !st.exposed ? packedFrozen(wc, n, k, m, real) : null;
        return ['gemm', false, true, m, n, k, 1, b.input(x), wc, 0, c, b.maybeInput(bias), relu, packed];
      },
    );
  return {
    name: real.name,
    info: () => real.info(),
    setNumThreads: (n) => real.setNumThreads(n),
    gemm: (ta, tb, m, n, k, alpha, x, y, beta, c) =>
      b.record(
        [c],
        () => real.gemm(ta, tb, m, n, k, alpha, x, y, beta, c),
        () => ['gemm', ta, tb, m, n, k, alpha, b.input(x), b.input(y), beta, c, null, false],
      ),
    linear,
    // Each layer recorded as its own linear command (into arrays only the batch sees).
    linearChain: composedLinearChain(linear, (a) => b.recycle.push(a)),
    linearBackward: (rows, outF, inF, g, y, x, w, gy, gx, gw, gb) =>
      b.record(
        [gy, gx, gw, gb],
        () => real.linearBackward(rows, outF, inF, g, y, x, w, gy, gx, gw, gb),
        () => ['linearBackward', rows, outF, inF, b.input(g), b.maybeInput(y), b.maybeInput(x), b.maybeInput(w), gy, gx, gw, gb],
      ),
    binary: (op, x, xs, y, ys, out, os) =>
      b.record(
        [out],
        () => real.binary(op, x, xs, y, ys, out, os),
        () => ['binary', op, b.input(x), shape(xs), b.input(y), shape(ys), out, shape(os)],
      ),
    unary: (op, x, out, p0, p1) =>
      b.record([out], () => real.unary(op, x, out, p0, p1), () => ['unary', op, b.input(x), out, p0, p1]),
    unaryGrad: (op, x, y, gy, gx, p0, p1) =>
      b.record(
        [gx],
        () => real.unaryGrad(op, x, y, gy, gx, p0, p1),
        () => ['unaryGrad', op, b.input(x), b.input(y), b.input(gy), gx, p0, p1],
      ),
    sumTo: (x, xs, out, os) =>
      b.record([out], () => real.sumTo(x, xs, out, os), () => ['sumTo', b.input(x), shape(xs), out, shape(os)]),
    reduce: (op, x, outer, n, inner, out, arg) =>
      b.record(
        [out, arg],
        () => real.reduce(op, x, outer, n, inner, out, arg),
        () => ['reduce', op, b.input(x), outer, n, inner, out, arg],
      ),
    softmax: (x, outer, n, inner, out, log) =>
      b.record(
        [out],
        () => real.softmax(x, outer, n, inner, out, log),
        () => ['softmax', b.input(x), outer, n, inner, out, log],
      ),
    softmaxGrad: (y, gy, outer, n, inner, gx, log) =>
      b.record(
        [gx],
        () => real.softmaxGrad(y, gy, outer, n, inner, gx, log),
        () => ['softmaxGrad', b.input(y), b.input(gy), outer, n, inner, gx, log],
      ),
    permute: (x, s, axes, out) =>
      b.record([out], () => real.permute(x, s, axes, out), () => ['permute', b.input(x), shape(s), shape(axes), out]),
    crossEntropy: (...args) => b.runNow(() => real.crossEntropy(...args)),
    adamStep: (...args) => b.runNow(() => real.adamStep(...args)),
    adamSteps: (...args) => b.runNow(() => real.adamSteps(...args)),
    sgdStep: (...args) => b.runNow(() => real.sgdStep(...args)),
    rmspropStep: (...args) => b.runNow(() => real.rmspropStep(...args)),
    nllLoss: (...args) => b.runNow(() => real.nllLoss(...args)),
    nllLossGrad: (...args) => b.runNow(() => real.nllLossGrad(...args)),
    bceLoss: (...args) => b.runNow(() => real.bceLoss(...args)),
    bceLossGrad: (...args) => b.runNow(() => real.bceLossGrad(...args)),
    fillUniform: (...args) => b.runNow(() => real.fillUniform(...args)),
    dropoutMask: (...args) => b.runNow(() => real.dropoutMask(...args)),
    gatherRows: (...args) => b.runNow(() => real.gatherRows(...args)),
    scatterAddRows: (...args) => b.runNow(() => real.scatterAddRows(...args)),
    copyBlocks: (...args) => b.runNow(() => real.copyBlocks(...args)),
    scatterArg: (...args) => b.runNow(() => real.scatterArg(...args)),
    shareEqual: (...args) => b.runNow(() => real.shareEqual(...args)),
    normPart: (...args) => b.runNow(() => real.normPart(...args)),
    fingerprint: (x) => b.runNow(() => real.fingerprint(x)),
  };
}

/** Resolves on a later turn of the event loop (after I/O callbacks). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Runs `fn` (tensor code: a forward pass) with its native kernels queued and then run off the JS
 * thread; resolves with fn's result once they have run. See the top of this file. `own` names a
 * buffer no one but the library can reach, which kernels may then read without a copy; `pinned`
 * maps arrays to copies (from pin()) that kernels read instead.
 */
export async function deferred<T>(
  fn: () => T,
  own: ArrayBufferLike | null = null,
  pinned: Map<Float32Array, Float32Array> | null = null,
): Promise<T> {
  const real = getBackend();
  const addon = real.name === 'native' ? loadAddon() : null;
  if (recording !== null) {
    // Nested in another batch's recording (a forward that calls predictAsync): fn's kernels join
    // that batch, so resolving after one turn would hand out tensors not computed yet (reading
    // them threw "still being computed" right after the await). Wait for that batch instead.
    const outer = recording;
    const result = fn();
    await outer.settled;
    return result;
  }
  if (addon === null || typeof addon.runAsync !== 'function') {
    const result = fn();
    await nextTurn();
    return result;
  }
  const batch = new Batch(addon, real);
  // A buffer the caller guarantees nobody else can reach (predictAsync's copy of its input).
  if (own !== null) batch.own.add(own);
  if (pinned !== null) {
    batch.pinned = pinned;
    for (const c of pinned.values()) batch.own.add(c.buffer);
  }
  recording = batch;
  if (live++ === 0) setAccessGuard(guard);
  let error: unknown;
  try {
    const stopListening = onAlloc((a) => batch.own.add(a.buffer));
    setBufHook((raw, st) => batch.storages.set(raw, st));
    // A tensor made during recording and disposed by then (an intermediate activation that
    // Sequential releases) holds an array only this batch's commands use.
    setDisposeHook((a) => {
      if (batch.own.has(a.buffer)) batch.recycle.push(a);
    });
    setBackend(recorder(batch));
    let result: T;
    try {
      result = fn();
    } catch (e) {
      // fn threw after queuing kernels whose outputs may have escaped (a module that keeps an
      // activation, a nested predictAsync): run them here, as the synchronous call would have,
      // so those tensors hold their values rather than the zeros of never-run kernels.
      setBackend(real);
      try {
        batch.flush();
        batch.settle(); // a nested call's kernels have run: it may resolve
      } catch (flushError) {
        batch.settle(flushError); // fn's own error is the one this call reports
      }
      throw e;
    } finally {
      setBackend(real);
      stopListening();
      setBufHook(null);
      setDisposeHook(null);
      recording = null;
    }
    batch.state = 'running';
    const cmds = batch.commands;
    batch.commands = [];
    batch.copies.clear();
    batch.storages.clear();
    if (cmds.length > 0) await addon.runAsync(cmds);
    else await nextTurn();
    return result;
  } catch (e) {
    error = e ?? new Error('deferred: the batch failed');
    throw e;
  } finally {
    batch.state = 'done';
    batch.release();
    for (const a of batch.recycle) givePooled(a);
    if (--live === 0) setAccessGuard(null);
    batch.settle(error);
  }
}
