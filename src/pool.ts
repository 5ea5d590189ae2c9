/**
 * Recycled Float32Arrays for buffers the library knows are dead: the gradients backward() has
 * finished with, the temporaries of backward closures, and the gradients an optimizer's
 * zeroGrad() drops (when user code never held them), and the results user code dispose()s when
 * it was their only holder. A training step asks for the same sizes every time, so these come back
 * as the next step's gradients and activations.
 *
 * Why: a fresh `new Float32Array(n)` of a few hundred KiB or more is zero-filled memory that V8
 * gets from the C allocator and frees only at a later GC, so a loop that allocates the same
 * megabytes each step keeps touching new, cold (often freshly mapped) pages; the kernels that
 * first write them pay the page faults. A recycled array is warm in cache and needs no zeroing
 * when the kernel overwrites it.
 *
 * Safety rests on the callers: only arrays no tensor, view or user code can reach are given
 * back (see runBackward in autograd.ts, Tensor#_releaseGrad and Tensor#dispose). Arrays that are
 * pieces of a larger buffer, or that a transfer detached, are never taken.
 */

/**
 * With the TypeScript backend smaller arrays are not pooled (with the native one they are: see
 * smallOffHeap): V8 keeps a typed array of at most 64 bytes (16 floats) inside its own heap, where
 * making one costs about 20 ns. From 17 elements up it allocates a separate
 * backing store: 0.4 µs at 17 elements, 0.6 µs at 256, 1.4 µs at 4096 (Node 20, measured), which
 * a small matmul's result would pay on every call.
 */
export const MIN_POOLED = 17;

/**
 * With the native backend, small arrays too are made with their own backing store and pooled: V8
 * moves an in-heap typed array out of its heap the first time native code asks for its memory
 * (a malloc, a copy, and later a sweep to free it), which every small result of an addon call
 * (a 10-class output, a 10-wide bias gradient) paid on each call. A 16-16-16-10 MLP's batch-1 forward without a
 * graph spent 20% of its time there (Node 20, perf). Off with the TypeScript backend, which never
 * hands arrays to native code.
 */
let smallOffHeap = false;

/** @internal Set by the backend module when the current backend changes (see smallOffHeap). */
export function setSmallArraysOffHeap(on: boolean): void {
  smallOffHeap = on;
}

/** Whether a fresh array of n elements should get its own backing store (see smallOffHeap). */
export function smallArrayOffHeap(n: number): boolean {
  return smallOffHeap && n > 0 && n < MIN_POOLED;
}

/**
 * The arrays allocFloat32 aligned inside buffers a few bytes larger (src/shape.ts), by buffer: the
 * array object itself, so that another view of the same buffer (a subarray) is never taken for it.
 */
const alignedArrays = new WeakMap<ArrayBufferLike, Float32Array>();

/** @internal Records that `a` is the one array of its (slightly larger) buffer. */
export function markAlignedArray(a: Float32Array): void {
  alignedArrays.set(a.buffer, a);
}

/**
 * True when `a` is all of memory no other array can share: a whole buffer, or the array
 * allocFloat32 aligned inside a buffer of its own.
 */
export function ownsWholeBuffer(a: Float32Array): boolean {
  return (a.byteOffset === 0 && a.buffer.byteLength === a.byteLength) || alignedArrays.get(a.buffer) === a;
}

/** Smallest length recycled now: every nonempty one while small arrays are off-heap. */
function minPooled(): number {
  return smallOffHeap ? 1 : MIN_POOLED;
}
/** At most this many free arrays of one length. */
const MAX_PER_LENGTH = 8;
/** The pool never holds more than this many bytes. */
const MAX_BYTES = 64 * 2 ** 20;

const free = new Map<number, Float32Array[]>();
let pooledBytes = 0;
let enabled = true;

/** @internal Turns recycling off (every array fresh) or on; for tests that compare the two. */
export function setPooling(on: boolean): void {
  enabled = on;
  if (!on) emptyCache();
}

/** A recycled array of exactly n elements, with stale values, or undefined when none is free. */
export function takePooled(n: number): Float32Array | undefined {
  if (!enabled || n < minPooled()) return undefined;
  const list = free.get(n);
  const a = list?.pop();
  if (a !== undefined) pooledBytes -= a.byteLength;
  return a;
}

/** Gives back an array nothing else can reach any more; ignored when it does not qualify. */
export function givePooled(a: Float32Array): void {
  const n = a.length;
  if (!enabled || n < minPooled() || !ownsWholeBuffer(a)) return;
  if (pooledBytes + a.byteLength > MAX_BYTES) return;
  let list = free.get(n);
  if (list === undefined) free.set(n, (list = []));
  if (list.length >= MAX_PER_LENGTH || list.includes(a)) return;
  list.push(a);
  pooledBytes += a.byteLength;
}

/** @internal Bytes held by free arrays now (for tests and the memory benchmark). */
export function pooledByteCount(): number {
  return pooledBytes;
}

let releaseScratch: (() => void) | undefined;

/** @internal Set by the backend module: frees the native addon's own scratch (see emptyCache). */
export function setScratchReleaser(release: (() => void) | undefined): void {
  releaseScratch = release;
}

/**
 * Drops every recycled array, so the garbage collector can return the memory. The pool holds at
 * most 64 MiB, taken from buffers training already used; a long-running process that has
 * finished training can call this to give that back. With the native backend it also frees the
 * scratch the addon keeps between calls on this thread: the activations between layers of a
 * forward pass without a graph (up to 16 MB) and the GEMM's packing buffers (a few MiB), and the
 * packed copies of Linear weights that inference keeps (as large as the weights; the next
 * inference call packs again). With the TypeScript backend it frees the buffer its GEMM shares
 * with its worker threads (the largest product's operands and result).
 * PyTorch: `torch.cuda.empty_cache` (the same idea, for its caching allocator).
 */
export function emptyCache(): void {
  free.clear();
  pooledBytes = 0;
  releaseScratch?.();
  for (const f of emptyHooks) f();
}

const emptyHooks: (() => void)[] = [];

/** @internal Registers more memory for emptyCache() to drop (packed weights: ops/packed-weights.ts). */
export function onEmptyCache(f: () => void): void {
  emptyHooks.push(f);
}
