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
    // d/dx (x² + x³) = 2x + 3x² = 16 at x = 2, exact in float32.
    expect(x.grad!.item()).toBe(2 * 2 + 3 * 4);
  });

  it('visits each node once: a 60-level ladder where every op reads the previous result twice', () => {
    // Walking the graph as a tree would take 2^60 visits; the gradient is 2^60 (exact in float32).
    const x = tg.tensor([1], { requiresGrad: true });
    let y = x;
    for (let i = 0; i < 60; i++) y = y.add(y);
    y.sum().backward();
    expect(x.grad!.item()).toBe(2 ** 60);
    const w = tg.tensor([3], { requiresGrad: true });
    let z = w;
    for (let i = 0; i < 60; i++) z = z.mul(0.5).add(z.mul(0.5));
    z.sum().backward();
    expect(w.grad!.item()).toBe(1);
  });

  it('takes an explicit upstream gradient for non-scalar outputs', () => {
    const x = tg.tensor([[1, 2], [3, 4]], { requiresGrad: true });
    const y = x.mul(2);
    y.backward(tg.tensor([[1, 0], [0.5, -1]]));
    expect(x.grad!.toArray()).toEqual([[2, 0], [1, -2]]);
  });

  it('a hand-built grad node (GradNode is public) may give an input no gradient, as null or by leaving it out', () => {
    const custom = (inputs: tg.Tensor[], grads: (tg.Tensor | null)[]): tg.Tensor => {
      const t = tg.tensor([0], { requiresGrad: true });
      t.gradFn = { op: 'custom', inputs, saved: [], backward: () => grads };
      return t;
    };
    const a = tg.tensor([1, 2], { requiresGrad: true });
    const b = tg.tensor([5], { requiresGrad: true });
    // null for m, an intermediate that needs grad: neither m nor a gets anything.
    const m = a.mul(3);
    custom([m, b], [null, tg.tensor([7])]).sum().backward();
    expect(a.grad).toBeNull();
    expect(Array.from(b.grad!.data)).toEqual([7]);
    // Left out, while m also gets a gradient by another path: only that one arrives.
    const m2 = a.mul(3);
    custom([m2], []).sum().add(m2.sum()).backward();
    expect(Array.from(a.grad!.data)).toEqual([3, 3]);
  });

  it('handles a 10,000-op chain without overflowing the stack', () => {
    const x = tg.tensor([1], { requiresGrad: true });
    let y = x;
    for (let i = 0; i < 10_000; i++) y = y.mul(1.0001).add(0);
    y.sum().backward();
    // Each mul's backward multiplies the upstream gradient by float32(1.0001), rounding once
    // (both backends round a product exactly once): replay that chain of roundings.
    const c = Math.fround(1.0001);
    let want = 1;
    for (let i = 0; i < 10_000; i++) want = Math.fround(want * c);
    expect(x.grad!.item()).toBe(want);
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
    expect(() => tg.noGrad({ shape: [2] } as unknown as () => number)).toThrow('noGrad: fn must be a function, got Object');
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
