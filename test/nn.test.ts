import { describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { describeBackends } from './helpers/backends.js';
import { gradcheck, randomInput } from './helpers/gradcheck.js';
import * as R from './helpers/reference.js';
import { Generator } from '../src/random.js';

const mlp = () => new tg.Sequential(new tg.Linear(4, 8), new tg.ReLU(), new tg.Dropout(0.5), new tg.Linear(8, 3));

describe('Module', () => {
  it('names parameters like PyTorch and finds children', () => {
    const m = mlp();
    expect([...m.namedParameters()].map(([k, p]) => [k, p.shape])).toEqual([
      ['0.weight', [8, 4]],
      ['0.bias', [8]],
      ['3.weight', [3, 8]],
      ['3.bias', [3]],
    ]);
    expect([...m.children()].map((c) => c.constructor.name)).toEqual(['Linear', 'ReLU', 'Dropout', 'Linear']);
    expect(m.parameters().every((p) => p.requiresGrad)).toBe(true);
    class Net extends tg.Module {
      encoder = new tg.Linear(2, 3);
      head = new tg.Sequential(new tg.Tanh(), new tg.Linear(3, 1, { bias: false }));
      forward(x: tg.Tensor) {
        return this.head.forward(this.encoder.forward(x));
      }
    }
    expect(Object.keys(new Net().stateDict())).toEqual(['encoder.weight', 'encoder.bias', 'head.1.weight']);
  });

  it('train()/eval() propagate; zeroGrad clears', () => {
    const m = mlp();
    m.eval();
    expect([...m.namedModules()].every(([, x]) => !x.training)).toBe(true);
    m.train();
    expect([...m.namedModules()].every(([, x]) => x.training)).toBe(true);
    tg.crossEntropy(m.forward(tg.randn([5, 4])), tg.tensor([0, 1, 2, 0, 1])).backward();
    expect(m.parameters().every((p) => p.grad !== null)).toBe(true);
    m.zeroGrad();
    expect(m.parameters().every((p) => p.grad === null)).toBe(true);
  });

  it('stateDict round trip restores a model exactly', () => {
    tg.manualSeed(1);
    const a = mlp().eval();
    const b = mlp().eval();
    const x = tg.randn([6, 4]);
    expect(a.forward(x).data).not.toEqual(b.forward(x).data);
    const saved = Object.fromEntries(Object.entries(a.stateDict()).map(([k, v]) => [k, v.clone()]));
    b.loadStateDict(saved);
    expect(Array.from(b.forward(x).data)).toEqual(Array.from(a.forward(x).data));
  });

  it('loading a mismatched dict names the missing, unexpected and mis-shaped keys', () => {
    const m = mlp();
    const sd = m.stateDict();
    const bad: Record<string, tg.Tensor> = { ...sd, extra: tg.zeros([1]), '3.weight': tg.zeros([3, 9]) };
    delete bad['0.bias'];
    expect(() => m.loadStateDict(bad)).toThrow(/missing keys: 0\.bias\. unexpected keys: extra\. size mismatch: 3\.weight: expected \[3, 8\], got \[3, 9\]/);
    const partial: Record<string, tg.Tensor> = { '0.weight': sd['0.weight']!.clone() };
    expect(m.loadStateDict(partial, false).missingKeys).toEqual(['0.bias', '3.weight', '3.bias']);
  });

  it('summary lists output shapes and parameter counts', () => {
    const s = tg.summary(new tg.Sequential(new tg.Flatten(), new tg.Linear(784, 128), new tg.ReLU(), new tg.Linear(128, 10)), [2, 28, 28]);
    expect(s.totalParams).toBe(784 * 128 + 128 + 128 * 10 + 10);
    expect(s.layers.map((l) => [l.type, l.outputShape, l.params])).toEqual([
      ['Sequential', [2, 10], 0],
      ['Flatten', [2, 784], 0],
      ['Linear', [2, 128], 100480],
      ['ReLU', [2, 128], 0],
      ['Linear', [2, 10], 1290],
    ]);
    expect(s.text).toContain('Total params: 101,770');
  });
});

describeBackends('layers', () => {
  it("Linear's default init is U(±1/√in) for weight and bias, seeded", () => {
    tg.manualSeed(3);
    const l = new tg.Linear(400, 50);
    const bound = 1 / Math.sqrt(400);
    for (const p of [l.weight, l.bias!]) {
      const v = Array.from(p.data);
      expect(Math.max(...v.map(Math.abs))).toBeLessThanOrEqual(bound);
      expect(Math.max(...v.map(Math.abs))).toBeGreaterThan(0.9 * bound);
    }
    tg.manualSeed(3);
    expect(Array.from(new tg.Linear(400, 50).weight.data)).toEqual(Array.from(l.weight.data));
  });

  it('Sequential fuses Linear+ReLU with the same result as running them apart', () => {
    tg.manualSeed(4);
    const m = new tg.Sequential(new tg.Linear(30, 20), new tg.ReLU(), new tg.Linear(20, 5));
    const x = tg.randn([7, 30]);
    const fused = m.forward(x);
    tg.Sequential.fuse = false;
    const apart = m.forward(x);
    tg.Sequential.fuse = true;
    for (let i = 0; i < fused.size; i++) expect(fused.data[i]).toBeCloseTo(apart.data[i]!, 6);
  });

  it('Dropout keeps the mean in train mode, is the identity in eval mode, and is reproducible', () => {
    const d = new tg.Dropout(0.3);
    const x = tg.ones([200_000]);
    tg.manualSeed(5);
    const y = d.forward(x);
    const zeros = Array.from(y.data).filter((v) => v === 0).length;
    // Binomial(2e5, 0.3): standard deviation ≈ 205; allow 5 of them.
    expect(Math.abs(zeros - 60_000)).toBeLessThan(1025);
    expect(Math.abs(y.mean().item() - 1)).toBeLessThan(0.01);
    expect(new Set(Array.from(y.data))).toEqual(new Set([0, Math.fround(1 / 0.7)]));
    tg.manualSeed(5);
    expect(Array.from(d.forward(x).data)).toEqual(Array.from(y.data));
    d.eval();
    expect(d.forward(x)).toBe(x);
  });

  it('Dropout passes gradient only through kept elements, scaled', () => {
    tg.manualSeed(6);
    const x = tg.ones([1000], { requiresGrad: true });
    const y = tg.dropout(x, 0.5);
    y.sum().backward();
    expect(Array.from(x.grad!.data)).toEqual(Array.from(y.data));
  });

  it('activation layers match their ops', () => {
    const x = tg.tensor([[-2, -0.5, 0.5, 3]]);
    expect(new tg.LeakyReLU(0.2).forward(x).toArray()).toEqual(x.leakyRelu(0.2).toArray());
    expect(new tg.GELU('tanh').forward(x).toArray()).toEqual(x.gelu('tanh').toArray());
    expect(new tg.LogSoftmax(1).forward(x).toArray()).toEqual(x.logSoftmax(1).toArray());
    expect(new tg.Identity().forward(x)).toBe(x);
    expect(new tg.Flatten(0).forward(x).shape).toEqual([4]);
  });
});

describe('init', () => {
  it('gains', () => {
    expect(tg.init.calculateGain('relu')).toBeCloseTo(Math.SQRT2);
    expect(tg.init.calculateGain('tanh')).toBeCloseTo(5 / 3);
    expect(tg.init.calculateGain('leaky_relu', 0.2)).toBeCloseTo(Math.sqrt(2 / 1.04));
  });

  it('xavier and kaiming have the documented bounds and spreads', () => {
    tg.manualSeed(7);
    const w = tg.zeros([300, 200]);
    const std = (t: tg.Tensor) => Math.sqrt(t.pow(2).mean().item());
    tg.init.xavierUniform_(w);
    const a = Math.sqrt(6 / 500);
    expect(Math.max(...Array.from(w.data).map(Math.abs))).toBeLessThanOrEqual(a);
    expect(std(w)).toBeCloseTo(a / Math.sqrt(3), 2);
    tg.init.xavierNormal_(w, 2);
    expect(std(w)).toBeCloseTo(2 * Math.sqrt(2 / 500), 2);
    tg.init.kaimingUniform_(w, { nonlinearity: 'relu' });
    expect(Math.max(...Array.from(w.data).map(Math.abs))).toBeLessThanOrEqual(Math.sqrt(6 / 200));
    tg.init.kaimingNormal_(w, { mode: 'fanOut', nonlinearity: 'relu' });
    expect(std(w)).toBeCloseTo(Math.sqrt(2 / 300), 2);
    expect(tg.init.constant_(tg.zeros([2]), 3).toArray()).toEqual([3, 3]);
  });
});

describeBackends('loss gradients vs float64 finite differences', () => {
  const gen = new Generator(21);
  const mean = (r: R.Ref): R.Ref => R.reduceRef('mean', r, null, false);
  it('mseLoss and l1Loss, every reduction', () => {
    const x = randomInput(gen, [3, 4]);
    const y = randomInput(gen, [3, 4]);
    const d = ([a]: R.Ref[]) => R.binaryRef('sub', a!, R.ref(y.data, y.shape));
    gradcheck(([a]) => tg.mseLoss(a!, tg.tensor(y.data, y.shape)), (r) => mean(R.unaryRef('pow', d(r), 2)), [x]);
    gradcheck(([a]) => tg.mseLoss(a!, tg.tensor(y.data, y.shape), { reduction: 'sum' }), (r) => R.reduceRef('sum', R.unaryRef('pow', d(r), 2), null, false), [x]);
    gradcheck(([a]) => tg.l1Loss(a!, tg.tensor(y.data, y.shape), { reduction: 'none' }), (r) => R.unaryRef('abs', d(r)), [x]);
  });

  for (const reduction of ['mean', 'sum', 'none'] as const) {
    it(`crossEntropy (indices, probabilities, smoothing, ignored rows) and nllLoss, reduction ${reduction}`, () => {
      const logits = randomInput(gen, [5, 4], { scale: 3 });
      const idx = [0, 3, 1, -100, 2];
      const valid = idx.filter((t) => t !== -100).length;
      const ceRef = (eps: number, targets: number[][]) => ([z]: R.Ref[]) => {
        const ls = R.softmaxRef(z!, 1, true);
        const rows = targets.map((t, r) => (t.length === 0 ? 0 : -t.reduce((s, ti, c) => s + ((1 - eps) * ti + eps / 4) * ls.data[r * 4 + c]!, 0)));
        const out = R.ref(rows, [5]);
        if (reduction === 'none') return out;
        const s = rows.reduce((a, b) => a + b, 0);
        return R.ref([reduction === 'sum' ? s : s / (targets.filter((t) => t.length).length)], []);
      };
      const onehot = idx.map((t) => (t === -100 ? [] : [0, 1, 2, 3].map((c) => (c === t ? 1 : 0))));
      gradcheck(([z]) => tg.crossEntropy(z!, tg.tensor(idx), { reduction }), ceRef(0, onehot), [logits]);
      gradcheck(([z]) => tg.crossEntropy(z!, tg.tensor(idx), { reduction, labelSmoothing: 0.1 }), ceRef(0.1, onehot), [logits]);
      const probs = [0, 1, 2, 3, 4].map(() => {
        const r = [0, 1, 2, 3].map(() => Math.fround(gen.nextDouble()));
        const s = r.reduce((a, b) => a + b, 0);
        return r.map((v) => Math.fround(v / s));
      });
      gradcheck(([z]) => tg.crossEntropy(z!, tg.tensor(probs), { reduction }), ceRef(0, probs), [logits]);
      const nllRef = ([z]: R.Ref[]) => {
        const rows = idx.map((t, r) => (t === -100 ? 0 : -z!.data[r * 4 + t]!));
        if (reduction === 'none') return R.ref(rows, [5]);
        const s = rows.reduce((a, b) => a + b, 0);
        return R.ref([reduction === 'sum' ? s : s / valid], []);
      };
      gradcheck(([z]) => tg.nllLoss(z!, tg.tensor(idx), { reduction }), nllRef, [logits]);
    });
  }

  it('bceWithLogits (with posWeight, stable at ±40) and bce', () => {
    const x = randomInput(gen, [2, 3], { scale: 4 });
    x.data[0] = 40;
    x.data[1] = -40;
    const y = [1, 0, 1, 0.3, 0, 1];
    const pw = [2, 0.5, 1];
    const softplus = (v: number) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
    const ref = (withPw: boolean) => ([z]: R.Ref[]) =>
      mean(R.ref(z!.data.map((v, i) => (1 - y[i]!) * v + (1 + ((withPw ? pw[i % 3]! : 1) - 1) * y[i]!) * softplus(-v)), [2, 3]));
    gradcheck(([z]) => tg.bceWithLogits(z!, tg.tensor(y, [2, 3])), ref(false), [x]);
    gradcheck(([z]) => tg.bceWithLogits(z!, tg.tensor(y, [2, 3]), { posWeight: tg.tensor(pw) }), ref(true), [x]);
    const p = randomInput(gen, [2, 3], { positive: true, gap: 0.05, scale: 0.95 });
    gradcheck(
      ([z]) => tg.bce(z!, tg.tensor(y, [2, 3])),
      ([z]) => mean(R.ref(z!.data.map((v, i) => -(y[i]! * Math.log(v) + (1 - y[i]!) * Math.log(1 - v))), [2, 3])),
      [p],
    );
  });

  it('loss argument errors', () => {
    expect(() => tg.mseLoss(tg.zeros([2, 3]), tg.zeros([3, 2]))).toThrow('mseLoss: input [2, 3] and target [3, 2] must have the same shape');
    expect(() => tg.crossEntropy(tg.zeros([2, 3]), tg.tensor([0, 3]))).toThrow(/target 3 at row 1/);
    expect(() => tg.crossEntropy(tg.zeros([2, 3]), tg.zeros([3]))).toThrow(/class indices \[2\] or probabilities \[2, 3\]/);
    expect(() => tg.mseLoss(tg.zeros([2]), tg.zeros([2]), { reduction: 'avg' as 'mean' })).toThrow(/reduction must be/);
  });
});
