import { describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';

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
    expect(() => tg.tensor([[1, 2], [3, 'x']] as unknown as number[][])).toThrow(/expected a number at \[1, 1\], got string/);
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
