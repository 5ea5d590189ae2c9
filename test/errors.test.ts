import { expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { describeBackends } from './helpers/backends.js';

describeBackends('shape errors name the op and both shapes', () => {
  const a = tg.zeros([2, 3]);
  const b = tg.zeros([4]);
  it('elementwise', () => {
    for (const op of ['add', 'sub', 'mul', 'div'] as const) {
      expect(() => tg[op](a, b)).toThrow(`${op}: shapes [2, 3] and [4] cannot be broadcast together`);
    }
    expect(() => a.add('x' as unknown as number)).toThrow('add: expected a Tensor or a number, got string');
  });
  it('matmul', () => {
    expect(() => a.matmul(tg.zeros([4, 5]))).toThrow('matmul: shapes [2, 3] and [4, 5] are incompatible (inner dims 3 != 4)');
    expect(() => tg.zeros([2, 2, 3]).matmul(tg.zeros([3, 3, 2]))).toThrow('matmul: shapes [2, 2, 3] and [3, 3, 2] are incompatible (batch sizes 2 != 3)');
    expect(() => tg.zeros([3]).matmul(tg.zeros([4]))).toThrow(/matmul: shapes \[3\] and \[4\]/);
    expect(() => tg.tensor(1).matmul(a)).toThrow(/matmul: shapes \[\] and \[2, 3\]/);
  });
  it('linear', () => {
    expect(() => tg.linear(a, tg.zeros([4, 2]))).toThrow('linear: input [2, 3] and weight [4, 2] are incompatible (weight must be [out, 3])');
    expect(() => tg.linear(a, tg.zeros([4, 3]), tg.zeros([3]))).toThrow('linear: bias [3] does not match weight [4, 3] (expected [4])');
  });
  it('concat and stack', () => {
    expect(() => tg.concat([a, tg.zeros([2, 4])], 0)).toThrow('concat: shapes [2, 3] and [2, 4] differ outside dim 0');
    expect(() => tg.stack([a, tg.zeros([3, 2])])).toThrow('stack: shapes [2, 3] and [3, 2] differ');
    expect(() => tg.concat([])).toThrow(/non-empty/);
  });
  it('dims, indices and reshape', () => {
    expect(() => a.sum(2)).toThrow('sum: dim 2 is out of range for a tensor with 2 dims');
    expect(() => a.softmax(-3)).toThrow(/softmax: dim -3 is out of range/);
    expect(() => a.indexSelect([0, 2])).toThrow('indexSelect: index 2 at position 1 is out of range for dim 0 of size 2');
    expect(() => a.indexSelect([0.5])).toThrow(/index 0.5/);
    expect(() => a.reshape(5)).toThrow('reshape: cannot reshape tensor of shape [2, 3] (6 elements) into [5]');
    expect(() => a.permute(0)).toThrow(/permute: tensor of shape \[2, 3\] needs 2 axes/);
    expect(() => tg.zeros([2, 2, 2]).T).toThrow(/T: expects a tensor with at most 2 dims/);
    expect(() => a.clamp()).toThrow(/clamp: at least one/);
  });
});
