import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend/backend.js';
import { availableBackends, getBackend, setBackend } from '../src/backend/index.js';
import { jsBackend } from '../src/backend/js/index.js';
import { deferred } from '../src/backend/deferred.js';
import { loadAddon } from '../src/backend/native.js';
import * as tg from '../src/index.js';
import { Generator } from '../src/random.js';

// Backend.linearBackward fuses what the Linear layer's backward used to call one by one: the ReLU
// mask (unaryGrad 'relu'), the bias gradient (reduce 'sum') and the two GEMMs. Each backend must
// give exactly the bits of those separate calls, and the two backends the same bits as each other.

const native = availableBackends().find((b) => b.name === 'native');
const backends: Backend[] = native ? [jsBackend, native] : [jsBackend];
const each = backends.map((b) => [b.name, b] as const);
const SPECIAL = [0, -0, Number.NaN, -1, 3, -Infinity];

function values(n: number, seed: number, specials = false): Float32Array {
  const gen = new Generator(seed);
  const out = Float32Array.from({ length: n }, () => (gen.nextFloat() - 0.5) * 4);
  if (specials) for (let i = 0; i < n; i += 3) out[i] = SPECIAL[Math.floor(gen.nextFloat() * SPECIAL.length)]!;
  return out;
}

interface Grads {
  gy: Float32Array | null;
  gx: Float32Array | null;
  gw: Float32Array | null;
  gb: Float32Array | null;
}

interface Case {
  rows: number;
  outF: number;
  inF: number;
  relu: boolean;
  want: { gx: boolean; gw: boolean; gb: boolean };
  seed: number;
}

/** Fresh outputs pre-filled with 7, so an output the call must not write is seen untouched. */
function outputs(c: Case): Grads {
  const f = (n: number) => new Float32Array(n).fill(7);
  return {
    gy: c.relu ? f(c.rows * c.outF) : null,
    gx: c.want.gx ? f(c.rows * c.inF) : null,
    gw: c.want.gw ? f(c.outF * c.inF) : null,
    gb: c.want.gb ? f(c.outF) : null,
  };
}

function inputs(c: Case) {
  return {
    g: values(c.rows * c.outF, c.seed),
    y: values(c.rows * c.outF, c.seed + 1, true),
    x: values(c.rows * c.inF, c.seed + 2),
    w: values(c.outF * c.inF, c.seed + 3),
  };
}

function fused(be: Backend, c: Case): Grads {
  const { g, y, x, w } = inputs(c);
  const o = outputs(c);
  be.linearBackward(c.rows, c.outF, c.inF, g, c.relu ? y : null, o.gw ? x : null, o.gx ? w : null, o.gy, o.gx, o.gw, o.gb);
  return o;
}

function separate(be: Backend, c: Case): Grads {
  const { g, y, x, w } = inputs(c);
  const o = outputs(c);
  let d = g;
  if (o.gy) {
    be.unaryGrad('relu', y, y, g, o.gy, 0, 0);
    d = o.gy;
  }
  if (o.gb) be.reduce('sum', d, 1, c.rows, c.outF, o.gb, null);
  if (o.gx) be.gemm(false, false, c.rows, c.inF, c.outF, 1, d, w, 0, o.gx);
  if (o.gw) be.gemm(true, false, c.outF, c.inF, c.rows, 1, d, x, 0, o.gw);
  return o;
}

const caseArb = fc.record({
  rows: fc.integer({ min: 0, max: 40 }),
  outF: fc.integer({ min: 0, max: 150 }),
  inF: fc.integer({ min: 0, max: 20 }),
  relu: fc.boolean(),
  want: fc.record({ gx: fc.boolean(), gw: fc.boolean(), gb: fc.boolean() }),
  seed: fc.nat(),
});

describe('Backend.linearBackward', () => {
  it.each(each)('%s: the same bits as unaryGrad + reduce + two gemm calls, and nothing else written', (_, be) => {
    fc.assert(
      fc.property(caseArb, (c) => {
        expect(fused(be, c)).toEqual(separate(be, c));
      }),
      { numRuns: 150 },
    );
  });

  it.each(each)('%s: the mask passes NaN and clears ±0 and negatives; the bias sums the masked rows', (_, be) => {
    const y = new Float32Array([Number.NaN, -0, 0, -2, 5, 1e-30]);
    const g = new Float32Array([1, 2, 3, 4, 5, 6]);
    const gy = new Float32Array(6);
    const gb = new Float32Array(3);
    be.linearBackward(2, 3, 1, g, y, null, null, gy, null, null, gb);
    expect(Array.from(gy)).toEqual([1, 0, 0, 0, 5, 6]);
    expect(Object.is(gy[1], 0)).toBe(true); // +0, as PyTorch's threshold_backward
    expect(Array.from(gb)).toEqual([1, 5, 6]);
  });
});

