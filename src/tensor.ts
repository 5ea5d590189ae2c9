/// <reference lib="esnext.disposable" preserve="true" />
import { type GradNode, isGradEnabled, runBackward } from './autograd.js';
import { getBackend } from './backend/index.js';
import { formatTensor } from './format.js';
import { givePooled } from './pool.js';
import * as act from './ops/activation.js';
import * as ew from './ops/elementwise.js';
import * as idx from './ops/indexing.js';
import { matmul } from './ops/matmul.js';
import * as red from './ops/reduce.js';
import * as shp from './ops/shape.js';
import * as sm from './ops/softmax.js';
import { type Shape, COPY_BRAND, MAX_ELEMENTS, THIS_COPY, allocFloat32, broadcastShapes, checkShape, copyFloat32, frozenShape, sameShape, shapeStr, sizeOf, valueStr } from './shape.js';

/** Nested number arrays, as accepted by `tensor()` and returned by `toArray()`. */
export type NestedArray = number | NestedArray[];

/** A tensor or a plain number (treated as a 0-d tensor and broadcast). */
export type TensorLike = Tensor | number;

/** Anything `indexSelect` accepts as row indices. */
export type IndexLike = Tensor | Int32Array | readonly number[];

/**
 * What the views of one buffer share (like PyTorch's version counter, which views share too).
 * Library code that writes a tensor in place bumps `version`; backward() refuses a saved tensor
 * whose version moved. User code can also write through `.data` without telling anyone, so a
 * storage whose array user code holds is `exposed`, and saving such a tensor for backward also
 * takes a fingerprint of its values. Tensors user code never saw (op outputs, parameters, loader
 * batches) are checked by version alone: the fingerprint is only paid where a silent write is
 * possible.
 */
export class Storage {
  version = 0;
  /** A tensor of this storage was saved for backward while unexposed, so without a fingerprint. */
  savedUnexposed = false;
  /** Fingerprint of `base` taken when it was exposed after such a save, and the version then. */
  fp = 0;
  fpVersion = -1;
  /**
   * Something besides its first tensor holds the array (a view made of it, a file write in
   * flight), so dispose() must not recycle it.
   */
  shared = false;
  constructor(
    /** The whole array the views cut from (what `.data.buffer` lets user code reach). */
    readonly base: Float32Array,
    /** User code may hold the array: it came from outside, or `.data` handed it out. */
    public exposed: boolean,
  ) {}
}

/** The error every use of a tensor whose buffer was transferred or shrunk throws. */
export function detachedError(op: string): Error {
  return new Error(`${op}: tensor data was detached (transferred or resized)`);
}

/**
 * Whether a typed array's buffer was detached (transferred with postMessage/structuredClone).
 * Node 20 lacks ArrayBuffer.prototype.detached; there a detached buffer is told from an empty one
 * by the view constructor refusing it.
 */
export function isDetachedArray(a: ArrayBufferView): boolean {
  if (a.byteLength !== 0) return false;
  const b = a.buffer as ArrayBufferLike & { detached?: boolean };
  if (typeof b.detached === 'boolean') return b.detached;
  try {
    new Uint8Array(b);
    return false;
  } catch {
    return true;
  }
}

/** Options of `Tensor#backward`. */
export interface BackwardOptions {
  /**
   * Keep the graph usable for another backward() (PyTorch's `retain_graph`): without it,
   * backward() recycles the intermediate activations of the graph's Sequentials. Default false.
   */
  retainGraph?: boolean;
}

function backwardOptions(options: BackwardOptions | undefined): boolean {
  if (options === undefined) return false;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new Error(`backward: options must be an object like { retainGraph: true }, got ${valueStr(options)}`);
  }
  for (const k of Object.keys(options)) if (k !== 'retainGraph') throw new Error(`backward: unknown option '${k}' (known: retainGraph)`);
  const r: unknown = options.retainGraph;
  if (r !== undefined && typeof r !== 'boolean') throw new Error(`backward: retainGraph must be a boolean, got ${valueStr(r)}`);
  return r === true;
}

/** The error every use of a tensor after its dispose() throws. */
export function disposedError(op: string): Error {
  return new Error(`${op}: tensor was disposed (dispose() released its data; it can't be used again)`);
}

/** What a disposed tensor holds instead of its data: empty, so every O(1) length check fails. */
const DISPOSED = new Float32Array(0);

/**
 * Checks a tensor's array before JS code reads or writes its values; set only while an async
 * batch is recorded or running (src/backend/deferred.ts), so the normal path pays one null test.
 */
type AccessGuard = (raw: Float32Array, op: string) => void;
let accessGuard: AccessGuard | null = null;

/** @internal Installs (or, with null, removes) the guard above. */
export function setAccessGuard(guard: AccessGuard | null): void {
  accessGuard = guard;
}

/** Told which storage each array handed to a kernel belongs to; set only while a batch records. */
type BufHook = (raw: Float32Array, storage: Storage) => void;
let bufHook: BufHook | null = null;

/** @internal Installs (or, with null, removes) the hook above. */
export function setBufHook(hook: BufHook | null): void {
  bufHook = hook;
}

