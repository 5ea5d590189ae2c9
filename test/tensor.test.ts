import { describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { argmaxIndices, argminIndices } from '../src/ops/reduce.js';
import { describeBackends } from './helpers/backends.js';

describe('creation', () => {
  it('infers shapes from nested arrays', () => {
    const t = tg.tensor([[1, 2, 3], [4, 5, 6]]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.ndim).toBe(2);
    expect(t.size).toBe(6);
    expect(Array.from(t.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(tg.tensor(5).shape).toEqual([]);
    expect(tg.tensor(5).item()).toBe(5);
    expect(tg.tensor([]).shape).toEqual([0]);
  });

  it('keeps a frozen shape of its own, shared only between tensors of the same small shape', () => {
    for (const dims of [[], [7], [3, 4], [2, 3, 4], [0, 5]]) {
      const given = dims.slice();
      const a = new tg.Tensor(new Float32Array(dims.reduce((p, d) => p * d, 1)), given);
      expect(Object.isFrozen(a.shape)).toBe(true);
      expect(a.shape).not.toBe(given);
      expect(a.shape).toEqual(dims);
      given.push(9);
      expect(a.shape).toEqual(dims);
      expect(() => (a.shape as number[]).push(1)).toThrow(TypeError);
      expect(tg.zeros(dims).shape).toEqual(dims);
    }
    // A dim of -0 passes the shape checks; it reads back as 0 whichever shape came first.
    expect(Object.is(tg.zeros([-0, 2]).shape[0], 0)).toBe(true);
    expect(Object.is(tg.zeros([0, 2]).shape[0], 0)).toBe(true);
    expect(Object.is(tg.zeros([-0]).shape[0], 0)).toBe(true);
    // Past the number of shapes kept for sharing, each tensor gets a frozen copy of its own.
    for (let i = 0; i < 5000; i++) expect(tg.zeros([0, 100000 + i]).shape).toEqual([0, 100000 + i]);
    const late = tg.zeros([0, 1e6 + 7]);
    expect(Object.isFrozen(late.shape)).toBe(true);
    expect(late.shape).toEqual([0, 1e6 + 7]);
  });

  it('takes typed arrays and flat arrays with a shape, copying the data', () => {
    const src = new Float32Array([1, 2, 3, 4, 5, 6]);
    const t = tg.tensor(src, [3, 2]);
    src[0] = 100;
    expect(t.data[0]).toBe(1);
    expect(t.toArray()).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(tg.tensor(new Int32Array([1, 2])).toArray()).toEqual([1, 2]);
    expect(tg.tensor([1, 2, 3, 4], [2, 2]).toArray()).toEqual([[1, 2], [3, 4]]);
    expect(tg.tensor([1, 2], { requiresGrad: true }).requiresGrad).toBe(true);
  });

  it('rejects data whose length does not match the shape', () => {
    expect(() => tg.tensor([1, 2, 3], [2, 2])).toThrow('tensor: data has 3 elements but shape [2, 2] needs 4');
    expect(() => tg.tensor(new Float32Array(5), [2, 3])).toThrow(/5 elements.*\[2, 3\]/);
  });

  it('rejects ragged and non-numeric data, saying where', () => {
    expect(() => tg.tensor([[1, 2], [3]])).toThrow(/ragged.*\[1\]/);
    expect(() => tg.tensor([[1, 2], [3, 'x']] as unknown as number[][])).toThrow("tensor: values must be numbers, got string 'x' at [1, 1]");
    // A BigInt once crashed the error builder itself (JSON.stringify cannot serialise it).
    expect(() => tg.tensor([1n] as unknown as number[])).toThrow('tensor: values must be numbers, got bigint 1n at [0]');
    expect(() => tg.tensor([1, null] as unknown as number[])).toThrow(/got null/);
    expect(() => tg.tensor('abc' as unknown as number)).toThrow(/expected nested arrays/);
    expect(() => tg.tensor([1, 2], [-1, -2])).toThrow(/invalid shape/);
  });

  it('zeros, ones, full, eye, arange, zerosLike, onesLike', () => {
    expect(tg.zeros([2, 2]).toArray()).toEqual([[0, 0], [0, 0]]);
    expect(tg.ones(3).toArray()).toEqual([1, 1, 1]);
    expect(tg.full([2], 7.5).toArray()).toEqual([7.5, 7.5]);
    expect(tg.eye(2, 3).toArray()).toEqual([[1, 0, 0], [0, 1, 0]]);
    expect(tg.eye(2).toArray()).toEqual([[1, 0], [0, 1]]);
    expect(tg.arange(4).toArray()).toEqual([0, 1, 2, 3]);
    expect(tg.arange(1, 4).toArray()).toEqual([1, 2, 3]);
    expect(tg.arange(0, 1, 0.25).toArray()).toEqual([0, 0.25, 0.5, 0.75]);
    expect(tg.arange(3, 0, -1).toArray()).toEqual([3, 2, 1]);
    expect(() => tg.arange(0, 1, 0)).toThrow(/step/);
    const x = tg.tensor([[1, 2]]);
    expect(tg.zerosLike(x).shape).toEqual([1, 2]);
    expect(tg.onesLike(x).toArray()).toEqual([[1, 1]]);
    expect(tg.zeros([0, 3]).size).toBe(0);
  });

  it('item() needs exactly one element', () => {
    expect(tg.tensor([[4]]).item()).toBe(4);
    expect(() => tg.tensor([1, 2]).item()).toThrow(/item: tensor of shape \[2\] has 2 elements/);
  });
});

describe('toString', () => {
  it('prints like PyTorch', () => {
    expect(String(tg.tensor([[1.5, -2], [3, 4]]))).toBe('tensor([[ 1.5000, -2.0000],\n        [ 3.0000,  4.0000]])');
    expect(String(tg.tensor([1, 2]))).toBe('tensor([1., 2.])');
    expect(String(tg.tensor(3.5))).toBe('tensor(3.5000)');
    expect(String(tg.tensor([1e-6, 1000]))).toBe('tensor([1.0000e-06, 1.0000e+03])');
    expect(String(tg.tensor([Number.NaN, Infinity, 1]))).toBe('tensor([nan, inf,  1.])');
    expect(String(tg.tensor([1, 2], { requiresGrad: true }))).toBe('tensor([1., 2.], requiresGrad=true)');
    expect(String(tg.tensor([1, 2], { requiresGrad: true }).mul(2))).toBe('tensor([2., 4.], gradFn=<mul>)');
  });

  it('separates 3-D blocks with a blank line', () => {
    expect(String(tg.zeros([2, 1, 2]))).toBe('tensor([[[0., 0.]],\n\n        [[0., 0.]]])');
  });

  it('prints a big tensor whose dims are all short in full (no spread of its values into Math.max)', () => {
    // 6^7 = 279,936 values: every dim is within the 2·3 edge items, so nothing is elided (PyTorch
    // prints them all too); spreading that many arguments overflowed the stack.
    const s = String(tg.ones([6, 6, 6, 6, 6, 6, 6]).mul(0.5));
    expect(s.startsWith('tensor([[[[[[[0.5000, 0.5000,')).toBe(true);
    expect(s.match(/0\.5000/g)!.length).toBe(6 ** 7);
  });
  it('truncates big tensors', () => {
    expect(String(tg.arange(2000))).toBe('tensor([   0.,    1.,    2., ..., 1997., 1998., 1999.])');
    const s = String(tg.zeros([100, 100]));
    expect(s.split('\n')).toHaveLength(7);
    expect(s).toContain('...');
    expect(s.length).toBeLessThan(300);
  });
});

describe('inspection and views', () => {
  it('toArray nests like the shape', () => {
    expect(tg.arange(6).reshape(2, 3).toArray()).toEqual([[0, 1, 2], [3, 4, 5]]);
    expect(tg.arange(6).reshape([3, 2, 1]).toArray()).toEqual([[[0], [1]], [[2], [3]], [[4], [5]]]);
  });

  it('reshape shares data and infers -1', () => {
    const x = tg.arange(6);
    const y = x.reshape(2, -1);
    expect(y.shape).toEqual([2, 3]);
    y.data[0] = 42;
    expect(x.data[0]).toBe(42);
    expect(() => x.reshape(4, -1)).toThrow('reshape: cannot reshape tensor of shape [6] (6 elements) into [4, -1]');
    expect(() => x.reshape(-1, -1)).toThrow(/only one dim/);
  });

  it('flatten, squeeze, unsqueeze', () => {
    const x = tg.zeros([2, 3, 4]);
    expect(x.flatten().shape).toEqual([24]);
    expect(x.flatten(1).shape).toEqual([2, 12]);
    expect(tg.unsqueeze(x, 0).shape).toEqual([1, 2, 3, 4]);
    expect(tg.unsqueeze(x, -1).shape).toEqual([2, 3, 4, 1]);
    expect(tg.squeeze(tg.zeros([1, 2, 1])).shape).toEqual([2]);
    expect(tg.squeeze(tg.zeros([1, 2, 1]), 0).shape).toEqual([2, 1]);
  });

  it('slice is a view of rows', () => {
    const x = tg.arange(12).reshape(4, 3);
    expect(x.slice(1, 3).toArray()).toEqual([[3, 4, 5], [6, 7, 8]]);
    expect(x.slice(-1).toArray()).toEqual([[9, 10, 11]]);
    expect(x.slice(3, 1).shape).toEqual([0, 3]);
  });
});

/** Values with -0 and NaN told apart (toEqual treats -0 and 0 alike). */
const exact = (t: tg.Tensor | Float32Array): string[] => Array.from(t instanceof tg.Tensor ? t.data : t, (v) => (Object.is(v, -0) ? '-0' : String(v)));

describeBackends('NaN and signed zeros propagate as in PyTorch', () => {
  // Long enough for the vector bodies and their tails; NaN in a lane of each.
  const base = [Number.NaN, -0, 0, -1, 2, -Infinity, Infinity, 0.5, -3, Number.NaN, 7, -0.25, 1, Number.NaN, -2, 3, 0, 4, -5];
  const relu = (v: number) => (v < 0 ? 0 : v);
  const up = (x: tg.Tensor, y: tg.Tensor) => {
    y.backward(tg.onesLike(y));
    return x.grad!;
  };
  it('relu: NaN stays NaN, the gradient passes at NaN (torch 1.13: relu(-0) = -0)', () => {
    const x = tg.tensor(base, { requiresGrad: true });
    const y = x.relu();
    expect(exact(y)).toEqual(exact(Float32Array.from(base, relu)));
    expect(exact(up(x, y))).toEqual(exact(Float32Array.from(base, (v) => (v <= 0 ? 0 : 1))));
  });
  it('fused Linear + ReLU (and Sequential) keep NaN where the pre-activation is NaN', () => {
    const w = tg.tensor([[1, 0], [0, 1], [1, 1]], { requiresGrad: true });
    const b = tg.tensor([0, -10, 0]);
    const x = tg.tensor([[Number.NaN, 1], [2, 3], [-4, 5]]);
    const y = tg.linearRelu(x, w, b);
    expect(exact(y)).toEqual(exact(Float32Array.from([Number.NaN, Number.NaN, Number.NaN, 2, 0, 5, 0, 0, 1])));
    // The gradient passes where the output is NaN, as it does for relu: w's first row sees x[0] (NaN).
    y.backward(tg.onesLike(y));
    expect(Number.isNaN(w.grad!.data[0]!)).toBe(true);
    const lin = new tg.Linear(2, 3);
    const seq = new tg.Sequential(lin, new tg.ReLU());
    const out = seq.forward(tg.tensor([[Number.NaN, 1]]));
    expect(Array.from(out.data).every(Number.isNaN)).toBe(true);
    expect(exact(out)).toEqual(exact(lin.forward(tg.tensor([[Number.NaN, 1]])).relu()));
  });
  it('leakyRelu, clamp, abs: NaN stays NaN; gradients at NaN as PyTorch (slope, 0, 0)', () => {
    let x = tg.tensor(base, { requiresGrad: true });
    let y = x.leakyRelu(0.1);
    expect(exact(y)).toEqual(exact(Float32Array.from(base, (v) => (v > 0 ? v : Math.fround(v * 0.1)))));
    expect(exact(up(x, y))).toEqual(exact(Float32Array.from(base, (v) => (v > 0 ? 1 : 0.1))));
    x = tg.tensor(base, { requiresGrad: true });
    y = x.clamp(-0.5, 1);
    expect(exact(y)).toEqual(exact(Float32Array.from(base, (v) => (v < -0.5 ? -0.5 : v > 1 ? 1 : v))));
    expect(exact(up(x, y))).toEqual(exact(Float32Array.from(base, (v) => (v >= -0.5 && v <= 1 ? 1 : 0))));
    x = tg.tensor(base, { requiresGrad: true });
    y = x.abs();
    expect(exact(y)).toEqual(exact(Float32Array.from(base, Math.abs)));
    expect(exact(up(x, y))).toEqual(exact(Float32Array.from(base, (v) => (v > 0 ? 1 : v < 0 ? -1 : 0))));
  });
  it('gelu at ±Infinity gives its limits (−0 and Infinity; gradients 0 and 1), both forms; NaN stays NaN', () => {
    for (const approximate of ['none', 'tanh'] as const) {
      const x = tg.tensor([-Infinity, Infinity, Number.NaN, -1e30, 1e30], { requiresGrad: true });
      const y = x.gelu(approximate);
      expect(exact(y), approximate).toEqual(['-0', 'Infinity', 'NaN', '-0', '1.0000000150474662e+30']);
      y.backward(tg.ones([5]));
      expect(exact(x.grad!).map((v) => (v === '-0' ? '0' : v)), approximate).toEqual(['0', '1', 'NaN', '0', '1']);
    }
  });
  it('softmax and logSoftmax rows with ±Infinity follow PyTorch (x − max: a +Infinity row is NaN)', () => {
    const I = Infinity;
    const rows = [[-I, 0, 1], [I, 0, 1], [-I, -I, -I], [Number.NaN, 1, 2], [-I, 0, -I]];
    const weights = tg.tensor([0, 1, 2]);
    const e = Math.exp(1);
    const sm = [0, 1 / (1 + e), e / (1 + e)].map(Math.fround);
    const nan = ['NaN', 'NaN', 'NaN'];
    let x = tg.tensor(rows, { requiresGrad: true });
    const s = x.softmax(-1);
    expect(exact(s).slice(0, 3).map(Number).map((v, i) => Math.abs(v - sm[i]!) < 1e-6)).toEqual([true, true, true]);
    expect(exact(s).slice(3)).toEqual([...nan, ...nan, ...nan, '0', '1', '0']);
    s.mul(weights).sum().backward();
    expect(exact(x.grad!).slice(3)).toEqual([...nan, ...nan, ...nan, '-0', '0', '0']); // 0·(0 − 1)
    x = tg.tensor(rows, { requiresGrad: true });
    const l = x.logSoftmax(-1);
    expect(exact(l)[0]).toBe('-Infinity');
    expect(exact(l).slice(3)).toEqual([...nan, ...nan, ...nan, '-Infinity', '0', '-Infinity']);
    l.mul(weights).sum().backward();
    // PyTorch's g − softmax·Σg: the −Infinity entries get their own upstream gradient.
    expect(exact(x.grad!).slice(0, 1).concat(exact(x.grad!).slice(3))).toEqual(['0', ...nan, ...nan, ...nan, '0', '-2', '2']);
  });
  it('max/min/argmax: a NaN in the row wins, the index points at the first NaN', () => {
    const x = tg.tensor([[1, Number.NaN, 3, Number.NaN], [4, 2, 8, 6]], { requiresGrad: true });
    const m = x.max(1);
    expect(exact(m)).toEqual(['NaN', '8']);
    expect(Array.from(x.argmax(1).data)).toEqual([1, 2]);
    expect(Array.from(x.argmin(1).data)).toEqual([1, 1]);
    expect(exact(x.min(1))).toEqual(['NaN', '2']);
    m.sum().backward();
    expect(Array.from(x.grad!.data)).toEqual([0, 1, 0, 0, 0, 0, 1, 0]);
    // Over everything, PyTorch splits the gradient among the NaNs.
    const z = tg.tensor([1, Number.NaN, 3, Number.NaN], { requiresGrad: true });
    const all = z.min();
    expect(Number.isNaN(all.item())).toBe(true);
    expect(z.argmax().item()).toBe(1);
    all.backward();
    expect(Array.from(z.grad!.data)).toEqual([0, 0.5, 0, 0.5]);
  });
});

describeBackends('empty and zero-size dims, as PyTorch', () => {
  it('max/min/argmax over a non-empty dim of an empty tensor give empty results', () => {
    const x = tg.zeros([0, 3], { requiresGrad: true });
    for (const op of ['max', 'min', 'argmax', 'argmin'] as const) {
      expect(x[op](1).shape).toEqual([0]);
      expect(x[op](1, true).shape).toEqual([0, 1]);
    }
    x.max(1).sum().backward();
    expect(x.grad!.shape).toEqual([0, 3]);
    expect(tg.zeros([2 ** 50, 3, 0]).max(1).shape).toEqual([2 ** 50, 0]);
  });
  it('max/min/argmax over a zero-size dim, or over all of an empty tensor, throw', () => {
    const x = tg.zeros([3, 0]);
    for (const op of ['max', 'min', 'argmax', 'argmin'] as const) {
      expect(() => x[op](1)).toThrow(`${op}: cannot reduce over a zero-size dim 1`);
      expect(() => x[op](-1)).toThrow(`${op}: cannot reduce over a zero-size dim 1`);
      expect(() => x[op]()).toThrow(`${op}: cannot reduce an empty tensor of shape [3, 0] over all dims; give a dim`);
    }
    expect(Array.from(x.sum(1).data)).toEqual([0, 0, 0]);
    expect(Array.from(x.mean(1).data).every(Number.isNaN)).toBe(true);
  });
  it('ops on [2^50, 0] return at once, forward and backward', () => {
    const x = tg.zeros([2 ** 50, 0], { requiresGrad: true });
    const outs = [
      x.softmax(-1),
      x.logSoftmax(0),
      x.relu(),
      x.add(1),
      x.mul(tg.zeros([1, 0])),
      x.transpose(0, 1),
      x.sum(0),
      x.mean(0),
      x.max(0),
      tg.concat([x, x], 1),
      tg.concat([x, x], 0),
      tg.stack([x, x], 1),
      x.matmul(tg.zeros([0, 0])),
      tg.linear(x, tg.zeros([0, 0]), tg.zeros([0])),
      tg.linearRelu(x, tg.zeros([0, 0])),
      x.reshape(0, 2 ** 50).matmul(tg.zeros([2 ** 50, 0])),
      tg.zeros([2 ** 50, 0, 2]).matmul(tg.zeros([2 ** 50, 2, 0])),
      tg.dropout(x, 0.5),
      x.indexSelect([0, 0, 0]).sum(),
    ];
    expect(outs.map((o) => o.size)).toEqual(outs.map((o) => (o.ndim === 0 ? 1 : 0)));
    outs[0]!.sum().add(outs[1]!.sum()).add(outs[5]!.sum()).add(outs[9]!.sum()).add(outs[13]!.sum()).backward();
    expect(x.grad!.shape).toEqual([2 ** 50, 0]);
  });
  it('toString and toArray of [2^40, 0, 3] do not walk the 2^40 empty rows', () => {
    const x = tg.zeros([2 ** 40, 0, 3]);
    expect(String(x)).toBe('tensor([], size=[1099511627776, 0, 3])');
    expect(() => x.toArray()).toThrow('toArray: a tensor of shape [1099511627776, 0, 3] would need 1099511627777 nested arrays, more than the 4294967295 supported');
    expect(tg.zeros([0, 2 ** 53]).toArray()).toEqual([]);
    expect(tg.zeros([3, 0]).toArray()).toEqual([[], [], []]);
    expect(String(tg.zeros([3, 0], { requiresGrad: true }))).toBe('tensor([], size=[3, 0], requiresGrad=true)');
    expect(x.clone().shape).toEqual([2 ** 40, 0, 3]);
  });
  it('tensors with more than 16 dims work (up to 64, as PyTorch)', () => {
    const shape = [2, ...new Array<number>(18).fill(1), 3];
    const x = tg.arange(0, 6).reshape(shape);
    expect(x.add(tg.ones([3])).sum().item()).toBe(21);
    expect(Array.from(x.softmax(0).sum(0).data).map((v) => Math.abs(v - 1) < 1e-6)).toEqual([true, true, true]);
    expect(x.transpose(0, 19).shape).toEqual([3, ...new Array<number>(18).fill(1), 2]);
    expect(Array.from(x.permute(...shape.map((_, i) => 19 - i)).data)).toEqual([0, 3, 1, 4, 2, 5]);
    const g = tg.zeros(new Array<number>(64).fill(1), { requiresGrad: true });
    g.add(tg.ones([1])).sum().backward();
    expect(g.grad!.ndim).toBe(64);
    expect(() => tg.unsqueeze(g, 0)).toThrow('reshape: shape has 65 dims, more than the 64 a tensor may have');
  });
});

describeBackends('argmax past 2^24 elements stays exact', () => {
  const n = 2 ** 24 + 10;
  it('argmax refuses and points at argmaxIndices, which is exact; max\'s gradient lands on the right element', () => {
    const x = tg.zeros([n], { requiresGrad: true });
    x.data[n - 1] = 1;
    x.data[n - 3] = -1;
    expect(() => x.argmax()).toThrow(
      `argmax: the reduced tensor has ${n} elements, more than the 2^24 whose indices a float32 tensor holds exactly; use argmaxIndices(), which returns exact integers`,
    );
    expect(() => x.reshape(1, n).argmin(1)).toThrow(/argmin: the reduced dim 1 has 16777226 elements, .*use argminIndices\(\)/);
    expect(Array.from(argmaxIndices(x))).toEqual([n - 1]);
    expect(Array.from(argminIndices(x))).toEqual([n - 3]);
    expect(Array.from(argmaxIndices(x.reshape(1, n), 1))).toEqual([n - 1]);
    // Ties keep the first index across the 2^24 chunks; the first NaN wins over later values.
    const t = tg.zeros([n]);
    t.data[5] = 2;
    t.data[n - 2] = 2;
    expect(Array.from(argmaxIndices(t))).toEqual([5]);
    t.data[n - 4] = Number.NaN;
    expect(Array.from(argmaxIndices(t))).toEqual([n - 4]);
    expect(Array.from(argminIndices(t))).toEqual([n - 4]);
    const m = x.max(0);
    expect(m.item()).toBe(1);
    m.backward();
    expect(x.grad!.data[n - 1]).toBe(1);
    expect(x.grad!.data.reduce((a, b) => a + b, 0)).toBe(1);
  });
  it('argmaxIndices agrees with argmax below the limit', () => {
    const x = tg.tensor([[3, 9, 9], [7, -1, 2]]);
    expect(Array.from(argmaxIndices(x, 1))).toEqual(Array.from(x.argmax(1).data));
    expect(Array.from(argminIndices(x, 0))).toEqual(Array.from(x.argmin(0).data));
    expect(Array.from(argmaxIndices(x))).toEqual([1]);
    expect(() => argmaxIndices(tg.zeros([2, 0]), 1)).toThrow('argmaxIndices: cannot reduce over a zero-size dim 1');
  });
});
