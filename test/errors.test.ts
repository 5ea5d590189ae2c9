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
    expect(() => a.indexSelect([0.5])).toThrow('indexSelect: indices must be integers, got 0.5 at position 0');
    expect(() => a.reshape(5)).toThrow('reshape: cannot reshape tensor of shape [2, 3] (6 elements) into [5]');
    expect(() => a.permute(0)).toThrow(/permute: tensor of shape \[2, 3\] needs 2 axes/);
    expect(() => tg.zeros([2, 2, 2]).T).toThrow(/T: expects a tensor with at most 2 dims/);
    expect(() => a.clamp()).toThrow(/clamp: at least one/);
  });
});

/** The error a call throws (fails the test when it returns). */
function thrown(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected a throw');
}

const junk = <T>(v: unknown): T => v as T;

describeBackends('junk arguments are refused by the ops, with the op and argument named', () => {
  const x = tg.tensor([[1, -2, 3], [4, 5, -6]]);
  it('clamp, leakyRelu, pow, gelu', () => {
    expect(() => x.clamp(junk('a'), junk('b'))).toThrow("clamp: min must be a number, null or undefined, got string 'a'");
    expect(() => x.clamp(0, junk('b'))).toThrow("clamp: max must be a number, null or undefined, got string 'b'");
    expect(() => x.clamp(Number.NaN)).toThrow('clamp: min must be a number, null or undefined, got NaN');
    expect(() => x.clamp(2, 1)).toThrow('clamp: min (2) is greater than max (1)');
    expect(Array.from(x.clamp(-Infinity, 0).data)).toEqual([0, -2, 0, 0, 0, -6]);
    expect(() => x.leakyRelu(junk('x'))).toThrow("leakyRelu: negativeSlope must be a finite number, got string 'x'");
    expect(() => x.leakyRelu(Number.NaN)).toThrow('leakyRelu: negativeSlope must be a finite number, got NaN');
    expect(() => x.pow(junk('2'))).toThrow("pow: exponent must be a finite number, got string '2'");
    expect(() => x.pow(Infinity)).toThrow('pow: exponent must be a finite number, got Infinity');
    expect(() => x.gelu(junk('fast'))).toThrow("gelu: approximate must be 'none' or 'tanh', got string 'fast'");
    expect(() => tg.relu(junk('x'))).toThrow("relu: expected a Tensor or a number, got string 'x'");
  });
  it('dims: integers in range, keepdim boolean', () => {
    expect(() => x.sum(junk('0'))).toThrow("sum: dim must be an integer, got string '0'");
    expect(() => x.mean(0.5)).toThrow('mean: dim must be an integer, got 0.5');
    expect(() => x.max(Number.NaN)).toThrow('max: dim must be an integer, got NaN');
    expect(() => x.argmin(-3)).toThrow('argmin: dim -3 is out of range for a tensor with 2 dims');
    expect(() => x.sum(0, junk('yes'))).toThrow("sum: keepdim must be a boolean, got string 'yes'");
    expect(() => x.argmax(0, junk(1))).toThrow('argmax: keepdim must be a boolean, got 1');
    expect(() => tg.tensor(3).sum(1)).toThrow('sum: dim 1 is out of range for a tensor with 1 dims');
    expect(() => x.softmax(junk('1'))).toThrow("softmax: dim must be an integer, got string '1'");
    expect(() => x.logSoftmax(1.5)).toThrow('logSoftmax: dim must be an integer, got 1.5');
    expect(() => x.transpose(0, junk(null))).toThrow('transpose: dim1 must be an integer, got null');
    expect(() => x.flatten(junk('0'))).toThrow("flatten: startDim must be an integer, got string '0'");
    expect(() => tg.unsqueeze(x, 3)).toThrow('unsqueeze: dim 3 is out of range for a tensor with 3 dims');
    expect(() => tg.squeeze(x, junk(true))).toThrow('squeeze: dim must be an integer, got boolean true');
    expect(() => x.permute(0, junk('1'))).toThrow("permute: axis must be an integer, got string '1'");
    expect(() => tg.concat([x, x], junk('0'))).toThrow("concat: dim must be an integer, got string '0'");
    expect(() => x.slice(junk('0'))).toThrow("slice: start must be an integer, got string '0'");
    expect(() => x.indexSelect([junk('0')])).toThrow("indexSelect: indices must be integers, got string '0' at position 0");
  });
  it('tensor arguments', () => {
    expect(() => tg.linear(x, junk('w'))).toThrow("linear: weight must be a Tensor, got string 'w'");
    expect(() => tg.linear(junk(undefined), x)).toThrow('linear: input must be a Tensor, got undefined');
    expect(() => tg.linearRelu(x, tg.zeros([2, 3]), junk([1, 2]))).toThrow('linearRelu: bias must be a Tensor, got an array');
    expect(() => tg.sum(junk({}))).toThrow('sum: input must be a Tensor, got Object');
    expect(() => tg.softmax(junk(3))).toThrow('softmax: input must be a Tensor, got 3');
    expect(() => tg.reshape(junk('x'), [1])).toThrow("reshape: input must be a Tensor, got string 'x'");
    expect(() => tg.dropout(x, junk('0.5'))).toThrow("dropout: p must be a number in [0, 1], got string '0.5'");
    expect(() => tg.dropout(x, 0.5, junk('yes'))).toThrow("dropout: training must be a boolean, got string 'yes'");
  });
  it('loss options', () => {
    const logits = tg.zeros([2, 3]);
    const labels = tg.tensor([1, 2]);
    expect(() => tg.crossEntropy(logits, labels, { ignoreIndex: junk('1') })).toThrow("crossEntropy: ignoreIndex must be an integer, got string '1'");
    expect(() => tg.crossEntropy(logits, labels, { ignoreIndex: 0.5 })).toThrow('crossEntropy: ignoreIndex must be an integer, got 0.5');
    expect(() => tg.crossEntropy(logits, labels, { reduction: junk('avg') })).toThrow(
      "crossEntropy: reduction must be 'mean', 'sum' or 'none', got string 'avg'",
    );
    expect(() => tg.crossEntropy(logits, labels, { labelSmoothing: junk('0.1') })).toThrow(
      "crossEntropy: labelSmoothing must be a finite number, got string '0.1'",
    );
    expect(() => tg.crossEntropy(logits, labels, { labelSmoothing: 1.5 })).toThrow('crossEntropy: labelSmoothing must be in [0, 1], got 1.5');
    expect(() => tg.crossEntropy(logits, labels, junk(null))).toThrow('crossEntropy: options must be an object, got null');
    expect(() => tg.crossEntropy(tg.zeros([2, 0]), labels)).toThrow('crossEntropy: logits [2, 0] have no classes');
    expect(() => tg.nllLoss(logits, labels, { ignoreIndex: junk('1') })).toThrow("nllLoss: ignoreIndex must be an integer, got string '1'");
    expect(() => tg.nllLoss(logits, labels, { reduction: junk(1) })).toThrow("nllLoss: reduction must be 'mean', 'sum' or 'none', got 1");
    expect(() => tg.mseLoss(logits, logits, { reduction: junk('all') })).toThrow("mseLoss: reduction must be 'mean', 'sum' or 'none', got string 'all'");
    expect(() => tg.l1Loss(junk('a'), logits)).toThrow("l1Loss: input must be a Tensor, got string 'a'");
    expect(() => tg.bce(logits, junk(1))).toThrow('bce: target must be a Tensor, got 1');
    expect(() => tg.bceWithLogits(logits, logits, { posWeight: junk([1]) })).toThrow('bceWithLogits: posWeight must be a Tensor, got an array');
  });
  it('creation: values, shapes, options', () => {
    expect(() => tg.tensor([1n] as unknown as number[])).toThrow('tensor: values must be numbers, got bigint 1n at [0]');
    expect(() => tg.tensor([[1], [2n]] as unknown as number[][])).toThrow('tensor: values must be numbers, got bigint 2n at [1, 0]');
    expect(() => tg.tensor([1, 2], junk(2))).toThrow('tensor: shape must be an array of dims or an options object, got 2');
    expect(() => tg.zeros([2], { requiresGrad: junk('yes') })).toThrow("zeros: options.requiresGrad must be a boolean, got string 'yes'");
    expect(() => tg.zeros([-1])).toThrow('zeros: invalid shape: dims must be non-negative integers, got -1 at position 0');
    expect(() => tg.ones([2, 1.5])).toThrow('ones: invalid shape: dims must be non-negative integers, got 1.5 at position 1');
    expect(() => tg.rand([Number.NaN])).toThrow('rand: invalid shape: dims must be non-negative integers, got NaN at position 0');
    expect(() => tg.randn([junk('2')])).toThrow("randn: invalid shape: dims must be non-negative integers, got string '2' at position 0");
    // A hole in a sparse array is a missing dim, not one to skip.
    // eslint-disable-next-line no-sparse-arrays
    expect(() => new tg.Tensor(new Float32Array(6), [2, , 3] as unknown as number[])).toThrow('Tensor: invalid shape: dims must be non-negative integers, got undefined at position 1');
    expect(() => tg.zeros(junk('3'))).toThrow("zeros: shape must be an array of dims or a number, got string '3'");
    expect(() => tg.full([2], junk('1'))).toThrow("full: value must be a number, got string '1'");
    expect(() => tg.arange(0, junk('3'))).toThrow("arange: end must be a finite number, got string '3'");
    expect(() => tg.eye(-2)).toThrow('eye: invalid shape: dims must be non-negative integers, got -2 at position 0');
    expect(() => tg.zerosLike(junk([1]))).toThrow('zerosLike: input must be a Tensor, got an array');
    expect(() => x.reshape(2, -2)).toThrow('reshape: invalid shape: dims must be non-negative integers, got -2 at position 1');
    expect(() => tg.zeros(new Array(65).fill(1))).toThrow('zeros: shape has 65 dims, more than the 64 a tensor may have');
  });
  it('oversized shapes name the op instead of failing inside V8', () => {
    const over = 'more than the 4294967295 a Float32Array can hold';
    expect(thrown(() => tg.zeros([2 ** 31, 2 ** 31]))).toBe(`zeros: shape [2147483648, 2147483648] has ${2 ** 62} elements, ${over}`);
    expect(thrown(() => tg.ones([65536, 65537]))).toBe(`ones: shape [65536, 65537] has 4295032832 elements, ${over}`);
    expect(thrown(() => tg.eye(70000))).toBe(`eye: shape [70000, 70000] has 4900000000 elements, ${over}`);
    expect(thrown(() => tg.arange(0, 5e9))).toBe(`arange: shape [5000000000] has 5000000000 elements, ${over}`);
    const col = tg.zeros([70000, 1]);
    const row = tg.zeros([1, 70000]);
    expect(thrown(() => col.matmul(row))).toBe(`matmul: shape [70000, 70000] has 4900000000 elements, ${over}`);
    expect(thrown(() => col.add(row))).toBe(`add: shape [70000, 70000] has 4900000000 elements, ${over}`);
    expect(thrown(() => tg.linear(col, tg.zeros([70000, 1])))).toBe(`linear: shape [70000, 70000] has 4900000000 elements, ${over}`);
    expect(thrown(() => tg.indexSelect(row, new Int32Array(70000)))).toBe(`indexSelect: shape [70000, 70000] has 4900000000 elements, ${over}`);
  });
  it('results of huge-but-empty tensors name the op, not an internal helper', () => {
    const over = 'more than the 4294967295 a Float32Array can hold';
    // [2^50, 0] reduced over its empty dim: nothing to pick from (PyTorch refuses too), before any allocation.
    expect(thrown(() => tg.zeros([2 ** 50, 0]).min(-1, true))).toBe('min: cannot reduce over a zero-size dim 1');
    expect(thrown(() => tg.zeros([2 ** 40, 0, 3]).argmin(-2))).toBe('argmin: cannot reduce over a zero-size dim 1');
    expect(thrown(() => tg.zeros([0, 2 ** 53]).max(-2))).toBe('max: cannot reduce over a zero-size dim 0');
    // A sum over it is all zeros, but more of them than a Float32Array holds.
    expect(thrown(() => tg.zeros([0, 2 ** 33]).sum(0))).toBe(`sum: shape [8589934592] has 8589934592 elements, ${over}`);
    expect(thrown(() => tg.zeros([0, 2 ** 33]).mean(0, true))).toBe(`mean: shape [1, 8589934592] has 8589934592 elements, ${over}`);
  });
  it('arange refuses a step pointing away from end (PyTorch does), and huge ignoreIndex values', () => {
    expect(() => tg.arange(0, 5, -1)).toThrow('arange: step -1 points away from end: no values from 0 to 5');
    expect(() => tg.arange(-3)).toThrow('arange: step 1 points away from end: no values from 0 to -3');
    expect(tg.arange(5, 0, -2).toArray()).toEqual([5, 3, 1]);
    expect(tg.arange(0).shape).toEqual([0]);
    // Refused alike on both backends (the native kernel takes |ignoreIndex| <= 1e15), even with no rows.
    expect(() => tg.crossEntropy(tg.zeros([0, 1]), tg.zeros([0]), { ignoreIndex: 1e300 })).toThrow(
      'crossEntropy: ignoreIndex must be an integer in [-1e15, 1e15], got 1e+300',
    );
    expect(() => tg.nllLoss(tg.zeros([1, 2]), tg.zeros([1]), { ignoreIndex: -(2 ** 53) })).toThrow(
      'nllLoss: ignoreIndex must be an integer in [-1e15, 1e15], got -9007199254740992',
    );
    expect(tg.crossEntropy(tg.zeros([2, 2]), tg.tensor([2 ** 40, 0]), { ignoreIndex: 2 ** 40, reduction: 'sum' }).item()).toBeCloseTo(Math.log(2), 6);
  });
  it('layer constructors', () => {
    expect(() => new tg.Linear(-1, 3)).toThrow('Linear: inFeatures must be a non-negative integer, got -1');
    expect(() => new tg.Linear(2, junk('3'))).toThrow("Linear: outFeatures must be a non-negative integer, got string '3'");
    expect(() => new tg.Linear(2, 3, { bias: junk('no') })).toThrow("Linear: options.bias must be a boolean, got string 'no'");
    expect(() => new tg.Dropout(2)).toThrow('Dropout: p must be a number in [0, 1], got 2');
    expect(() => new tg.Dropout(junk('0.5'))).toThrow("Dropout: p must be a number in [0, 1], got string '0.5'");
    expect(() => new tg.LeakyReLU(junk('x'))).toThrow("LeakyReLU: negativeSlope must be a finite number, got string 'x'");
    expect(() => new tg.GELU(junk('fast'))).toThrow("GELU: approximate must be 'none' or 'tanh', got string 'fast'");
    expect(() => new tg.Softmax(junk('1'))).toThrow("Softmax: dim must be an integer, got string '1'");
    expect(() => new tg.LogSoftmax(0.5)).toThrow('LogSoftmax: dim must be an integer, got 0.5');
    expect(() => new tg.Flatten(0.5)).toThrow('Flatten: startDim must be an integer, got 0.5');
  });
});