/**
 * Told of an array dispose() would recycle but for a live async batch, which may still read or
 * write it; set only while a batch records. The batch gives it to the pool once it has run.
 */
type DisposeHook = (base: Float32Array) => void;
let disposeHook: DisposeHook | null = null;

/** @internal Installs (or, with null, removes) the hook above. */
export function setDisposeHook(hook: DisposeHook | null): void {
  disposeHook = hook;
}

/** What an error calls an object that passes `instanceof Tensor` without being made by its constructor. */
const COUNTERFEIT = 'not a valid Tensor (an object posing as one, not made by the Tensor constructor)';

/**
 * Why t can't be used as a tensor (null when it can): not a Tensor, an object posing as one
 * (Object.create(Tensor.prototype)), or a Tensor whose buffer was transferred away or shrunk.
 * O(1): it compares lengths, never reads the values.
 */
export function tensorProblem(t: unknown): string | null {
  if (!(t instanceof Tensor)) return `expected a Tensor, got ${valueStr(t)}`;
  const shape: unknown = t.shape;
  const data: unknown = Tensor._rawOf(t); // not t.data: reading that marks the array as seen by user code
  if (!Array.isArray(shape)) return 'not a valid Tensor: its shape is not a list of dims';
  // A loop, not shape.every(): on a frozen array (every shape) every() took ~75 ns per call in
  // Node 20, the loop ~15, and linearChain checks seven tensors per call.
  let n = 1;
  for (let i = 0; i < shape.length; i++) {
    const d: unknown = shape[i];
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) return 'not a valid Tensor: its shape is not a list of dims';
    n *= d;
  }
  if (!(data instanceof Float32Array)) return COUNTERFEIT;
  if (data === DISPOSED) return 'tensor was disposed';
  if (data.length === n && !(n === 0 && isDetachedArray(data))) return null;
  if (data.length === 0) return 'tensor data was detached (transferred or resized)';
  return `not a valid Tensor: its data has ${data.length} elements but its shape ${shapeStr(shape as number[])} needs ${n}`;
}

// Set by ownedTensor/_view just before they call the constructor, and consumed by it, so the
// public constructor keeps its plain signature.
let nextOwned = false;
let nextStorage: Storage | null = null;

/**
 * A tensor over an array the library has just allocated and holds no other reference to. Unlike
 * `new Tensor`, whose caller keeps the array (so it counts as exposed to user code), nothing can
 * write it behind the version counter's back, so saving it for backward costs no fingerprint.
 */
/**
 * @internal `p.grad` as user code would see it (an own `grad` property, which test and user code
 * can define, shadows the accessor), for library code: reading it this way does not count as user
 * code having seen the gradient (see Tensor#_releaseGrad).
 */
export function gradOf(p: Tensor): Tensor | null {
  return Object.prototype.hasOwnProperty.call(p, 'grad') ? p.grad : p._grad;
}

export function ownedTensor(data: Float32Array, shape: Shape, requiresGrad = false): Tensor {
  nextOwned = true;
  return new Tensor(data, shape, requiresGrad);
}

/**
 * A float32 tensor: a row-major, contiguous Float32Array with a shape, and the autograd state.
 * Tensors are ordinary garbage-collected objects: nothing needs disposing.
 */
export class Tensor {
  #raw: Float32Array;
  #grad: Tensor | null = null;
  /**
   * Whether the current .grad could be held outside the library: user code read it through the
   * `grad` getter, or assigned it. Only a gradient nobody else saw is recycled when cleared.
   */
  #gradShared = false;
  /**
   * @internal The version counter and exposure state, shared with every view of this buffer.
   * Replaced only by dispose() (see there).
   */
  _storage: Storage;
  /** The dims, outermost first (frozen; `[]` for a 0-d tensor). PyTorch: `Tensor.shape`. */
  readonly shape: Shape;
  /** Number of elements (the product of the shape). */
  readonly size: number;
  #requiresGrad: boolean;
  /** The op that produced this tensor, null for leaves (and for anything made under noGrad). */
  gradFn: GradNode | null = null;
  /** Set by retainGrad(): keep .grad on a non-leaf tensor too. */
  retainsGrad = false;
  /**
   * @internal Set by Sequential on an intermediate output that only its own built-in layers have
   * seen: once a backward() has used the graph, nothing can read it again, so runBackward frees it
   * (and recycles its array for the next step's activations) unless told to retain the graph.
   */
  _freeAfterBackward = false;
  /**
   * @internal Set by an op on a tensor of its own that only its backward closure reads (the
   * gradient crossEntropy computes with its forward) and that the closure saves: runBackward frees
   * it once the walk is over, unless told to retain the graph. Never set on a graph tensor.
   */
  _graphPrivate = false;
  /** @internal backward() freed this tensor: a second backward through its graph says why it can't. */
  _freedByBackward = false;

