import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { Backend, ChainLayer } from '../src/backend/backend.js';
import { availableBackends, getBackend, setBackend } from '../src/backend/index.js';
import { jsBackend } from '../src/backend/js/index.js';
import { loadAddon, nativeBackend } from '../src/backend/native.js';
import * as tg from '../src/index.js';
import { pooledByteCount } from '../src/pool.js';
import { Generator } from '../src/random.js';

// Without a graph, Sequential runs each run of Linear layers (each maybe followed by a ReLU) as
// one Backend.linearChain call. It must give exactly the bits of the layers run one by one, fall
// back to them (and their errors) whenever the run does not qualify, and work in async batches.

const native = availableBackends().find((b) => b.name === 'native');
/** The addon has the one-call entry (a binary built before it would use the composed chain). */
const hasEntry = typeof loadAddon()?.linearChain === 'function';
const backends: Backend[] = native ? [jsBackend, native] : [jsBackend];
const each = backends.map((b) => [b.name, b] as const);

function values(n: number, seed: number, specials = true): Float32Array {
  const gen = new Generator(seed);
  const out = Float32Array.from({ length: n }, () => (gen.nextFloat() - 0.5) * 4);
  // A few specials, so NaN/±0 propagate through the chain as through the single layers.
  if (specials && n > 7) out[7] = Number.NaN;
  if (specials && n > 3) out[3] = -0;
  return out;
}

interface Spec {
  rows: number;
  inF: number;
  layers: { outF: number; bias: boolean; relu: boolean }[];
  seed: number;
}

function build(s: Spec, specials = true): { x: Float32Array; layers: ChainLayer[] } {
  let k = s.inF;
  const layers = s.layers.map((l, i) => {
    const layer: ChainLayer = {
      outF: l.outF,
      w: values(l.outF * k, s.seed + 10 * i + 1, specials),
      bias: l.bias ? values(l.outF, s.seed + 10 * i + 2, specials) : null,
      relu: l.relu,
    };
    k = l.outF;
    return layer;
  });
  return { x: values(s.rows * s.inF, s.seed, specials), layers };
}

function oneByOne(be: Backend, rows: number, inF: number, x: Float32Array, layers: ChainLayer[]): Float32Array {
  let input = x;
  let k = inF;
  for (const l of layers) {
    const y = new Float32Array(rows * l.outF);
    be.linear(rows, l.outF, k, input, l.w, l.bias, l.relu, y);
    input = y;
    k = l.outF;
  }
  return input;
}

/** Index of the first element whose bits differ (NaN equals NaN), -1 for none. */
function firstDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

/** Chains of 1 to 8 layers over 1 to maxRows rows. */
function chainSpec(maxRows: number): fc.Arbitrary<Spec> {
  return fc.record({
    rows: fc.integer({ min: 1, max: maxRows }),
    inF: fc.integer({ min: 1, max: 70 }),
    layers: fc.array(fc.record({ outF: fc.integer({ min: 1, max: 70 }), bias: fc.boolean(), relu: fc.boolean() }), {
      minLength: 1,
      maxLength: 8,
    }),
    seed: fc.nat(),
  });
}

const specArb = chainSpec(40);

describe('Backend.linearChain', () => {
  it.each(each)('%s: the bits of linear called layer by layer, for 1 to 8 layers', (_, be) => {
    fc.assert(
      fc.property(specArb, (s) => {
        const { x, layers } = build(s);
        const out = new Float32Array(s.rows * s.layers.at(-1)!.outF).fill(7);
        be.linearChain(s.rows, s.inF, x, layers, out);
        expect(firstDiff(out, oneByOne(be, s.rows, s.inF, x, layers))).toBe(-1);
      }),
      { numRuns: 120 },
    );
  });

  it.each(each)('%s: layers with no inputs (inF 0) give their bias, as linear does', (_, be) => {
    const layers: ChainLayer[] = [
      { outF: 4, w: new Float32Array(0), bias: Float32Array.of(1, -2, 3, -4), relu: true },
      { outF: 3, w: values(12, 5), bias: null, relu: false },
    ];
    const out = new Float32Array(6).fill(7);
    be.linearChain(2, 0, new Float32Array(0), layers, out);
    expect(firstDiff(out, oneByOne(be, 2, 0, new Float32Array(0), layers))).toBe(-1);
  });

  it.each(each)('%s: a batch-1 chain of the benchmark MLP (the GEMV path) and a batch-300 one', (_, be) => {
    for (const rows of [1, 300]) {
      const s: Spec = {
        rows,
        inF: 784,
        layers: [
          { outF: 512, bias: true, relu: true },
          { outF: 256, bias: true, relu: true },
          { outF: 10, bias: true, relu: false },
        ],
        seed: rows,
      };
      const { x, layers } = build(s, false);
      const out = new Float32Array(rows * 10);
      be.linearChain(rows, 784, x, layers, out);
      expect(firstDiff(out, oneByOne(be, rows, 784, x, layers))).toBe(-1);
      expect(out.some((v) => v !== 0 && !Number.isNaN(v))).toBe(true);
    }
  });
});