describe.runIf(native !== undefined)('Backend.linearBackward: native and TypeScript agree (needs the native addon)', () => {
  it('mask and bias bit for bit, GEMMs within float32 rounding; native the same bits on 1 and 2 threads', () => {
    const addon = loadAddon()!;
    const before = addon.info().threads;
    // Index of the first element whose bits differ (-1: none); NaN equals NaN. Large arrays are
    // compared this way, not with toEqual, whose diff of two long arrays takes minutes.
    const firstDiff = (a: Float32Array | null, b: Float32Array | null): number => {
      if (a === null || b === null) return a === b ? -1 : 0;
      if (a.length !== b.length) return 0;
      for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
      return -1;
    };
    const maxRelErr = (a: Float32Array, b: Float32Array): number => {
      let scale = 0;
      for (const v of b) scale = Math.max(scale, Math.abs(v));
      let err = 0;
      for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i]! - b[i]!));
      return err / scale;
    };
    try {
      for (const [rows, outF, inF] of [
        [128, 512, 784],
        [300, 256, 70],
        [33, 10, 256],
      ] as const) {
        for (const relu of [true, false]) {
          const c: Case = { rows, outF, inF, relu, want: { gx: true, gw: true, gb: true }, seed: rows + outF };
          const ts = fused(jsBackend, c);
          native!.setNumThreads(1);
          const one = fused(native!, c);
          native!.setNumThreads(2);
          const two = fused(native!, c);
          for (const k of ['gy', 'gx', 'gw', 'gb'] as const) expect(firstDiff(two[k], one[k]), `${k}: 1 vs 2 threads`).toBe(-1);
          expect(firstDiff(one.gy, ts.gy), 'gy: native vs TS').toBe(-1);
          expect(firstDiff(one.gb, ts.gb), 'gb: native vs TS').toBe(-1);
          // The GEMMs: native rounds each K block's float32 FMA chain, TS sums in float64.
          expect(maxRelErr(one.gx!, ts.gx!)).toBeLessThan(1e-5);
          expect(maxRelErr(one.gw!, ts.gw!)).toBeLessThan(1e-5);
        }
      }
    } finally {
      native!.setNumThreads(before);
    }
  });

  it('the addon refuses missing partners, wrong lengths and overlapping outputs', () => {
    const addon = loadAddon()!;
    const f = (n: number) => new Float32Array(n);
    const call = (...a: unknown[]) => (addon.linearBackward as unknown as (...x: unknown[]) => void)(...a);
    expect(() => call(2, 3, 4, f(6), f(6), null, null, null, null, null, null)).toThrow(/y and gy come together/);
    expect(() => call(2, 3, 4, f(6), null, null, null, null, f(8), null, null)).toThrow(/gx needs w/);
    expect(() => call(2, 3, 4, f(6), null, null, null, null, null, f(12), null)).toThrow(/gw needs x/);
    expect(() => call(2, 3, 4, f(5), null, null, null, null, null, null, null)).toThrow(/g has 5 elements, expected 6/);
    expect(() => call(2, 3, 4, f(6), null, null, f(11), null, f(8), null, null)).toThrow(/w has 11 elements, expected 12/);
    expect(() => call(2, 3, 4, f(6), null, null, null, null, null, null, f(2))).toThrow(/gb has 2 elements, expected 3/);
    expect(() => call(2, 3, 4, f(6))).toThrow(/expected 11 arguments/);
    const shared = f(12);
    expect(() => call(2, 3, 4, shared.subarray(0, 6), null, null, null, null, null, null, shared.subarray(4, 7))).toThrow(/must not overlap/);
    const g = f(6);
    expect(() => call(2, 3, 4, g, f(6), null, null, g, null, null, null)).toThrow(/must not overlap/);
  });
});

describe('a Linear backward inside an async batch', () => {
  it('gives the gradients of a synchronous backward (the recorded linearBackward runs off the JS thread)', async () => {
    const grads = async (async: boolean): Promise<number[][]> => {
      tg.manualSeed(5);
      const model = new tg.Sequential(new tg.Linear(7, 20), new tg.ReLU(), new tg.Linear(20, 3));
      const x = tg.randn([9, 7]);
      const y = new tg.Tensor(Float32Array.from({ length: 9 }, (_, i) => i % 3), [9]);
      const run = () => tg.crossEntropy(model.forward(x), y).backward();
      if (async) await deferred(run);
      else run();
      return model.parameters().map((p) => Array.from(p.grad!.toArray() as number[][]).flat(2) as number[]);
    };
    const want = await grads(false);
    // Count the layer backwards that run synchronously: with the addon's runAsync, none should.
    const real = getBackend();
    let synchronous = 0;
    setBackend({ ...real, linearBackward: (...a) => (synchronous++, real.linearBackward(...a)) });
    let got: number[][];
    try {
      got = await grads(true);
    } finally {
      setBackend(real);
    }
    expect(got).toEqual(want);
    expect(want[0]!.some((v) => v !== 0)).toBe(true);
    expect(synchronous).toBe(real.name === 'native' && typeof loadAddon()?.runAsync === 'function' ? 0 : 2);
  });
});