  /**
   * Wraps `data` (not copied) as a tensor of `shape`. The caller keeps the array, so the tensor
   * counts as exposed: see `data`.
   */
  constructor(data: Float32Array, shape: Shape, requiresGrad = false) {
    const owned = nextOwned;
    const shared = nextStorage;
    nextOwned = false;
    nextStorage = null;
    if (!(data instanceof Float32Array)) throw new Error(`Tensor: data must be a Float32Array, got ${valueStr(data)}`);
    if (!owned && isDetachedArray(data)) throw detachedError('Tensor');
    const size = checkShape('Tensor', shape);
    if (typeof requiresGrad !== 'boolean') throw new Error(`Tensor: requiresGrad must be a boolean, got ${valueStr(requiresGrad)}`);
    if (data.length !== size) {
      throw new Error(`Tensor: data has ${data.length} elements but shape ${shapeStr(shape)} needs ${size}`);
    }
    this.#raw = data;
    this.shape = frozenShape(shape);
    this.size = size;
    this.#requiresGrad = requiresGrad;
    if (shared !== null) shared.shared = true;
    this._storage = shared ?? new Storage(data, !owned);
  }

  /**
   * The values, row-major (not a copy: reshaped views share them, and writes are visible through
   * every view). Handing the array out marks the storage as exposed: from then on, saving this
   * tensor for backward fingerprints it, so a write through the array between the forward pass
   * and backward() is caught there ("was modified") instead of giving wrong gradients. Reads that
   * need no such care: `toArray()`, `item()`, `clone()`.
   */
  get data(): Float32Array {
    const raw = this.#raw;
    if (raw.length !== this.size || (raw.length === 0 && (raw === DISPOSED || isDetachedArray(raw)))) throw this.#lost('data');
    if (accessGuard !== null) accessGuard(raw, 'data');
    const st = this._storage;
    if (!st.exposed) {
      // A graph may already have saved this storage without a fingerprint: take it now, before
      // the caller can write, so backward() can compare against it.
      if (st.savedUnexposed) {
        st.fp = getBackend().fingerprint(st.base);
        st.fpVersion = st.version;
      }
      st.exposed = true;
    }
    return raw;
  }

  /** @internal The values for library code: no exposure; throws if the buffer was detached. */
  get _data(): Float32Array {
    const raw = this.#raw;
    if (raw.length !== this.size || (raw.length === 0 && (raw === DISPOSED || isDetachedArray(raw)))) throw this.#lost('Tensor');
    if (accessGuard !== null) accessGuard(raw, 'Tensor');
    return raw;
  }

  /**
   * @internal `_data`, with `op` named in the error when the buffer was detached. O(1): a
   * detached buffer reads as length 0, so only an empty tensor needs the buffer itself checked.
   */
  _read(op: string): Float32Array {
    const raw = this.#raw;
    if (raw.length !== this.size || (raw.length === 0 && (raw === DISPOSED || isDetachedArray(raw)))) throw this.#lost(op);
    if (accessGuard !== null) accessGuard(raw, op);
    return raw;
  }

  /**
   * @internal The array itself, to hand to a backend kernel or to make a view of; JS code must not
   * read or write its values through it. Unlike `_data` it is not guarded: inside an async batch
   * (predictAsync) a kernel's input may be the output of a kernel that has not run yet, and the
   * batch runs them in order.
   */
  get _buf(): Float32Array {
    const raw = this.#raw;
    if (raw.length !== this.size || (raw.length === 0 && (raw === DISPOSED || isDetachedArray(raw)))) throw this.#lost('Tensor');
    if (bufHook !== null) bufHook(raw, this._storage);
    return raw;
  }

  /** @internal Throws (naming `op`) if the data was disposed, transferred or shrunk; reads nothing. O(1). */
  _check(op: string): void {
    const raw = this.#raw;
    if (raw.length !== this.size || (raw.length === 0 && (raw === DISPOSED || isDetachedArray(raw)))) throw this.#lost(op);
  }

  /** @internal The values for an in-place write by library code: bumps the version counter. */
  _write(op: string): Float32Array {
    const raw = this.#raw;
    if (raw.length !== this.size || (raw.length === 0 && (raw === DISPOSED || isDetachedArray(raw)))) throw this.#lost(op);
    if (accessGuard !== null) accessGuard(raw, op);
    this._storage.version++;
    return raw;
  }

