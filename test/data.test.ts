import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DataLoader,
  type Dataset,
  Generator,
  MinMaxScaler,
  MixUp,
  StandardScaler,
  Subset,
  Tensor,
  TensorDataset,
  loadDigits,
  loadFashionMnist,
  mixup,
  oneHot,
  randomSplit,
  randperm,
  scalerFromJSON,
  type ScalerState,
  tensor,
} from '../src/index.js';
import { describeBackends } from './helpers/backends.js';

/** x row i is [i, 10i + 1, 100i + 2] and y[i] = i, so every batch row says which sample it is. */
function indexed(n: number): TensorDataset {
  const x = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) x.set([i, 10 * i + 1, 100 * i + 2], 3 * i);
  return new TensorDataset(new Tensor(x, [n, 3]), new Tensor(Float32Array.from({ length: n }, (_, i) => i), [n]));
}

function epochIds(loader: Iterable<[Tensor, Tensor]>): number[][] {
  const batches: number[][] = [];
  for (const [x, y] of loader) {
    const ids = Array.from(y.data);
    ids.forEach((id, r) => expect(Array.from(x.data.subarray(3 * r, 3 * r + 3))).toEqual([id, 10 * id + 1, 100 * id + 2]));
    batches.push(ids);
  }
  return batches;
}

