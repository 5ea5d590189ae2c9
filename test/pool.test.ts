import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { deferred } from '../src/backend/deferred.js';
import { getBackend } from '../src/backend/index.js';
import { loadAddon } from '../src/backend/native.js';
import { MIN_POOLED, givePooled, pooledByteCount, setPooling, takePooled } from '../src/pool.js';
import { describeBackends } from './helpers/backends.js';

// The library recycles the arrays it knows are dead (src/pool.ts): gradients backward() has
// finished with, backward closures' temporaries, and gradients zeroGrad() drops when user code
// never saw them. These tests check that it happens, that results do not change, and that no
// array a user (or a graph) can still reach is ever handed out again.

/** A model big enough that its activations and gradients are pooled (≥ MIN_POOLED elements). */
function setup(seed = 3) {
  tg.manualSeed(seed);
  const model = tg.mlp({ inputs: 96, hidden: [128, 64], outputs: 10 });
  const opt = new tg.Adam(model.parameters(), { lr: 1e-2 });
  const x = tg.randn([64, 96]);
  const y = tg.tensor(Array.from({ length: 64 }, (_, i) => (i * 7) % 10));
  const step = (): number => {
    const loss = tg.crossEntropy(model.forward(x), y);
    opt.zeroGrad();
    loss.backward();
    opt.step();
    return loss.item();
  };
  return { model, opt, x, y, step };
}

/** Fills the pool with NaN arrays of every length a training step of setup() asks for. */
function poison(): void {
  // The small ones (a loss, the 10 output biases' gradient) are kept with the native backend only.
  const lengths = [64 * 128, 64 * 64, 128 * 96, 64 * 128, 64 * 64, 128 * 96, 64 * 128, 64 * 96, 1, 1, 10, 10];
  for (const n of lengths) givePooled(new Float32Array(n).fill(Number.NaN));
}

/** NaN arrays of the 64×64 size the branching graphs below use, a few of them. */
function poisonSquares(): void {
  for (let i = 0; i < 6; i++) givePooled(new Float32Array(64 * 64).fill(Number.NaN));
}

afterEach(() => tg.emptyCache());

