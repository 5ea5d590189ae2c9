// Optimizers against PyTorch trajectories (test/fixtures/optimizers.json, written by
// scripts/fixtures/make_fixtures.py; no PyTorch needed here), on every backend.
import { expect, it } from 'vitest';
import type { NestedArray } from '../src/index.js';
import { tensor } from '../src/creation.js';
import type { Tensor } from '../src/tensor.js';
import { Adam, AdamW, type Optimizer, RMSprop, SGD, clipGradNorm, clipGradValue } from '../src/optim/index.js';
import { describeBackends } from './helpers/backends.js';
import { expectClose, fixture } from './helpers/fixtures.js';

interface OptCase {
  name: string;
  optimizer: 'SGD' | 'Adam' | 'AdamW' | 'RMSprop';
  kwargs: Record<string, unknown>;
  groups?: { lr: number; weight_decay: number }[];
  params: NestedArray[][];
}
interface OptFixture {
  x: NestedArray;
  y: NestedArray;
  w0: NestedArray;
  b0: NestedArray;
  steps: number;
  cases: OptCase[];
}

const camel = (k: string): string => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
function options(kw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(kw)) out[camel(k)] = v;
  return out;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function make(kind: OptCase['optimizer'], params: any, kw: Record<string, unknown>): Optimizer<any> {
  const o = options(kw);
  switch (kind) {
    case 'SGD':
      return new SGD(params, o as { lr: number });
    case 'Adam':
      return new Adam(params, o);
    case 'AdamW':
      return new AdamW(params, o);
    case 'RMSprop':
      return new RMSprop(params, o);
  }
}

const f = fixture<OptFixture>('optimizers.json');

function problem(): { w: Tensor; b: Tensor; lossStep: () => void } {
  const x = tensor(f.x);
  const y = tensor(f.y);
  const w = tensor(f.w0, { requiresGrad: true });
  const b = tensor(f.b0, { requiresGrad: true });
  const lossStep = (): void => x.matmul(w.T).add(b).sub(y).pow(2).mean().backward();
  return { w, b, lossStep };
}

function build(c: OptCase, w: Tensor, b: Tensor) {
  const params = c.groups
    ? [
        { params: [w], ...options(c.groups[0]!) },
        { params: [b], ...options(c.groups[1]!) },
      ]
    : [w, b];
  return make(c.optimizer, params, c.kwargs);
}

describeBackends('optimizers vs PyTorch', () => {
  for (const c of f.cases) {
    it(`${c.name}: ${f.steps}-step trajectory`, () => {
      const { w, b, lossStep } = problem();
      const opt = build(c, w, b);
      for (let s = 0; s < f.steps; s++) {
        opt.zeroGrad();
        lossStep();
        opt.step();
        expectClose(w.data, c.params[s]![0]!, `${c.name} step ${s + 1} w`);
        expectClose(b.data, c.params[s]![1]!, `${c.name} step ${s + 1} b`);
      }
    });

    it(`${c.name}: stateDict after 5 steps, load into a fresh optimizer, continue == uninterrupted`, () => {
      const a = problem();
      const optA = build(c, a.w, a.b);
      const run = (opt: Optimizer, p: ReturnType<typeof problem>, n: number) => {
        for (let s = 0; s < n; s++) {
          opt.zeroGrad();
          p.lossStep();
          opt.step();
        }
      };
      run(optA, a, 5);
      const sd = optA.stateDict();
      const bb = problem();
      bb.w.data.set(a.w.data);
      bb.b.data.set(a.b.data);
      const optB = build(c, bb.w, bb.b);
      optB.loadStateDict(sd);
      run(optA, a, 7);
      run(optB, bb, 7);
      expect(Array.from(bb.w.data)).toEqual(Array.from(a.w.data));
      expect(Array.from(bb.b.data)).toEqual(Array.from(a.b.data));
    });
  }

  it('stateDict clones buffers and uses the PyTorch layout', () => {
    const { w, b, lossStep } = problem();
    const opt = new Adam([w, b], { lr: 0.1 });
    lossStep();
    opt.step();
    const sd = opt.stateDict();
    expect(Object.keys(sd.state)).toEqual(['0', '1']);
    expect(sd.paramGroups).toEqual([{ lr: 0.1, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, params: [0, 1] }]);
    expect(sd.state[0]!['step']).toBe(1);
    const m = sd.state[0]!['expAvg'] as Float32Array;
    const before = m[0];
    opt.step();
    expect(m[0]).toBe(before);
  });

  it('skips parameters without a gradient', () => {
    const { w, b } = problem();
    const w0 = w.data.slice();
    for (const opt of [new SGD([w, b], { lr: 0.1, momentum: 0.9 }), new Adam([w, b]), new AdamW([w, b]), new RMSprop([w, b])]) {
      opt.step();
      expect(Array.from(w.data)).toEqual(Array.from(w0));
      expect(opt.state.size).toBe(0);
    }
  });
});

