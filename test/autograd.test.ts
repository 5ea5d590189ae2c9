import { describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { describeBackends } from './helpers/backends.js';

describeBackends('autograd', () => {
  it('accumulates gradients across backward calls until zeroed', () => {
    const x = tg.tensor([1, 2, 3], { requiresGrad: true });
    x.mul(x).sum().backward();
    expect(Array.from(x.grad!.data)).toEqual([2, 4, 6]);
    x.mul(3).sum().backward();
    expect(Array.from(x.grad!.data)).toEqual([5, 7, 9]);
    x.grad = null;
    x.sum().backward();
    expect(Array.from(x.grad!.data)).toEqual([1, 1, 1]);
  });

  it('sums the gradient of a tensor used several times (diamond)', () => {
    const x = tg.tensor([2], { requiresGrad: true });
    const y = x.mul(x); // x²
    const z = y.add(y.mul(x)); // x² + x³
    z.sum().backward();
    expect(x.grad!.item()).toBeCloseTo(2 * 2 + 3 * 4, 5);
  });

  it('takes an explicit upstream gradient for non-scalar outputs', () => {
    const x = tg.tensor([[1, 2], [3, 4]], { requiresGrad: true });
    const y = x.mul(2);
    y.backward(tg.tensor([[1, 0], [0.5, -1]]));
    expect(x.grad!.toArray()).toEqual([[2, 0], [1, -2]]);
  });

  it('handles a 10,000-op chain without overflowing the stack', () => {
    const x = tg.tensor([1], { requiresGrad: true });
    let y = x;
    for (let i = 0; i < 10_000; i++) y = y.mul(1.0001).add(0);
    y.sum().backward();
    expect(x.grad!.item()).toBeCloseTo(Math.pow(1.0001, 10_000), 2);
  });

  it('handles a 100,000-node chain', () => {
    const x = tg.tensor([0.5], { requiresGrad: true });
    let y = x;
    for (let i = 0; i < 100_000; i++) y = y.add(1e-6);
    y.sum().backward();
    expect(x.grad!.item()).toBe(1);
  });

  it('propagates requiresGrad from any input', () => {
    const a = tg.tensor([1, 2]);
    const b = tg.tensor([3, 4], { requiresGrad: true });
    expect(a.add(a).requiresGrad).toBe(false);
    expect(a.add(a).gradFn).toBeNull();
    const c = a.add(b);
    expect(c.requiresGrad).toBe(true);
    expect(c.gradFn?.op).toBe('add');
    expect(c.isLeaf).toBe(false);
    c.sum().backward();
    expect(a.grad).toBeNull();
    expect(Array.from(b.grad!.data)).toEqual([1, 1]);
  });

  it('records nothing under noGrad, and restores grad mode even on throw', () => {
    const w = tg.tensor([1, 2], { requiresGrad: true });
    const y = tg.noGrad(() => w.mul(2));
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    expect(() =>
      tg.noGrad(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(tg.isGradEnabled()).toBe(true);
    expect(w.mul(2).requiresGrad).toBe(true);
  });

  it('rejects async functions in noGrad', () => {
    expect(() => tg.noGrad(async () => 1)).toThrow(/synchronous/);
    expect(tg.isGradEnabled()).toBe(true);
  });

  it('detach cuts the graph but shares data', () => {
    const x = tg.tensor([1, 2], { requiresGrad: true });
    const d = x.mul(3).detach();
    expect(d.requiresGrad).toBe(false);
    const y = x.mul(d).sum();
    y.backward();
    expect(Array.from(x.grad!.data)).toEqual([3, 6]);
    const v = x.detach();
    v.data[0] = 10;
    expect(x.data[0]).toBe(10);
  });

  it('only leaves and retainGrad tensors keep .grad', () => {
    const x = tg.tensor([1, 2], { requiresGrad: true });
    const h = x.mul(2);
    const k = x.mul(3).retainGrad();
    h.add(k).sum().backward();
    expect(h.grad).toBeNull();
    expect(Array.from(k.grad!.data)).toEqual([1, 1]);
  });

  it('explains a backward() on a tensor that does not require grad', () => {
    expect(() => tg.tensor([1]).backward()).toThrow(/does not require grad/);
  });

  it('explains a backward() on a non-scalar without an upstream gradient', () => {
    const x = tg.tensor([1, 2], { requiresGrad: true });
    expect(() => x.mul(2).backward()).toThrow(/scalar outputs.*\[2\]/);
    expect(() => x.mul(2).backward(tg.tensor([1, 2, 3]))).toThrow(/\[3\] does not match tensor shape \[2\]/);
  });

  it('frees nothing the user holds: backward twice through the same graph gives the same grads', () => {
    const x = tg.tensor([1, -2, 3], { requiresGrad: true });
    const loss = x.tanh().mul(x).sum();
    loss.backward();
    const first = Array.from(x.grad!.data);
    x.grad = null;
    loss.backward();
    expect(Array.from(x.grad!.data)).toEqual(first);
  });
});

describe('requiresGrad_', () => {
  it('refuses to turn off grad on a non-leaf', () => {
    const x = tg.tensor([1], { requiresGrad: true });
    expect(() => x.mul(2).requiresGrad_(false)).toThrow(/leaf/);
    expect(tg.zeros([2]).requiresGrad_().requiresGrad).toBe(true);
  });
});
