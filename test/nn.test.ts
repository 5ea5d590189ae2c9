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

  it('train()/eval() reach every module: fields, Sequential, Ensemble, and containers with their own namedChildren', () => {
    class Bag extends tg.Module {
      // Children kept in a Map: only this class's namedChildren() knows where they are.
      parts = new Map<string, tg.Module>([['a', new tg.Dropout(0.3)], ['b', mlp()]]);
      override *namedChildren(): ReturnType<tg.Module["namedChildren"]> {
        yield* this.parts.entries();
      }
      forward(x: tg.Tensor) {
        return x;
      }
    }
    class Net extends tg.Module {
      bag = new Bag();
      seq = new tg.Sequential(mlp(), new tg.Dropout(0.1));
      ens = new tg.Ensemble([mlp(), mlp()]);
      forward(x: tg.Tensor) {
        return x;
      }
    }
    const net = new Net();
    const all = (): tg.Module[] => [...net.namedModules()].map(([, m]) => m);
    // net, bag, its Dropout and mlp (5: Sequential + 4 layers), seq + its mlp + Dropout, ens + two mlps
    expect(all().length).toBe(1 + 1 + 1 + 5 + (1 + 5 + 1) + (1 + 2 * 5));
    net.eval();
    expect(all().filter((m) => m.training)).toEqual([]);
    net.train();
    expect(all().filter((m) => !m.training)).toEqual([]);
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

  it('loadStateDict(null) and other non-objects: a clear error', () => {
    const m = mlp();
    for (const [v, got] of [[null, 'null'], [undefined, 'undefined'], [[], 'an array'], ['w', "string 'w'"], [tg.zeros([2]), 'Tensor']] as const) {
      expect(() => m.loadStateDict(v as unknown as Record<string, tg.Tensor>)).toThrow(`loadStateDict: expected an object mapping names to Tensors, got ${got}`);
    }
    expect(() => m.loadStateDict(m.stateDict(), 'no' as unknown as boolean)).toThrow("loadStateDict: strict must be a boolean, got string 'no'");
  });

  it('loadStateDict checks every value before copying any: forged, plain-array and transferred values are refused by key', () => {
    const m = mlp();
    const before = m.parameters().map((p) => Array.from(p.data));
    const good = Object.fromEntries(Object.entries(m.stateDict()).map(([k, v]) => [k, tg.ones(v.shape)]));
    // Passes `instanceof Tensor` and has the right shape, but its data covers 2 of 24 values (the issue).
    const fake = Object.create(tg.Tensor.prototype, { shape: { value: [3, 8] }, data: { value: new Float32Array(2).fill(5) } }) as tg.Tensor;
    expect(() => m.loadStateDict({ ...good, '3.weight': fake })).toThrow(
      'loadStateDict: invalid values: 3.weight: not a valid Tensor (an object posing as one, not made by the Tensor constructor)',
    );
    expect(() => m.loadStateDict({ ...good, '0.bias': [1, 2, 3, 4, 5, 6, 7, 8] as unknown as tg.Tensor })).toThrow(
      'loadStateDict: invalid values: 0.bias: expected a Tensor, got an array',
    );
    const gone = tg.ones([3]);
    structuredClone(gone.data.buffer, { transfer: [gone.data.buffer as ArrayBuffer] });
    expect(() => m.loadStateDict({ ...good, '3.bias': gone })).toThrow('loadStateDict: invalid values: 3.bias: tensor data was detached (transferred or resized)');
    expect(m.parameters().map((p) => Array.from(p.data))).toEqual(before);
    m.loadStateDict(good);
    expect(m.parameters().every((p) => Array.from(p.data).every((v) => v === 1))).toBe(true);
  });

  it('loadStateDict copies a dict whose values view other parameters as if it had copied them first', () => {
    const m = new tg.Sequential(new tg.Linear(2, 2), new tg.Linear(2, 2));
    const sd = m.stateDict();
    const w0 = Array.from(sd['0.weight']!.data);
    const w1 = Array.from(sd['1.weight']!.data);
    m.loadStateDict({ ...sd, '0.weight': sd['1.weight']!, '1.weight': sd['0.weight']! });
    expect(Array.from((m.stateDict()['0.weight'] as tg.Tensor).data)).toEqual(w1);
    expect(Array.from((m.stateDict()['1.weight'] as tg.Tensor).data)).toEqual(w0);
  });

  it("loadStateDict counts only a dict's own keys (a parameter named like an Object method is missing from {})", () => {
    class Odd extends tg.Module {
      override valueOf = tg.parameter(tg.zeros([2]));
      forward(x: tg.Tensor) {
        return x;
      }
    }
    expect(new Odd().loadStateDict({}, false).missingKeys).toEqual(['valueOf']);
    expect(() => new Odd().loadStateDict({})).toThrow('loadStateDict: missing keys: valueOf');
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

  it('GELU (exact) takes ±Infinity to its limits, with gradients 1 and 0, on both backends', () => {
    // The TS backend computed −∞·0 = NaN here, where the native kernel gives the limits.
    const x = tg.tensor([-Infinity, Infinity, -1], { requiresGrad: true });
    const y = new tg.GELU().forward(x);
    y.sum().backward();
    expect(y.toArray()).toEqual([-0, Infinity, expect.closeTo(-0.158655, 5)]);
    expect(Array.from(x.grad!.data.subarray(0, 2), (v) => v + 0)).toEqual([0, 1]); // -0 from native is 0
  });

  it('LogSoftmax keeps log Σ when the logits are huge and tied (no max + log Σ rounding)', () => {
    // 3e38 + log 2 rounds to 3e38 in float64, so x − (max + log Σ) lost the log 2 on the TS backend.
    const x = tg.tensor([[3e38, 3e38, 1, 2]], { requiresGrad: true });
    const y = new tg.LogSoftmax(1).forward(x);
    expect(Array.from(y.data.subarray(0, 2))).toEqual([expect.closeTo(-Math.LN2, 6), expect.closeTo(-Math.LN2, 6)]);
    y.backward(tg.tensor([[1, 2, 3, 4]]));
    // gx = gy − softmax·Σgy = gy − [½, ½, 0, 0]·10
    expect(x.grad!.toArray()).toEqual([[-4, -3, 3, 4]]);
  });

  it('layer arguments are checked with the layer named', () => {
    expect(() => new tg.Linear(1, 2 ** 53)).toThrow(/^Linear: a weight \[outFeatures, inFeatures\] = \[9007199254740992, 1\] has 9007199254740992 elements, more than the 4294967295/);
    expect(() => new tg.Linear(1e300, 2)).toThrow(/^Linear: a weight .* = \[2, 1e\+300\]/);
    expect(() => new tg.Linear(0, 2 ** 40)).toThrow(/^Linear: a weight/);
    expect(() => new tg.Sequential(new tg.ReLU(), 'relu' as unknown as tg.Module)).toThrow("Sequential: argument 1 must be a Module, got string 'relu'");
    const seq = new tg.Sequential(new tg.Linear(3, 2), new tg.ReLU());
    // Array.prototype.at reads 'x' as 0 and 1.5 as 1: each would return a layer.
    expect(() => seq.at('x' as unknown as number)).toThrow("Sequential.at: index must be an integer, got string 'x'");
    expect(() => seq.at(1.5)).toThrow('Sequential.at: index must be an integer, got 1.5');
    expect(seq.at(-1)).toBeInstanceOf(tg.ReLU);
  });
});

describe('init', () => {
  it('gains', () => {
    expect(tg.init.calculateGain('relu')).toBe(Math.SQRT2);
    expect(tg.init.calculateGain('tanh')).toBe(5 / 3);
    expect(tg.init.calculateGain('selu')).toBe(3 / 4);
    expect(tg.init.calculateGain('sigmoid')).toBe(1);
    expect(tg.init.calculateGain('leaky_relu')).toBe(Math.sqrt(2 / (1 + 0.01 ** 2)));
    expect(tg.init.calculateGain('leaky_relu', 0.2)).toBe(Math.sqrt(2 / 1.04));
  });

  it('xavier and kaiming have the documented bounds and spreads', () => {
    tg.manualSeed(7);
    const w = tg.zeros([300, 200]);
    // 60,000 seeded draws: the sample std is within 1% of the true one (its own error is ~0.3%).
    const expectStd = (t: tg.Tensor, want: number) => {
      const got = Math.sqrt(t.pow(2).mean().item());
      expect(Math.abs(got - want) / want).toBeLessThan(0.01);
    };
    const maxAbs = (t: tg.Tensor) => Math.max(...Array.from(t.data).map(Math.abs));
    tg.init.xavierUniform_(w);
    const a = Math.sqrt(6 / 500);
    expect(maxAbs(w)).toBeLessThanOrEqual(a);
    expect(maxAbs(w)).toBeGreaterThan(0.999 * a);
    expectStd(w, a / Math.sqrt(3));
    tg.init.xavierNormal_(w, 2);
    expectStd(w, 2 * Math.sqrt(2 / 500));
    tg.init.kaimingUniform_(w, { nonlinearity: 'relu' });
    const bound = Math.sqrt(6 / 200);
    expect(maxAbs(w)).toBeLessThanOrEqual(bound);
    expect(maxAbs(w)).toBeGreaterThan(0.999 * bound);
    expectStd(w, bound / Math.sqrt(3));
    tg.init.kaimingNormal_(w, { mode: 'fanOut', nonlinearity: 'relu' });
    expectStd(w, Math.sqrt(2 / 300));
    tg.init.kaimingNormal_(w);
    expectStd(w, Math.sqrt(2 / 200));
    expect(tg.init.constant_(tg.zeros([2]), 3).toArray()).toEqual([3, 3]);
  });

  it('arguments are checked: a misspelt mode or nonlinearity is refused, not silently replaced', () => {
    const w = tg.zeros([3, 4]);
    // Before the check, PyTorch's 'fan_in' spelling silently meant fanOut here.
    expect(() => tg.init.kaimingUniform_(w, { mode: 'fan_in' as 'fanIn' })).toThrow("kaimingUniform_: mode must be 'fanIn' or 'fanOut', got string 'fan_in'");
    expect(() => tg.init.kaimingNormal_(w, { nonlinearity: 'Relu' as 'relu' })).toThrow("kaimingNormal_: unknown nonlinearity string 'Relu'");
    expect(() => tg.init.kaimingNormal_(w, { a: 'x' as unknown as number })).toThrow("kaimingNormal_: a must be a finite number, got string 'x'");
    expect(() => tg.init.kaimingNormal_(w, { negativeSlope: 0.1 } as object)).toThrow("kaimingNormal_: unknown option 'negativeSlope'");
    expect(() => tg.init.uniform_(w, 1, 0)).toThrow('uniform_: expected a <= b, got a 1 > b 0');
    expect(() => tg.init.uniform_(w, 0, Infinity)).toThrow('uniform_: b must be a finite number, got Infinity');
    expect(() => tg.init.normal_(w, 0, -1)).toThrow('normal_: std must be >= 0, got -1');
    expect(() => tg.init.normal_(w, '0' as unknown as number)).toThrow("normal_: mean must be a finite number, got string '0'");
    expect(() => tg.init.xavierUniform_(w, -1)).toThrow('xavierUniform_: gain must be >= 0, got -1');
    expect(() => tg.init.constant_(w, '1' as unknown as number)).toThrow("constant_: value must be a number, got string '1'");
    expect(() => tg.init.ones_([1, 2] as unknown as tg.Tensor)).toThrow('ones_: tensor: expected a Tensor, got an array');
    expect(() => tg.init.calculateGain('leaky_relu', NaN)).toThrow('calculateGain: negative slope (param) must be a finite number, got NaN');
    // Each initialiser names itself, also where it delegates (zeros_ → constant_, xavier → calculateFans).
    expect(() => tg.init.zeros_(1n as unknown as tg.Tensor)).toThrow('zeros_: tensor: expected a Tensor, got bigint 1n');
    expect(() => tg.init.calculateFans({ shape: [] } as unknown as tg.Tensor)).toThrow('calculateFans: tensor: expected a Tensor, got Object');
    expect(() => tg.init.calculateFans(tg.zeros([3]))).toThrow('calculateFans: fan in and fan out need a tensor with at least 2 dims, got [3]');
    expect(() => tg.init.xavierUniform_(tg.zeros([3]))).toThrow('xavierUniform_: fan in and fan out need a tensor with at least 2 dims');
    expect(() => tg.init.kaimingUniform_(w, { nonlinearity: 'gelu' as 'relu' })).toThrow("kaimingUniform_: unknown nonlinearity string 'gelu'");
    // PyTorch's uniform_ refuses a range wider than float32 can hold: its draws would be ±Infinity.
    expect(() => tg.init.uniform_(w, -3e38, 3e38)).toThrow(/^uniform_: b - a must be at most 3.40282\d*e\+38/);
    expect(Array.from(w.data).every((v) => v === 0)).toBe(true);
    // NaN is a value constant_ may write (torch.nn.init.constant_ allows it).
    expect(Number.isNaN(tg.init.constant_(tg.zeros([1]), NaN).data[0])).toBe(true);
  });

  it('a transferred tensor is refused (writing into it would silently do nothing)', () => {
    const w = tg.zeros([3, 4]);
    structuredClone(w.data.buffer, { transfer: [w.data.buffer as ArrayBuffer] });
    for (const f of [() => tg.init.zeros_(w), () => tg.init.uniform_(w), () => tg.init.kaimingUniform_(w), () => tg.init.xavierNormal_(w)]) {
      expect(f).toThrow(/_: tensor: tensor data was detached \(transferred or resized\)/);
    }
  });

  it('a zero-element tensor is left as it is (PyTorch: a no-op), whatever its fans', () => {
    for (const shape of [[3, 0], [0, 3]]) {
      const w = tg.zeros(shape);
      expect(tg.init.kaimingUniform_(w)).toBe(w);
      expect(tg.init.kaimingNormal_(w, { mode: 'fanOut' })).toBe(w);
      expect(tg.init.xavierUniform_(w)).toBe(w);
      expect(tg.init.xavierNormal_(w)).toBe(w);
    }
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
