/**
 * The array-level interface every backend implements. Autograd, ops and layers call only this;
 * they never know which backend runs. Every method reads and writes caller-owned Float32Arrays
 * (outputs are allocated by the caller), so a native backend can work on the same buffers in
 * place with no copies.
 *
 * Shapes are row-major and contiguous. Reductions and softmax take a tensor viewed as
 * [outer, n, inner] and work along the middle axis, which covers "along any dim".
 */

/** One layer of Backend.linearChain: act(input·wᵀ + bias), w [outF, inF], act = ReLU when relu. */
export interface ChainLayer {
  readonly outF: number;
  readonly w: Float32Array;
  readonly bias: Float32Array | null;
  readonly relu: boolean;
  /** w packed by Backend.packWeight, or absent/null (see Backend.linear's `packed`). */
  readonly packed?: Float32Array | null;
}

/** The most layers one Backend.linearChain call takes. */
export const MAX_CHAIN_LAYERS = 8;

/** The largest result Backend.linearChainSmall returns (V8 keeps typed arrays up to 64 bytes in its heap). */
export const SMALL_CHAIN_RESULT = 16;

export type BinaryOp = 'add' | 'sub' | 'mul' | 'div';

/**
 * Elementwise maps. `p0`/`p1` carry the scalar parameters: pow's exponent, leakyRelu's negative
 * slope, clamp's lo/hi (±Infinity when absent).
 */
export type UnaryOp =
  | 'neg'
  | 'abs'
  | 'sqrt'
  | 'exp'
  | 'log'
  | 'pow'
  | 'clamp'
  | 'relu'
  | 'leakyRelu'
  | 'sigmoid'
  | 'tanh'
  | 'geluTanh'
  | 'geluErf';

export type ReduceOp = 'sum' | 'max' | 'min';

/** Which backend runs the kernels, as `backendInfo()` reports it. */
export interface BackendInfo {
  /** 'native' (the C++ addon) or 'js' (the TypeScript fallback). */
  backend: 'js' | 'native';
  /** Instruction set of the kernels in use ('js' for the TypeScript backend). */
  isa: string;
  /** Kernel threads in use (see setNumThreads). */
  threads: number;
}

/** One parameter of Backend.adamSteps: adamStep's buffers and that parameter's step count. */
export interface AdamSlot {
  p: Float32Array;
  g: Float32Array;
  m: Float32Array;
  v: Float32Array;
  /** The amsgrad state, or null without amsgrad. */
  vmax: Float32Array | null;
  /** 1-based number of this parameter's update. */
  step: number;
}

/** Hyper-parameters of one Adam/AdamW step (PyTorch's names and semantics). */
export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** AdamW: decay the weights directly instead of adding weightDecay·p to the gradient. */
  decoupled: boolean;
  amsgrad: boolean;
  /** 1-based number of this update (for bias correction). */
  step: number;
}

/** Hyper-parameters of one SGD step (PyTorch's names and semantics). */
export interface SgdHyper {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  maximize: boolean;
  /** The momentum buffer is new: it takes the update itself (PyTorch's first step). */
  first: boolean;
}

/** Hyper-parameters of one RMSprop step (PyTorch's names and semantics). */
export interface RmspropHyper {
  lr: number;
  alpha: number;
  eps: number;
  weightDecay: number;
  momentum: number;
  maximize: boolean;
}

export interface Backend {
  readonly name: 'js' | 'native';
  info(): BackendInfo;

  /**
   * C = alpha·op(A)·op(B) + beta·C with op(X) = X or Xᵀ, row-major, contiguous.
   * op(A) is m×k (A is stored m×k, or k×m when transA), op(B) is k×n (stored k×n, or n×k when
   * transB), C is m×n. With beta = 0, C is overwritten (NaNs in C do not propagate).
   */
  gemm(
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
  ): void;

  /**
   * The fused Linear forward: C = act(A·Bᵀ + bias) with A m×k, B n×k (a weight stored
   * [out, in]), bias of length n or null, act = ReLU when `relu`, else identity. The native
   * backend applies bias and ReLU while C is still in registers.
   */
  linear(
    m: number,
    n: number,
    k: number,
    a: Float32Array,
    b: Float32Array,
    bias: Float32Array | null,
    relu: boolean,
    c: Float32Array,
    /**
     * b as Backend.packWeight(n, k, b) packed it, holding b's current values: read instead of
     * packing b again. A backend without packWeight ignores it, and so does the native one for a
     * buffer packed for another layout (the ISA changed since); the result is the same bits.
     */
    packed?: Float32Array | null,
  ): void;

