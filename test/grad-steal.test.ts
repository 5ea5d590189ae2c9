import { expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { onAlloc } from '../src/shape.js';
import { describeBackends } from './helpers/backends.js';

// backward() hands a leaf its gradient tensor itself, not a copy, when nothing else can hold that
// buffer (PyTorch's AccumulateGrad does the same). These tests pin down both halves: the copy is
// really saved, and a shared gradient is never aliased into two .grad fields.
describeBackends('gradient stealing', () => {
  it('gives a Linear weight its gradient without a copy: one weight-sized allocation in backward, not two', () => {
    const lin = new tg.Linear(300, 200);
    const x = tg.randn([16, 300]);
    const loss = lin.forward(x).sum();
    let floats = 0;
    const stop = onAlloc((a) => void (floats += a.length));
    try {
      loss.backward();
    } finally {
      stop();
    }
    const weight = 300 * 200;
    expect(floats).toBeGreaterThanOrEqual(weight);
    expect(floats).toBeLessThan(2 * weight); // a copy into .grad would make it at least two
    // And the values are right: d(sum(xWᵀ + b))/dW = column sums of x, per output row.
    const colSums = x.sum(0).toArray() as number[];
    const g = lin.weight.grad!.toArray() as number[][];
    for (const row of [g[0]!, g[199]!]) row.forEach((v, j) => expect(v).toBeCloseTo(colSums[j]!, 3));
  });

  it('never lets two leaves share one gradient buffer', () => {
    const a = tg.randn([4, 3], { requiresGrad: true });
    const b = tg.randn([4, 3], { requiresGrad: true });
    a.add(b).mul(2).sum().backward(); // add hands the same gradient tensor to both
    expect(a.grad!.toArray()).toEqual(b.grad!.toArray());
    tg.noGrad(() => a.grad!.fill_(0));
    expect((b.grad!.toArray() as number[][]).flat().every((v) => v === 2)).toBe(true);
    // Nor a leaf and a retained intermediate.
    const x = tg.randn([5], { requiresGrad: true });
    const h = x.mul(3);
    h.retainGrad();
    h.reshape([5]).sum().backward();
    tg.noGrad(() => h.grad!.fill_(-1));
    expect(x.grad!.toArray()).toEqual([3, 3, 3, 3, 3]);
  });

  it('accumulates into a stolen gradient on the next backward without touching anything else', () => {
    const x = tg.randn([3, 2], { requiresGrad: true });
    const y1 = x.mul(3).sum();
    y1.backward();
    const first = x.grad!;
    x.mul(5).sum().backward();
    expect(x.grad).toBe(first); // accumulated in place
    expect((x.grad!.toArray() as number[][]).flat()).toEqual([8, 8, 8, 8, 8, 8]);
    y1.backward(); // the first graph again: its own gradients are fresh, the sum goes on
    expect((x.grad!.toArray() as number[][]).flat()).toEqual([11, 11, 11, 11, 11, 11]);
  });

  it('leaves a gradient passed to backward(grad) with the caller', () => {
    const x = tg.randn([2, 2], { requiresGrad: true });
    const up = tg.ones([2, 2]);
    x.mul(1).backward(up);
    tg.noGrad(() => x.grad!.fill_(7));
    expect(up.toArray()).toEqual([[1, 1], [1, 1]]);
    const z = tg.randn([2, 2], { requiresGrad: true });
    z.backward(up); // z is the root: its gradient is up itself, which stays the caller's
    tg.noGrad(() => z.grad!.fill_(9));
    expect(up.toArray()).toEqual([[1, 1], [1, 1]]);
  });
});