it('loadStateDict rejects a mismatched state dict', () => {
  const { w, b, lossStep } = problem();
  const opt = new SGD([w, b], { lr: 0.1, momentum: 0.9 });
  lossStep();
  opt.step();
  const sd = opt.stateDict();
  expect(() => new SGD([{ params: [w] }, { params: [b] }], { lr: 0.1 }).loadStateDict(sd)).toThrow(/1 parameter groups, the optimizer has 2/);
  expect(() => new SGD([w], { lr: 0.1 }).loadStateDict(sd)).toThrow(/parameter group 0 has 2 parameters in the state dict, 1 in the optimizer/);
  expect(() => new SGD([b, w], { lr: 0.1 }).loadStateDict(sd)).toThrow(/state 'momentumBuffer' of parameter 0 has 12 elements, the parameter has 3/);
});

it('zeroGrad sets grads to null by default, or fills them with zeros', () => {
  const { w, b, lossStep } = problem();
  const opt = new SGD([w, b], { lr: 0.1 });
  lossStep();
  const g = w.grad!;
  opt.zeroGrad(false);
  expect(w.grad).toBe(g);
  expect(Array.from(g.data).every((v) => v === 0)).toBe(true);
  opt.zeroGrad();
  expect(w.grad).toBeNull();
  expect(b.grad).toBeNull();
});

it('validates hyper-parameters with clear errors', () => {
  const p = tensor([1, 2], { requiresGrad: true });
  expect(() => new SGD([p], {} as { lr: number })).toThrow('SGD: lr is required');
  expect(() => new SGD([p], { lr: -1 })).toThrow('SGD: invalid learning rate -1, must be >= 0');
  expect(() => new SGD([p], { lr: 0.1, momentum: -0.5 })).toThrow('SGD: invalid momentum -0.5');
  expect(() => new SGD([p], { lr: 0.1, nesterov: true })).toThrow(/nesterov momentum requires a momentum > 0 and zero dampening/);
  expect(() => new SGD([p], { lr: 0.1, nesterov: true, momentum: 0.9, dampening: 0.1 })).toThrow(/zero dampening/);
  expect(() => new SGD([p], { lr: 0.1, weightDecay: -1 })).toThrow('SGD: invalid weightDecay -1');
  expect(() => new Adam([p], { betas: [1.2, 0.999] })).toThrow('Adam: invalid beta1 1.2, must be in [0, 1)');
  expect(() => new Adam([p], { betas: [0.9, 1] })).toThrow('Adam: invalid beta2 1, must be in [0, 1)');
  expect(() => new AdamW([p], { eps: -1 })).toThrow('AdamW: invalid epsilon value -1');
  expect(() => new Adam([p], { lr: -0.1 })).toThrow('Adam: invalid learning rate -0.1');
  expect(() => new RMSprop([p], { alpha: -1 })).toThrow('RMSprop: invalid alpha value -1');
  expect(() => new RMSprop([p], { momentum: -1 })).toThrow('RMSprop: invalid momentum value -1');
  expect(() => new Adam([{ params: [p], betas: [0.9, 2] }])).toThrow('Adam: invalid beta2 2');
  expect(() => new Adam([])).toThrow('Adam: optimizer got an empty parameter list');
  expect(() => new Adam([{ params: [p] }, { params: [p] }])).toThrow(/more than one parameter group/);
  expect(() => new Adam(p as unknown as Tensor[])).toThrow(/got a single Tensor/);
});