  /**
   * The Linear backward in one call, for an output gradient g [rows, outF]. With y (a ReLU
   * layer's output) the pre-activation gradient gy = (y ≤ 0 ? 0 : g) is written to gy (y and gy
   * are both given or both null; without them g is used as it is). Then each non-null output:
   * gb [outF] = Σ_rows gy (float64, row order, as reduce's sum), gx [rows, inF] = gy·W (needs w
   * [outF, inF]), gw [outF, inF] = gyᵀ·x (needs x [rows, inF]). Bitwise the same as unaryGrad
   * ('relu') + reduce('sum') + two gemm calls; the native backend masks and sums in one sweep.
   * Outputs must not overlap each other or the inputs.
   */
  linearBackward(
    rows: number,
    outF: number,
    inF: number,
    g: Float32Array,
    y: Float32Array | null,
    x: Float32Array | null,
    w: Float32Array | null,
    gy: Float32Array | null,
    gx: Float32Array | null,
    gw: Float32Array | null,
    gb: Float32Array | null,
  ): void;

  /**
   * Linear layers forward in one call: x [rows, inF] through each layer in turn (layer i's input
   * is layer i−1's output; layer 0's is x), the last layer's output written to out. Each layer is
   * the `linear` call it stands for, so the result is bitwise that of calling `linear` layer by
   * layer. The native backend keeps the activations between layers in its own reused buffer: one
   * N-API crossing for the whole chain. At most 8 layers; out must not overlap x or any weight.
   */
  linearChain(rows: number, inF: number, x: Float32Array, layers: readonly ChainLayer[], out: Float32Array): void;

  /**
   * linearChain for a result of at most SMALL_CHAIN_RESULT elements (a batch-1 forward's
   * logits), returned in a new array that lives in V8's heap. The native backend has its kernel
   * write a buffer it keeps and copies that out: an array native code writes must have memory
   * outside V8's heap, and a fresh one costs a malloc now and a sweep later (measured on the
   * Intel VM, 784-512-256-10 at batch 1 on 1 thread, one process alternating: 0.7-1.1 us of
   * 31-35). Absent: the caller allocates the result and calls linearChain.
   */
  linearChainSmall?(rows: number, inF: number, x: Float32Array, layers: readonly ChainLayer[]): Float32Array;

  /** Sets the number of threads kernels may use (a no-op for single-threaded backends). */
  setNumThreads(n: number): void;

  /** out = a (op) b with NumPy broadcasting of aShape and bShape to outShape. */
  binary(
    op: BinaryOp,
    a: Float32Array,
    aShape: readonly number[],
    b: Float32Array,
    bShape: readonly number[],
    out: Float32Array,
    outShape: readonly number[],
  ): void;

  /** out[i] = f(x[i]). out may alias x. */
  unary(op: UnaryOp, x: Float32Array, out: Float32Array, p0: number, p1: number): void;

  /** gx[i] = gy[i] · f'(x[i]); y = f(x) is passed too because some derivatives are cheaper from it. */
  unaryGrad(
    op: UnaryOp,
    x: Float32Array,
    y: Float32Array,
    gy: Float32Array,
    gx: Float32Array,
    p0: number,
    p1: number,
  ): void;

  /** Sums x (shape xShape) over its broadcast dimensions into out (shape outShape, same rank,
   * each dim equal to xShape's or 1). The backward of broadcasting. */
  sumTo(x: Float32Array, xShape: readonly number[], out: Float32Array, outShape: readonly number[]): void;

  /**
   * Reduces x viewed as [outer, n, inner] along the middle axis into out ([outer, inner]).
   * For max/min, `arg` (if given) receives the index along n of the chosen element (first on ties).
   */
  reduce(
    op: ReduceOp,
    x: Float32Array,
    outer: number,
    n: number,
    inner: number,
    out: Float32Array,
    arg: Float32Array | null,
  ): void;

  /** Softmax (or log-softmax) of x viewed as [outer, n, inner] along the middle axis. */
  softmax(x: Float32Array, outer: number, n: number, inner: number, out: Float32Array, log: boolean): void;

