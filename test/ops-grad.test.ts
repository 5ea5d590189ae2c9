import fc from 'fast-check';
import { expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { Generator } from '../src/random.js';
import { describeBackends } from './helpers/backends.js';
import { gradcheck, randomInput } from './helpers/gradcheck.js';
import * as R from './helpers/reference.js';

const dim = fc.integer({ min: 1, max: 4 });
const shapeArb = (minRank = 0, maxRank = 4) => fc.array(dim, { minLength: minRank, maxLength: maxRank });

/** An output shape and two operand shapes that broadcast to it (size-1 dims, dropped leading dims). */
const broadcastPair = shapeArb(0, 4).chain((out) =>
  fc.tuple(
    fc.constant(out),
    fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }),
    fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }),
    fc.integer({ min: 0, max: out.length }),
    fc.integer({ min: 0, max: out.length }),
    fc.integer(),
  ).map(([o, ka, kb, da, db, seed]) => ({
    a: o.map((d, i) => (ka[i] ? d : 1)).slice(da),
    b: o.map((d, i) => (kb[i] ? d : 1)).slice(db),
    seed,
  })),
);

const runs = { numRuns: 25 };

describeBackends('op gradients vs float64 finite differences', () => {
  for (const op of ['add', 'sub', 'mul', 'div'] as const) {
    it(`${op} with broadcasting`, () => {
      fc.assert(
        fc.property(broadcastPair, ({ a, b, seed }) => {
          const gen = new Generator(seed);
          const x = randomInput(gen, a);
          const y = randomInput(gen, b, op === 'div' ? { gap: 0.5 } : {});
          gradcheck(([p, q]) => tg[op](p!, q!), ([p, q]) => R.binaryRef(op, p!, q!), [x, y]);
        }),
        runs,
      );
    });
  }

  it('binary ops with a number operand', () => {
    const gen = new Generator(7);
    const x = randomInput(gen, [2, 3], { gap: 0.5 });
    gradcheck(([p]) => tg.div(3, p!), ([p]) => R.binaryRef('div', R.ref([3], []), p!), [x]);
    gradcheck(([p]) => p!.sub(1.5), ([p]) => R.binaryRef('sub', p!, R.ref([1.5], [])), [x]);
  });

  const unaries: { name: string; op: string; lib: (t: tg.Tensor) => tg.Tensor; input?: Parameters<typeof randomInput>[2]; p0?: number; p1?: number }[] = [
    { name: 'neg', op: 'neg', lib: (t) => t.neg() },
    { name: 'abs', op: 'abs', lib: (t) => t.abs(), input: { gap: 0.05 } },
    { name: 'sqrt', op: 'sqrt', lib: (t) => t.sqrt(), input: { positive: true, gap: 0.1 } },
    { name: 'exp', op: 'exp', lib: (t) => t.exp(), input: { scale: 3 } },
    { name: 'log', op: 'log', lib: (t) => t.log(), input: { positive: true, gap: 0.1, scale: 5 } },
    { name: 'pow 2', op: 'pow', lib: (t) => t.pow(2), p0: 2 },
    { name: 'pow 3', op: 'pow', lib: (t) => t.pow(3), p0: 3 },
    { name: 'pow -1.5', op: 'pow', lib: (t) => t.pow(-1.5), p0: -1.5, input: { positive: true, gap: 0.3 } },
    { name: 'clamp', op: 'clamp', lib: (t) => t.clamp(-0.5, 0.7), p0: -0.5, p1: 0.7, input: { scale: 1.5 } },
    { name: 'clamp (min only)', op: 'clamp', lib: (t) => t.clamp(0.2), p0: 0.2, p1: Infinity },
    { name: 'relu', op: 'relu', lib: (t) => t.relu(), input: { gap: 0.01 } },
    { name: 'leakyRelu', op: 'leakyRelu', lib: (t) => t.leakyRelu(0.1), p0: 0.1, input: { gap: 0.01 } },
    { name: 'sigmoid', op: 'sigmoid', lib: (t) => t.sigmoid(), input: { scale: 6 } },
    { name: 'tanh', op: 'tanh', lib: (t) => t.tanh(), input: { scale: 3 } },
    { name: 'gelu (exact)', op: 'geluErf', lib: (t) => t.gelu(), input: { scale: 4 } },
    { name: 'gelu (tanh)', op: 'geluTanh', lib: (t) => t.gelu('tanh'), input: { scale: 4 } },
  ];
  for (const u of unaries) {
    it(u.name, () => {
      fc.assert(
        fc.property(shapeArb(0, 3), fc.integer(), (shape, seed) => {
          const x = randomInput(new Generator(seed), shape, u.input ?? {});
          // Move points off clamp's kinks (within the finite-difference step of a bound) instead of
          // dropping the draw.
          if (u.op === 'clamp') {
            x.data = x.data.map((v) => (Math.abs(v - u.p0!) < 1e-3 || Math.abs(v - u.p1!) < 1e-3 ? Math.fround(v + 3e-3) : v));
          }
          gradcheck(([p]) => u.lib(p!), ([p]) => R.unaryRef(u.op, p!, u.p0 ?? 0, u.p1 ?? 0), [x]);
        }),
        { numRuns: 15 },
      );
    });
  }

  it('matmul 2-D @ 2-D', () => {
    fc.assert(
      fc.property(dim, dim, dim, fc.integer(), (m, k, n, seed) => {
        const gen = new Generator(seed);
        gradcheck(([a, b]) => a!.matmul(b!), ([a, b]) => R.matmulRef(a!, b!), [randomInput(gen, [m, k]), randomInput(gen, [k, n])]);
      }),
      runs,
    );
  });

  it('matmul N-D @ 2-D and 3-D @ 3-D', () => {
    fc.assert(
      fc.property(dim, dim, dim, dim, fc.integer(), (bt, m, k, n, seed) => {
        const gen = new Generator(seed);
        gradcheck(([a, b]) => a!.matmul(b!), ([a, b]) => R.matmulRef(a!, b!), [randomInput(gen, [bt, m, k]), randomInput(gen, [k, n])]);
        gradcheck(([a, b]) => a!.matmul(b!), ([a, b]) => R.matmulRef(a!, b!), [randomInput(gen, [2, bt, m, k]), randomInput(gen, [k, n])]);
        gradcheck(([a, b]) => a!.matmul(b!), ([a, b]) => R.matmulRef(a!, b!), [randomInput(gen, [bt, m, k]), randomInput(gen, [bt, k, n])]);
      }),
      { numRuns: 15 },
    );
  });

  for (const relu of [false, true]) {
    it(`${relu ? 'linearRelu' : 'linear'} (fused x·Wᵀ + b${relu ? ', ReLU' : ''}), with and without bias`, () => {
      fc.assert(
        fc.property(dim, dim, dim, fc.integer(), fc.boolean(), (m, k, n, seed, withBias) => {
          const gen = new Generator(seed);
          const xs = [randomInput(gen, [2, m, k]), randomInput(gen, [n, k])];
          if (withBias) xs.push(randomInput(gen, [n]));
          const ref = ([x, w, b]: R.Ref[]) => {
            const y = R.matmulRef(x!, R.permuteRef(w!, [1, 0]));
            const z = b ? R.binaryRef('add', y, b) : y;
            return relu ? R.unaryRef('relu', z) : z;
          };
          const lib = ([x, w, b]: tg.Tensor[]) => (relu ? tg.linearRelu(x!, w!, b) : tg.linear(x!, w!, b));
          // ReLU's kink: skip draws whose pre-activation lands within the finite-difference step of 0.
          if (relu) {
            const pre = (ts: R.Ref[]) => {
              const y = R.matmulRef(ts[0]!, R.permuteRef(ts[1]!, [1, 0]));
              return ts[2] ? R.binaryRef('add', y, ts[2]) : y;
            };
            // A counted precondition, not a silent return: fast-check fails the run if too many draws skip.
            fc.pre(!pre(xs.map((x) => R.ref(x.data, x.shape))).data.some((v) => Math.abs(v) < 1e-3));
          }
          gradcheck(lib, ref, xs);
        }),
        runs,
      );
    });
  }

  it('matmul with 1-D operands', () => {
    const gen = new Generator(3);
    gradcheck(([a, b]) => a!.matmul(b!), ([a, b]) => R.matmulRef(a!, b!), [randomInput(gen, [4]), randomInput(gen, [4, 3])]);
    gradcheck(([a, b]) => a!.matmul(b!), ([a, b]) => R.matmulRef(a!, b!), [randomInput(gen, [2, 4]), randomInput(gen, [4])]);
    gradcheck(([a, b]) => a!.matmul(b!), ([a, b]) => R.matmulRef(a!, b!), [randomInput(gen, [5]), randomInput(gen, [5])]);
  });

  it('transpose, permute, T', () => {
    fc.assert(
      fc.property(shapeArb(2, 4), fc.integer(), fc.nat(), fc.nat(), (shape, seed, i, j) => {
        const x = randomInput(new Generator(seed), shape);
        const d0 = i % shape.length;
        const d1 = j % shape.length;
        const axes = shape.map((_, k) => k);
        axes[d0] = d1;
        axes[d1] = d0;
        gradcheck(([p]) => p!.transpose(d0, d1), ([p]) => R.permuteRef(p!, axes), [x]);
        const perm = [...axes].reverse();
        gradcheck(([p]) => p!.permute(...perm), ([p]) => R.permuteRef(p!, perm), [x]);
      }),
      runs,
    );
    const x = randomInput(new Generator(1), [3, 5]);
    gradcheck(([p]) => p!.T, ([p]) => R.permuteRef(p!, [1, 0]), [x]);
  });

  it('reshape and flatten', () => {
    fc.assert(
      fc.property(shapeArb(1, 4), fc.integer(), (shape, seed) => {
        const x = randomInput(new Generator(seed), shape);
        const n = R.size(shape);
        gradcheck(([p]) => p!.reshape(-1).mul(p!.reshape(n)), ([p]) => R.binaryRef('mul', R.reshapeRef(p!, [n]), R.reshapeRef(p!, [n])), [x]);
        gradcheck(([p]) => p!.flatten(), ([p]) => R.reshapeRef(p!, [n]), [x]);
      }),
      runs,
    );
  });

  for (const op of ['sum', 'mean', 'max', 'min'] as const) {
    it(`${op} over all and along each dim, with and without keepdim`, () => {
      fc.assert(
        fc.property(shapeArb(1, 4), fc.integer(), fc.nat(), fc.boolean(), (shape, seed, d, keepdim) => {
          const x = randomInput(new Generator(seed), shape);
          const dd = d % shape.length;
          gradcheck(([p]) => tg[op](p!, dd, keepdim), ([p]) => R.reduceRef(op, p!, dd, keepdim), [x]);
          gradcheck(([p]) => tg[op](p!, -1, keepdim), ([p]) => R.reduceRef(op, p!, -1, keepdim), [x]);
          gradcheck(([p]) => tg[op](p!, null, keepdim), ([p]) => R.reduceRef(op, p!, null, keepdim), [x]);
        }),
        { numRuns: 15 },
      );
    });
  }

  for (const log of [false, true]) {
    it(`${log ? 'logSoftmax' : 'softmax'} along any dim`, () => {
      fc.assert(
        fc.property(shapeArb(1, 4), fc.integer(), fc.nat(), (shape, seed, d) => {
          const x = randomInput(new Generator(seed), shape, { scale: 4 });
          const dd = d % shape.length;
          gradcheck(([p]) => (log ? p!.logSoftmax(dd) : p!.softmax(dd)), ([p]) => R.softmaxRef(p!, dd, log), [x]);
        }),
        runs,
      );
    });
  }

  it('indexSelect with repeated rows', () => {
    fc.assert(
      fc.property(shapeArb(1, 3), fc.integer(), fc.array(fc.nat(), { maxLength: 8 }), (shape, seed, picks) => {
        const x = randomInput(new Generator(seed), shape);
        const idx = picks.map((p) => p % shape[0]!);
        gradcheck(([p]) => p!.indexSelect(tg.tensor(idx)), ([p]) => R.indexSelectRef(p!, idx), [x]);
        gradcheck(([p]) => tg.indexSelect(p!, Int32Array.from(idx)), ([p]) => R.indexSelectRef(p!, idx), [x]);
      }),
      runs,
    );
  });

  it('concat and stack along any dim', () => {
    fc.assert(
      fc.property(shapeArb(1, 3), fc.integer(), fc.nat(), dim, dim, (shape, seed, d, w1, w2) => {
        const gen = new Generator(seed);
        const dd = d % shape.length;
        const with_ = (w: number) => shape.map((s, i) => (i === dd ? w : s));
        const xs = [randomInput(gen, with_(w1)), randomInput(gen, with_(w2)), randomInput(gen, shape)];
        gradcheck((ts) => tg.concat(ts, dd), (rs) => R.concatRef(rs, dd), xs);
        const same = [randomInput(gen, shape), randomInput(gen, shape)];
        const sd = d % (shape.length + 1);
        const unsq = (r: R.Ref): R.Ref => R.reshapeRef(r, [...r.shape.slice(0, sd), 1, ...r.shape.slice(sd)]);
        gradcheck((ts) => tg.stack(ts, sd), (rs) => R.concatRef(rs.map(unsq), sd), same);
      }),
      runs,
    );
  });

  it('slice along dim 0 (with negative and clipped bounds)', () => {
    fc.assert(
      fc.property(shapeArb(1, 3), fc.integer(), fc.integer({ min: -5, max: 5 }), fc.integer({ min: -5, max: 6 }), (shape, seed, s, e) => {
        const x = randomInput(new Generator(seed), shape);
        const n = shape[0]!;
        const clip = (v: number) => Math.min(n, Math.max(0, v < 0 ? v + n : v));
        const lo = clip(s);
        const hi = Math.max(lo, clip(e));
        // An empty slice too: its gradient is all zeros.
        gradcheck(([p]) => p!.slice(s, e), ([p]) => R.sliceRef(p!, lo, hi), [x]);
      }),
      runs,
    );
  });

  it('a composite expression reusing inputs (diamond graph)', () => {
    const gen = new Generator(11);
    const xs = [randomInput(gen, [3, 4]), randomInput(gen, [4, 2]), randomInput(gen, [2])];
    gradcheck(
      ([x, w, b]) => x!.matmul(w!).add(b!).tanh().mul(x!.sum(1, true)).softmax(1),
      ([x, w, b]) =>
        R.softmaxRef(R.binaryRef('mul', R.unaryRef('tanh', R.binaryRef('add', R.matmulRef(x!, w!), b!)), R.reduceRef('sum', x!, 1, true)), 1, false),
      xs,
    );
  });

  it('gelu tanh keeps its relative accuracy on the negative tail (x = −3 … −10), forward and gradient', () => {
    const xs = Array.from({ length: 57 }, (_, i) => Math.fround(-3 - i / 8));
    const x = tg.tensor(xs, { requiresGrad: true });
    const y = x.gelu('tanh');
    y.backward(tg.onesLike(y));
    // Float64 reference: 0.5·x·(1 + tanh u) = x / (1 + e^(−2u)), u = √(2/π)(x + 0.044715x³); its
    // derivative by central differences.
    const f = (v: number) => v / (1 + Math.exp(-2 * Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
    xs.forEach((v, i) => {
      const want = f(v);
      const h = 1e-6 * Math.abs(v);
      const dwant = (f(v + h) - f(v - h)) / (2 * h);
      expect(Math.abs(y.data[i]! - want), `gelu(${v}) = ${y.data[i]}, want ${want}`).toBeLessThanOrEqual(1e-5 * Math.abs(want));
      expect(Math.abs(x.grad!.data[i]! - dwant), `gelu'(${v}) = ${x.grad!.data[i]}, want ${dwant}`).toBeLessThanOrEqual(1e-5 * Math.abs(dwant));
    });
  });

  it('gelu (erf form) keeps its relative accuracy on the negative tail (x = −3 … −10), forward and gradient', () => {
    const xs = Array.from({ length: 57 }, (_, i) => Math.fround(-3 - i / 8));
    const x = tg.tensor(xs, { requiresGrad: true });
    const y = x.gelu();
    y.backward(tg.onesLike(y));
    // Float64 reference: Φ(x) = erfc(z)/2, z = −x/√2 ≥ 2.1, from erfc's continued fraction
    // erfc(z) = e^(−z²)/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + …)))), evaluated bottom-up.
    const phi = (v: number) => {
      const z = -v / Math.SQRT2;
      let f = z;
      for (let k = 200; k >= 1; k--) f = z + k / 2 / f;
      return Math.exp(-z * z) / Math.sqrt(Math.PI) / f / 2;
    };
    xs.forEach((v, i) => {
      const want = v * phi(v);
      const dwant = phi(v) + (v * Math.exp(-v * v / 2)) / Math.sqrt(2 * Math.PI);
      expect(Math.abs(y.data[i]! - want), `gelu(${v}) = ${y.data[i]}, want ${want}`).toBeLessThanOrEqual(1e-5 * Math.abs(want));
      expect(Math.abs(x.grad!.data[i]! - dwant), `gelu'(${v}) = ${x.grad!.data[i]}, want ${dwant}`).toBeLessThanOrEqual(1e-5 * Math.abs(dwant));
    });
  });

  /** Float64 reference losses, reduced like the library's. */
  const reduceRef = (l: number[], shape: number[], reduction: 'mean' | 'sum' | 'none'): R.Ref =>
    reduction === 'none' ? R.ref(l, shape) : R.ref([l.reduce((a, b) => a + b, 0) / (reduction === 'mean' ? l.length : 1)], []);
  for (const reduction of ['mean', 'sum', 'none'] as const) {
    it(`bceWithLogits and bce differentiate their target too (reduction ${reduction})`, () => {
      const gen = new Generator(21);
      const softplus = (v: number) => Math.log1p(Math.exp(-Math.abs(v))) + Math.max(v, 0);
      const logits = randomInput(gen, [3, 4], { scale: 6 });
      const targets = randomInput(gen, [3, 4], { positive: true });
      const pw = tg.tensor([0.5, 1, 2, 3]);
      for (const posWeight of [undefined, pw]) {
        gradcheck(
          ([x, y]) => tg.bceWithLogits(x!, y!, { reduction, posWeight }),
          ([x, y]) => {
            const l = Array.from(x!.data, (v, i) => {
              const t = y!.data[i]!;
              const w = posWeight ? posWeight.data[i % 4]! : 1;
              // (1 − y)·x + (1 + (w − 1)·y)·softplus(−x), PyTorch's formula
              return (1 - t) * v + (1 + (w - 1) * t) * softplus(-v);
            });
            return reduceRef(l, x!.shape, reduction);
          },
          [logits, targets],
        );
      }
      const probs = randomInput(gen, [3, 4], { positive: true, gap: 0.05, scale: 0.95 });
      gradcheck(
        ([p, y]) => tg.bce(p!, y!, { reduction }),
        ([p, y]) => reduceRef(Array.from(p!.data, (v, i) => -(y!.data[i]! * Math.log(v) + (1 - y!.data[i]!) * Math.log(1 - v))), p!.shape, reduction),
        [probs, targets],
      );
    });
  }
});