describe('TensorDataset and Subset', () => {
  it('returns rows as samples and checks its tensors', () => {
    const d = indexed(5);
    expect(d.length).toBe(5);
    const [x, y] = d.get(3);
    expect(x.shape).toEqual([3]);
    expect(Array.from(x.data)).toEqual([3, 31, 302]);
    expect(y.shape).toEqual([]);
    expect(y.item()).toBe(3);
    expect(() => d.get(5)).toThrow(/index 5 is out of range for a dataset of 5 samples/);
    expect(() => new TensorDataset(tensor([1, 2]), tensor([1, 2, 3]))).toThrow(/same number of rows.*\[2\].*\[3\]/);
    const s = new Subset(d, [4, 0]);
    expect(s.get(0)[1].item()).toBe(4);
    expect(() => new Subset(d, [7])).toThrow(/out of range/);
  });

  it('randomSplit partitions the samples, by counts or fractions, reproducibly', () => {
    const d = indexed(10);
    const [a, b] = randomSplit(d, [7, 3], new Generator(1));
    const all = [...a!.indices, ...b!.indices].sort((p, q) => p - q);
    expect(all).toEqual([...Array(10).keys()]);
    const [c] = randomSplit(d, [7, 3], new Generator(1));
    expect(Array.from(c!.indices)).toEqual(Array.from(a!.indices));
    const parts = randomSplit(d, [0.5, 0.3, 0.2], new Generator(2));
    expect(parts.map((p) => p.length)).toEqual([5, 3, 2]);
    expect(randomSplit(indexed(11), [0.5, 0.5], new Generator(3)).map((p) => p.length)).toEqual([6, 5]);
    expect(() => randomSplit(d, [5, 4])).toThrow(/summing to the dataset's 10 samples/);
  });
});

describe('DataLoader', () => {
  it('covers every sample exactly once per epoch, in order without shuffling, as views', () => {
    const d = indexed(10);
    const loader = new DataLoader(d, { batchSize: 4 });
    expect(loader.length).toBe(3);
    const batches = epochIds(loader);
    expect(batches).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    const [x] = [...loader][0]!;
    // A sequential batch shares the dataset's buffer.
    expect(x.data.buffer).toBe(d.tensors[0].data.buffer);
    expect(new DataLoader(d, { batchSize: 4, dropLast: true }).length).toBe(2);
    expect(epochIds(new DataLoader(d, { batchSize: 4, dropLast: true }))).toEqual([[0, 1, 2, 3], [4, 5, 6, 7]]);
  });

  it('reshuffles every epoch from its generator, covering each sample once', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 17 }), fc.boolean(), fc.integer(), (n, bs, dropLast, seed) => {
        const loader = new DataLoader(indexed(n), { batchSize: bs, shuffle: true, dropLast, generator: new Generator(seed) });
        const e1 = epochIds(loader).flat();
        const e2 = epochIds(loader).flat();
        const expected = dropLast ? Math.floor(n / bs) * bs : n;
        expect(e1.length).toBe(expected);
        expect(new Set(e1).size).toBe(expected);
        if (!dropLast) {
          expect([...e1].sort((a, b) => a - b)).toEqual([...Array(n).keys()]);
          expect([...e2].sort((a, b) => a - b)).toEqual([...Array(n).keys()]);
        }
        // Same seed, same epochs.
        const again = new DataLoader(indexed(n), { batchSize: bs, shuffle: true, dropLast, generator: new Generator(seed) });
        expect(epochIds(again).flat()).toEqual(e1);
      }),
      { numRuns: 60 },
    );
    const loader = new DataLoader(indexed(100), { batchSize: 10, shuffle: true, generator: new Generator(5) });
    expect(epochIds(loader).flat()).not.toEqual(epochIds(loader).flat());
  });

  it('gives fresh batches to for…of, and reuses its buffers in the training loop or when asked', () => {
    const d = indexed(20);
    const opts = { batchSize: 8, shuffle: true, generator: new Generator(1) };
    const kept = [...new DataLoader(d, opts)];
    expect(new Set(kept.map(([x]) => x.data.buffer)).size).toBe(3);
    expect(kept.flatMap(([, y]) => Array.from(y.data)).sort((a, b) => a - b)).toEqual([...Array(20).keys()]);
    kept.forEach(([x, y]) => Array.from(y.data).forEach((id, r) => expect(x.data[3 * r]).toBe(id)));
    // fit() and evaluate() drop each batch before the next: they draw through transientBatches().
    const loader = new DataLoader(d, opts);
    const seen: number[] = [];
    const buffers = new Set<ArrayBufferLike>();
    for (const [x, y] of loader.transientBatches()) {
      buffers.add(x.data.buffer);
      Array.from(y.data).forEach((id, r) => expect(x.data[3 * r]).toBe(id));
      seen.push(...y.data);
    }
    expect(buffers.size).toBe(1);
    expect(buffers.has(d.tensors[0].data.buffer)).toBe(false);
    expect(seen.sort((a, b) => a - b)).toEqual([...Array(20).keys()]);
    expect(new Set([...new DataLoader(d, { ...opts, reuseBuffers: true })].map(([x]) => x.data.buffer)).size).toBe(1);
    const never = new DataLoader(d, { ...opts, reuseBuffers: false });
    expect(new Set([...{ [Symbol.iterator]: () => never.transientBatches() }].map(([x]) => x.data.buffer)).size).toBe(3);
  });

  it('reads a Subset through the rows of its TensorDataset', () => {
    const d = indexed(10);
    const s = new Subset(new Subset(d, [9, 8, 7, 6, 5]), [4, 0, 2]);
    expect(epochIds(new DataLoader(s, { batchSize: 2 }))).toEqual([[5, 9], [7]]);
  });

  it('collates datasets that compute their samples', () => {
    const squares: Dataset<[Tensor, Tensor]> = {
      length: 5,
      get: (i) => [tensor([[i, i * i]]), tensor(i % 2)],
    };
    const batches = [...new DataLoader(squares, { batchSize: 2 })];
    expect(batches.map(([x]) => x.shape)).toEqual([[2, 1, 2], [2, 1, 2], [1, 1, 2]]);
    expect(Array.from(batches[1]![0].data)).toEqual([2, 4, 3, 9]);
    expect(Array.from(batches[2]![1].data)).toEqual([0]);
    const ragged: Dataset<[Tensor]> = { length: 2, get: (i) => [tensor(i === 0 ? [1, 2] : [1, 2, 3])] };
    expect(() => [...new DataLoader(ragged, { batchSize: 2 })]).toThrow(/sample 1 part 0 has shape \[3\].*\[2\]/);
  });

  it('rejects bad options', () => {
    expect(() => new DataLoader(indexed(3), { batchSize: 0 })).toThrow(/batchSize must be a positive integer/);
    expect(() => new DataLoader({} as Dataset, {})).toThrow(/integer length and a get/);
    const d = indexed(3);
    expect(() => new DataLoader(d, null as unknown as object)).toThrow('DataLoader: options must be an object, got null');
    // PyTorch's spelling would otherwise be ignored, leaving batches of 1.
    expect(() => new DataLoader(d, { batch_size: 2 } as object)).toThrow("DataLoader: unknown option 'batch_size'");
    expect(() => new DataLoader(d, { shuffle: 'yes' as unknown as boolean })).toThrow("DataLoader: shuffle must be a boolean, got string 'yes'");
    expect(() => new DataLoader(d, { reuseBuffers: [1] as unknown as boolean })).toThrow('DataLoader: reuseBuffers must be a boolean, got an array');
    expect(() => new DataLoader(d, { generator: {} as Generator })).toThrow('DataLoader: generator must be a Generator, got Object');
    expect(() => new DataLoader(d, { batchSize: 2n as unknown as number })).toThrow('DataLoader: batchSize must be a positive integer, got bigint 2n');
  });

  it('takes a batchSize above the dataset length without allocating for it', () => {
    // The reused buffers were sized by batchSize: 2^53 rows threw "Invalid typed array length".
    const loader = new DataLoader(indexed(4), { batchSize: 2 ** 53, shuffle: true, generator: new Generator(1) });
    const batches = [...loader.transientBatches()];
    expect(batches.length).toBe(1);
    expect(batches[0]![0].shape).toEqual([4, 3]);
    expect(Array.from(batches[0]![1].data).sort()).toEqual([0, 1, 2, 3]);
  });
});