  /** Backward of softmax/logSoftmax given its output y and upstream gradient gy. */
  softmaxGrad(
    y: Float32Array,
    gy: Float32Array,
    outer: number,
    n: number,
    inner: number,
    gx: Float32Array,
    log: boolean,
  ): void;

  /**
   * Fused softmax + cross-entropy over logits [rows, classes]. Targets are class indices (as
   * floats; a row whose target equals ignoreIndex is skipped: loss 0, gradient 0) or, with
   * `probs`, probability rows [rows, classes]. With label smoothing ε the target is
   * (1 − ε)·t + ε/classes. Writes each row's loss into rowLoss (if given) and
   * dlogits = (softmax − target)·scale·(rowScale[r] or 1) (if given; may alias logits).
   * Returns the sum of the losses of the rows not ignored.
   */
  crossEntropy(
    logits: Float32Array,
    rows: number,
    classes: number,
    targets: Float32Array,
    probs: boolean,
    labelSmoothing: number,
    ignoreIndex: number,
    scale: number,
    rowScale: Float32Array | null,
    rowLoss: Float32Array | null,
    dlogits: Float32Array | null,
  ): number;

  /** One Adam/AdamW step over a flat parameter buffer, in place (p, m, v and, for amsgrad, vmax). */
  adamStep(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, vmax: Float32Array | null, hp: AdamHyper): void;

  /**
   * adamStep over a whole parameter group in one call (hp.step comes from each slot): each slot
   * gets bitwise what adamStep gives it. The native backend crosses into C++ once and forks its
   * threads once for the group instead of once per parameter. Slots must not share memory (two
   * gradients excepted).
   */
  adamSteps(slots: readonly AdamSlot[], hp: Omit<AdamHyper, 'step'>): void;

  /**
   * One SGD step over a flat parameter buffer, in place (p and, with momentum, buf: null without
   * momentum). Both backends compute it with the same operations, in float64 with float32 rounding
   * where PyTorch's float32 tensors round, so their results are bitwise identical.
   */
  sgdStep(p: Float32Array, g: Float32Array, buf: Float32Array | null, hp: SgdHyper): void;

  /**
   * One RMSprop step in place: p and the square average sq; gradAvg (centered) and buf
   * (momentum > 0) when not null. Bitwise identical on both backends, as sgdStep.
   */
  rmspropStep(p: Float32Array, g: Float32Array, sq: Float32Array, gradAvg: Float32Array | null, buf: Float32Array | null, hp: RmspropHyper): void;

  /**
   * nllLoss rows: loss[r] = −logp[r·classes + target[r]], 0 where target[r] = ignoreIndex. Writes
   * [Σ loss over the rows not ignored (float64), their count] into stats and returns −1, or stops
   * at the first row whose target is neither ignoreIndex nor a class index in [0, classes) and
   * returns that row.
   */
  nllLoss(
    logp: Float32Array,
    rows: number,
    classes: number,
    target: Float32Array,
    ignoreIndex: number,
    loss: Float32Array,
    stats: Float64Array,
  ): number;

  /**
   * The gradient of nllLoss: gx[r·classes + target[r]] = −(g ? g[r] : gScalar) for each row not
   * ignored; gx's other elements are left as they are (the caller passes zeros).
   */
  nllLossGrad(
    rows: number,
    classes: number,
    target: Float32Array,
    ignoreIndex: number,
    g: Float32Array | null,
    gScalar: number,
    gx: Float32Array,
  ): void;

  /**
   * Elementwise binary cross-entropy of x against y (same length) into loss: on logits when
   * `logits` (stable form, with posWeight of 1 element or `last`, the length of the last dim,
   * broadcast along it), else on probabilities with logs clamped at −100. Returns −1, or for
   * probabilities the index of the first x outside [0, 1] (loss is then incomplete).
   */
  bceLoss(logits: boolean, x: Float32Array, y: Float32Array, posWeight: Float32Array | null, last: number, loss: Float32Array): number;

  /** The gradients of bceLoss: gx and gy (each skipped when null) from the output gradient g. */
  bceLossGrad(
    logits: boolean,
    x: Float32Array,
    y: Float32Array,
    posWeight: Float32Array | null,
    last: number,
    g: Float32Array,
    gx: Float32Array | null,
    gy: Float32Array | null,
  ): void;

