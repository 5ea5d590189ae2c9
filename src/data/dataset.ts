import { defaultGenerator, type Generator, requireGenerator } from '../random.js';
import { shapeStr, sizeOf, valueStr } from '../shape.js';
import { Tensor } from '../tensor.js';

/**
 * A map-style dataset, as torch.utils.data.Dataset: `length` samples, each a tuple of tensors
 * (e.g. `[image, label]`) returned by `get(i)`.
 */
export interface Dataset<T extends Tensor[] = Tensor[]> {
  /** Number of samples. */
  readonly length: number;
  /**
   * One sample.
   * @param index - an integer in 0..length-1
   */
  get(index: number): T;
}

/**
 * Where a dataset's rows physically live: whole tensors plus (for a Subset) the row of each sample.
 * The DataLoader uses it to copy rows straight out of the big tensors, or, when the order is
 * sequential and no indirection exists, to hand out views without copying.
 */
export interface RowStorage {
  /** The tensors whose rows hold the samples. */
  readonly tensors: readonly Tensor[];
  /** Sample i lives in row `rows[i]` of every tensor; null means sample i is row i. */
  readonly rows: Int32Array | null;
}

/** A dataset that may expose its row storage (TensorDataset, and Subsets of one). */
interface MaybeRows {
  rowStorage?(): RowStorage | null;
}

/** The rows behind a dataset, or null when its samples are computed by get(). */
export function rowStorageOf(d: Dataset): RowStorage | null {
  const f = (d as MaybeRows).rowStorage;
  return typeof f === 'function' ? f.call(d) : null;
}

/** The most samples an index list (Int32Array) holds: randperm's limit too. */
const MAX_RANDPERM = 2 ** 31 - 1;

/** One row of t as its own tensor of shape t.shape[1:] (a view: it shares t's buffer). */
function rowView(op: string, t: Tensor, i: number): Tensor {
  const inner = t.shape.slice(1);
  const n = sizeOf(inner);
  return t._view(t._read(op).subarray(i * n, (i + 1) * n), inner);
}

function checkIndex(op: string, i: unknown, length: number): void {
  if (typeof i !== 'number' || !Number.isInteger(i)) throw new Error(`${op}: index must be an integer, got ${valueStr(i)}`);
  if (i < 0 || i >= length) throw new Error(`${op}: index ${i} is out of range for a dataset of ${length} samples`);
}

/** Throws unless d looks like a map-style Dataset (an integer length ≥ 0 and a get method). */
export function checkDataset(op: string, d: unknown): void {
  const length = d !== null && typeof d === 'object' ? (d as { length?: unknown }).length : undefined;
  if (typeof length !== 'number' || !Number.isInteger(length) || length < 0 || typeof (d as { get?: unknown }).get !== 'function') {
    throw new Error(`${op}: dataset must have a non-negative integer length and a get(index) method, got ${valueStr(d)}`);
  }
}

/**
 * Samples are the rows (dim 0) of the given tensors, as torch.utils.data.TensorDataset:
 * `new TensorDataset(x, y)` with x [N, ...] and y [N] gives samples `[x[i], y[i]]`.
 */
export class TensorDataset<T extends Tensor[] = [Tensor, Tensor]> implements Dataset<T> {
  /** The tensors whose rows are the samples. */
  readonly tensors: T;

  /** @param tensors - tensors with the same number of rows (dim 0) */
  constructor(...tensors: T) {
    if (tensors.length === 0) throw new Error('TensorDataset: needs at least one tensor');
    tensors.forEach((t: unknown, k) => {
      if (!(t instanceof Tensor)) throw new Error(`TensorDataset: argument ${k} must be a Tensor, got ${valueStr(t)}`);
      t._check('TensorDataset'); // a detached buffer would give empty rows later
      if (t.ndim === 0) throw new Error(`TensorDataset: argument ${k} is 0-d; samples are rows along dim 0`);
    });
    const n = tensors[0]!.shape[0]!;
    const bad = tensors.findIndex((t) => t.shape[0] !== n);
    if (bad >= 0) {
      throw new Error(
        `TensorDataset: every tensor needs the same number of rows; argument 0 has shape ${shapeStr(tensors[0]!.shape)}, argument ${bad} has ${shapeStr(tensors[bad]!.shape)}`,
      );
    }
    this.tensors = tensors;
  }

  /** Number of samples (rows). */
  get length(): number {
    return this.tensors[0].shape[0]!;
  }

  /**
   * Sample `index`: row `index` of every tensor, as views sharing their buffers.
   * @param index - an integer in 0..length-1
   */
  get(index: number): T {
    checkIndex('TensorDataset.get', index, this.length);
    return this.tensors.map((t) => rowView('TensorDataset.get', t, index)) as T;
  }

  /** The tensors themselves, for the DataLoader to copy rows straight out of. */
  rowStorage(): RowStorage {
    return { tensors: this.tensors, rows: null };
  }
}

/** The samples of `dataset` at `indices`, in that order (torch.utils.data.Subset). */
export class Subset<T extends Tensor[] = Tensor[]> implements Dataset<T> {
  /** The wrapped dataset's index of each sample. */
  readonly indices: Int32Array;