describe.runIf(native?.linearChainSmall !== undefined)('Backend.linearChainSmall (skipped: TypeScript backend or no addon)', () => {
  const small: NonNullable<Backend['linearChainSmall']> = (...a) => native!.linearChainSmall!(...a);
  // At most 4 rows of at most 4 outputs: every result fits the 16 elements.
  const smallSpec = fc.record({ spec: chainSpec(4), last: fc.integer({ min: 1, max: 4 }) });

  it('gives linearChain\'s bits in a new array of its own for every result of up to 16 elements', () => {
    fc.assert(
      fc.property(smallSpec, ({ spec: s, last }) => {
        s.layers[s.layers.length - 1]!.outF = last;
        const { x, layers } = build(s);
        const want = new Float32Array(s.rows * last);
        native!.linearChain(s.rows, s.inF, x, layers, want);
        const got = small(s.rows, s.inF, x, layers);
        expect(got.length).toBe(s.rows * last);
        expect(firstDiff(got, want)).toBe(-1);
        // Results never share memory: a second call leaves the first one as it was.
        const first = got.slice();
        const again = small(s.rows, s.inF, values(s.rows * s.inF, s.seed + 99), layers);
        expect(again).not.toBe(got);
        expect(firstDiff(got, first)).toBe(-1);
      }),
      { numRuns: 80 },
    );
  });

  it('takes results of exactly 16 elements and refuses larger ones', () => {
    const s: Spec = { rows: 2, inF: 5, layers: [{ outF: 6, bias: true, relu: true }, { outF: 8, bias: true, relu: false }], seed: 3 };
    const { x, layers } = build(s, false);
    const want = new Float32Array(16);
    native!.linearChain(2, 5, x, layers, want);
    expect(firstDiff(small(2, 5, x, layers), want)).toBe(-1);
    const wide: ChainLayer[] = [layers[0]!, { outF: 9, w: values(54, 4), bias: null, relu: false }];
    expect(() => small(2, 5, x, wide)).toThrow('linearChainSmall: a result of 18 elements is over 16');
  });

  it('a batch-1 Sequential forward returns it as a tensor that later kernels, views and dispose() treat as any other', () => {
    tg.manualSeed(8);
    const model = new tg.Sequential(new tg.Linear(12, 20), new tg.ReLU(), new tg.Linear(20, 5));
    const x = tg.randn([1, 12]);
    const want = model.forward(x).detach();
    const outs = tg.noGrad(() => [model.forward(x), model.forward(x)]);
    for (const y of outs) {
      expect(y.shape).toEqual([1, 5]);
      expect(firstDiff(y.data as Float32Array, want.data as Float32Array)).toBe(-1);
    }
    expect(outs[0]!.data).not.toBe(outs[1]!.data);
    // Native kernels read and write it (its memory moves out of V8's heap on that first use).
    const soft = tg.softmax(outs[0]!, 1);
    expect(soft.sum().item()).toBeCloseTo(1, 6);
    const sum = outs[0]!.add(outs[1]!);
    expect(firstDiff(sum.data as Float32Array, want.mul(2).data as Float32Array)).toBe(-1);
    // A view shares it: an in-place write through the view is seen by the tensor.
    outs[1]!.reshape([5]).fill_(0.5);
    expect(Array.from(outs[1]!.data)).toEqual([0.5, 0.5, 0.5, 0.5, 0.5]);
    outs[0]!.dispose();
    expect(() => outs[0]!.data).toThrow(/disposed/);
    const z = tg.noGrad(() => model.forward(x));
    expect(firstDiff(z.data as Float32Array, want.data as Float32Array)).toBe(-1);
  });
});

