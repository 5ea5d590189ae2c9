import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { describeBackends } from './helpers/backends.js';

describeBackends('dispose', () => {
  it('releases a tensor early; any later use throws a clear error naming the op', () => {
    const t = tg.randn([3, 4], { requiresGrad: true });
    t.sum().backward();
    expect(t.isDisposed).toBe(false);
    t.dispose();
    expect(t.isDisposed).toBe(true);
    expect(t.grad).toBeNull();
    expect(() => t.data).toThrow('data: tensor was disposed');
    expect(() => t.item()).toThrow('item: tensor was disposed');
    expect(() => t.toArray()).toThrow('toArray: tensor was disposed');
    expect(() => t.add(1)).toThrow(/tensor was disposed/);
    expect(() => tg.matmul(t, tg.ones([4, 2]))).toThrow(/tensor was disposed/);
    expect(() => t.reshape([12])).toThrow(/tensor was disposed/);
    expect(() => tg.noGrad(() => t.fill_(0))).toThrow(/tensor was disposed/);
    expect(() => new tg.Linear(4, 2).forward(t)).toThrow(/tensor was disposed/);
    expect(() => (tg.ones([3, 4]).grad = t)).toThrow('grad: tensor was disposed');
    t.dispose(); // twice is harmless
    expect(t.shape).toEqual([3, 4]); // the shape stays readable, for messages
  });

  it('leaves views and other tensors of the same data usable', () => {
    const t = tg.tensor([[1, 2], [3, 4]]);
    const v = t.reshape([4]);
    const d = t.detach();
    t.dispose();
    expect(v.toArray()).toEqual([1, 2, 3, 4]);
    expect(d.sum().item()).toBe(10);
    v[Symbol.dispose]();
    expect(v.isDisposed).toBe(true);
    expect(d.isDisposed).toBe(false);
  });

  it('works with empty tensors too', () => {
    const t = tg.zeros([0, 3]);
    t.dispose();
    expect(() => t.sum()).toThrow(/tensor was disposed/);
  });

  it('makes backward refuse a graph that saved a disposed tensor', () => {
    const x = tg.randn([2, 3], { requiresGrad: true });
    const y = x.mul(x).sum();
    x.dispose();
    expect(() => y.backward()).toThrow(/disposed/);
  });

  it('refuses a disposed parameter in an optimizer step and in loadStateDict, naming it', () => {
    const m = new tg.Linear(3, 2);
    const opt = new tg.SGD(m.parameters(), { lr: 0.1 });
    tg.crossEntropy(m.forward(tg.randn([4, 3])), tg.tensor([0, 1, 0, 1])).backward();
    m.weight.grad!.dispose();
    expect(() => opt.step()).toThrow(/disposed/);
    const other = new tg.Linear(3, 2);
    const sd = other.stateDict();
    sd['bias']!.dispose();
    expect(() => m.loadStateDict(sd)).toThrow(/bias: tensor was disposed/);
  });

  it('frees the memory while the disposed tensor itself is still reachable', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const kept = [tg.randn([256, 256]), tg.randn([64])];
    const refs = kept.map((t) => new WeakRef(t.data.buffer));
    const view = kept[1]!.reshape(8, 8);
    for (const t of kept) t.dispose();
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 0));
    }
    // The disposed tensor's storage used to keep its whole array alive.
    expect(refs[0]!.deref()).toBeUndefined();
    expect(refs[1]!.deref()).toBeDefined(); // a view made before still holds it, and works
    expect(view.sum().item()).toBe(view.sum().item());
    expect(kept[0]!.isDisposed).toBe(true);
  });

  it('gives no gradient to a disposed tensor: backward and accumulateGrad throw, leaving every .grad as it was', () => {
    const w = tg.randn([3], { requiresGrad: true });
    const other = tg.randn([3], { requiresGrad: true });
    const h = w.mul(2);
    const loss = h.sum().add(other.sum());
    h.dispose(); // an intermediate: w's gradient would have been lost silently
    expect(() => loss.backward()).toThrow('backward: tensor was disposed');
    expect(w.grad).toBeNull();
    expect(other.grad).toBeNull();
    const lin = new tg.Linear(2, 2);
    const out = lin.forward(tg.randn([4, 2])).sum();
    lin.weight.dispose(); // a parameter the graph did not save
    expect(() => out.backward()).toThrow('backward: tensor was disposed');
    expect(lin.bias!.grad).toBeNull();
    expect(lin.weight.grad).toBeNull();
    expect(() => lin.weight.accumulateGrad(tg.ones([2, 2]))).toThrow('accumulateGrad: tensor was disposed');
    expect(() => tg.serialize({ w: lin.weight })).toThrow('tensor was disposed');
  });

  it('supports `using` declarations: leaving the block disposes', () => {
    let kept: tg.Tensor | null = null;
    {
      using a = tg.ones([2, 2]);
      kept = a;
      expect(a.sum().item()).toBe(4);
    }
    expect(kept.isDisposed).toBe(true);
  });
});
