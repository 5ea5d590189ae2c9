import { describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { Module, type Tensor } from '../src/index.js';
import { loadAddon } from '../src/backend/native.js';
import { givePooled, takePooled } from '../src/pool.js';
import { describeBackends } from './helpers/backends.js';

function model(seed = 1): tg.Sequential {
  tg.manualSeed(seed);
  return tg.mlp({ inputs: 20, hidden: [32, 16], outputs: 5, dropout: 0.3 });
}

/** Bitwise equality of two tensors' values (the async pass runs the very same kernels). */
function expectSame(a: Tensor, b: Tensor): void {
  expect(a.shape).toEqual(b.shape);
  expect(Array.from(a.data)).toEqual(Array.from(b.data));
}

/**
 * How many free arrays of n elements the buffer pool holds (counted by taking them, then given
 * back). Only this size: other tests' async work may hand back arrays of their own meanwhile.
 */
function pooledOf(n: number): number {
  const taken: Float32Array[] = [];
  for (let a = takePooled(n); a !== undefined; a = takePooled(n)) taken.push(a);
  for (const a of taken) givePooled(a);
  return taken.length;
}

/** A module whose forward reads values in JS mid-pass and builds a tensor from them. */
class Inspecting extends Module {
  readonly lin = new tg.Linear(4, 3);
  seen: Tensor | null = null;
  forward(x: Tensor): Tensor {
    const h = this.lin.forward(x);
    this.seen = h;
    const flip = h.sum().item() > 0 ? 1 : -1; // a value read on the JS thread
    const rows = tg.concat([h, h.mul(flip)], 1); // concat copies in JS
    return tg.indexSelect(rows, [x.shape[0]! - 1, ...Array.from({ length: x.shape[0]! - 1 }, (_, i) => i)]).softmax(1);
  }
}

describeBackends('predictAsync and evaluateAsync', () => {
  it('give exactly what predict and evaluate give, for one batch, many batches, no rows, datasets and loaders', async () => {
    const m = model();
    for (const rows of [1, 7, 64, 300]) {
      const x = tg.randn([rows, 20]);
      expectSame(await tg.predictAsync(m, x, { batchSize: 64 }), tg.predict(m, x, { batchSize: 64 }));
      expectSame(await m.predictAsync(x), tg.predict(m, x));
    }
    expectSame(await m.predictAsync(tg.zeros([0, 20])), tg.predict(m, tg.zeros([0, 20])));
    const x = tg.randn([50, 20]);
    const y = tg.tensor(Array.from({ length: 50 }, (_, i) => i % 5));
    const ds = new tg.TensorDataset(x, y);
    expectSame(await m.predictAsync(ds, { batchSize: 16 }), tg.predict(m, ds, { batchSize: 16 }));
    const loader = new tg.DataLoader(ds, { batchSize: 8 });
    expectSame(await m.predictAsync(loader), tg.predict(m, loader));
    const want = await tg.evaluate(m, [x, y], { batchSize: 16, confusionMatrix: true });
    const got = await m.evaluateAsync([x, y], { batchSize: 16, confusionMatrix: true });
    expect(got.loss).toBe(want.loss);
    expect(got.metrics).toEqual(want.metrics);
    expect(got.confusionMatrix!.matrix).toEqual(want.confusionMatrix!.matrix);
  });

  it('run in eval mode without a graph and leave the model in its mode', async () => {
    const m = model();
    m.train();
    const x = tg.randn([9, 20], { requiresGrad: true });
    const p = m.predictAsync(x);
    expect(m.training).toBe(true); // eval only while the pass was recorded
    const out = await p;
    expect(out.requiresGrad).toBe(false);
    expect(out.gradFn).toBeNull();
    expectSame(out, tg.predict(m, x)); // dropout off, as predict
  });

  it('use the input and the weights as they were at the call, whatever happens to them before it resolves', async () => {
    const m = model();
    const x = tg.randn([40, 20]);
    const want = tg.predict(m, x);
    const p = m.predictAsync(x, { batchSize: 15 });
    // The caller writes its input, transfers its buffer away, and trains the model at once.
    x.data.fill(7);
    structuredClone(x.data.buffer, { transfer: [x.data.buffer as ArrayBuffer] });
    const opt = new tg.SGD(m.parameters(), { lr: 0.5 });
    for (const q of m.parameters()) q.grad = tg.onesLike(q);
    opt.step();
    m.parameters()[0]!.data.fill(3); // and writes a weight through .data
    expectSame(await p, want);
  });

  it('see every in-place weight update made before the call (the weight copies follow the version counter)', async () => {
    const m = model();
    const x = tg.randn([5, 20]);
    await m.predictAsync(x); // caches copies of the weights
    const opt = new tg.Adam(m.parameters(), { lr: 0.1 });
    for (let i = 0; i < 3; i++) {
      for (const q of m.parameters()) q.grad = tg.randn(q.shape);
      opt.step();
      expectSame(await m.predictAsync(x), tg.predict(m, x));
    }
    m.loadStateDict(model(2).stateDict());
    expectSame(await m.predictAsync(x), tg.predict(m, x));
    tg.noGrad(() => m.parameters()[1]!.fill_(0.25));
    expectSame(await m.predictAsync(x), tg.predict(m, x));
    m.parameters()[2]!.data[0] = 9; // a silent write through .data: the tensor is exposed, so never cached
    expectSame(await m.predictAsync(x), tg.predict(m, x));
  });

  it('handle a forward that reads values, concatenates and indexes in JS mid-pass', async () => {
    tg.manualSeed(3);
    const m = new Inspecting();
    const x = tg.randn([6, 4]);
    const want = tg.predict(m, x);
    expectSame(await m.predictAsync(x), want);
    expectSame(await m.predictAsync(x.neg()), tg.predict(m, x.neg()));
  });

  it('run many calls at once, each with its own input, and agree with predict', async () => {
    const m = model();
    const xs = Array.from({ length: 24 }, (_, i) => tg.randn([1 + (i % 5) * 13, 20]));
    const outs = await Promise.all(xs.map((x) => m.predictAsync(x, { batchSize: 32 })));
    outs.forEach((o, i) => expectSame(o, tg.predict(m, xs[i]!, { batchSize: 32 })));
  });

  it('reject with the same errors as predict, and leave the library usable after a failing forward', async () => {
    const m = model();
    await expect(m.predictAsync(tg.zeros([3, 7]))).rejects.toThrow(/20/);
    await expect(tg.predictAsync(m, tg.tensor(1))).rejects.toThrow('predictAsync: input must have a batch dim');
    await expect(tg.predictAsync(m, tg.zeros([2, 20]), { batchSize: 0 })).rejects.toThrow('predictAsync');
    await expect(tg.predictAsync(m, tg.zeros([2, 20]), { nope: 1 } as never)).rejects.toThrow(/nope/);
    await expect(tg.predictAsync(m, tg.zeros([2, 20]), { signal: AbortSignal.abort(new Error('stop')) })).rejects.toThrow('stop');
    class Throws extends Module {
      forward(x: Tensor): Tensor {
        x.relu();
        throw new Error('forward failed on purpose');
      }
    }
    await expect(new Throws().predictAsync(tg.ones([2, 2]))).rejects.toThrow('forward failed on purpose');
    // Nothing is left installed: sync and async work go on as before.
    const x = tg.randn([4, 20]);
    expectSame(await m.predictAsync(x), tg.predict(m, x));
    expect(tg.ones([2]).add(1).toArray()).toEqual([2, 2]);
  });

  it('evaluateAsync copies an [x, y] pair at the call, and uses the weights of the call on every pass', async () => {
    const m = model();
    const x = tg.randn([40, 20]);
    const y = tg.tensor(Array.from({ length: 40 }, (_, i) => i % 5));
    const want = await tg.evaluate(m, [x, y], { batchSize: 8 });
    const p = m.evaluateAsync([x, y], { batchSize: 8 });
    // Later batches used to read the caller's x and y after these writes (both backends), and the
    // TS backend's later passes the trained weights.
    x.data.fill(1);
    y.data.fill(0);
    for (const q of m.parameters()) tg.noGrad(() => q.fill_(0.5));
    const got = await p;
    expect(got.loss).toBe(want.loss);
    expect(got.metrics).toEqual(want.metrics);
  });

  it('handle forwards that write their own weights, return their input or a non-Tensor, or throw after kernels ran', async () => {
    class SelfUpdating extends Module {
      readonly lin = new tg.Linear(4, 4);
      kept: Tensor | null = null;
      forward(x: Tensor): Tensor {
        const h = this.lin.forward(x);
        tg.noGrad(() => this.lin.bias!.copy_(h.sum(0))); // in-place on a parameter mid-pass
        this.lin.weight.data[0] = this.lin.weight.data[0]! + 1; // and a write through .data
        this.kept = this.lin.forward(x).tanh();
        if (x.shape[0] === 3) throw new Error('failed after its kernels');
        return this.kept.add(h);
      }
    }
    const x = tg.randn([5, 4]);
    tg.manualSeed(8);
    const a = new SelfUpdating();
    tg.manualSeed(8);
    const b = new SelfUpdating();
    // The native path used to run the later kernels on the weights pinned at the call.
    expectSame(await a.predictAsync(x, { batchSize: 2 }), tg.predict(b, x, { batchSize: 2 }));
    // Tensors the forward kept hold their values even though it threw (they were left all zeros).
    await expect(a.predictAsync(x.slice(0, 3))).rejects.toThrow('failed after its kernels');
    expect(() => tg.predict(b, x.slice(0, 3))).toThrow('failed after its kernels');
    expectSame(a.kept!, b.kept!);
    expect(a.kept!.abs().sum().item()).toBeGreaterThan(0);

    const identity = new (class extends Module {
      forward(t: Tensor): Tensor {
        return t.reshape(t.shape[0]!, -1);
      }
    })();
    const input = tg.randn([3, 4]);
    const out = await identity.predictAsync(input);
    input.data.fill(5); // the result is not the caller's array (it was on the TS backend)
    expect(out.data[0]).not.toBe(5);
    const junk = new (class extends Module {
      forward(): Tensor {
        return 42 as unknown as Tensor;
      }
    })();
    await expect(junk.predictAsync(tg.ones([2, 2]))).rejects.toThrow('forward() must return a Tensor, got 42');
  });

  it('a predictAsync called inside a forward resolves once its values exist', async () => {
    const inner = tg.mlp({ inputs: 64, hidden: [64], outputs: 64 });
    let pending: Promise<Tensor> | null = null;
    const outer = new (class extends Module {
      forward(x: Tensor): Tensor {
        pending = inner.predictAsync(x);
        let h = x;
        for (let i = 0; i < 20; i++) h = inner.forward(h).tanh();
        return h;
      }
    })();
    const x = tg.randn([256, 64]);
    const done = outer.predictAsync(x);
    // Awaited before the outer call: it used to resolve while the outer batch (holding its
    // kernels) still ran, and reading it threw "still being computed".
    expectSame(await pending!, tg.predict(inner, x));
    expectSame(await done, tg.predict(outer, x));
  });

  it('hand the activations a pass released back to the buffer pool once the pass has run', async () => {
    tg.manualSeed(9);
    const m = new tg.Sequential(new tg.Linear(20, 30), new tg.Tanh(), new tg.Linear(30, 30), new tg.Tanh(), new tg.Linear(30, 4));
    const x = tg.randn([40, 20]);
    const want = tg.predict(m, x);
    tg.emptyCache();
    const got = await tg.predictAsync(m, x);
    expectSame(got, want);
    // Four [40, 30] activations are released by Sequential. Recorded for the other thread, each is
    // a fresh array that only the batch uses, all four pooled once it has run; run at once (the
    // TypeScript backend), the second Linear and Tanh already reuse the first two. And the call's
    // copy of the [40, 20] input: no layer of this model keeps its input.
    const deferredPass = tg.backendInfo().backend === 'native' && typeof loadAddon()?.runAsync === 'function';
    expect(pooledOf(40 * 30)).toBe(deferredPass ? 4 : 2);
    expect(pooledOf(40 * 20)).toBe(1);
    // The next call takes them from the pool again: nothing more accumulates.
    expectSame(await tg.predictAsync(m, x), want);
    expect(pooledOf(40 * 30)).toBe(deferredPass ? 4 : 2);
    expect(pooledOf(40 * 20)).toBe(1);
  });

  it('recycle their copy of the input only when no module can have kept it and no output is it', async () => {
    class Keep extends Module {
      readonly lin = new tg.Linear(6, 3);
      kept: Tensor | null = null;
      forward(x: Tensor): Tensor {
        this.kept = x; // a view of the call's copy of the input
        return this.lin.forward(x);
      }
    }
    tg.manualSeed(10);
    const keep = new Keep();
    const x = tg.randn([8, 6]);
    const rows = Array.from(x.data);
    tg.emptyCache();
    await tg.predictAsync(keep, x, { batchSize: 8 });
    expect(pooledOf(8 * 6)).toBe(0); // a user module: the copy may still be referenced
    // Another call of another model with an input of the same size must not write over it.
    const plain = new tg.Sequential(new tg.Linear(6, 2));
    await tg.predictAsync(plain, tg.randn([8, 6]));
    expect(Array.from(keep.kept!.data)).toEqual(rows);
    // A model whose output is its input (Identity): the output is the copy, which stays.
    tg.emptyCache();
    const same = await tg.predictAsync(new tg.Sequential(new tg.Identity()), x);
    expect(pooledOf(8 * 6)).toBe(0);
    await tg.predictAsync(plain, tg.randn([8, 6]));
    expect(Array.from(same.data)).toEqual(rows);
    // Built-in layers only: the copy is pooled (8 x 6 floats; the [8, 2] output is returned).
    tg.emptyCache();
    await tg.predictAsync(plain, x);
    expect(pooledOf(8 * 6)).toBe(1);
  });
});

describe.runIf(loadAddon()?.runAsync !== undefined && process.env['TENSORGRAD_BACKEND'] !== 'js')('predictAsync on the native backend', () => {
  it('refuses access to a tensor of the pass until it has run, then allows it', async () => {
    tg.manualSeed(4);
    const m = new Inspecting();
    // Reads mid-pass run the batch so far on the JS thread; what is queued after the last read
    // (the softmax) still runs on the other thread, and m.seen is the Linear's output, read already.
    const m2 = new (class extends Module {
      readonly lin = new tg.Linear(64, 64);
      kept: Tensor | null = null;
      forward(x: Tensor): Tensor {
        this.kept = this.lin.forward(x).tanh();
        return this.kept.softmax(1);
      }
    })();
    const p = m2.predictAsync(tg.randn([512, 64]), { batchSize: 512 });
    expect(() => m2.kept!.toArray()).toThrow(/still being computed.*await/);
    expect(() => m2.kept!.data).toThrow(/still being computed/);
    await p;
    expect(m2.kept!.toArray()).toHaveLength(512);
    expect(m.seen).toBeNull();
  });

  it('keeps the event loop free while a large batch runs, and returns the same numbers as predict', async () => {
    tg.manualSeed(5);
    const m = tg.mlp({ inputs: 784, hidden: [512, 256], outputs: 10 });
    // A batch big enough that the synchronous call holds the thread for a long time (>= 150 ms).
    let rows = 1024;
    let syncMs = 0;
    let want = tg.predict(m, tg.zeros([1, 784]));
    let x = tg.zeros([1, 784]);
    for (; rows <= 65536; rows *= 2) {
      x = tg.rand([rows, 784]);
      const t0 = performance.now();
      want = tg.predict(m, x, { batchSize: rows });
      syncMs = performance.now() - t0;
      if (syncMs >= 150) break;
    }
    // Ordering, not timing (a shared machine can stall any thread for any time): the call returns
    // before the work is done, and the event loop keeps turning until the result arrives. A
    // predictAsync that ran the batch on this thread would return a settled promise: no turn of
    // the loop, and no timer, could come before its result.
    const start = performance.now();
    let fired = NaN;
    let turns = 0;
    let settled = false;
    const p = m.predictAsync(x, { batchSize: rows });
    const timer = new Promise<void>((resolve) => setTimeout(() => ((fired = performance.now() - start), resolve()), 1));
    const spin = new Promise<void>((resolve) => {
      const turn = (): void => {
        if (settled) return resolve();
        turns++;
        setImmediate(turn);
      };
      setImmediate(turn);
    });
    const out = await p;
    settled = true;
    const doneMs = performance.now() - start;
    await Promise.all([timer, spin]);
    expectSame(out, want);
    expect(fired).toBeLessThan(doneMs); // the 1 ms timer ran while the batch was computed
    expect(turns).toBeGreaterThanOrEqual(2);
  });

  it('checks every command of a batch in the addon before running any', async () => {
    const a = loadAddon()!;
    const c = new Float32Array(4);
    expect(() => a.runAsync!([['gemm', false, false, 2, 2, 2, 1, new Float32Array(4), new Float32Array(3), 0, c, null, false]])).toThrow(
      'tensorgrad native gemm: b has 3 elements, expected 4',
    );
    expect(() => a.runAsync!([['unary', 'neg', c, c, 0, 0], ['crossEntropy']])).toThrow("unknown kernel 'crossEntropy'");
    expect(() => a.runAsync!([[1]])).toThrow('command 0 must be an array [kernel name, ...arguments]');
    expect(() => (a.runAsync as unknown as (x: unknown) => void)(5)).toThrow('expected an array of commands');
    c.fill(2);
    await a.runAsync!([['unary', 'neg', c, c, 0, 0], ['binary', 'mul', c, [4], c, [4], c, [4]]]);
    expect(Array.from(c)).toEqual([4, 4, 4, 4]);
  });
});
