import { defaultGenerator, type Generator as RandomGenerator } from '../random.js';
import { shapeStr, sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { type Dataset, type RowStorage, randperm, rowStorageOf } from './dataset.js';

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
 */
export class DataLoader<T extends Tensor[] = [Tensor, Tensor]> implements Iterable<T> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly generator: RandomGenerator;
  readonly reuseBuffers: boolean | undefined;
  private buffers: Float32Array[] | null = null;

  constructor(
    readonly dataset: Dataset<T>,
    options: DataLoaderOptions = {},
  ) {
    if (dataset === null || typeof dataset !== 'object' || typeof dataset.get !== 'function' || !Number.isInteger(dataset.length)) {
      throw new Error('DataLoader: dataset must have an integer length and a get(index) method');
    }
    const bs = options.batchSize ?? 1;
    if (!Number.isInteger(bs) || bs < 1) throw new Error(`DataLoader: batchSize must be a positive integer, got ${bs}`);
    this.batchSize = bs;
    this.shuffle = options.shuffle ?? false;
    this.dropLast = options.dropLast ?? false;
    this.generator = options.generator ?? defaultGenerator;
    this.reuseBuffers = options.reuseBuffers;
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
        return new Tensor(t.data.subarray(start * row, (start + count) * row), [count, ...t.shape.slice(1)]);
      }) as T;
    }
    const outs = this.outputs(tensors.map((t) => t.shape.slice(1)), count, reuse);
    for (let k = 0; k < tensors.length; k++) {
      const src = tensors[k]!.data;
      const dst = outs[k]!.data;
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
        outs[k]!.data.set(t.data, i * t.size);
      }
    }
    return outs as T;
  }

  /** Output tensors [count, ...shape] for each part: views of the reused buffers, or fresh. */
  private outputs(shapes: (readonly number[])[], count: number, reuse: boolean): Tensor[] {
    if (!reuse) return shapes.map((s) => new Tensor(new Float32Array(count * sizeOf(s)), [count, ...s]));
    if (this.buffers === null || this.buffers.length !== shapes.length || this.buffers.some((b, k) => b.length !== this.batchSize * sizeOf(shapes[k]!))) {
      this.buffers = shapes.map((s) => new Float32Array(this.batchSize * sizeOf(s)));
    }
    return shapes.map((s, k) => new Tensor(this.buffers![k]!.subarray(0, count * sizeOf(s)), [count, ...s]));
  }
}
