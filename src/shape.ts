// Shape arithmetic shared by tensor creation and the ops.
import { markAlignedArray, smallArrayOffHeap, takePooled } from './pool.js';

/** A tensor's dims, outermost first (`[]` for a 0-d tensor). */
export type Shape = readonly number[];

/** The most dims a tensor may have (PyTorch's limit too); both backends accept up to this. */
export const MAX_DIMS = 64;

/** The most elements a tensor may hold: the longest Float32Array V8 allocates. */
export const MAX_ELEMENTS = 2 ** 32 - 1;

export function shapeStr(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function sizeOf(shape: Shape): number {
  let n = 1;
  // Indexed, not for-of: shapes are frozen arrays, whose iterator V8 does not inline.
  for (let i = 0; i < shape.length; i++) n *= shape[i]!;
  return n;
}

/**
 * A junk argument as an error message shows it: the type and value of a primitive ("string '0'",
 * "bigint 1n", "NaN"), the class name of an object. Never throws (BigInt and cyclic values included).
 */
export function valueStr(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  switch (typeof v) {
    case 'number': return String(v);
    case 'string': return `string '${v.length > 40 ? v.slice(0, 40) + '…' : v}'`;
    case 'bigint': return `bigint ${String(v)}n`;
    case 'boolean': return `boolean ${String(v)}`;
    case 'symbol': return 'a symbol';
    case 'function': return 'a function';
  }
  if (Array.isArray(v)) return 'an array';
  const copy = (v as Record<symbol, unknown>)[COPY_BRAND];
  if (copy !== undefined && copy !== THIS_COPY) {
    return `a ${(v as object).constructor?.name ?? 'value'} from another copy of tensorgrad (the library was loaded twice, e.g. both imported and required; use one)`;
  }
  return (v as object).constructor?.name ?? 'an object';
}

/**
 * Marks the prototypes of the library's classes (Tensor) with this copy's identity, so that an
 * error can tell "a Tensor of another copy of tensorgrad" (the ES module and CommonJS entries
 * loaded in one process) from any other wrong value.
 */
export const COPY_BRAND = Symbol.for('tensorgrad.copy');
/** This copy's identity (an object: two copies never share it). */
export const THIS_COPY: object = Object.freeze({});

/**
 * The frozen shapes of 0-, 1- and 2-D tensors, shared by every tensor of that shape: freezing a
 * fresh copy per tensor is a call into V8's runtime (about 70 ns, Node 20), paid by every op's
 * result, and at batch 1 the code it runs evicts weights the next kernel meant to find in cache.
 * At most MAX_SHARED_SHAPES are kept; other shapes get a frozen copy of their own.
 */
const SCALAR_SHAPE: Shape = Object.freeze([]);
const shapes1 = new Map<number, Shape>();
const shapes2 = new Map<number, Map<number, Shape>>();
let sharedShapes = 0;
const MAX_SHARED_SHAPES = 4096;

/** A frozen copy of `shape` (already checked by checkShape), shared between equal small shapes. */
export function frozenShape(shape: Shape): Shape {
  const rank = shape.length;
  if (rank === 0) return SCALAR_SHAPE;
  if (rank > 2) return Object.freeze(shape.slice());
  // + 0 turns a dim of -0 (which checkShape lets through) into 0, so Map's keys (which equate
  // them) never hand out the other one.
  const d0 = shape[0]! + 0;
  if (rank === 1) {
    let s = shapes1.get(d0);
    if (s === undefined) {
      s = Object.freeze([d0]);
      if (sharedShapes < MAX_SHARED_SHAPES) {
        shapes1.set(d0, s);
        sharedShapes++;
      }
    }
    return s;
  }
  const d1 = shape[1]! + 0;
  let row = shapes2.get(d0);
  let s = row?.get(d1);
  if (s === undefined) {
    s = Object.freeze([d0, d1]);
    if (sharedShapes < MAX_SHARED_SHAPES) {
      if (row === undefined) shapes2.set(d0, (row = new Map()));
      row.set(d1, s);
      sharedShapes++;
    }
  }
  return s;
}

/** Whether two shapes are equal, dim by dim. */
export function sameShape(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Throws unless `shape` is an array of at most MAX_DIMS non-negative integer dims whose product
 * fits a Float32Array, so an oversized shape fails here with the op's name rather than in V8.
 * Returns that product (the number of elements). Every tensor made runs this: a plain loop, no
 * closure per call.
 */
export function checkShape(op: string, shape: Shape): number {
  if (!Array.isArray(shape)) throw new Error(`${op}: shape must be an array of dims, got ${valueStr(shape)}`);
  if (shape.length > MAX_DIMS) {
    throw new Error(`${op}: shape has ${shape.length} dims, more than the ${MAX_DIMS} a tensor may have`);
  }
  let n = 1;
  for (let i = 0; i < shape.length; i++) {
    const d: unknown = shape[i];
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      throw new Error(`${op}: invalid shape: dims must be non-negative integers, got ${valueStr(d)} at position ${i}`);
    }
    n *= d;
  }
  if (n > MAX_ELEMENTS) {
    throw new Error(`${op}: shape ${shapeStr(shape)} has ${n} elements, more than the ${MAX_ELEMENTS} a Float32Array can hold`);
  }
  return n;
}

/**
 * Told of every array allocFloat32 makes, while they listen: an async batch being recorded
 * (src/backend/deferred.ts) and a backward walk (src/autograd.ts) count those arrays as fresh,
 * private to the library. Usually empty: allocation then pays one length test.
 */
const allocListeners: ((a: Float32Array) => void)[] = [];

/** @internal Adds a listener for the arrays allocFloat32 makes; returns its removal. */
export function onAlloc(listener: (a: Float32Array) => void): () => void {
  allocListeners.push(listener);
  return () => {
    const i = allocListeners.lastIndexOf(listener);
    if (i >= 0) allocListeners.splice(i, 1);
  };
}

/**
 * Arrays of at least this many elements (2 MiB, the smallest that can hold a whole transparent
 * huge page) are handed to the large-array advisor when made fresh. Whether one does depends on
 * where the C allocator put it (a fresh mapping starts 16 bytes past a 4 KiB page): from a little
 * over 4 MiB up every array holds at least one.
 */
export const LARGE_ARRAY_ELEMENTS = 1 << 19;

let adviseLarge: ((a: Float32Array) => void) | undefined;

/**
 * @internal Sets what allocFloat32 does with a fresh array of LARGE_ARRAY_ELEMENTS or more before
 * the library writes to it (the backend module asks the native addon to back it with huge pages), and
 * returns the advisor it replaces.
 */
export function setLargeArrayAdvisor(
  advise: ((a: Float32Array) => void) | undefined,
): ((a: Float32Array) => void) | undefined {
  const previous = adviseLarge;
  adviseLarge = advise;
  return previous;
}

/**
 * Fresh arrays of at least this many elements (1 KiB) start on a 64-byte boundary while an aligner
 * is set (the native backend's). Why: a fresh mapping from the C allocator starts 16 bytes past a
 * page, so every 16-float row of such an array straddles two cache lines, and kernels that stream
 * a weight from L2 load half of them split. The batch-1 product of a 784x512 weight, on one thread
 * of the Intel VM: 19.4 us unaligned, 16.3 us aligned to 32 bytes (same kernel, same bits).
 */
export const ALIGNED_ELEMENTS = 256;

let alignPad: ((b: ArrayBuffer) => number) | undefined;

/**
 * @internal Sets the function that tells how many bytes from an ArrayBuffer's start its memory
 * reaches a 64-byte boundary (the backend module passes the addon's), or none: fresh arrays then
 * are plain `new Float32Array(n)`.
 */
export function setAligner(pad: ((b: ArrayBuffer) => number) | undefined): void {
  alignPad = pad;
}

/**
 * A fresh zero-filled array of n elements, laid out as allocFloat32 lays out a fresh one (its own
 * buffer for small arrays under the native backend, 64-byte aligned from ALIGNED_ELEMENTS up),
 * but never recycled and never reported to allocation listeners: for copies that must stay
 * outside the pool's and async batches' bookkeeping, as `.slice()` copies were.
 */
export function freshFloat32(n: number): Float32Array {
  if (smallArrayOffHeap(n)) return new Float32Array(new ArrayBuffer(4 * n));
  if (alignPad === undefined || n < ALIGNED_ELEMENTS) return new Float32Array(n);
  // 60 spare bytes: ArrayBuffer memory is at least 4-byte aligned, so the boundary is at most 60 in.
  const b = new ArrayBuffer(4 * n + 60);
  const pad = alignPad(b);
  const a = new Float32Array(b, pad % 4 === 0 && pad <= 60 ? pad : 0, n);
  markAlignedArray(a);
  return a;
}

/** A copy of `src` as freshFloat32 lays it out (`.slice()` would not be aligned). */
export function copyFloat32(src: ArrayLike<number>): Float32Array {
  const a = freshFloat32(src.length);
  a.set(src);
  return a;
}

/**
 * A Float32Array of n elements (n within MAX_ELEMENTS, as checkShape ensures) for `op`,
 * zero-filled unless `zero` is false: then it may be a recycled array (src/pool.ts) holding stale
 * values, for a kernel that overwrites every element. When the machine can't provide the memory,
 * V8 throws a RangeError naming nobody; this names the op and the size instead.
 */
export function allocFloat32(op: string, n: number, zero = true): Float32Array {
  let a = takePooled(n);
  if (a === undefined) {
    try {
      a = freshFloat32(n);
    } catch (e) {
      throw new Error(`${op}: cannot allocate ${n} float32 elements (${((n * 4) / 2 ** 30).toFixed(1)} GiB): ${(e as Error).message}`);
    }
    if (n >= LARGE_ARRAY_ELEMENTS && adviseLarge !== undefined) adviseLarge(a);
  } else if (zero) {
    a.fill(0);
  }
  for (let i = 0; i < allocListeners.length; i++) allocListeners[i]!(a);
  return a;
}

/** NumPy broadcasting: align from the right; each pair of dims must match or one must be 1. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`${op}: shapes ${shapeStr(a)} and ${shapeStr(b)} cannot be broadcast together`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** A dim index in [-ndim, ndim) turned into [0, ndim). `what` names the argument in errors. */
export function normDim(op: string, dim: number, ndim: number, what = 'dim'): number {
  if (typeof dim !== 'number' || !Number.isInteger(dim)) throw new Error(`${op}: ${what} must be an integer, got ${valueStr(dim)}`);
  const d = dim < 0 ? dim + ndim : dim;
  if (d < 0 || d >= ndim) {
    throw new Error(`${op}: ${what} ${dim} is out of range for a tensor with ${ndim} dims`);
  }
  return d;
}

/** Sizes before, at and after `dim`: the [outer, n, inner] view that reductions work on. */
export function splitAt(shape: Shape, dim: number): [number, number, number] {
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < dim; i++) outer *= shape[i]!;
  for (let i = dim + 1; i < shape.length; i++) inner *= shape[i]!;
  return [outer, shape[dim]!, inner];
}