describe.runIf(native !== undefined && hasEntry)('the addon linearChain entry (needs the native addon)', () => {
  it('the same bits on 1 and 2 threads, and with activations wider than the buffer it keeps', () => {
    const before = native!.info().threads;
    try {
      // 1000 rows of a 2100-wide inner layer need 4.2M floats between layers: past the 4M the addon
      // keeps between calls, so that call gets a buffer of its own.
      const s: Spec = {
        rows: 1000,
        inF: 3,
        layers: [
          { outF: 2100, bias: true, relu: true },
          { outF: 40, bias: false, relu: true },
          { outF: 5, bias: true, relu: false },
        ],
        seed: 9,
      };
      const { x, layers } = build(s);
      const want = oneByOne(native!, s.rows, s.inF, x, layers);
      for (const threads of [1, 2]) {
        native!.setNumThreads(threads);
        const out = new Float32Array(s.rows * 5);
        native!.linearChain(s.rows, s.inF, x, layers, out);
        expect(firstDiff(out, want), `${threads} threads`).toBe(-1);
      }
    } finally {
      native!.setNumThreads(before);
    }
  });

  it('emptyCache() frees the activations the addon keeps between calls, and the next call still gives the same bits', () => {
    const addon = loadAddon()!;
    const before = getBackend();
    setBackend(native!); // installs emptyCache's releaser, as choosing the native backend does
    try {
      const s: Spec = { rows: 300, inF: 7, layers: [{ outF: 500, bias: true, relu: true }, { outF: 3, bias: false, relu: false }], seed: 4 };
      const { x, layers } = build(s);
      const first = new Float32Array(s.rows * 3);
      native!.linearChain(s.rows, s.inF, x, layers, first);
      // 2 x 300 x 500 floats between the layers, kept for the next call until now.
      tg.emptyCache();
      expect(addon.releaseScratch!()).toBe(0);
      native!.linearChain(s.rows, s.inF, x, layers, first);
      expect(addon.releaseScratch!()).toBeGreaterThanOrEqual(2 * 300 * 500 * 4);
      const again = new Float32Array(s.rows * 3);
      native!.linearChain(s.rows, s.inF, x, layers, again);
      expect(firstDiff(again, oneByOne(native!, s.rows, s.inF, x, layers))).toBe(-1);
      expect(firstDiff(again, first)).toBe(-1);
    } finally {
      setBackend(before);
    }
  });

  it('refuses wrong lengths, stray ReLU bits, more than 8 layers and an output over an input', () => {
    const addon = loadAddon()!;
    const f = (n: number) => new Float32Array(n);
    const call = (...a: unknown[]) => (addon.linearChain as unknown as (...x: unknown[]) => void)(...a);
    expect(() => call(2, 3, f(6), f(8), 0, 4, f(12), null)).not.toThrow();
    expect(() => call(2, 3, f(5), f(8), 0, 4, f(12), null)).toThrow(/x has 5 elements, expected 6/);
    expect(() => call(2, 3, f(6), f(8), 0, 4, f(11), null)).toThrow(/w of layer 0 has 11 elements, expected 12/);
    expect(() => call(2, 3, f(6), f(8), 0, 4, f(12), f(3))).toThrow(/bias of layer 0 has 3 elements, expected 4/);
    expect(() => call(2, 3, f(6), f(8), 0, 4, f(12), null, 5, f(19), null)).toThrow(/w of layer 1 has 19 elements, expected 20/);
    expect(() => call(2, 3, f(6), f(9), 0, 4, f(12), null)).toThrow(/out has 9 elements, expected 8/);
    expect(() => call(2, 3, f(6), f(8), 2, 4, f(12), null)).toThrow(/reluMask has bits past the last layer/);
    expect(() => call(2, 3, f(6), f(8), 0, 4, f(12))).toThrow(/expected 8 arguments/);
    expect(() => call(2, 3, f(6), f(8), 0, 4, f(12), null, 4)).toThrow(/triples/);
    const nine = Array.from({ length: 9 }, () => [1, f(1), null]).flat();
    expect(() => call(1, 1, f(1), f(1), 0, ...nine)).toThrow(/triples/);
    const shared = f(14);
    expect(() => call(2, 3, shared.subarray(0, 6), shared.subarray(6, 14), 0, 4, f(12), null)).not.toThrow();
    expect(() => call(2, 3, shared.subarray(0, 6), shared.subarray(5, 13), 0, 4, f(12), null)).toThrow(/out must not overlap x/);
    const w = f(12);
    expect(() => call(2, 3, f(6), w.subarray(0, 8), 0, 4, w, null)).toThrow(/out must not overlap a weight/);
    expect(() => call(2, 3, f(6), f(8), 0, 4, f(12), new Int32Array(4))).toThrow(/bias of layer 0 must be a Float32Array/);
    // Empty arrays with huge dims: the inner activation's size must be refused, not computed.
    expect(() => call(2 ** 40, 0, f(0), f(0), 0, 2 ** 24, f(0), null, 0, f(0), null)).toThrow(/sizes overflow/);
    expect(() => call(2 ** 20, 0, f(0), f(0), 0, 2 ** 20, f(0), null, 0, f(0), null)).toThrow(/sizes overflow/);
  });

  it('an addon without the entry gets the composed chain, with the same bits', () => {
    const addon = loadAddon()!;
    // The addon's methods, bound, less the entry (its own properties cannot be hidden by a Proxy).
    const without: Record<string, unknown> = {};
    for (const k of Object.getOwnPropertyNames(addon)) {
      const v = (addon as unknown as Record<string, unknown>)[k];
      if (k !== 'linearChain') without[k] = typeof v === 'function' ? v.bind(addon) : v;
    }
    const old = nativeBackend(without as unknown as Parameters<typeof nativeBackend>[0]);
    const s: Spec = { rows: 7, inF: 30, layers: [{ outF: 20, bias: true, relu: true }, { outF: 5, bias: true, relu: false }], seed: 3 };
    const { x, layers } = build(s);
    const a = new Float32Array(35), b = new Float32Array(35);
    old.linearChain(7, 30, x, layers, a);
    native!.linearChain(7, 30, x, layers, b);
    expect(firstDiff(a, b)).toBe(-1);
    expect(firstDiff(a, oneByOne(native!, 7, 30, x, layers))).toBe(-1);
  });
});