  /**
   * out[i] = lo + (hi − lo)·u_i for the next out.length draws u_i = nextFloat() of the xoshiro128**
   * stream whose four words are in `state` (advanced in place). Same bits on both backends.
   */
  fillUniform(state: Uint32Array, lo: number, hi: number, out: Float32Array): void;

  /** out[i] = u_i < keep ? scale : 0 for the next out.length draws of `state`, as fillUniform. */
  dropoutMask(state: Uint32Array, keep: number, scale: number, out: Float32Array): void;

  /** out = x permuted by axes (out's shape is shape[axes[i]]). */
  permute(x: Float32Array, shape: readonly number[], axes: readonly number[], out: Float32Array): void;

  /**
   * out[i·row + j] = x[idx[i]·row + j]: rows of x (x.length / row of them) picked by idx, whose
   * values must lie in [0, rows) (the native kernel refuses others).
   */
  gatherRows(x: Float32Array, row: number, idx: Int32Array, out: Float32Array): void;

  /**
   * gx[idx[i]·row + j] += g[i·row + j], i in order (a repeated index accumulates). The backward of
   * gatherRows; idx as there, with gx.length / row rows.
   */
  scatterAddRows(g: Float32Array, row: number, idx: Int32Array, gx: Float32Array): void;

  /**
   * dst[r·dstStride + j] = src[r·srcStride + j] for r < rows, j < width: a 2-D block between two
   * row-major arrays (concat and its backward). src and dst must not overlap.
   */
  copyBlocks(src: Float32Array, srcStride: number, dst: Float32Array, dstStride: number, rows: number, width: number): void;

  /**
   * gx[(o·n + arg[r])·inner + j] = g[r] with r = o·inner + j: each gradient to the element that a
   * max/min along a dim picked; arg holds integers in [0, n). gx's other elements are left alone.
   */
  scatterArg(g: Float32Array, arg: Float64Array, outer: number, n: number, inner: number, gx: Float32Array): void;

  /**
   * gx[i] = total / count at every i where x[i] equals v (is NaN, when v is NaN), count being the
   * number of such i; returns count. The backward of a max/min over a whole tensor, which splits
   * the gradient among ties as PyTorch does.
   */
  shareEqual(x: Float32Array, v: number, total: number, gx: Float32Array): number;

  /**
   * Σ |x[i]|^ord in float64 (ord > 0), or max |x[i]| for ord = Infinity (NaN when any x[i] is NaN).
   * The sum keeps four running sums, over i mod 4, added as (s0 + s1) + (s2 + s3): both backends
   * give the same bits for ord 1 and 2.
   */
  normPart(x: Float32Array, ord: number): number;

  /**
   * Σ bits[i]·(2i+1) mod 2^32 over the float32 bit patterns of x, as an unsigned integer; equal on
   * both backends. Any single-element change alters it: autograd uses it to notice writes to a
   * saved tensor's data that bypassed the version counter.
   */
  fingerprint(x: Float32Array): number;

  /**
   * Asks the OS to back the whole 2 MiB-aligned pages inside `a` with transparent huge pages
   * (Linux madvise MADV_HUGEPAGE); returns the bytes advised (0 when none fit or the OS has no
   * such pages). Contents are unchanged. Only the native backend has it: the library calls it on
   * large fresh arrays before their first write (src/shape.ts).
   */
  adviseHugePages?(a: Float32Array): number;

  /**
   * Bytes from the start of `b`'s memory to its first 64-byte boundary. Only the native backend
   * has it: the library then starts fresh arrays of 1 KiB or more there (src/shape.ts).
   */
  alignPad?(b: ArrayBuffer): number;

  /**
   * Frees the scratch the backend keeps between calls on this thread and returns the bytes freed
   * (emptyCache() calls it): the native addon's packing buffers and activations, the TypeScript
   * backend's shared buffer for products split over threads.
   */
  releaseScratch?(): number;

  /**
   * A Linear weight w [n, k] packed once into the layout the GEMM reads, for `linear`'s and
   * `linearChain`'s packed argument: a product otherwise packs its weight again on every call (a
   * quarter of a batch-32 forward). Only the native backend has it; the result is valid while w
   * keeps its values and the ISA does not change (src/ops/packed-weights.ts keeps them current).
   */
  packWeight?(n: number, k: number, w: Float32Array): Float32Array;

  /** Products with fewer rows read the weight itself (dot products): packing it gains nothing. */
  readonly packedWeightMinRows?: number;
}
