import { requireBoolean, requireKnownOptions } from '../ops/args.js';
import { type Generator as RandomGenerator, requireGenerator } from '../random.js';
import { allocFloat32, shapeStr, sizeOf, valueStr } from '../shape.js';
import { Tensor, ownedTensor } from '../tensor.js';
import { type Dataset, type RowStorage, checkDataset, randperm, rowStorageOf } from './dataset.js';

const OPTION_KEYS = ['batchSize', 'shuffle', 'dropLast', 'generator', 'reuseBuffers'];

/** Options of `new DataLoader(dataset, options)`. */
export interface DataLoaderOptions {
  /** Samples per batch. Default 1 (PyTorch's). */
  batchSize?: number;
  /** Draw a new random order at the start of every epoch (every `for…of`). Default false. */
  shuffle?: boolean;
  /** Drop the last batch when it is smaller than batchSize. Default false. */
  dropLast?: boolean;
  /** Source of the shuffle order. Default: the library-wide generator (`manualSeed`). */
  generator?: RandomGenerator;
  /**
   * Gather copied batches (shuffled, or from a Subset or a computed dataset) into buffers owned by
   * the loader and reused for every batch: no allocation per step, but a batch's tensors are only
   * valid until the next batch is drawn. Default: only when fit()/evaluate() drive the loader
   * (they drop each batch before drawing the next); `true` always, `false` never.
   */
  reuseBuffers?: boolean;
}

/**
 * Iterates a dataset in batches, as torch.utils.data.DataLoader: `for (const [x, y] of loader)`.
 * Each `for…of` is one epoch and covers every sample once (less a dropped last batch).
 *
 * Batches are tuples with the dataset's sample tensors stacked along a new dim 0. From a
 * TensorDataset in sequential order a batch is a view on the dataset's rows (no copy); in shuffled
 * order (or through a Subset) the rows are copied into the batch buffers, one `set` per row.
 * Datasets that compute samples in `get(i)` are collated the same way from their samples.
 * @example
 * ```ts
 * const loader = new DataLoader(new TensorDataset(x, y), { batchSize: 64, shuffle: true });
 * for (let epoch = 0; epoch < 10; epoch++) {
 *   for (const [xb, yb] of loader) { ... } // a new order each epoch
 * }
 * ```
 * PyTorch: `torch.utils.data.DataLoader`.
 */
export class DataLoader<T extends Tensor[] = [Tensor, Tensor]> implements Iterable<T> {
  /** Samples per batch. */
  readonly batchSize: number;
  /** Whether each epoch draws a new random order. */
  readonly shuffle: boolean;
  /** Whether a short last batch is dropped. */
  readonly dropLast: boolean;
  /** Source of the shuffle order. */
  readonly generator: RandomGenerator;
  /** The reuseBuffers option as given (undefined: only under fit()/evaluate()). */
  readonly reuseBuffers: boolean | undefined;
  /** Flat tensors whose views are the reused batches: one storage, so one version counter, per buffer. */
  private buffers: Tensor[] | null = null;