describe('Sequential without a graph runs its Linear runs as one call', () => {
  const real = getBackend();
  afterEach(() => setBackend(real));

  /**
   * Counts linearChain calls (and the layers the chains covered; linearChainSmall's count as
   * chains, and also in `small`) and linear calls.
   */
  function counting(): { chains: number[]; small: number; linears: number } {
    const seen = { chains: [] as number[], small: 0, linears: 0 };
    const small = real.linearChainSmall;
    setBackend({
      ...real,
      linearChain: (rows, inF, x, layers, out) => {
        seen.chains.push(layers.length);
        real.linearChain(rows, inF, x, layers, out);
      },
      linearChainSmall:
        small &&
        ((rows, inF, x, layers) => {
          seen.chains.push(layers.length);
          seen.small++;
          return small(rows, inF, x, layers);
        }),
      linear: (...a) => {
        seen.linears++;
        real.linear(...a);
      },
    });
    return seen;
  }

  function mlp(seed: number, ...layers: tg.Module[]): tg.Sequential {
    tg.manualSeed(seed);
    return new tg.Sequential(...layers);
  }

  it('gives the bits of the graph-building forward, for 2-D and 3-D inputs and biasless layers', () => {
    const model = mlp(1, new tg.Linear(6, 9), new tg.ReLU(), new tg.Linear(9, 7, { bias: false }), new tg.Linear(7, 3), new tg.ReLU());
    for (const shape of [[5, 6], [2, 4, 6], [1, 6]]) {
      const x = tg.randn(shape);
      const want = model.forward(x); // with a graph: layer by layer
      const seen = counting();
      const got = tg.noGrad(() => model.forward(x));
      setBackend(real);
      expect(seen.chains).toEqual([3]);
      // Results of up to 16 elements ([5, 3] and [1, 3]) come back through linearChainSmall where the backend has it.
      expect(seen.small).toBe(x.size / 6 <= 5 && real.linearChainSmall !== undefined ? 1 : 0);
      expect(seen.linears).toBe(0);
      expect(got.shape).toEqual(want.shape);
      expect(firstDiff(got.data as Float32Array, want.data as Float32Array)).toBe(-1);
    }
  });

  it('predict() and evaluate-style noGrad forwards of the benchmark MLP use one call per batch', () => {
    const model = mlp(2, new tg.Linear(784, 512), new tg.ReLU(), new tg.Linear(512, 256), new tg.ReLU(), new tg.Linear(256, 10));
    const x = tg.randn([3, 784]);
    // predict's batches are [0, 2) and [2, 3): a batch-1 forward runs the GEMV kernels, whose
    // rounding differs from the GEMM's, so the reference runs the same batches.
    const want = tg.concat([model.forward(tg.slice(x, 0, 2)), model.forward(tg.slice(x, 2, 3))], 0);
    const seen = counting();
    const got = tg.predict(model, x, { batchSize: 2 });
    setBackend(real);
    expect(seen.chains).toEqual([3, 3]);
    expect(firstDiff(got.data as Float32Array, want.data as Float32Array)).toBe(-1);
  });

  it('chains only runs of two or more plain Linear layers, 8 at most per call', () => {
    class MyLinear extends tg.Linear {}
    const patched = new tg.Linear(4, 4);
    patched.forward = (x: tg.Tensor) => tg.Linear.prototype.forward.call(patched, x).mul(2);
    const cases: [tg.Module[], number[], number][] = [
      // a lone Linear (+ReLU) is the fused single call it always was
      [[new tg.Linear(4, 4), new tg.ReLU(), new tg.Tanh(), new tg.Linear(4, 4)], [], 2],
      // a Tanh splits two runs; a subclass and a replaced forward are called as they are
      [[new tg.Linear(4, 4), new tg.Linear(4, 4), new tg.Tanh(), new tg.Linear(4, 5), new tg.ReLU(), new tg.Linear(5, 4)], [2, 2], 0],
      [[new tg.Linear(4, 4), new MyLinear(4, 4), new tg.Linear(4, 4), new tg.Linear(4, 4)], [2], 2],
      [[new tg.Linear(4, 4), patched, new tg.Linear(4, 4)], [], 3],
      [Array.from({ length: 11 }, () => new tg.Linear(4, 4)), [8, 3], 0],
    ];
    for (const [layers, chains, linears] of cases) {
      const model = mlp(3, ...layers);
      const x = tg.randn([3, 4]);
      const want = model.forward(x);
      const seen = counting();
      const got = tg.noGrad(() => model.forward(x));
      setBackend(real);
      expect(seen.chains).toEqual(chains);
      expect(seen.linears).toBe(linears);
      expect(firstDiff(got.data as Float32Array, want.data as Float32Array)).toBe(-1);
    }
  });

  it('is not used while a graph is recorded', () => {
    const model = mlp(7, new tg.Linear(6, 9), new tg.ReLU(), new tg.Linear(9, 3));
    const seen = counting();
    const y = model.forward(tg.randn([4, 6]));
    setBackend(real);
    expect(seen.chains).toEqual([]);
    expect(seen.linears).toBe(2);
    expect(y.requiresGrad).toBe(true);
  });

  it('an activation too large for a tensor is refused with the layer-by-layer error, before any allocation', () => {
    const model = mlp(8, new tg.Linear(2, 65537), new tg.Linear(65537, 1));
    const x = tg.randn([65536, 2]);
    expect(() => tg.noGrad(() => model.forward(x))).toThrow(/\[65536, 65537\] has 4295032832 elements/);
  });

  it('a run that would fail falls back to the layers, which throw their own errors', () => {
    const model = mlp(4, new tg.Linear(4, 6), new tg.ReLU(), new tg.Linear(5, 2));
    const x = tg.randn([2, 4]);
    const inGraph = (() => {
      try {
        model.forward(x);
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    })();
    expect(inGraph).toMatch(/incompatible/);
    expect(() => tg.noGrad(() => model.forward(x))).toThrow(inGraph);
    const ok = mlp(5, new tg.Linear(4, 6), new tg.Linear(6, 2));
    expect(() => tg.noGrad(() => ok.forward(tg.randn([2, 5])))).toThrow(/incompatible/);
    (ok.layers[1] as tg.Linear).weight.dispose();
    expect(() => tg.noGrad(() => ok.forward(x))).toThrow(/disposed/);
  });

  it('predictAsync gives the bits of predict, and hands the activations between layers back to the pool', async () => {
    const model = mlp(6, new tg.Linear(20, 30), new tg.ReLU(), new tg.Linear(30, 30), new tg.ReLU(), new tg.Linear(30, 4));
    const x = tg.randn([40, 20]);
    const want = tg.predict(model, x, { batchSize: 16 });
    const got = await tg.predictAsync(model, x, { batchSize: 16 });
    expect(firstDiff(got.data as Float32Array, want.data as Float32Array)).toBe(-1);
    // One pass of 40 rows: its two [40, 30] activations (recorded as separate commands, or run
    // layer by layer on the TS backend) come back once the pass has run, and so does the call's
    // copy of the [40, 20] input.
    tg.emptyCache();
    const one = await tg.predictAsync(model, x, { batchSize: 40 });
    expect(firstDiff(one.data as Float32Array, tg.predict(model, x, { batchSize: 40 }).data as Float32Array)).toBe(-1);
    expect(pooledByteCount()).toBe(2 * 40 * 30 * 4 + 40 * 20 * 4);
  });
});