describeBackends('buffer pool', (backend) => {
  it('recycles gradients and temporaries: the pool fills during a training step', () => {
    const { step } = setup();
    tg.emptyCache();
    step();
    expect(pooledByteCount()).toBeGreaterThan(0);
    // zeroGrad hands back every gradient it drops (nobody read .grad)
    const before = pooledByteCount();
    const s = setup();
    s.step();
    tg.emptyCache();
    s.opt.zeroGrad();
    expect(pooledByteCount()).toBeGreaterThanOrEqual((128 * 96 + 64 * 128) * 4);
    expect(before).toBeGreaterThan(0);
  });

  it('gives the same losses, bit for bit, with recycled (even NaN-filled) arrays as with fresh ones', () => {
    const fresh: number[] = [];
    const a = setup(7);
    for (let i = 0; i < 6; i++) {
      tg.emptyCache(); // every array fresh
      fresh.push(a.step());
    }
    const recycled: number[] = [];
    const b = setup(7);
    for (let i = 0; i < 6; i++) {
      poison(); // stale values everywhere a kernel could read before it writes
      recycled.push(b.step());
    }
    expect(recycled).toEqual(fresh);
    expect(fresh.every(Number.isFinite)).toBe(true);
    expect(fresh[5]!).toBeLessThan(fresh[0]!);
    // and the weights themselves agree
    const wa = a.model.parameters().map((p) => Array.from(p.data));
    const wb = b.model.parameters().map((p) => Array.from(p.data));
    expect(wb).toEqual(wa);
  });

  it('never recycles a gradient user code read through .grad', () => {
    const { model, opt, x, y } = setup();
    tg.crossEntropy(model.forward(x), y).backward();
    const w = model.parameters()[0]!;
    const held = w.grad!; // user code now holds it (toArray reads without exposing the array)
    const values = held.toArray();
    opt.zeroGrad();
    expect(w.grad).toBeNull();
    // more steps: every pooled array of that length is handed out and overwritten again
    for (let i = 0; i < 3; i++) {
      poison();
      const loss = tg.crossEntropy(model.forward(x), y);
      opt.zeroGrad();
      loss.backward();
      opt.step();
    }
    expect(held.isDisposed).toBe(false);
    expect(held.toArray()).toEqual(values);
  });

  it('never recycles a gradient assigned by user code, nor one kept by retainGrad', () => {
    const p = tg.randn([64, 80], { requiresGrad: true });
    const mine = tg.ones([64, 80]);
    p.grad = mine;
    const opt = new tg.SGD([p], { lr: 0.1 });
    opt.zeroGrad();
    for (let i = 0; i < 3; i++) {
      p.mul(2).sum().backward();
      opt.zeroGrad();
    }
    expect((mine.toArray() as number[][]).flat().every((v) => v === 1)).toBe(true);

    const x = tg.randn([64, 80], { requiresGrad: true });
    const h = x.mul(3);
    h.retainGrad();
    h.mul(h).sum().backward();
    const kept = Array.from(h.grad!.data);
    for (let i = 0; i < 3; i++) {
      poison();
      x.mul(5).relu().sum().backward();
    }
    expect(Array.from(h.grad!.data)).toEqual(kept);
  });

  it('keeps activations the caller holds: outputs of forward are never recycled', () => {
    const { model, opt, x, y } = setup();
    const out = model.forward(x);
    const values = Array.from(out.data);
    const loss = tg.crossEntropy(out, y);
    opt.zeroGrad();
    loss.backward();
    opt.step();
    for (let i = 0; i < 3; i++) {
      poison();
      const l = tg.crossEntropy(model.forward(x), y);
      opt.zeroGrad();
      l.backward();
      opt.step();
    }
    expect(Array.from(out.data)).toEqual(values);
  });

  it('refuses arrays it must not hand out again: views, empty and (TS backend) small arrays, duplicates; emptyCache drops everything', () => {
    tg.emptyCache();
    const big = new Float32Array(MIN_POOLED * 2);
    givePooled(big.subarray(0, MIN_POOLED)); // a piece of a larger buffer
    givePooled(new Float32Array(0));
    givePooled(new Float32Array(MIN_POOLED - 1)); // small: kept only for the native backend
    const small = backend().name === 'native' ? (MIN_POOLED - 1) * 4 : 0;
    expect(pooledByteCount()).toBe(small);
    tg.emptyCache();
    const a = new Float32Array(MIN_POOLED);
    givePooled(a);
    givePooled(a); // twice: must not be handed to two tensors
    expect(pooledByteCount()).toBe(MIN_POOLED * 4);
    expect(takePooled(MIN_POOLED)).toBe(a);
    expect(takePooled(MIN_POOLED)).toBeUndefined();
    givePooled(a);
    tg.emptyCache();
    expect(pooledByteCount()).toBe(0);
    expect(takePooled(MIN_POOLED)).toBeUndefined();
  });

  it('gives the gradients of branching graphs exactly as with recycling off (shared inputs, fan-out, accumulation)', () => {
    const graphs: ((t: tg.Tensor[]) => tg.Tensor)[] = [
      // a used three times; d both feeds a matmul and is squared
      ([x, w1, w2]) => {
        const a = x!.matmul(w1!);
        const c = a.mul(a.relu()).add(a);
        return c.matmul(w2!).tanh().sum().add(c.mul(c).mean());
      },
      // add hands one gradient tensor to both of its inputs
      ([x, w1, w2, w3]) => x!.matmul(w1!).add(x!.matmul(w2!)).relu().matmul(w3!).sum(),
      // views (reshape, transpose) and a concat between matmuls
      ([x, w1, w2]) => {
        const a = x!.matmul(w1!).reshape([32, 128]).reshape([64, 64]);
        const b = tg.concat([a.transpose(0, 1), x!.matmul(w2!)], 0);
        return b.sigmoid().mul(b).sum().add(a.exp().mean());
      },
      // a linear+relu chain where a leaf is also used mid-way
      ([x, w1, w2, w3]) => {
        const h = tg.linearRelu(x!, w1!).add(x!);
        return tg.linear(tg.linearRelu(h, w2!), w3!).pow(2).mean().add(h.mul(w1!).sum());
      },
    ];
    graphs.forEach((f, gi) => {
      const run = (pool: boolean): number[][] => {
        setPooling(pool);
        try {
          tg.manualSeed(11 + gi);
          const ts = [0, 1, 2, 3].map(() => tg.randn([64, 64], { requiresGrad: true }));
          for (let r = 0; r < 2; r++) {
            if (pool) poisonSquares();
            for (const t of ts) t.grad = null;
            f(ts).backward();
          }
          return ts.map((t) => (t.grad ? Array.from(t.grad.toArray() as number[][]).flat() : []));
        } finally {
          setPooling(true);
        }
      };
      expect(run(true), `graph ${gi}`).toEqual(run(false));
    });
  });

  it('recycles small results (under 17 elements) with the native backend only, with correct values', () => {
    tg.emptyCache();
    const a = tg.tensor([[1, 2], [3, 4]]);
    const b = tg.tensor([[5, 6], [7, 8]]);
    const first = a.matmul(b);
    const firstArray = tg.Tensor._rawOf(first)!;
    expect((first.toArray() as number[][]).flat()).toEqual([19, 22, 43, 50]);
    first.dispose();
    const second = a.add(b);
    expect((second.toArray() as number[][]).flat()).toEqual([6, 8, 10, 12]);
    // The 4-element array of the first result comes back for the next 4-element result.
    expect(tg.Tensor._rawOf(second) === firstArray).toBe(backend().name === 'native');
  });

  it('zero-fills recycled arrays for ops that need zeros', () => {
    tg.emptyCache();
    givePooled(new Float32Array(MIN_POOLED).fill(Number.NaN));
    const z = tg.zeros([MIN_POOLED]);
    expect((z.toArray() as number[]).every((v) => v === 0)).toBe(true);
  });
});