  /**
   * @param dataset - the samples (e.g. a TensorDataset)
   * @param options - batchSize (default 1), shuffle, dropLast, generator, reuseBuffers
   */
  constructor(
    readonly dataset: Dataset<T>,
    options: DataLoaderOptions = {},
  ) {
    checkDataset('DataLoader', dataset);
    const o: DataLoaderOptions = requireKnownOptions('DataLoader', options, OPTION_KEYS);
    const bs: unknown = o.batchSize ?? 1;
    if (typeof bs !== 'number' || !Number.isInteger(bs) || bs < 1) throw new Error(`DataLoader: batchSize must be a positive integer, got ${valueStr(bs)}`);
    this.batchSize = bs;
    this.shuffle = o.shuffle === undefined ? false : requireBoolean('DataLoader', 'shuffle', o.shuffle);
    this.dropLast = o.dropLast === undefined ? false : requireBoolean('DataLoader', 'dropLast', o.dropLast);
    this.generator = requireGenerator('DataLoader', 'generator', o.generator);
    this.reuseBuffers = o.reuseBuffers === undefined ? undefined : requireBoolean('DataLoader', 'reuseBuffers', o.reuseBuffers);
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** Samples per epoch (the dataset's length, less a dropped last batch). */
  get samplesPerEpoch(): number {
    return this.dropLast ? this.length * this.batchSize : this.dataset.length;
  }

  /** One epoch of batches (`for (const [x, y] of loader)`). */
  [Symbol.iterator](): Iterator<T> {
    return this.epoch(this.reuseBuffers === true);
  }

  /**
   * One epoch for a consumer that drops each batch before taking the next (the training loop):
   * copied batches then reuse the loader's buffers, unless the loader was made with
   * `reuseBuffers: false`.
   */
  transientBatches(): Iterator<T> & Iterable<T> {
    return this.epoch(this.reuseBuffers !== false);
  }

  private *epoch(reuse: boolean): Generator<T, void, undefined> {
    const n = this.dataset.length;
    const order = this.shuffle ? randperm(n, this.generator) : null;
    const storage = rowStorageOf(this.dataset);
    for (let b = 0; b < this.length; b++) {
      const start = b * this.batchSize;
      const count = Math.min(this.batchSize, n - start);
      if (storage !== null) yield this.fromRows(storage, order, start, count, reuse);
      else yield this.collate(order, start, count, reuse);
    }
  }

  private fromRows(storage: RowStorage, order: Int32Array | null, start: number, count: number, reuse: boolean): T {
    const { tensors, rows } = storage;
    if (order === null && rows === null) {
      // Sequential rows of whole tensors: a contiguous range, so a view suffices.
      return tensors.map((t) => {
        const row = sizeOf(t.shape.slice(1));
        return t._view(t._read('DataLoader').subarray(start * row, (start + count) * row), [count, ...t.shape.slice(1)]);
      }) as T;
    }
    const outs = this.outputs(tensors.map((t) => t.shape.slice(1)), count, reuse);
    for (let k = 0; k < tensors.length; k++) {
      const src = tensors[k]!._read('DataLoader');
      // A write like an optimizer step's: a graph that saved the previous batch must refuse it.
      const dst = outs[k]!._write('DataLoader');
      const row = sizeOf(tensors[k]!.shape.slice(1));
      for (let i = 0; i < count; i++) {
        const s = order === null ? start + i : order[start + i]!;
        const r = rows === null ? s : rows[s]!;
        if (row === 1) dst[i] = src[r]!;
        else dst.set(src.subarray(r * row, (r + 1) * row), i * row);
      }
    }
    return outs as T;
  }

  private collate(order: Int32Array | null, start: number, count: number, reuse: boolean): T {
    const first = this.dataset.get(order === null ? start : order[start]!);
    if (!Array.isArray(first) || first.some((t) => !(t instanceof Tensor))) {
      throw new Error('DataLoader: dataset.get() must return an array of Tensors');
    }
    const outs = this.outputs(first.map((t) => t.shape), count, reuse);
    for (let i = 0; i < count; i++) {
      const sample = i === 0 ? first : this.dataset.get(order === null ? start + i : order[start + i]!);
      for (let k = 0; k < outs.length; k++) {
        const t = sample[k];
        const want = first[k]!.shape;
        if (!(t instanceof Tensor) || t.shape.length !== want.length || t.shape.some((d, j) => d !== want[j])) {
          throw new Error(
            `DataLoader: sample ${start + i} part ${k} has shape ${t instanceof Tensor ? shapeStr(t.shape) : 'none'}, but the batch's first sample has ${shapeStr(want)}`,
          );
        }
        outs[k]!._write('DataLoader').set(t._read('DataLoader'), i * t.size);
      }
    }
    return outs as T;
  }

  /** Output tensors [count, ...shape] for each part: views of the reused buffers, or fresh. */
  private outputs(shapes: (readonly number[])[], count: number, reuse: boolean): Tensor[] {
    // Not zero-filled: fromRows and collate write every element of a fresh batch.
    if (!reuse) return shapes.map((s) => ownedTensor(allocFloat32('DataLoader', count * sizeOf(s), false), [count, ...s]));
    // Sized for the largest batch this dataset can give, not batchSize: a batchSize above the
    // dataset's length is legal (one short batch) and must not allocate for rows that never come.
    const rows = Math.min(this.batchSize, this.dataset.length);
    if (this.buffers === null || this.buffers.length !== shapes.length || this.buffers.some((b, k) => b.size !== rows * sizeOf(shapes[k]!))) {
      this.buffers = shapes.map((s) => ownedTensor(allocFloat32('DataLoader', rows * sizeOf(s)), [rows * sizeOf(s)]));
    }
    return shapes.map((s, k) => {
      const b = this.buffers![k]!;
      return b._view(b._data.subarray(0, count * sizeOf(s)), [count, ...s]);
    });
  }
}