  /** Why the array can't be used: dispose() took it, or it was transferred away or shrunk. */
  #lost(op: string): Error {
    return this.#raw === DISPOSED ? disposedError(op) : detachedError(op);
  }

  /**
   * Releases this tensor's data, gradient and graph node now instead of when it is garbage
   * collected. Never required (tensors are garbage collected); for code that wants memory back
   * at a known point. The memory is freed once nothing else holds it: views (reshape, detach,
   * slice) keep their own reference and stay usable. Any later use of this tensor throws
   * "<op>: tensor was disposed". Calling it twice is harmless.
   *
   * When the tensor was its array's only holder (an op's result that no view shares, whose `data`
   * was never handed out, and that no graph saved for backward), the array is recycled: the next
   * op with an output of that size writes into it instead of into fresh memory. A loop that
   * disposes its results (or declares them with `using`) then runs at the kernel's own speed; see
   * `emptyCache()`.
   */
  dispose(): void {
    // The array goes back to the pool (src/pool.ts) for the next op's output when nothing else can
    // reach it: the library allocated it and never handed it out, no view shares it, no graph saved
    // it for backward, and no async batch is recording or running (it may hold the array).
    const st0 = this._storage;
    if (this.#ownsArray() && !st0.savedUnexposed) {
      if (accessGuard === null) givePooled(st0.base);
      // Only the batch being recorded can still use it: it goes to the pool after that batch.
      else if (disposeHook !== null) disposeHook(st0.base);
    }
    this.#drop();
  }

  /** The library made this tensor's whole array, and no view or user code can reach it. */
  #ownsArray(): boolean {
    const st = this._storage;
    return this.#raw === st.base && !st.exposed && !st.shared;
  }

  /** #ownsArray, and no async batch is recording or running (one may hold the array). */
  #soleHolder(): boolean {
    return this.#ownsArray() && accessGuard === null;
  }

  /** Lets go of the data, gradient and graph node (the state of a disposed tensor). */
  #drop(): void {
    this.#raw = DISPOSED;
    this.#grad = null;
    this.gradFn = null;
    // The storage holds the whole array as well (`base`), so keeping it would keep the memory for
    // as long as this object is reachable (a graph node's inputs, a list, a module field): take an
    // empty one instead. Views keep the old storage, and with it the array they use. The version
    // carries over so a graph that saved this tensor still sees no in-place write, only disposal.
    const st = new Storage(DISPOSED, true);
    st.version = this._storage.version;
    this._storage = st;
  }

  /**
   * @internal Frees an intermediate activation backward() has finished with (see
   * _freeAfterBackward): its array goes to the pool when this tensor is its only holder (the
   * graph that saved it has run, so unlike dispose() a save does not count); when it is not (a
   * view shares it, user code saw it), the tensor is left as it is.
   */
  _freeAfterUse(): void {
    if (!this.#soleHolder()) return;
    givePooled(this._storage.base);
    this._freedByBackward = true;
    this.#drop();
  }

  /** For `using t = …` (explicit resource management): the same as dispose(). */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** True after dispose(). */
  get isDisposed(): boolean {
    return this.#raw === DISPOSED;
  }

  /**
   * @internal t's values when t is a genuine Tensor (not an object posing as one), without
   * exposing them; undefined otherwise. O(1): for validation code that must not throw.
   */
  static _rawOf(t: unknown): Float32Array | undefined {
    return typeof t === 'object' && t !== null && #raw in t ? (t as Tensor).#raw : undefined;
  }

  /** @internal A tensor over `data` (this tensor's array or a part of it) sharing this storage. */
  _view(data: Float32Array, shape: Shape): Tensor {
    nextStorage = this._storage;
    return new Tensor(data, shape);
  }

  /** Number of dims (`shape.length`). PyTorch: `Tensor.ndim`. */
  get ndim(): number {
    return this.shape.length;
  }

  /** Whether gradients flow to this tensor. Set on leaves by the user; propagated by ops. */
  get requiresGrad(): boolean {
    return this.#requiresGrad;
  }

  /** A boolean; only a leaf can stop requiring grad (as PyTorch: use detach() for the rest). */
  set requiresGrad(value: boolean) {
    this.#setRequiresGrad('requiresGrad', value);
  }

  #setRequiresGrad(op: string, value: unknown): void {
    if (typeof value !== 'boolean') throw new Error(`${op}: value must be a boolean, got ${valueStr(value)}`);
    if (!value && this.gradFn !== null) {
      throw new Error(`${op}: only leaf tensors can stop requiring grad (this one is the output of ${this.gradFn.op}); use detach()`);
    }
    this.#requiresGrad = value;
  }

  /** True unless this tensor was produced by a recorded op. */
  get isLeaf(): boolean {
    return this.gradFn === null;
  }

  /**
   * How many in-place writes this tensor's storage has seen (optimizer steps, loadStateDict,
   * fill_/zero_/copy_, markModified()); views share it. PyTorch's `_version`.
   */
  get version(): number {
    return this._storage.version;
  }

  /**
   * Declares that you wrote this tensor's values in place (through `.data`), as PyTorch's
   * `torch.autograd.graph.increment_version`: graphs that saved it then refuse to back-propagate
   * with a version error. Writes through `.data` are caught without it (by fingerprint), but
   * calling it costs O(1) and makes the error name the version.
   */
  markModified(): this {
    this._write('markModified');
    return this;
  }

  /** Accumulated gradient (same shape), filled by backward() on leaves and retainGrad() tensors. */
  get grad(): Tensor | null {
    const g = this.#grad;
    if (g !== null) this.#gradShared = true;
    return g;
  }

  /** @internal `.grad` for library code (optimizers, clipping): not counted as seen by user code. */
  get _grad(): Tensor | null {
    return this.#grad;
  }

  /**
   * @internal Clears `.grad` (an optimizer's zeroGrad). A gradient that backward() made and no
   * user code has seen is disposed and its array recycled (src/pool.ts) for the next step's
   * gradients, instead of being left to the garbage collector.
   */
  _releaseGrad(): void {
    const g = this.#grad;
    this.#grad = null;
    if (g === null) return;
    const shared = this.#gradShared;
    this.#gradShared = false;
    if (shared) return;
    const st = g._storage;
    // Whole-array gradients the library allocated (never exposed): what backward() steals or copies.
    if (st.exposed || st.base.length !== g.size || g.isDisposed) return;
    g.dispose();
    givePooled(st.base);
  }

  /** Assign null to clear it, or a tensor of this tensor's shape (it is used, not copied). */
  set grad(g: Tensor | null) {
    if (g === null) {
      this.#grad = null;
      this.#gradShared = false;
      return;
    }
    if (!(g instanceof Tensor)) throw new Error(`grad: expected a Tensor or null, got ${valueStr(g)}`);
    const bad = tensorProblem(g);
    if (bad !== null) throw new Error(`grad: ${bad}`);
    if (g === this) throw new Error("grad: a tensor can't be assigned as its own gradient");
    if (!sameShape(g.shape, this.shape)) {
      throw new Error(`grad: assigned gradient has shape ${shapeStr(g.shape)}, but the tensor has shape ${shapeStr(this.shape)}`);
    }
    this.#grad = g;
    this.#gradShared = true;
  }

  /** The single value of a one-element tensor. */
  item(): number {
    const d = this._read('item');
    if (this.size !== 1) throw new Error(`item: tensor of shape ${shapeStr(this.shape)} has ${this.size} elements, expected 1`);
    return d[0]!;
  }

  /** The values as nested arrays (a number for a 0-d tensor). */
  toArray(): NestedArray {
    const data = this._read('toArray');
    // An empty tensor can still ask for many arrays ([2^40, 0, 3]: 2^40 empty rows); refuse what
    // no JS heap holds instead of failing inside V8.
    let arrays = 0;
    let rows = 1;
    for (let d = 0; d < this.ndim && rows > 0; d++) {
      arrays += rows;
      rows *= this.shape[d]!;
    }
    if (arrays > MAX_ELEMENTS) {
      throw new Error(`toArray: a tensor of shape ${shapeStr(this.shape)} would need ${arrays} nested arrays, more than the ${MAX_ELEMENTS} supported`);
    }
    const build = (dim: number, offset: number): NestedArray => {
      if (dim === this.shape.length) return data[offset]!;
      const n = this.shape[dim]!;
      const stride = sizeOf(this.shape.slice(dim + 1));
      const out: NestedArray[] = new Array<NestedArray>(n);
      for (let i = 0; i < n; i++) out[i] = build(dim + 1, offset + i * stride);
      return out;
    };
    return build(0, 0);
  }

  /** The values, PyTorch-style: `tensor([[1, 2], [3, 4]], requiresGrad=true)`; long tensors are elided. */
  toString(): string {
    return formatTensor(this);
  }

  /** Same data, cut from the graph: no gradient flows through the result. Shares the version counter. */
  detach(): Tensor {
    return this._view(this._read('detach'), this.shape);
  }

  /** A copy with its own buffer (not recorded). */
  clone(): Tensor {
    return ownedTensor(copyFloat32(this._read('clone')), this.shape);
  }

  /** Refuses the in-place write PyTorch refuses: one that autograd would have to see. */
  #checkInPlace(op: string): void {
    if (!isGradEnabled()) return;
    if (this.gradFn !== null) {
      throw new Error(`${op}: can't modify the output of a recorded op (${this.gradFn.op}) in place; clone() it, or run under noGrad()`);
    }
    if (this.requiresGrad) {
      throw new Error(`${op}: a leaf tensor that requires grad can't be modified in place outside noGrad()`);
    }
  }

  /** Sets every element to value, in place (bumps the version). */
  fill_(value: number): this {
    if (typeof value !== 'number') throw new Error(`fill_: value must be a number, got ${valueStr(value)}`);
    this.#checkInPlace('fill_');
    this._write('fill_').fill(value);
    return this;
  }

  /** Sets every element to 0, in place (bumps the version). */
  zero_(): this {
    this.#checkInPlace('zero_');
    this._write('zero_').fill(0);
    return this;
  }

  /** Copies src's values into this tensor, in place (src broadcasts to this shape; bumps the version). */
  copy_(src: Tensor): this {
    if (!(src instanceof Tensor)) throw new Error(`copy_: src must be a Tensor, got ${valueStr(src)}`);
    if (Tensor._rawOf(src) === undefined) throw new Error(`copy_: src is ${COUNTERFEIT}`);
    this.#checkInPlace('copy_');
    if (src.requiresGrad && isGradEnabled()) {
      throw new Error('copy_: src requires grad and copy_ is not differentiable; pass src.detach() or run under noGrad()');
    }
    const to = broadcastShapes('copy_', src.shape, this.shape);
    if (to.length !== this.ndim || to.some((d, i) => d !== this.shape[i])) {
      throw new Error(`copy_: src of shape ${shapeStr(src.shape)} does not broadcast to ${shapeStr(this.shape)}`);
    }
    const s = src._read('copy_');
    const d = this._write('copy_');
    if (src.size === this.size) d.set(s);
    else if (this.size > 0) getBackend().binary('add', s.slice(), src.shape, ZERO, [], d, this.shape);
    return this;
  }

  /** Sets requiresGrad in place and returns this (for chaining, like PyTorch's requires_grad_). */
  requiresGrad_(value = true): this {
    this.#setRequiresGrad('requiresGrad_', value);
    return this;
  }

  /** Keep .grad on this tensor after backward() even though it is not a leaf. */
  retainGrad(): this {
    if (!this.requiresGrad) throw new Error('retainGrad: tensor does not require grad');
    this.retainsGrad = true;
    return this;
  }

  /**
   * Back-propagates from this tensor. Without an argument the tensor must hold one element
   * (a loss); otherwise `grad` is the upstream gradient, a Tensor of this tensor's shape.
   * Throws, before any gradient is accumulated, if a tensor the backward pass needs was
   * modified in place since the forward pass (or its buffer was detached).
   *
   * It then frees the intermediate activations of every `Sequential` of built-in layers in the
   * graph (their arrays are recycled for the next forward pass), so a second backward() through
   * the same graph throws; pass `{ retainGraph: true }` to the first one to keep them.
   * PyTorch: `loss.backward(gradient, retain_graph=True)`.
   *
   * @param grad - the upstream gradient, or the options when there is none
   * @param options - `retainGraph`: keep the graph usable for another backward()
   */
  backward(grad?: Tensor | BackwardOptions, options?: BackwardOptions): void {
    if (grad !== undefined && !(grad instanceof Tensor)) {
      if (options !== undefined || grad === null || typeof grad !== 'object' || Array.isArray(grad) || ArrayBuffer.isView(grad)) {
        throw new Error(`backward: gradient must be a Tensor, got ${valueStr(grad)}`);
      }
      options = grad;
      grad = undefined;
    }
    const retainGraph = backwardOptions(options);
    if (grad !== undefined) {
      if (Tensor._rawOf(grad) === undefined) throw new Error(`backward: gradient is ${COUNTERFEIT}`);
    }
    if (!this.requiresGrad) {
      throw new Error(
        'backward: this tensor does not require grad and has no grad function (were its inputs created with requiresGrad: true, outside noGrad?)',
      );
    }
    let g: Tensor;
    if (grad === undefined) {
      if (this.size !== 1) {
        throw new Error(
          `backward: grad can be implicitly created only for scalar outputs; this tensor has shape ${shapeStr(this.shape)}, pass an upstream gradient`,
        );
      }
      g = ownedTensor(new Float32Array(this.size).fill(1), this.shape);
    } else {
      if (!sameShape(grad.shape, this.shape)) {
        throw new Error(`backward: gradient shape ${shapeStr(grad.shape)} does not match tensor shape ${shapeStr(this.shape)}`);
      }
      grad._check('backward');
      g = grad;
    }
    runBackward(this, g, (a, b) => ew.add(a, b), retainGraph);
  }

  /**
   * Adds g, a Tensor of this tensor's shape, into `.grad` as backward() does for leaves: a copy of
   * g the first time (g may be shared), an in-place add after that (which bumps .grad's version).
   */
  accumulateGrad(g: Tensor): void {
    const bad = tensorProblem(g);
    if (bad !== null) throw new Error(`accumulateGrad: invalid gradient: ${bad}`);
    if (!sameShape(g.shape, this.shape)) {
      throw new Error(`accumulateGrad: gradient has shape ${shapeStr(g.shape)}, but the tensor has shape ${shapeStr(this.shape)}`);
    }
    this._accumulateGrad(g, 'accumulateGrad');
  }

  /** @internal accumulateGrad for backward() (`op`), whose gradients are the library's own tensors. */
  _accumulateGrad(g: Tensor, op = 'backward', steal = false): void {
    // A disposed tensor takes no gradient: it would silently hold one again (memory dispose()
    // gave back) and a training step would go on as if the tensor were still in use.
    this._check(op);
    if (g.size !== this.size) {
      throw new Error(`${op}: gradient of shape ${shapeStr(g.shape)} reached a tensor of shape ${shapeStr(this.shape)}`);
    }
    const mine = this.#grad;
    if (mine === null && steal) {
      // backward() vouches that nothing else holds g's buffer (see runBackward).
      g._check(op);
      this.#grad = sameShape(g.shape, this.shape) ? g : g._view(g._buf, this.shape);
      this.#gradShared = false;
    } else if (mine === null) {
      const copy = allocFloat32(op, this.size, false);
      copy.set(g._read(op));
      this.#grad = ownedTensor(copy, this.shape);
      this.#gradShared = false;
    } else if (this.size > 0) {
      // An in-place write like any other: a graph that saved this .grad must see it.
      const d = mine._write(op);
      getBackend().binary('add', d, this.shape, g._read(op), this.shape, d, this.shape);
    }
  }

  // ---- ops as methods (each defined, with its gradient, in src/ops/) ----

  /**
   * Elementwise sum with broadcasting; the same as the function `add`.
   * PyTorch: `Tensor.add`.
   * @param other - a tensor broadcastable with this one, or a number
   * @example
   * ```ts
   * tensor([1, 2]).add(tensor([[10], [20]])); // shape [2, 2]
   * ```
   */
  add(other: TensorLike): Tensor { return ew.add(this, other); }
  /**
   * Elementwise difference `this - other` with broadcasting; see the function `sub`.
   * PyTorch: `Tensor.sub`.
   * @param other - a tensor broadcastable with this one, or a number
   */
  sub(other: TensorLike): Tensor { return ew.sub(this, other); }
  /**
   * Elementwise product with broadcasting; see the function `mul`.
   * PyTorch: `Tensor.mul`.
   * @param other - a tensor broadcastable with this one, or a number
   */
  mul(other: TensorLike): Tensor { return ew.mul(this, other); }
  /**
   * Elementwise quotient `this / other` with broadcasting; see the function `div`.
   * PyTorch: `Tensor.div`.
   * @param other - a tensor broadcastable with this one, or a number
   */
  div(other: TensorLike): Tensor { return ew.div(this, other); }
  /** Elementwise negation. PyTorch: `Tensor.neg`. */
  neg(): Tensor { return ew.neg(this); }
  /**
   * Raises every element to a scalar power; see the function `pow`.
   * PyTorch: `Tensor.pow`.
   * @param exponent - a finite number
   */
  pow(exponent: number): Tensor { return ew.pow(this, exponent); }
  /** Elementwise square root (NaN for negative elements). PyTorch: `Tensor.sqrt`. */
  sqrt(): Tensor { return ew.sqrt(this); }
  /** Elementwise e^x. PyTorch: `Tensor.exp`. */
  exp(): Tensor { return ew.exp(this); }
  /** Elementwise natural logarithm (-Infinity at 0, NaN below). PyTorch: `Tensor.log`. */
  log(): Tensor { return ew.log(this); }
  /** Elementwise absolute value. PyTorch: `Tensor.abs`. */
  abs(): Tensor { return ew.abs(this); }
  /**
   * Limits every element to [min, max]; see the function `clamp`.
   * PyTorch: `Tensor.clamp`.
   * @param min - lower bound; null or omitted for none
   * @param max - upper bound; null or omitted for none
   */
  clamp(min?: number | null, max?: number | null): Tensor { return ew.clamp(this, min, max); }

  /** max(x, 0) elementwise. PyTorch: `Tensor.relu`. */
  relu(): Tensor { return act.relu(this); }
  /**
   * x for x ≥ 0, negativeSlope·x below; see the function `leakyRelu`.
   * PyTorch: `torch.nn.functional.leaky_relu`.
   * @param negativeSlope - slope for negative inputs (default 0.01)
   */
  leakyRelu(negativeSlope?: number): Tensor { return act.leakyRelu(this, negativeSlope); }
  /** 1 / (1 + e^-x) elementwise. PyTorch: `Tensor.sigmoid`. */
  sigmoid(): Tensor { return act.sigmoid(this); }
  /** Hyperbolic tangent elementwise. PyTorch: `Tensor.tanh`. */
  tanh(): Tensor { return act.tanh(this); }
  /**
   * Gaussian error linear unit; see the function `gelu`.
   * PyTorch: `torch.nn.functional.gelu`.
   * @param approximate - `'none'` (default: exact, with erf) or `'tanh'`
   */
  gelu(approximate?: 'none' | 'tanh'): Tensor { return act.gelu(this, approximate); }
  /**
   * Softmax along a dim: the values along it become positive and sum to 1.
   * PyTorch: `Tensor.softmax`.
   * @param dim - the dim to normalise (default -1, the last)
   */
  softmax(dim = -1): Tensor { return sm.softmax(this, dim); }
  /**
   * log(softmax(x)) along a dim, computed stably.
   * PyTorch: `Tensor.log_softmax`.
   * @param dim - the dim to normalise (default -1, the last)
   */
  logSoftmax(dim = -1): Tensor { return sm.logSoftmax(this, dim); }

  /**
   * Matrix product; see the function `matmul` for the shapes accepted (1-D, 2-D, batched).
   * PyTorch: `Tensor.matmul` (the `@` operator).
   * @param other - the right operand
   * @example
   * ```ts
   * tensor([[1, 2], [3, 4]]).matmul(tensor([[1], [1]])); // [[3], [7]]
   * ```
   */
  matmul(other: Tensor): Tensor { return matmul(this, other); }
  /**
   * Same data, new shape (no copy: the result shares the buffer).
   * PyTorch: `Tensor.reshape`.
   * @param shape - the new dims, as arguments or one array; one may be -1 (inferred)
   * @example
   * ```ts
   * arange(6).reshape(2, -1); // shape [2, 3]
   * ```
   */
  reshape(...shape: number[] | [readonly number[]]): Tensor { return shp.reshape(this, ...shape); }
  /**
   * Merges dims startDim..endDim into one (no copy).
   * PyTorch: `Tensor.flatten`.
   * @param startDim - first dim to merge (default 0)
   * @param endDim - last dim to merge, inclusive (default -1, the last)
   */
  flatten(startDim = 0, endDim = -1): Tensor { return shp.flatten(this, startDim, endDim); }
  /**
   * Removes size-1 dims: all of them, or only `dim` (unchanged if that dim is not 1). No copy.
   * PyTorch: `Tensor.squeeze`.
   * @param dim - the dim to remove; omit to remove every size-1 dim
   */
  squeeze(dim?: number): Tensor { return shp.squeeze(this, dim); }
  /**
   * Inserts a size-1 dim at `dim` (no copy).
   * PyTorch: `Tensor.unsqueeze`.
   * @param dim - where the new dim goes, in -(ndim+1)..ndim
   * @example
   * ```ts
   * tensor([1, 2, 3]).unsqueeze(0); // shape [1, 3]
   * ```
   */
  unsqueeze(dim: number): Tensor { return shp.unsqueeze(this, dim); }
  /**
   * Swaps two dims (copies into a new contiguous buffer).
   * PyTorch: `Tensor.transpose`.
   * @param dim0 - first dim (default 0)
   * @param dim1 - second dim (default 1)
   */
  transpose(dim0 = 0, dim1 = 1): Tensor { return shp.transpose(this, dim0, dim1); }
  /**
   * Reorders dims: result dim i is this tensor's dim axes[i] (copies).
   * PyTorch: `Tensor.permute`.
   * @param axes - a permutation of 0..ndim-1 (negative dims count from the end)
   */
  permute(...axes: number[]): Tensor { return shp.permute(this, axes); }
  /** Transpose of a 2-D tensor (a 0-d or 1-d tensor is returned as is). PyTorch: `Tensor.T`. */
  get T(): Tensor { return shp.t(this); }

  /**
   * Sum of all elements, or along one dim.
   * PyTorch: `Tensor.sum`.
   * @param dim - the dim to reduce; null or omitted reduces everything to a 0-d tensor
   * @param keepdim - keep the reduced dim with size 1 (default false)
   * @example
   * ```ts
   * tensor([[1, 2], [3, 4]]).sum(1); // [3, 7]
   * ```
   */
  sum(dim?: number | null, keepdim = false): Tensor { return red.sum(this, dim, keepdim); }
  /**
   * Mean of all elements, or along one dim.
   * PyTorch: `Tensor.mean`.
   * @param dim - the dim to reduce; null or omitted reduces everything
   * @param keepdim - keep the reduced dim with size 1 (default false)
   */
  mean(dim?: number | null, keepdim = false): Tensor { return red.mean(this, dim, keepdim); }
  /**
   * Largest value, overall or along one dim (NaN wins, as in PyTorch).
   * PyTorch: `Tensor.amax` (`Tensor.max(dim)` returns the values and indices; see argmax).
   * @param dim - the dim to reduce; null or omitted reduces everything
   * @param keepdim - keep the reduced dim with size 1 (default false)
   */
  max(dim?: number | null, keepdim = false): Tensor { return red.max(this, dim, keepdim); }
  /**
   * Smallest value, overall or along one dim (NaN wins, as in PyTorch).
   * PyTorch: `Tensor.amin`.
   * @param dim - the dim to reduce; null or omitted reduces everything
   * @param keepdim - keep the reduced dim with size 1 (default false)
   */
  min(dim?: number | null, keepdim = false): Tensor { return red.min(this, dim, keepdim); }
  /**
   * Index of the largest value (first on ties), as a float32 tensor of integers. Throws for a
   * dim longer than 2^24, where float32 stops being exact: use argmaxIndices there.
   * PyTorch: `Tensor.argmax`.
   * @param dim - the dim to reduce; null or omitted gives the flat index over everything
   * @param keepdim - keep the reduced dim with size 1 (default false)
   */
  argmax(dim?: number | null, keepdim = false): Tensor { return red.argmax(this, dim, keepdim); }
  /**
   * Index of the smallest value (first on ties), as a float32 tensor of integers; see argmax.
   * PyTorch: `Tensor.argmin`.
   * @param dim - the dim to reduce; null or omitted gives the flat index over everything
   * @param keepdim - keep the reduced dim with size 1 (default false)
   */
  argmin(dim?: number | null, keepdim = false): Tensor { return red.argmin(this, dim, keepdim); }
  /**
   * Exact indices of the largest values (any length; argmax's float32 holds integers only up to 2^24).
   * @param dim - the dim to reduce; null or omitted gives one flat index
   * @returns the indices, row-major over the remaining dims
   */
  argmaxIndices(dim?: number | null): Float64Array { return red.argmaxIndices(this, dim); }
  /**
   * Exact indices of the smallest values; see argmaxIndices.
   * @param dim - the dim to reduce; null or omitted gives one flat index
   * @returns the indices, row-major over the remaining dims
   */
  argminIndices(dim?: number | null): Float64Array { return red.argminIndices(this, dim); }

  /**
   * Rows of this tensor picked by index along dim 0 (copies; repeats allowed).
   * PyTorch: `Tensor.index_select(0, indices)`.
   * @param indices - row indices: integers in 0..rows-1, as a tensor, Int32Array or number[]
   */
  indexSelect(indices: IndexLike): Tensor { return idx.indexSelect(this, indices); }
  /**
   * Rows start..end (end exclusive, negative counts from the end) along dim 0: a view sharing the buffer.
   * PyTorch: `t[start:end]`.
   * @param start - first row
   * @param end - one past the last row (default: the number of rows)
   */
  slice(start: number, end?: number): Tensor { return idx.slice(this, start, end); }
}

// Tells this copy's tensors from another copy's in error messages (see COPY_BRAND).
Object.defineProperty(Tensor.prototype, COPY_BRAND, { value: THIS_COPY });

const ZERO = new Float32Array(1);