// 64×64 outputs, and 2×2 ones: fewer than MIN_POOLED elements, pooled with the native backend only.
for (const SIDE of [64, 2]) describeBackends(`dispose() recycling, ${SIDE}x${SIDE} results`, (backend) => {
  // dispose() hands an array back only when the tensor was its sole holder: these pin down each
  // case where something else still reaches it.
  const pooled = (): boolean => SIDE * SIDE >= MIN_POOLED || backend().name === 'native';
  const operands = (): [tg.Tensor, tg.Tensor] => {
    tg.manualSeed(11);
    return [tg.randn([SIDE, 32]), tg.randn([32, SIDE])];
  };

  it('hands a sole-owner result back: the next op of that size reuses it and computes correct values', () => {
    const [a, b] = operands();
    const expected = tg.matmul(a, b).toArray();
    tg.emptyCache();
    const c = tg.matmul(a, b);
    const arr = c._buf;
    c.dispose();
    expect(pooledByteCount()).toBe(pooled() ? SIDE * SIDE * 4 : 0);
    const d = tg.matmul(a, b);
    expect(d._buf === arr).toBe(pooled());
    expect(d.toArray()).toEqual(expected);
    expect(() => c.toArray()).toThrow(/disposed/);
  });

  it('keeps an array user code holds (.data), and one a view shares, with the view intact', () => {
    const [a, b] = operands();
    tg.emptyCache();
    const c = tg.matmul(a, b);
    const held = c.data;
    const copy = held.slice();
    c.dispose();
    expect(pooledByteCount()).toBe(0);

    const e = tg.matmul(a, b);
    const view = e.reshape([SIDE * SIDE]);
    const want = view.toArray();
    e.dispose();
    expect(pooledByteCount()).toBe(0);
    tg.matmul(a.neg(), b); // an op of the same size must not get the view's array
    expect(view.toArray()).toEqual(want);
    expect(held).toEqual(copy);
  });

  it('keeps an array a graph saved for backward; backward then reports the disposal', () => {
    const [a, b] = operands();
    const w = b.clone().requiresGrad_();
    tg.emptyCache();
    const h = tg.matmul(a, w);
    const r = tg.relu(h); // relu's backward reads h
    h.dispose();
    expect(pooledByteCount()).toBe(0);
    expect(() => r.sum().backward()).toThrow(/disposed/);
  });

  it('keeps arrays while an async batch records: their kernels run later, in order', async () => {
    const [a, b] = operands();
    const want = (tg.matmul(a, b).neg().toArray() as number[][]).flat();
    tg.emptyCache();
    const batched = tg.backendInfo().backend === 'native';
    const d = await deferred(() => {
      const c = tg.matmul(a, b);
      const negated = c.neg();
      c.dispose();
      // With the native backend nothing above has run yet: c's array must not be handed to this op.
      expect(pooledByteCount()).toBe(batched || !pooled() ? 0 : SIDE * SIDE * 4);
      tg.matmul(a.neg(), b);
      return negated;
    });
    expect((d.toArray() as number[][]).flat()).toEqual(want);
  });

  it('keeps an array a file write has read: the write may still be in flight when dispose() runs', async () => {
    const [a, b] = operands();
    const dir = mkdtempSync(join(tmpdir(), 'tg-pool-'));
    try {
      const c = tg.matmul(a, b);
      const want = c.toArray();
      await tg.save({ c }, join(dir, 'c.safetensors'));
      tg.emptyCache();
      c.dispose();
      expect(pooledByteCount()).toBe(0);
      expect((await tg.load(join(dir, 'c.safetensors')))['c']!.toArray()).toEqual(want);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describeBackends('Sequential releases intermediates without a graph', () => {
  const values = (t: tg.Tensor): number[] => (t.toArray() as number[][]).flat();

  it('recycles what only its built-in layers held, with the same outputs, and never the input or output', () => {
    tg.manualSeed(5);
    const model = new tg.Sequential(new tg.Linear(32, 128), new tg.ReLU(), new tg.Linear(128, 64), new tg.Tanh(), new tg.Identity(), new tg.Linear(64, 4));
    const x = tg.randn([64, 32]);
    const want = values(model.forward(x)); // with a graph: nothing released
    tg.emptyCache();
    const out = tg.noGrad(() => model.forward(x));
    expect(values(out)).toEqual(want);
    // The two [64, 64] activations came back (the Identity passes one through). The [64, 128]
    // one never was a tensor: the first two Linear layers ran as one linearChain call, which the
    // addon runs with a buffer of its own, and the TS backend layer by layer, handing it back.
    const composed = getBackend().name === 'js' || typeof loadAddon()?.linearChain !== 'function';
    const chained = composed ? 64 * 128 : 0;
    expect(pooledByteCount()).toBe((chained + 64 * 64 + 64 * 64) * 4);
    expect(x.isDisposed || out.isDisposed).toBe(false);
    for (let i = 0; i < 3; i++) expect(values(tg.noGrad(() => model.forward(x)))).toEqual(want);
  });

  it('leaves alone what a user-defined layer saw, and everything while a graph is recorded', () => {
    class Keep extends tg.Module {
      seen: tg.Tensor[] = [];
      forward(x: tg.Tensor) {
        this.seen.push(x);
        return x.mul(2);
      }
    }
    class StashingLinear extends tg.Linear {
      last: tg.Tensor | null = null;
      override forward(x: tg.Tensor) {
        this.last = super.forward(x);
        return this.last;
      }
    }
    tg.manualSeed(6);
    const keep = new Keep();
    const stash = new StashingLinear(64, 64);
    const model = new tg.Sequential(new tg.Linear(16, 64), keep, new tg.Linear(64, 64), new tg.ReLU(), stash, new tg.ReLU(), new tg.Linear(64, 3));
    const x = tg.randn([64, 16]);
    tg.noGrad(() => model.forward(x));
    const kept = keep.seen[0]!;
    const keptValues = kept.toArray();
    const stashed = stash.last!;
    const stashedValues = stashed.toArray();
    tg.noGrad(() => model.forward(tg.randn([64, 16])));
    expect(kept.isDisposed || stashed.isDisposed).toBe(false);
    expect(kept.toArray()).toEqual(keptValues);
    expect(stashed.toArray()).toEqual(stashedValues);

    tg.emptyCache();
    const y = model.forward(x);
    expect(pooledByteCount()).toBe(0);
    y.sum().backward();
    expect(model.parameters().every((p) => p.grad !== null)).toBe(true);
  });
});