  /**
   * @param dataset - the wrapped dataset
   * @param indices - which of its samples, in order (integers in 0..dataset.length-1)
   */
  constructor(
    readonly dataset: Dataset<T>,
    indices: ArrayLike<number>,
  ) {
    checkDataset('Subset', dataset);
    const len: unknown = indices !== null && typeof indices === 'object' ? indices.length : undefined;
    if (typeof len !== 'number' || !Number.isInteger(len) || len < 0 || len > MAX_RANDPERM) {
      throw new Error(`Subset: indices must be an array of sample indices, got ${valueStr(indices)}`);
    }
    const n = dataset.length;
    this.indices = new Int32Array(len);
    for (let i = 0; i < indices.length; i++) {
      const v = indices[i]!;
      checkIndex('Subset', v, n);
      this.indices[i] = v;
    }
  }

  /** Number of samples (indices). */
  get length(): number {
    return this.indices.length;
  }

  /**
   * The wrapped dataset's sample `indices[index]`.
   * @param index - an integer in 0..length-1
   */
  get(index: number): T {
    checkIndex('Subset.get', index, this.length);
    return this.dataset.get(this.indices[index]!);
  }

  /** The underlying rows, when the wrapped dataset stores rows (null otherwise). */
  rowStorage(): RowStorage | null {
    const base = rowStorageOf(this.dataset);
    if (base === null) return null;
    const rows = base.rows === null ? this.indices : this.indices.map((i) => base.rows![i]!);
    return { tensors: base.tensors, rows };
  }
}

/**
 * A random permutation of 0..n-1 from the generator (Fisher–Yates).
 * PyTorch: `torch.randperm`.
 * @param n - length (0 ≤ n < 2^31)
 * @param generator - the random stream (default: the global one, seeded by manualSeed)
 */
export function randperm(n: number, generator: Generator = defaultGenerator): Int32Array {
  // Int32Array holds the permutation (Subset indices are int32), so n stops at 2^31 − 1.
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_RANDPERM) {
    throw new Error(`randperm: n must be an integer in [0, ${MAX_RANDPERM}], got ${valueStr(n)}`);
  }
  const g = requireGenerator('randperm', 'generator', generator);
  let p: Int32Array;
  try {
    p = new Int32Array(n);
  } catch (e) {
    throw new Error(`randperm: cannot allocate a permutation of ${n} elements: ${(e as Error).message}`);
  }
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = g.randint(i + 1);
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}

/**
 * Splits a dataset into non-overlapping random subsets (torch.utils.data.random_split). `lengths`
 * are sample counts summing to the dataset's length, or fractions summing to 1 (the remainder of
 * rounding goes to the first subsets, one sample each, as PyTorch does).
 * PyTorch: `torch.utils.data.random_split`.
 * @param dataset - the dataset to split
 * @param lengths - sample counts, or fractions summing to 1 (e.g. [0.8, 0.2])
 * @param generator - the random stream (default: the global one)
 * @example
 * ```ts
 * const [train, val] = randomSplit(new TensorDataset(x, y), [0.9, 0.1]);
 * ```
 */
export function randomSplit<T extends Tensor[]>(
  dataset: Dataset<T>,
  lengths: readonly number[],
  generator: Generator = defaultGenerator,
): Subset<T>[] {
  checkDataset('randomSplit', dataset);
  const want = 'an array of non-negative integers summing to the dataset length, or of fractions summing to 1';
  if (!Array.isArray(lengths) || lengths.length === 0) throw new Error(`randomSplit: lengths must be ${want}, got ${Array.isArray(lengths) ? '[]' : valueStr(lengths)}`);
  for (let i = 0; i < lengths.length; i++) {
    const l: unknown = lengths[i];
    if (typeof l !== 'number' || !(l >= 0) || !Number.isFinite(l)) throw new Error(`randomSplit: lengths must be ${want}, got ${valueStr(l)} at position ${i}`);
  }
  const g = requireGenerator('randomSplit', 'generator', generator);
  const n = dataset.length;
  let counts: number[];
  const total = lengths.reduce((a, b) => a + b, 0);
  if (lengths.every((l) => l <= 1) && Math.abs(total - 1) < 1e-9 && n !== 1) {
    counts = lengths.map((f) => Math.floor(n * f));
    let rest = n - counts.reduce((a, b) => a + b, 0);
    for (let i = 0; rest > 0; i = (i + 1) % counts.length, rest--) counts[i]!++;
  } else {
    if (!lengths.every(Number.isInteger) || total !== n) {
      throw new Error(
        `randomSplit: lengths [${lengths.join(', ')}] must be integers summing to the dataset's ${n} samples, or fractions summing to 1`,
      );
    }
    counts = lengths.slice();
  }
  const perm = randperm(n, g);
  const out: Subset<T>[] = [];
  let at = 0;
  for (const c of counts) {
    out.push(new Subset(dataset, perm.subarray(at, at + c)));
    at += c;
  }
  return out;
}
