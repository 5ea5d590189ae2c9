// Reductions where the answer hinges on one index: ties in max/min and their gradients (the
// documented rule: over the whole tensor the gradient is split evenly among tied extremes, as in
// PyTorch; along a dim it goes to the returned index, the first on ties), argmax/argmin, 0-d
// inputs, default arguments.
import { describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { describeBackends } from './helpers/backends.js';

describeBackends('max/min gradients with ties', () => {
  for (const op of ['max', 'min'] as const) {
    const sign = op === 'max' ? 1 : -1;

    it(`${op}() over everything splits the gradient evenly among the tied extremes`, () => {
      const x = tg.tensor([1, 3, 3, 2, 3, -1].map((v) => sign * v), { requiresGrad: true });
      const y = x[op]();
      expect(y.shape).toEqual([]);
      expect(y.item()).toBe(sign * 3);
      y.backward(tg.tensor(6));
      expect(Array.from(x.grad!.data)).toEqual([0, 2, 2, 0, 2, 0]);
    });

    it(`${op}(null) and ${op}(undefined) mean over everything too (ties split)`, () => {
      for (const dim of [null, undefined]) {
        const x = tg.tensor([[5, 1], [5, 5]].map((r) => r.map((v) => sign * v)), { requiresGrad: true });
        const y = tg[op](x, dim);
        y.backward(tg.tensor(3));
        expect(x.grad!.toArray()).toEqual([[1, 0], [1, 1]]);
      }
      const k = tg.tensor([[2, 2]], { requiresGrad: true });
      const yk = tg[op](k, null, true);
      expect(yk.shape).toEqual([1, 1]);
      yk.sum().backward();
      expect(Array.from(k.grad!.data)).toEqual([0.5, 0.5]);
    });

    it(`${op} with a single extreme gives it the whole gradient`, () => {
      const x = tg.tensor([0, 7, 1].map((v) => sign * v), { requiresGrad: true });
      x[op]().mul(5).backward();
      expect(Array.from(x.grad!.data)).toEqual([0, 5, 0]);
    });

    it(`${op} along a dim sends each row's gradient to its first extreme`, () => {
      // [2, 3, 2]: reduce dim 1, so outer = 2 and inner = 2 both matter.
      const v = [
        [[1, 9], [4, 9], [4, 0]],
        [[8, 2], [8, 2], [0, 2]],
      ].map((a) => a.map((r) => r.map((e) => sign * e)));
      const x = tg.tensor(v, { requiresGrad: true });
      const y = tg[op](x, 1);
      expect(y.shape).toEqual([2, 2]);
      expect(y.toArray()).toEqual([[4, 9], [8, 2]].map((r) => r.map((e) => sign * e)));
      y.backward(tg.tensor([[10, 20], [30, 40]]));
      expect(x.grad!.toArray()).toEqual([
        [[0, 20], [10, 0], [0, 0]],
        [[30, 40], [0, 0], [0, 0]],
      ]);
      const x2 = tg.tensor(v, { requiresGrad: true });
      const yk = tg[op](x2, -1, true);
      expect(yk.shape).toEqual([2, 3, 1]);
      yk.sum().backward();
      expect(x2.grad!.toArray()).toEqual([
        [[0, 1], [0, 1], [1, 0]],
        [[1, 0], [1, 0], [0, 1]],
      ]);
    });
  }

  it('records max/min as ops a backward walks', () => {
    const x = tg.tensor([1, 2], { requiresGrad: true });
    expect(x.max().gradFn?.op).toBe('max');
    expect(x.min(0).gradFn?.op).toBe('min');
    expect(x.sum().gradFn?.op).toBe('sum');
    expect(x.mean().gradFn?.op).toBe('mean');
  });
});

describeBackends('argmax / argmin', () => {
  const m = [
    [3, 7, 7, -1],
    [9, 2, 9, 9],
    [0, 0, -5, -5],
  ];

  it('along each dim, first index on ties, with and without keepdim', () => {
    const x = tg.tensor(m);
    expect(tg.argmax(x, 1).toArray()).toEqual([1, 0, 0]);
    expect(tg.argmin(x, 1).toArray()).toEqual([3, 1, 2]);
    expect(tg.argmax(x, 0).toArray()).toEqual([1, 0, 1, 1]);
    expect(tg.argmin(x, 0).toArray()).toEqual([2, 2, 2, 2]);
    expect(tg.argmax(x, -1, true).toArray()).toEqual([[1], [0], [0]]);
    expect(tg.argmin(x, 0, true).shape).toEqual([1, 4]);
    expect(x.argmax(1).shape).toEqual([3]);
  });

  it('without a dim: the flat index of the first extreme', () => {
    const x = tg.tensor(m);
    const a = tg.argmax(x);
    expect(a.shape).toEqual([]);
    expect(a.item()).toBe(4);
    expect(tg.argmin(x).item()).toBe(10);
    expect(tg.argmax(x, null, true).shape).toEqual([1, 1]);
  });

  it('inner and outer dims both index correctly (a [2, 3, 2] tensor along dim 1)', () => {
    const x = tg.tensor([
      [[1, 6], [5, 2], [3, 4]],
      [[0, 0], [-1, 8], [2, -3]],
    ]);
    expect(tg.argmax(x, 1).toArray()).toEqual([[1, 0], [2, 1]]);
    expect(tg.argmin(x, 1).toArray()).toEqual([[0, 1], [1, 2]]);
  });

  it('are not differentiable and agree with max/min values', () => {
    const x = tg.tensor(m, { requiresGrad: true });
    const i = tg.argmax(x, 1);
    expect(i.requiresGrad).toBe(false);
    const vals = tg.max(x, 1).data;
    i.data.forEach((j, r) => expect(m[r]![j]).toBe(vals[r]));
  });

  it('a 0-d tensor reduces along dim 0 or -1 to itself (index 0)', () => {
    const s = tg.tensor(4);
    expect(tg.argmax(s).item()).toBe(0);
    expect(tg.argmin(s, 0).item()).toBe(0);
    expect(tg.argmax(s, -1).shape).toEqual([]);
  });
});

describeBackends('reductions of 0-d tensors and default arguments', () => {
  it('sum, mean, max, min of a 0-d tensor along dim 0 or -1 keep the value and pass the gradient', () => {
    for (const op of ['sum', 'mean', 'max', 'min'] as const) {
      for (const dim of [0, -1]) {
        const s = tg.tensor(2.5, { requiresGrad: true });
        const y = tg[op](s, dim);
        expect(y.shape).toEqual([]);
        expect(y.item()).toBe(2.5);
        y.mul(4).backward();
        expect(s.grad!.item()).toBe(4);
      }
    }
  });

  it('a 0-d tensor refuses other dims, naming the op', () => {
    for (const op of ['sum', 'mean', 'max', 'min', 'argmax', 'argmin'] as const) {
      expect(() => tg[op](tg.tensor(1), 1), op).toThrow(new RegExp(op));
      expect(() => tg[op](tg.tensor(1), -2), op).toThrow(new RegExp(op));
    }
  });

  it('keepdim defaults to false', () => {
    const x = tg.ones([2, 3]);
    for (const op of ['sum', 'mean', 'max', 'min', 'argmax', 'argmin'] as const) {
      expect(tg[op](x, 1).shape, op).toEqual([2]);
      expect(tg[op](x).shape, op).toEqual([]);
    }
  });

  it('an out-of-range dim is refused with the op name', () => {
    const x = tg.ones([2, 3]);
    for (const op of ['sum', 'mean', 'max', 'min', 'argmax', 'argmin'] as const) {
      expect(() => tg[op](x, 2), op).toThrow(new RegExp(op));
    }
  });

  it('max/min/argmax/argmin of a tensor with no elements at all are refused, naming the op', () => {
    for (const op of ['max', 'min', 'argmax', 'argmin'] as const) {
      expect(() => tg[op](tg.zeros([0])), op).toThrow(new RegExp(op));
      expect(() => tg[op](tg.zeros([2, 0])), op).toThrow(new RegExp(op));
    }
  });
});

describe('mean scales by the reduced count', () => {
  it('mean along a dim and its gradient', () => {
    const x = tg.tensor([[1, 2, 3], [4, 5, 9]], { requiresGrad: true });
    const y = x.mean(1);
    expect(Array.from(y.data)).toEqual([2, 6]);
    y.backward(tg.tensor([3, 6]));
    expect(x.grad!.toArray()).toEqual([[1, 1, 1], [2, 2, 2]]);
  });
});

describeBackends('reductions of empty tensors', () => {
  it('max/min/argmax/argmin over a non-empty dim of a tensor with no rows give empty results (PyTorch)', () => {
    for (const op of ['max', 'min', 'argmax', 'argmin'] as const) {
      expect(tg[op](tg.zeros([0, 3]), 1).shape, op).toEqual([0]);
      expect(tg[op](tg.zeros([0, 0]), 1).shape, op).toEqual([0]);
      expect(tg[op](tg.zeros([2, 0, 3]), 2, true).shape, op).toEqual([2, 0, 1]);
      // Nothing to index, so a dim longer than 2^24 is no reason to refuse.
      expect(tg[op](tg.zeros([0, 2 ** 30]), 1).shape, op).toEqual([0]);
    }
  });

  it('max/min over a zero-size dim with rows left to fill are refused, naming the op', () => {
    for (const op of ['max', 'min', 'argmax', 'argmin'] as const) {
      expect(() => tg[op](tg.zeros([3, 0]), 1), op).toThrow(new RegExp(op));
    }
  });

  it('sum and mean of huge empty tensors, and their gradients, make no backend call with those dims', () => {
    for (const op of ['sum', 'mean'] as const) {
      const x = tg.zeros([2 ** 50, 0], { requiresGrad: true });
      const y = tg[op](x, 0);
      expect(y.shape).toEqual([0]);
      y.sum().backward();
      expect(x.grad!.shape).toEqual([2 ** 50, 0]);
    }
  });
});

describeBackends('max over everything saves what its backward reads', () => {
  it('refuses backward after the input was written (the tie split reads it)', () => {
    const x = tg.tensor([1, 5, 5], { requiresGrad: true });
    const y = x.max();
    x.data[0] = 9;
    expect(() => y.backward()).toThrow(/backward/);
  });
});

describeBackends('argmax at the 2^24 limit', () => {
  it('a dim of exactly 2^24 elements is still exact, and returns the last index', () => {
    const n = 2 ** 24;
    const x = tg.zeros([n]);
    x.data[n - 1] = 1;
    expect(tg.argmax(x).item()).toBe(n - 1);
    expect(tg.argmin(x.neg(), 0).item()).toBe(n - 1);
  });
});

describeBackends('argmaxIndices / argminIndices', () => {
  it('agree with argmax/argmin as exact integers, and name themselves in errors', () => {
    const x = tg.tensor([
      [3, 7, 7, -1],
      [9, 2, 9, 9],
    ]);
    expect(Array.from(tg.argmaxIndices(x, 1))).toEqual([1, 0]);
    expect(Array.from(tg.argminIndices(x, 0))).toEqual([0, 1, 0, 0]);
    expect(Array.from(tg.argmaxIndices(x))).toEqual([4]);
    expect(Array.from(tg.argminIndices(x))).toEqual([3]);
    expect(() => tg.argmaxIndices(x, 2)).toThrow(/argmaxIndices/);
    expect(() => tg.argminIndices(x, 2)).toThrow(/argminIndices/);
  });
});