it('group values override the defaults', () => {
  const a = tensor([1], { requiresGrad: true });
  const b = tensor([1], { requiresGrad: true });
  const opt = new Adam([{ params: [a] }, { params: [b], lr: 0.5, weightDecay: 0.1 }], { lr: 0.01 });
  expect(opt.paramGroups[0]!.lr).toBe(0.01);
  expect(opt.paramGroups[0]!.weightDecay).toBe(0);
  expect(opt.paramGroups[1]!.lr).toBe(0.5);
  expect(opt.paramGroups[1]!.weightDecay).toBe(0.1);
  expect(new AdamW([a]).paramGroups[0]!.weightDecay).toBe(0.01);
});

it('step(closure) runs the closure and returns its loss', () => {
  const { w, b, lossStep } = problem();
  const opt = new SGD([w, b], { lr: 0.1 });
  const loss = opt.step(() => {
    opt.zeroGrad();
    lossStep();
    return 42;
  });
  expect(loss).toBe(42);
  expect(Array.from(w.data)).not.toEqual(f.w0);
});

describeBackends('gradient clipping', () => {
  const setup = () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const b = tensor([0, 0, 0], { requiresGrad: true });
    const c = tensor([5], { requiresGrad: true });
    a.grad = tensor([3, -4]);
    b.grad = tensor([0, 12, 0]);
    return { a, b, c };
  };

  it('clipGradNorm (L2): total 13, scaled by 5 / (13 + 1e-6)', () => {
    const { a, b, c } = setup();
    const total = clipGradNorm([a, b, c], 5);
    expect(total).toBeCloseTo(13, 5);
    const k = 5 / (13 + 1e-6);
    expect(Array.from(a.grad!.data)).toEqual([Math.fround(3 * k), Math.fround(-4 * k)]);
    expect(b.grad!.data[1]).toBe(Math.fround(12 * k));
    expect(c.grad).toBeNull();
  });

  it('clipGradNorm leaves gradients below maxNorm alone', () => {
    const { a, b } = setup();
    expect(clipGradNorm([a, b], 100)).toBeCloseTo(13, 5);
    expect(Array.from(a.grad!.data)).toEqual([3, -4]);
  });

  it('clipGradNorm with Infinity and 1 norms', () => {
    let { a, b } = setup();
    expect(clipGradNorm([a, b], 6, Infinity)).toBe(12);
    expect(a.grad!.data[1]).toBeCloseTo((-4 * 6) / (12 + 1e-6), 6);
    ({ a, b } = setup());
    expect(clipGradNorm([a, b], 19, 1)).toBe(19);
    expect(Array.from(a.grad!.data)).toEqual([Math.fround((3 * 19) / (19 + 1e-6)), Math.fround((-4 * 19) / (19 + 1e-6))]);
    ({ a, b } = setup());
    expect(clipGradNorm([a, b], 100, 3)).toBeCloseTo(Math.cbrt(27 + 64 + 1728), 4);
  });

  it('clipGradNorm: no gradients gives 0; a single tensor works; nonfinite can throw', () => {
    expect(clipGradNorm([tensor([1], { requiresGrad: true })], 1)).toBe(0);
    const { a } = setup();
    expect(clipGradNorm(a, 1)).toBeCloseTo(5, 5);
    a.grad = tensor([Infinity, 1]);
    expect(() => clipGradNorm(a, 1, 2, { errorIfNonfinite: true })).toThrow(/non-finite/);
  });

  it('clipGradValue clamps each element', () => {
    const { a, b } = setup();
    clipGradValue([a, b], 3.5);
    expect(Array.from(a.grad!.data)).toEqual([3, -3.5]);
    expect(Array.from(b.grad!.data)).toEqual([0, 3.5, 0]);
  });
});
