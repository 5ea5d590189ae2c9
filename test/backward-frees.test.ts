import { expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { Module } from '../src/nn/module.js';
import { onAlloc } from '../src/shape.js';
import type { Tensor } from '../src/tensor.js';
import { describeBackends } from './helpers/backends.js';

// backward() frees the intermediate activations of a Sequential of built-in layers (their arrays go
// back to the pool for the next forward pass), unless { retainGraph: true }.

function net(seed: number): tg.Sequential {
  tg.manualSeed(seed);
  return new tg.Sequential(new tg.Linear(12, 32), new tg.ReLU(), new tg.Linear(32, 16), new tg.Tanh(), new tg.Linear(16, 3));
}

/**
 * Arrays of the given lengths that ten calls of `step` allocate and no earlier call used: after
 * three warm-up calls, one observed call lists the arrays in use, the next ten count new ones.
 */
function freshArrays(lengths: number[], step: () => void): number {
  for (let i = 0; i < 3; i++) step();
  const seen = new Set<ArrayBufferLike>();
  let fresh = 0;
  const stop = onAlloc((arr) => {
    if (lengths.includes(arr.length) && !seen.has(arr.buffer)) {
      seen.add(arr.buffer);
      fresh++;
    }
  });
  try {
    step();
    fresh = 0;
    for (let i = 0; i < 10; i++) step();
  } finally {
    stop();
  }
  return fresh;
}

function grads(m: Module): number[][] {
  return m.parameters().map((p) => Array.from(p.grad!.data));
}

describeBackends('backward frees a Sequential graph', () => {
  it('a second backward through the same graph throws a clear error before touching any .grad', () => {
    const m = net(1);
    const x = tg.randn([8, 12]);
    const out = m.forward(x);
    const loss = out.pow(2).mean();
    loss.backward();
    const first = grads(m);
    expect(() => loss.backward()).toThrow(/backward: .* was freed by an earlier backward\(\) through this graph.*\{ retainGraph: true \}/);
    expect(() => out.sum().backward()).toThrow(/freed by an earlier backward/);
    expect(grads(m)).toEqual(first); // refused before any gradient was accumulated
    // The output itself stays usable: only activations user code never saw were freed.
    expect(out.toArray()).toHaveLength(8);
  });

  it('with { retainGraph: true } a second backward runs and accumulates the same gradients again', () => {
    const m = net(2);
    const x = tg.randn([8, 12]);
    const loss = m.forward(x).pow(2).mean();
    loss.backward({ retainGraph: true });
    const once = grads(m);
    loss.backward();
    const twice = grads(m);
    for (let i = 0; i < once.length; i++) for (let j = 0; j < once[i]!.length; j++) expect(twice[i]![j]).toBeCloseTo(2 * once[i]![j]!, 6);
    // The retained graph was freed by the second (plain) backward.
    expect(() => loss.backward()).toThrow(/freed by an earlier backward/);
    // An upstream gradient and options together.
    const out = m.forward(x);
    out.backward(tg.onesLike(out), { retainGraph: true });
    out.backward(tg.onesLike(out));
  });

  it('training with the activations recycled gives bit-identical weights to training with them retained', () => {
    const a = net(3);
    const b = net(3);
    const optA = new tg.Adam(a.parameters(), { lr: 1e-2 });
    const optB = new tg.Adam(b.parameters(), { lr: 1e-2 });
    tg.manualSeed(30);
    const batches = Array.from({ length: 6 }, () => [tg.randn([16, 12]), tg.tensor(Array.from({ length: 16 }, (_, i) => (i * 7) % 3))] as const);
    for (let epoch = 0; epoch < 3; epoch++) {
      for (const [x, y] of batches) {
        optA.zeroGrad();
        tg.crossEntropy(a.forward(x), y).backward();
        optA.step();
        optB.zeroGrad();
        tg.crossEntropy(b.forward(x), y).backward({ retainGraph: true });
        optB.step();
      }
    }
    const pa = a.parameters().map((p) => Array.from(p.data));
    const pb = b.parameters().map((p) => Array.from(p.data));
    expect(pa).toEqual(pb);
    expect(pa[0]).not.toEqual(Array.from(net(3).parameters()[0]!.data)); // it trained
  });

  it('the next step writes its activations into the freed arrays instead of fresh memory', () => {
    const countFresh = (retainGraph: boolean): number => {
      const m = net(4);
      const opt = new tg.SGD(m.parameters(), { lr: 0.01 });
      const x = tg.randn([64, 12]);
      const step = (): void => {
        opt.zeroGrad();
        m.forward(x).pow(2).mean().backward({ retainGraph });
        opt.step();
      };
      // Arrays of the hidden activations' sizes (64×32, 64×16).
      return freshArrays([64 * 32, 64 * 16], step);
    };
    // Retained, every step's activations are new arrays (those of earlier steps stay with their
    // graphs until the collector runs); freed, the same arrays go round.
    expect(countFresh(true)).toBeGreaterThanOrEqual(20);
    expect(countFresh(false)).toBe(0);
  });

  it('a cross-entropy loss recycles its row losses at once and its saved gradient after backward', () => {
    // Logits from plain ops (no Sequential): only the loss's own buffers can be recycled here.
    tg.manualSeed(7);
    const w = tg.randn([12, 5], { requiresGrad: true });
    const x = tg.randn([40, 12]);
    const y = tg.tensor(Array.from({ length: 40 }, (_, i) => i % 5));
    const fresh = (n: number, reduction: 'mean' | 'sum' | 'none'): number => {
      const run = (): void => {
        w.grad = null;
        const loss = tg.crossEntropy(x.matmul(w), y, { reduction });
        (reduction === 'none' ? loss.sum() : loss).backward();
      };
      return freshArrays([n], run);
    };
    // Arrays of the logits' size: each step's logits (the matmul's result, which the caller could
    // hold) are new, the gradient the loss's forward computed is not.
    expect(fresh(40 * 5, 'mean')).toBe(10);
    expect(fresh(40, 'mean')).toBe(0); // the row losses
    expect(fresh(40, 'sum')).toBe(0);
    // With reduction 'none' the row losses are the result the caller holds: never recycled.
    expect(fresh(40, 'none')).toBeGreaterThanOrEqual(10);

    // A second backward is refused, as for a Sequential's graph; retainGraph keeps it.
    const loss = tg.crossEntropy(x.matmul(w), y);
    w.grad = null;
    loss.backward({ retainGraph: true });
    const once = Array.from(w.grad!.data);
    loss.backward();
    expect(Array.from(w.grad!.data)).toEqual(once.map((v) => Math.fround(v + v)));
    expect(() => loss.backward()).toThrow(/backward: a tensor that crossEntropy's backward reads .* was freed by an earlier backward\(\).*cross-entropy loss's saved gradient/);
    expect(Array.from(w.grad!.data)).toEqual(once.map((v) => Math.fround(v + v))); // refused before any accumulation
    expect(loss.item()).toBeGreaterThan(0); // the loss itself stays readable
  });

  it('leaves alone the activations that need no gradient (a frozen first layer): a second root still runs', () => {
    tg.manualSeed(11);
    const m = new tg.Sequential(new tg.Linear(4, 8), new tg.ReLU(), new tg.Linear(8, 2));
    for (const p of (m.at(0) as tg.Linear).parameters()) p.requiresGrad = false;
    const out = m.forward(tg.randn([3, 4]));
    // The ReLU's output needs no gradient: the graph walk never reaches it, so it is not freed
    // (the last Linear reads it for its weight gradient).
    out.sum().backward();
    const once = Array.from((m.at(2) as tg.Linear).weight.grad!.data);
    out.sum().backward();
    const twice = Array.from((m.at(2) as tg.Linear).weight.grad!.data);
    twice.forEach((v, i) => expect(v).toBeCloseTo(2 * once[i]!, 6));
  });

  it('never frees what user code can reach: a custom layer’s input, an activation whose data was read', () => {
    const kept: Tensor[] = [];
    class Keep extends Module {
      forward(x: Tensor): Tensor {
        kept.push(x);
        return x.mul(2);
      }
    }
    tg.manualSeed(5);
    const m = new tg.Sequential(new tg.Linear(4, 6), new tg.ReLU(), new Keep(), new tg.Linear(6, 5), new tg.Tanh(), new tg.Linear(5, 2));
    const x = tg.randn([3, 4]);
    const out = m.forward(x);
    const before = kept[0]!.toArray();
    // An activation reached through the graph and read before backward: exposed, so kept.
    const tanhOut = out.gradFn!.inputs[0]!;
    const tanhValues = Array.from(tanhOut.data);
    out.sum().backward();
    expect(kept[0]!.toArray()).toEqual(before);
    expect(Array.from(tanhOut.data)).toEqual(tanhValues);
    expect(x.isDisposed).toBe(false);
    expect(out.isDisposed).toBe(false);
  });

  it('checks its options', () => {
    const loss = net(6).forward(tg.randn([2, 12])).sum();
    const bad: [unknown, unknown, RegExp][] = [
      [{ retainGraph: 1 }, undefined, /backward: retainGraph must be a boolean, got 1/],
      [{ retain: true }, undefined, /backward: unknown option 'retain' \(known: retainGraph\)/],
      [{ retainGraph: true }, { retainGraph: true }, /backward: gradient must be a Tensor/],
      [[1], undefined, /backward: gradient must be a Tensor/],
      [new Float32Array(1), undefined, /backward: gradient must be a Tensor/],
      [undefined, 'yes', /backward: options must be an object like \{ retainGraph: true \}, got string 'yes'/],
    ];
    for (const [g, o, msg] of bad) expect(() => (loss.backward as (g: unknown, o: unknown) => void)(g, o)).toThrow(msg);
    loss.backward({});
  });
});
