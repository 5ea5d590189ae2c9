import { afterAll, afterEach, describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { getBackend } from '../src/backend/index.js';
import { loadAddon } from '../src/backend/native.js';
import { packedWeightsMade } from '../src/ops/packed-weights.js';
import { describeBackends } from './helpers/backends.js';

// Inference keeps Linear weights packed in the native GEMM's layout (src/ops/packed-weights.ts).
// What must hold: the same bits as packing per call, a copy never used once its weight changed,
// none made where it could go stale unseen (user code holds the array) or where it cannot pay
// (a graph is recorded, too few rows, a weight met only once, the TypeScript backend). A weight
// is packed the second time a call meets it unchanged.

const defaultThreads = tg.backendInfo().threads;
afterEach(() => tg.emptyCache());
afterAll(() => tg.setNumThreads(defaultThreads));

/** The model's output for x without a graph (packed weights) and through the layers one by one
 * with the graph on but nothing requiring grad (every weight packed per call). */
function bothWays(model: tg.Module, x: tg.Tensor): { packedWay: Float32Array; plainWay: Float32Array } {
  return { packedWay: values(tg.noGrad(() => model.forward(x))), plainWay: values(model.forward(x)) };
}

/** A copy of t's values (flat), which must all be finite: the models here give no NaN. */
function values(t: tg.Tensor): Float32Array {
  const v = Float32Array.from(tg.Tensor._rawOf(t)!);
  expect(v.length).toBe(t.size);
  expect(v.every(Number.isFinite)).toBe(true);
  return v;
}

function frozen<M extends tg.Module>(m: M): M {
  for (const p of m.parameters()) p.requiresGrad = false;
  return m;
}

describeBackends('packed weights for inference', (backend) => {
  const packs = () => backend().packWeight !== undefined;
  const minRows = () => backend().packedWeightMinRows ?? Infinity;

  it('give the bits of the weights packed per call: chains and single layers, batches 1-40 and 300, 1 and 2 threads', () => {
    tg.manualSeed(3);
    // A chain of Linear/ReLU (one linearChain call), and layers that run one by one (GELU ends the
    // chain): widths past, at and below the micro-panels (33, 32, 16, 10), depths of one and
    // several K blocks (300 = 2 x 152).
    const chain = frozen(tg.mlp({ inputs: 300, hidden: [33, 32], outputs: 10 }));
    const single = frozen(new tg.Sequential(new tg.Linear(300, 16), new tg.GELU(), new tg.Linear(16, 40)));
    for (const threads of [1, 2]) {
      tg.setNumThreads(threads);
      for (const rows of [1, 2, 8, 9, 10, 13, 16, 17, 24, 31, 40, 300]) {
        const x = tg.randn([rows, 300]);
        for (const model of [chain, single]) {
          const before = packedWeightsMade();
          const { packedWay, plainWay } = bothWays(model, x);
          expect(packedWay, `${rows} rows, ${threads} threads`).toEqual(plainWay);
          // Packed once per weight at the first batch large enough, then reused.
          if (!packs() || rows < minRows()) expect(packedWeightsMade()).toBe(before);
        }
      }
    }
    if (packs()) expect(packedWeightsMade()).toBeGreaterThan(0);
  });

  it('are packed at the second call that meets a weight unchanged, once, and reused after', () => {
    tg.manualSeed(4);
    const model = frozen(tg.mlp({ inputs: 64, hidden: [48], outputs: 10 }));
    const x = tg.randn([20, 64]);
    const start = packedWeightsMade();
    const first = values(tg.noGrad(() => model.forward(x)));
    expect(packedWeightsMade() - start).toBe(0);
    expect(values(tg.noGrad(() => model.forward(x)))).toEqual(first);
    expect(packedWeightsMade() - start).toBe(packs() && 20 >= minRows() ? 2 : 0);
    for (let i = 0; i < 3; i++) expect(values(tg.noGrad(() => model.forward(x)))).toEqual(first);
    expect(packedWeightsMade() - start).toBe(packs() && 20 >= minRows() ? 2 : 0);
  });

  it('are not made for a weight computed afresh for every call', () => {
    tg.manualSeed(11);
    const base = tg.randn([24, 40]);
    const x = tg.randn([32, 40]);
    const before = packedWeightsMade();
    for (let i = 0; i < 4; i++) {
      const w = base.mul(0.5 + i);
      expect(values(tg.noGrad(() => tg.linear(x, w)))).toEqual(values(tg.linear(x, w)));
    }
    expect(packedWeightsMade()).toBe(before);
  });

  it('are repacked after an optimizer step, copy_, loadStateDict and markModified, never used stale', () => {
    tg.manualSeed(5);
    const model = tg.mlp({ inputs: 40, hidden: [24], outputs: 10 });
    const x = tg.randn([32, 40]);
    const y = tg.tensor(Float32Array.from({ length: 32 }, (_, i) => i % 10), [32]);
    const opt = new tg.Adam(model.parameters(), { lr: 0.05 });
    // Two calls without a graph: the first meets the changed weights, the second packs them.
    const check = (what: string) => {
      const firstWay = values(tg.noGrad(() => model.forward(x)));
      const packedWay = values(tg.noGrad(() => model.forward(x)));
      for (const p of model.parameters()) p.requiresGrad = false;
      const plainWay = values(model.forward(x));
      for (const p of model.parameters()) p.requiresGrad = true;
      expect(firstWay, what).toEqual(plainWay);
      expect(packedWay, what).toEqual(plainWay);
    };
    check('before training');
    const w = model.parameters()[0]!;
    let made = packedWeightsMade();
    const repacked = (what: string) => {
      check(what);
      if (packs()) expect(packedWeightsMade(), what).toBeGreaterThan(made);
      made = packedWeightsMade();
    };
    opt.zeroGrad();
    tg.crossEntropy(model.forward(x), y).backward();
    opt.step();
    repacked('after an Adam step');
    tg.noGrad(() => w.copy_(tg.randn(w.shape)));
    repacked('after copy_');
    const other = tg.mlp({ inputs: 40, hidden: [24], outputs: 10 });
    model.loadStateDict(other.stateDict());
    repacked('after loadStateDict');
    // A write through an internal view of the array, announced with markModified.
    tg.Tensor._rawOf(w)![0]! += 1;
    w.markModified();
    repacked('after markModified');
  });

  it('are not made for a weight whose array user code holds, so a write through .data shows at once', () => {
    tg.manualSeed(6);
    const model = frozen(tg.mlp({ inputs: 40, hidden: [24], outputs: 10 }));
    const x = tg.randn([32, 40]);
    const [w0] = model.parameters();
    const data = w0!.data; // user code now holds layer 0's array
    const before = packedWeightsMade();
    bothWays(model, x);
    const { packedWay, plainWay } = bothWays(model, x);
    expect(packedWay).toEqual(plainWay);
    // Only the other layer's weight was packed (at the second call).
    expect(packedWeightsMade() - before).toBe(packs() ? 1 : 0);
    data[0]! += 0.5;
    data[17]! -= 0.25;
    const after = bothWays(model, x);
    expect(after.packedWay).toEqual(after.plainWay);
    expect(after.packedWay).not.toEqual(packedWay);
    // And a weight made from the caller's own array counts as held from the start.
    const own = new tg.Tensor(Float32Array.from({ length: 24 * 40 }, (_, i) => Math.sin(i)), [24, 40]);
    const n = packedWeightsMade();
    for (let i = 0; i < 3; i++) tg.noGrad(() => tg.linear(x, own));
    expect(packedWeightsMade()).toBe(n);
  });

  it('are not made while a graph is recorded (training)', () => {
    tg.manualSeed(7);
    const model = tg.mlp({ inputs: 40, hidden: [24], outputs: 10 });
    const x = tg.randn([64, 40]);
    const before = packedWeightsMade();
    model.forward(x).sum().backward();
    expect(packedWeightsMade()).toBe(before);
  });

  it('go with emptyCache(), and the next inference call packs again', () => {
    tg.manualSeed(8);
    const model = frozen(tg.mlp({ inputs: 40, hidden: [24], outputs: 10 }));
    const x = tg.randn([16, 40]);
    const first = values(tg.noGrad(() => model.forward(x)));
    expect(values(tg.noGrad(() => model.forward(x)))).toEqual(first);
    const made = packedWeightsMade();
    tg.emptyCache();
    expect(values(tg.noGrad(() => model.forward(x)))).toEqual(first);
    expect(packedWeightsMade() - made).toBe(packs() ? 2 : 0);
    // And again: the copies packed after the first emptyCache() go with the second.
    tg.emptyCache();
    expect(values(tg.noGrad(() => model.forward(x)))).toEqual(first);
    expect(packedWeightsMade() - made).toBe(packs() ? 4 : 0);
  });
});

describeBackends('packed weights in async inference', (backend) => {
  const packs = () => backend().packWeight !== undefined && loadAddon()?.runAsync !== undefined;

  it('predictAsync reads packed copies of the weights of the moment of the call, with predict\'s bits', async () => {
    tg.manualSeed(10);
    const model = tg.mlp({ inputs: 60, hidden: [48, 32], outputs: 10 });
    const x = tg.randn([40, 60]);
    const y = tg.tensor(Float32Array.from({ length: 40 }, (_, i) => i % 10), [40]);
    const opt = new tg.Adam(model.parameters(), { lr: 0.05 });
    const before = packedWeightsMade();
    const want0 = values(tg.predict(model, x));
    expect(values(await model.predictAsync(x))).toEqual(want0);
    expect(packedWeightsMade() - before).toBe(0); // each weight and snapshot met once
    expect(values(tg.predict(model, x))).toEqual(want0);
    expect(values(await model.predictAsync(x))).toEqual(want0);
    // One copy per weight for predict, one per weight's snapshot for predictAsync.
    if (packs()) expect(packedWeightsMade() - before).toBe(6);
    // A call in flight keeps the weights of its start while training moves them.
    const pending = model.predictAsync(x);
    opt.zeroGrad();
    tg.crossEntropy(model.forward(x), y).backward();
    opt.step();
    expect(values(await pending)).toEqual(want0);
    const want1 = values(tg.predict(model, x));
    expect(want1).not.toEqual(want0);
    expect(values(await model.predictAsync(x))).toEqual(want1);
    // Batches of 8 rows or fewer pack nothing.
    const made = packedWeightsMade();
    expect(values(await model.predictAsync(x.slice(0, 8)))).toEqual(values(tg.predict(model, x.slice(0, 8))));
    expect(packedWeightsMade()).toBe(made);
  });

  it('predictAsync packs nothing for a weight whose array user code holds (it is copied afresh per call)', async () => {
    tg.manualSeed(12);
    const model = tg.mlp({ inputs: 60, hidden: [48], outputs: 10 });
    for (const p of model.parameters()) void p.data; // user code now holds every array
    const x = tg.randn([40, 60]);
    // Several passes per call (batches of 16): each pass of a call reads the same pinned copies.
    const want = values(tg.predict(model, x, { batchSize: 16 }));
    const before = packedWeightsMade();
    for (let i = 0; i < 3; i++) expect(values(await tg.predictAsync(model, x, { batchSize: 16 }))).toEqual(want);
    expect(packedWeightsMade()).toBe(before);
  });
});

const addon = loadAddon();
const native = addon !== null && typeof addon.packWeight === 'function' && getBackend().name === 'native';

describe.skipIf(!native)('packed weights through the addon (skipped: TypeScript backend or no addon)', () => {
  const a = addon!;
  afterEach(() => a.setIsa('auto'));

  it('a copy packed under another ISA is not used: the product packs the weight itself', () => {
    tg.manualSeed(9);
    const model = frozen(tg.mlp({ inputs: 300, hidden: [64], outputs: 10 }));
    const x = tg.randn([40, 300]);
    const isas = a.info().detectedIsa === 'avx512' ? ['avx2', 'scalar'] : ['scalar'];
    tg.noGrad(() => model.forward(x)); // packed at the detected ISA
    for (const isa of isas) {
      a.setIsa(isa);
      const { packedWay, plainWay } = bothWays(model, x);
      expect(packedWay, isa).toEqual(plainWay);
    }
  });

  it('packWeight, gemm and linearChain check their packed arguments', () => {
    const n = 20;
    const k = 30;
    const w = new Float32Array(n * k).fill(0.5);
    const size = a.packedWeightSize!(n, k);
    expect(size).toBeGreaterThan(n * k);
    expect(() => a.packWeight!(n, k, w, new Float32Array(size - 1))).toThrow(/dst/);
    expect(() => a.packWeight!(n, k, w.subarray(1), new Float32Array(size))).toThrow(/w/);
    const packed = new Float32Array(size);
    a.packWeight!(n, k, w, packed);
    const x = new Float32Array(12 * k).fill(1);
    const c = new Float32Array(12 * n);
    a.gemm(false, true, 12, n, k, 1, x, w, 0, c, null, false, packed);
    expect(Array.from(c)).toEqual(new Array(12 * n).fill(15));
    expect(() => a.gemm(false, false, 12, n, k, 1, x, new Float32Array(k * n), 0, c, null, false, packed)).toThrow(/transB/);
    expect(() => a.gemm(false, true, 12, n, k, 1, x, w, 0, packed.subarray(0, 12 * n), null, false, packed)).toThrow(/overlap/);
    // A buffer packed for another shape is not used (and not an error): the product packs w.
    const wrong = new Float32Array(a.packedWeightSize!(n, k - 1));
    a.packWeight!(n, k - 1, new Float32Array(n * (k - 1)).fill(9), wrong);
    a.gemm(false, true, 12, n, k, 1, x, w, 0, c, null, false, wrong);
    expect(Array.from(c)).toEqual(new Array(12 * n).fill(15));
    const out = new Float32Array(12 * n);
    expect(() => a.linearChain!(12, k, x, out, 0, n, w, null, [packed, packed])).toThrow(/one entry/);
    a.linearChain!(12, k, x, out, 0, n, w, null, [packed]);
    expect(Array.from(out)).toEqual(new Array(12 * n).fill(15));
  });
});