describe('dataset argument checks', () => {
  it('TensorDataset, Subset, randperm and randomSplit name themselves and the bad argument', () => {
    const x = tensor([[1], [2]]);
    expect(() => new TensorDataset(x, [1, 2] as unknown as Tensor)).toThrow('TensorDataset: argument 1 must be a Tensor, got an array');
    const gone = tensor([1, 2]);
    structuredClone(gone.data.buffer, { transfer: [gone.data.buffer as ArrayBuffer] });
    expect(() => new TensorDataset(gone)).toThrow('TensorDataset: tensor data was detached (transferred or resized)');
    const d = new TensorDataset(x);
    expect(() => d.get('0' as unknown as number)).toThrow("TensorDataset.get: index must be an integer, got string '0'");
    expect(() => new Subset(d, null as unknown as number[])).toThrow('Subset: indices must be an array of sample indices, got null');
    expect(() => new Subset(d, [0, 0.5])).toThrow('Subset: index must be an integer, got 0.5');
    expect(() => new Subset({ length: 2 } as Dataset, [0])).toThrow('Subset: dataset must have a non-negative integer length and a get(index) method, got Object');
    expect(() => randperm(2 ** 53)).toThrow('randperm: n must be an integer in [0, 2147483647], got 9007199254740992');
    expect(() => randperm(2, { randint: () => 0 } as unknown as Generator)).toThrow('randperm: generator must be a Generator, got Object');
    expect(() => randomSplit(d, null as unknown as number[])).toThrow(
      'randomSplit: lengths must be an array of non-negative integers summing to the dataset length, or of fractions summing to 1, got null',
    );
    expect(() => randomSplit(d, '11' as unknown as number[])).toThrow("randomSplit: lengths must be an array of non-negative integers summing to the dataset length, or of fractions summing to 1, got string '11'");
    expect(() => randomSplit(d, [1, '1'] as unknown as number[])).toThrow(/randomSplit: lengths must be .*, got string '1' at position 1/);
    expect(() => randomSplit(d, [1, 1], [] as unknown as Generator)).toThrow('randomSplit: generator must be a Generator, got an array');
    expect(randomSplit(d, [1, 1], new Generator(3)).map((s) => s.length)).toEqual([1, 1]);
  });

  it('file loaders check their options and paths before reading', () => {
    expect(() => loadFashionMnist(null as unknown as object)).toThrow('loadFashionMnist: options must be an object, got null');
    expect(() => loadFashionMnist({ dir: 7 as unknown as string })).toThrow('loadFashionMnist: dir must be a path (a string), got 7');
    const dir = mkdtempSync(join(tmpdir(), 'tg-fmnist-'));
    try {
      const file = join(dir, 'not-a-folder');
      writeFileSync(file, 'x');
      // The folder check inside is loadIdxFolder's, but the user called loadFashionMnist.
      expect(() => loadFashionMnist({ dir: file })).toThrow(`loadFashionMnist: ${file}: not a folder`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Generator.nextGamma / nextBeta', () => {
  it('match the distributions’ mean and variance', () => {
    const g = new Generator(7);
    for (const [a, b] of [
      [0.2, 0.2],
      [1, 1],
      [2, 5],
      [0.5, 3],
    ] as const) {
      const n = 40000;
      let s = 0;
      let s2 = 0;
      for (let i = 0; i < n; i++) {
        const v = g.nextBeta(a, b);
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
        s += v;
        s2 += v * v;
      }
      const mean = s / n;
      const variance = s2 / n - mean * mean;
      const m = a / (a + b);
      const v = (a * b) / ((a + b) ** 2 * (a + b + 1));
      // Standard error of the mean is sqrt(v/n) ≤ 0.0025; 5 sigma.
      expect(Math.abs(mean - m)).toBeLessThan(5 * Math.sqrt(v / n));
      expect(Math.abs(variance - v) / v).toBeLessThan(0.05);
    }
    for (const k of [0.3, 1, 4.5]) {
      let s = 0;
      for (let i = 0; i < 40000; i++) s += g.nextGamma(k);
      expect(Math.abs(s / 40000 - k)).toBeLessThan(5 * Math.sqrt(k / 40000));
    }
    expect(() => g.nextGamma(0)).toThrow(/shape must be a positive/);
  });
});

describeBackends('data transforms', () => {
  it('oneHot', () => {
    expect(oneHot(tensor([2, 0, 1]), 3).toArray()).toEqual([
      [0, 0, 1],
      [1, 0, 0],
      [0, 1, 0],
    ]);
    expect(() => oneHot(tensor([3]), 3)).toThrow(/label 3 at position 0 is not a class index in \[0, 3\)/);
    expect(() => oneHot(tensor([0.5]), 3)).toThrow(/not a class index/);
  });

  it('StandardScaler and MinMaxScaler fit on one split and apply it unchanged to another', () => {
    const train = tensor([
      [1, 10, 5],
      [3, 30, 5],
      [5, 20, 5],
    ]);
    const test = tensor([[3, 20, 7]]);
    const s = new StandardScaler().fit(train);
    const z = s.transform(train);
    // Each column: mean 0, population std 1 (the constant column only centred).
    const cols = [0, 1].map((j) => [0, 1, 2].map((i) => z.data[i * 3 + j]!));
    for (const c of cols) {
      expect(c.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 5);
      expect(c.reduce((a, b) => a + b * b, 0) / 3).toBeCloseTo(1, 5);
    }
    const last = [2 / Math.sqrt(8 / 3), 0, 0];
    last.forEach((v, j) => expect(z.data[6 + j]).toBeCloseTo(v, 5));
    const t = s.transform(test);
    expect(t.data[0]).toBeCloseTo(0, 6);
    expect(t.data[2]).toBeCloseTo(2, 6); // (7 − 5) / 1: the test value does not refit anything
    const mm = new MinMaxScaler().fit(train);
    expect(mm.transform(train).toArray()).toEqual([
      [0, 0, 0],
      [0.5, 1, 0],
      [1, 0.5, 0],
    ]);
    expect(mm.transform(test).data[2]).toBe(2);
    const restored = scalerFromJSON(JSON.parse(JSON.stringify(s.toJSON())));
    expect(Array.from(restored.transform(test).data)).toEqual(Array.from(t.data));
    expect(() => new StandardScaler().transform(test)).toThrow(/call fit\(\) first/);
    expect(() => s.transform(tensor([[1, 2]]))).toThrow(/fitted on 3 features/);
    expect(() => scalerFromJSON({ kind: 'standard', shift: [0], scale: [0] })).toThrow(/scale > 0/);
  });

  it('mixup blends each sample with its partner by one λ ~ Beta(α, α)', () => {
    const x = tensor([
      [1, 0],
      [0, 1],
      [2, 2],
      [4, 0],
    ]);
    const y = tensor([0, 1, 2, 1]);
    const m = mixup(x, y, { alpha: 0.4, numClasses: 3, generator: new Generator(3) });
    expect(m.lambda).toBeGreaterThanOrEqual(0);
    expect(m.lambda).toBeLessThanOrEqual(1);
    expect([...m.perm].sort()).toEqual([0, 1, 2, 3]);
    const oh = oneHot(y, 3);
    for (let i = 0; i < 4; i++) {
      const j = m.perm[i]!;
      for (let k = 0; k < 2; k++) expect(m.x.data[i * 2 + k]).toBeCloseTo(m.lambda * x.data[i * 2 + k]! + (1 - m.lambda) * x.data[j * 2 + k]!, 5);
      let rowSum = 0;
      for (let k = 0; k < 3; k++) {
        expect(m.y.data[i * 3 + k]).toBeCloseTo(m.lambda * oh.data[i * 3 + k]! + (1 - m.lambda) * oh.data[j * 3 + k]!, 5);
        rowSum += m.y.data[i * 3 + k]!;
      }
      expect(rowSum).toBeCloseTo(1, 5);
    }
    // The same generator state gives the same mix; λ follows Beta(α, α) over many batches.
    const again = mixup(x, y, { alpha: 0.4, numClasses: 3, generator: new Generator(3) });
    expect(again.lambda).toBe(m.lambda);
    const g = new Generator(11);
    const lambdas = Array.from({ length: 3000 }, () => mixup(x, y, { alpha: 0.2, numClasses: 3, generator: g }).lambda);
    const mean = lambdas.reduce((a, b) => a + b, 0) / lambdas.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.03);
    // Beta(0.2, 0.2) is U-shaped: most mass near 0 and 1.
    expect(lambdas.filter((l) => l < 0.1 || l > 0.9).length / lambdas.length).toBeGreaterThan(0.5);
    const [mx, my] = new MixUp({ alpha: 1, numClasses: 3, generator: new Generator(1) }).apply([x, y]);
    expect(mx.shape).toEqual([4, 2]);
    expect(my.shape).toEqual([4, 3]);
    expect(() => mixup(x, y, { alpha: 0.2 })).toThrow(/numClasses is needed/);
    expect(() => mixup(x, tensor([1, 2]), { alpha: 0.2, numClasses: 3 })).toThrow(/targets must be class indices \[4\]/);
    expect(() => new MixUp({ alpha: 0 })).toThrow(/MixUp: alpha must be a positive finite number, got 0/);
  });

  it('mixup and MixUp check their options and name themselves, also for the one-hot step', () => {
    const x = tensor([[1, 0], [0, 1]]);
    const y = tensor([0, 1]);
    expect(() => mixup(x, y, null as unknown as { alpha: number })).toThrow('mixup: options must be an object { alpha, numClasses?, generator? }, got null');
    expect(() => mixup(x, y, { alpha: 1, numClasses: 2, generator: 'a' as unknown as Generator })).toThrow("mixup: generator must be a Generator, got string 'a'");
    expect(() => mixup(x, y, { alpha: 1, numClasses: {} as number })).toThrow('mixup: numClasses must be a positive integer, got Object');
    expect(() => mixup(x, y, { alpha: 1, numClasses: 2, lambda: 0.5 } as { alpha: number })).toThrow("mixup: unknown option 'lambda'");
    // Labels are checked by the one-hot step, under mixup's name; a huge numClasses is refused before allocating.
    expect(() => mixup(x, y, { alpha: 1, numClasses: 1 })).toThrow('mixup: label 1 at position 1 is not a class index in [0, 1)');
    expect(() => mixup(x, y, { alpha: 1, numClasses: 2 ** 32 + 1 })).toThrow(/^mixup: shape \[2, 4294967297\] has 8589934594 elements, more than/);
    expect(() => new MixUp(null as unknown as { alpha: number })).toThrow('MixUp: options must be an object');
    expect(() => new MixUp({ alpha: 1, generator: 3 as unknown as Generator })).toThrow('MixUp: generator must be a Generator, got 3');
    const mix = new MixUp({ alpha: 1, numClasses: 2 });
    expect(() => mix.apply(null as unknown as [Tensor, Tensor])).toThrow('MixUp.apply: batch must be an [x, y] pair of tensors, got null');
    expect(() => new MixUp({ alpha: 1, numClasses: 1 }).apply([x, y])).toThrow('MixUp.apply: label 1 at position 1 is not a class index in [0, 1)');
  });

  it('oneHot and the scalers refuse junk and detached tensors by name', () => {
    expect(() => oneHot(tensor([0]), 2n as unknown as number)).toThrow('oneHot: numClasses must be a positive integer, got bigint 2n');
    expect(() => oneHot([0, 1] as unknown as Tensor, 2)).toThrow('oneHot: labels must be a 1-D tensor of class indices, got an array');
    const gone = tensor([[1, 2]]);
    structuredClone(gone.data.buffer, { transfer: [gone.data.buffer as ArrayBuffer] });
    const s = new StandardScaler().fit(tensor([[1, 2], [3, 5]]));
    expect(() => s.transform(gone)).toThrow('StandardScaler.transform: tensor data was detached (transferred or resized)');
    expect(() => s.transform('x' as unknown as Tensor)).toThrow("StandardScaler.transform: expected a [samples, features] tensor, got string 'x'");
    expect(() => scalerFromJSON({ kind: 1n } as unknown as ScalerState)).toThrow('scalerFromJSON: kind must be "standard" or "minmax", got bigint 1n');
    // 1e-50 is a positive double but 0 in float32: it used to be stored as 0 and silently replaced by 1.
    expect(() => scalerFromJSON({ kind: 'standard', shift: [0], scale: [1e-50] })).toThrow(/StandardScaler.loadJSON: .*; got scale 1e-50 at position 0/);
    expect(() => scalerFromJSON({ kind: 'minmax', shift: [1e300], scale: [1] })).toThrow(/MinMaxScaler.loadJSON: .*; got shift 1e\+300 at position 0/);
    expect(() => new MinMaxScaler().loadJSON(null as unknown as ScalerState)).toThrow(/MinMaxScaler.loadJSON: .*; got null/);
  });
});

describe('built-in datasets', () => {
  it('loadDigits gives the fixed 8004/1996 split of real digits in [0, 1]', () => {
    const d = loadDigits();
    expect(d.train.tensors[0].shape).toEqual([8004, 784]);
    expect(d.test.tensors[0].shape).toEqual([1996, 784]);
    expect(d.classes).toHaveLength(10);
    const counts = new Array(10).fill(0);
    for (const v of d.test.tensors[1].data) counts[v]++;
    // Every fifth digit of each class: each class has 172–226 test digits.
    expect(Math.min(...counts)).toBeGreaterThan(150);
    const x = d.train.tensors[0].data;
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of x) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    expect([lo, hi]).toEqual([0, 1]);
    // Same data on every call.
    expect(loadDigits().test.tensors[1].data.slice(0, 20)).toEqual(d.test.tensors[1].data.slice(0, 20));
  });

  it('loadFashionMnist says how to install the data when it is absent', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-fm-'));
    try {
      expect(() => loadFashionMnist({ dir: join(dir, 'nope') })).toThrow(/apt-get install dataset-fashion-mnist/);
      expect(() => loadFashionMnist({ dir })).toThrow(/missing train-images/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
