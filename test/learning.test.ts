import { expect, it } from 'vitest';
import * as tg from '../src/index.js';
import type { Tensor } from '../src/index.js';
import { describeBackends } from './helpers/backends.js';

/** A layer's weights, uniform in ±1/√fanIn (PyTorch's Linear default range). */
function param(shape: number[], fanIn: number): Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  return tg.rand(shape).mul(2 * bound).sub(bound).detach().requiresGrad_();
}

/** Plain SGD written by hand: p ← p − lr·∇p, then clear the gradient. */
function sgdStep(params: Tensor[], lr: number): void {
  for (const p of params) {
    const g = p.grad!.data;
    for (let i = 0; i < p.size; i++) p.data[i] -= lr * g[i]!;
    p.grad = null;
  }
}

describeBackends('a two-layer MLP from raw tensors learns', () => {
  it('XOR to 100% accuracy', () => {
    tg.manualSeed(0);
    const x = tg.tensor([[0, 0], [0, 1], [1, 0], [1, 1]]);
    const y = tg.tensor([[0], [1], [1], [0]]);
    const w1 = param([2, 8], 2);
    const b1 = param([8], 2);
    const w2 = param([8, 1], 8);
    const b2 = param([1], 8);
    const forward = (inp: Tensor) => inp.matmul(w1).add(b1).tanh().matmul(w2).add(b2).sigmoid();
    let loss = Infinity;
    for (let step = 0; step < 2000; step++) {
      const l = forward(x).sub(y).pow(2).mean();
      l.backward();
      sgdStep([w1, b1, w2, b2], 2);
      loss = l.item();
    }
    const pred = tg.noGrad(() => forward(x));
    const correct = Array.from(pred.data).filter((p, i) => (p > 0.5 ? 1 : 0) === y.data[i]).length;
    expect(correct).toBe(4);
    expect(loss).toBeLessThan(0.01);
  });

  it('y = sin(x) on [-π, π] to MSE < 0.01', () => {
    tg.manualSeed(1);
    const n = 128;
    const x = tg.arange(n).mul((2 * Math.PI) / (n - 1)).sub(Math.PI).reshape(n, 1);
    const y = x.detach().clone();
    for (let i = 0; i < n; i++) y.data[i] = Math.sin(x.data[i]!);
    const w1 = param([1, 32], 1);
    const b1 = param([32], 1);
    const w2 = param([32, 1], 32);
    const b2 = param([1], 32);
    const forward = (inp: Tensor) => inp.matmul(w1).add(b1).tanh().matmul(w2).add(b2);
    let mse = Infinity;
    for (let step = 0; step < 3000; step++) {
      const l = forward(x).sub(y).pow(2).mean();
      l.backward();
      sgdStep([w1, b1, w2, b2], 0.1);
      mse = l.item();
    }
    const final = tg.noGrad(() => forward(x).sub(y).pow(2).mean().item());
    expect(final).toBeLessThan(0.01);
    expect(mse).toBeLessThan(0.01);
  });
});

describeBackends('numerical stability', () => {
  it('softmax and logSoftmax stay finite for huge logits', () => {
    const x = tg.tensor([[1000, 0, -1000], [-1e30, 1e30, 0], [88.8, 88.7, -200]]);
    const s = x.softmax(1);
    const ls = x.logSoftmax(1);
    expect(Array.from(s.data).every(Number.isFinite)).toBe(true);
    expect(Array.from(ls.data).every(Number.isFinite)).toBe(true);
    expect(s.data[0]).toBe(1);
    expect(ls.data[2]).toBeCloseTo(-2000, 0);
    expect(ls.data[3]).toBeCloseTo(-2e30, -25);
    for (let r = 0; r < 3; r++) expect(s.data[r * 3]! + s.data[r * 3 + 1]! + s.data[r * 3 + 2]!).toBeCloseTo(1, 6);
  });

  it('sigmoid saturates without NaN', () => {
    const y = tg.tensor([-1000, -100, 0, 100, 1000], { requiresGrad: true });
    const s = y.sigmoid();
    expect(Array.from(s.data)).toEqual([0, Math.fround(1 / (1 + Math.exp(100))), 0.5, 1, 1]);
    s.sum().backward();
    expect(Array.from(y.grad!.data).every(Number.isFinite)).toBe(true);
  });
});
