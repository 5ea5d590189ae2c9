// Optimizers against PyTorch trajectories (test/fixtures/optimizers.json, written by
// scripts/fixtures/make_fixtures.py; no PyTorch needed here), on every backend.
import { describe, expect, it } from 'vitest';
import type { NestedArray } from '../src/index.js';
import { ones, tensor } from '../src/creation.js';
import { Tensor } from '../src/tensor.js';
import { Adam, AdamW, Optimizer, type OptimizerStateDict, type ParamGroup, RMSprop, SGD, clipGradNorm, clipGradValue } from '../src/optim/index.js';
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
  expect(() => new SGD([b, w], { lr: 0.1 }).loadStateDict(sd)).toThrow(/state of parameter 0: 'momentumBuffer' must be a Float32Array or Tensor of 3 elements \(the parameter's size\), got a Float32Array of 12 elements/);
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
  expect(() => opt.zeroGrad('no' as unknown as boolean)).toThrow("SGD.zeroGrad: setToNone must be a boolean, got string 'no'");
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

it('step(closure) runs the closure first, updates with its gradients and returns its loss', () => {
  // The gradients the closure will produce, computed on an identical problem.
  const ref = problem();
  ref.lossStep();
  const expected = (t: Tensor, g: Tensor) => Array.from(t.data, (v, i) => Math.fround(v - 0.1 * g.data[i]!));
  const wExpected = expected(ref.w, ref.w.grad!);
  const bExpected = expected(ref.b, ref.b.grad!);
  const { w, b, lossStep } = problem();
  const opt = new SGD([w, b], { lr: 0.1 });
  let calls = 0;
  const loss = opt.step(() => {
    calls++;
    opt.zeroGrad();
    lossStep();
    return 42;
  });
  expect(loss).toBe(42);
  expect(calls).toBe(1);
  expect(wExpected.some((v, i) => v !== ref.w.data[i])).toBe(true);
  expect(Array.from(w.data)).toEqual(wExpected);
  expect(Array.from(b.data)).toEqual(bExpected);
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
    expect(total).toBe(13);
    const k = 5 / (13 + 1e-6);
    expect(Array.from(a.grad!.data)).toEqual([Math.fround(3 * k), Math.fround(-4 * k)]);
    expect(b.grad!.data[1]).toBe(Math.fround(12 * k));
    expect(c.grad).toBeNull();
  });

  it('clipGradNorm leaves gradients below maxNorm alone', () => {
    const { a, b } = setup();
    expect(clipGradNorm([a, b], 100)).toBe(13);
    expect(Array.from(a.grad!.data)).toEqual([3, -4]);
    expect(Array.from(b.grad!.data)).toEqual([0, 12, 0]);
  });

  it('clipGradNorm with Infinity and 1 norms', () => {
    let { a, b } = setup();
    expect(clipGradNorm([a, b], 6, Infinity)).toBe(12);
    const k = 6 / (12 + 1e-6);
    expect(Array.from(a.grad!.data)).toEqual([Math.fround(3 * k), Math.fround(-4 * k)]);
    expect(b.grad!.data[1]).toBe(Math.fround(12 * k));
    ({ a, b } = setup());
    expect(clipGradNorm([a, b], 19, 1)).toBe(19);
    expect(Array.from(a.grad!.data)).toEqual([Math.fround((3 * 19) / (19 + 1e-6)), Math.fround((-4 * 19) / (19 + 1e-6))]);
    ({ a, b } = setup());
    const cubic = Math.cbrt(27 + 64 + 1728);
    expect(Math.abs(clipGradNorm([a, b], 100, 3) - cubic)).toBeLessThanOrEqual(2e-7 * cubic);
    expect(Array.from(a.grad!.data)).toEqual([3, -4]);
  });

  it('clipGradNorm: no gradients gives 0; a single tensor works; nonfinite can throw', () => {
    expect(clipGradNorm([tensor([1], { requiresGrad: true })], 1)).toBe(0);
    const { a } = setup();
    expect(clipGradNorm(a, 1)).toBe(5);
    expect(Array.from(a.grad!.data)).toEqual([Math.fround(3 * (1 / (5 + 1e-6))), Math.fround(-4 * (1 / (5 + 1e-6)))]);
    a.grad = tensor([Infinity, 1]);
    expect(() => clipGradNorm(a, 1, 2, { errorIfNonfinite: true })).toThrow(/non-finite/);
  });

  it('clipGradValue clamps each element', () => {
    const { a, b } = setup();
    clipGradValue([a, b], 3.5);
    expect(Array.from(a.grad!.data)).toEqual([3, -3.5]);
    expect(Array.from(b.grad!.data)).toEqual([0, 3.5, 0]);
  });

  it('both check every gradient against its parameter before changing any', () => {
    for (const clip of [(ps: Tensor[]) => clipGradNorm(ps, 1), (ps: Tensor[]) => clipGradValue(ps, 1)]) {
      const spoils: [(c: Tensor) => void, RegExp][] = [
        [(c) => forceGrad(c, ones([2])), /the gradient of parameter 2 has shape \[2\], but the parameter has shape \[1\]/],
        [(c) => forceGrad(c, [7]), /the gradient of parameter 2 must be a Tensor or null, got an array/],
        [(c) => forceGrad(c, fakeTensor([1], 0)), /the gradient of parameter 2: not a valid Tensor \(an object posing as one/],
        [(c) => {
          c.grad = tensor([7]);
          transfer(c.grad);
        }, /the gradient of parameter 2: tensor data was detached \(transferred or resized\)/],
      ];
      for (const [spoil, message] of spoils) {
        const { a, b, c } = setup();
        spoil(c);
        expect(() => clip([a, b, c])).toThrow(message);
        expect(Array.from(a.grad!.data)).toEqual([3, -4]);
        expect(Array.from(b.grad!.data)).toEqual([0, 12, 0]);
      }
    }
  });

  it('arguments: params, maxNorm, clipValue and options are checked', () => {
    const { a } = setup();
    expect(() => clipGradNorm(a, -1)).toThrow('clipGradNorm: maxNorm must be a number >= 0 (Infinity: no clipping), got -1');
    expect(() => clipGradNorm(a, NaN)).toThrow('clipGradNorm: maxNorm must be a number >= 0');
    expect(() => clipGradNorm(a, 1, 0)).toThrow('clipGradNorm: normType must be a positive number or Infinity, got 0');
    expect(() => clipGradNorm(a, 1, 2, { errorIfNonfinite: 'yes' } as unknown as { errorIfNonfinite: boolean })).toThrow(
      "clipGradNorm: options.errorIfNonfinite must be a boolean, got string 'yes'",
    );
    expect(() => clipGradNorm(null as unknown as Tensor, 1)).toThrow('clipGradNorm: params must be a Tensor or an iterable of Tensors, got null');
    expect(() => clipGradValue([a, 'b'] as unknown as Tensor[], 1)).toThrow("clipGradValue: params must be Tensors, got string 'b' at index 1");
    expect(() => clipGradValue(a, -1)).toThrow('clipGradValue: clipValue must be a number >= 0, got -1');
    expect(Array.from(a.grad!.data)).toEqual([3, -4]);
    expect(clipGradNorm(a, Infinity)).toBe(5);
    expect(Array.from(a.grad!.data)).toEqual([3, -4]);
  });
});

// ---- hardening: nothing an optimizer is given can silently corrupt the parameters ----

/** Sets p.grad without going through any check a `grad` setter may make (as a forged or stale gradient would). */
function forceGrad(p: Tensor, g: unknown): void {
  Object.defineProperty(p, 'grad', { value: g, writable: true, configurable: true, enumerable: true });
}

/** An object that passes `instanceof Tensor`, with a shape and data shorter than it, but not made by the constructor. */
function fakeTensor(shape: number[], length: number): Tensor {
  return Object.create(Tensor.prototype, {
    shape: { value: shape },
    data: { value: new Float32Array(length).fill(1) },
    grad: { value: null, writable: true },
  }) as Tensor;
}

function transfer(t: Tensor): void {
  structuredClone(t.data.buffer, { transfer: [t.data.buffer as ArrayBuffer] });
}

type AnyOptimizer = Optimizer<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const configs: [string, (ps: unknown) => AnyOptimizer][] = [
  ['SGD', (ps) => new SGD(ps as Tensor[], { lr: 0.1 })],
  ['SGD', (ps) => new SGD(ps as Tensor[], { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 })],
  ['Adam', (ps) => new Adam(ps as Tensor[], { lr: 0.1 })],
  ['Adam', (ps) => new Adam(ps as Tensor[], { lr: 0.1, amsgrad: true, maximize: true, weightDecay: 0.1 })],
  ['AdamW', (ps) => new AdamW(ps as Tensor[], { lr: 0.1 })],
  ['RMSprop', (ps) => new RMSprop(ps as Tensor[], { lr: 0.1 })],
  ['RMSprop', (ps) => new RMSprop(ps as Tensor[], { lr: 0.1, momentum: 0.5, centered: true })],
];

describeBackends('optimizers check every gradient before updating any parameter', () => {
  const setup = () => {
    const a = tensor([1, 2, 3], { requiresGrad: true });
    const b = tensor([1, 2, 3, 4], { requiresGrad: true });
    a.grad = tensor([0.5, -0.5, 1]);
    return { a, b };
  };

  configs.forEach(([name, make], ci) => {
    it(`${name} #${ci}: a gradient of the wrong shape (the issue's ones([2]) for a 4-element parameter) throws and changes nothing`, () => {
      const { a, b } = setup();
      forceGrad(b, ones([2]));
      const opt = make([a, b]);
      expect(() => opt.step()).toThrow(
        `${name}.step: the gradient of parameter 1 of group 0 has shape [2], but the parameter has shape [4]`,
      );
      expect(Array.from(a.data)).toEqual([1, 2, 3]);
      expect(Array.from(b.data)).toEqual([1, 2, 3, 4]);
      expect(opt.state.size).toBe(0);
      expect(opt.stepCount).toBe(0);
      // Same element count, other shape: PyTorch refuses it too.
      const c = tensor([[1, 2], [3, 4]], { requiresGrad: true });
      forceGrad(c, ones([4]));
      expect(() => make([c]).step()).toThrow(/has shape \[4\], but the parameter has shape \[2, 2\]/);
      // Once the gradient is right, the step goes through.
      forceGrad(b, ones([4]));
      opt.step();
      expect(Array.from(b.data).every((v, i) => v !== i + 1 && Number.isFinite(v))).toBe(true);
    });

    it(`${name} #${ci}: a non-Tensor, forged, or transferred gradient (or parameter) throws and changes nothing`, () => {
      const cases: [(a: Tensor, b: Tensor) => void, RegExp][] = [
        [(_a, b) => forceGrad(b, [1, 1, 1, 1]), /gradient of parameter 1 of group 0 must be a Tensor or null, got an array/],
        [(_a, b) => forceGrad(b, fakeTensor([4], 2)), /gradient of parameter 1 of group 0: not a valid Tensor \(an object posing as one/],
        [(_a, b) => {
          b.grad = ones([4]);
          transfer(b.grad);
        }, /gradient of parameter 1 of group 0: tensor data was detached \(transferred or resized\)/],
        [(_a, b) => {
          const keep = b.data.slice();
          b.grad = ones([4]);
          transfer(b);
          void keep;
        }, /parameter 1 of group 0: tensor data was detached/],
      ];
      for (const [spoil, message] of cases) {
        const { a, b } = setup();
        spoil(a, b);
        const opt = make([a, b]);
        expect(() => opt.step()).toThrow(message);
        expect(Array.from(a.data)).toEqual([1, 2, 3]);
        expect(opt.state.size).toBe(0);
      }
    });
  });

  it("the issue's reproduction: p.grad = ones([2]) for a 4-element p, then step(), never yields NaN weights", () => {
    for (const [, make] of configs) {
      const p = tensor([1, 2, 3, 4], { requiresGrad: true });
      const opt = make([p]);
      // The grad setter may refuse it already; if it does not, step() must.
      expect(() => {
        p.grad = ones([2]);
        opt.step();
      }).toThrow(/shape \[2\].*shape \[4\]/);
      expect(Array.from(p.data)).toEqual([1, 2, 3, 4]);
    }
  });

  it('the error names the group: a bad gradient in group 1 leaves group 0 untouched', () => {
    const { a, b } = setup();
    forceGrad(b, ones([3]));
    const opt = new Adam([{ params: [a] }, { params: [b], lr: 0.5 }], { lr: 0.1 });
    expect(() => opt.step()).toThrow('Adam.step: the gradient of parameter 0 of group 1 has shape [3], but the parameter has shape [4]');
    expect(Array.from(a.data)).toEqual([1, 2, 3]);
  });

  it('hyper-parameters changed on a group after construction are checked at step()', () => {
    const { a } = setup();
    const adam = new Adam([a], { lr: 0.1 });
    adam.paramGroups[0]!.betas = [5, -1];
    expect(() => adam.step()).toThrow('Adam.step: invalid beta1 5, must be in [0, 1)');
    const sgd = new SGD([a], { lr: 0.1 });
    sgd.paramGroups[0]!.lr = NaN;
    expect(() => sgd.step()).toThrow('SGD.step: invalid learning rate NaN, must be a finite number >= 0');
    const rms = new RMSprop([{ params: [a] }, { params: [tensor([1], { requiresGrad: true })] }]);
    (rms.paramGroups[1] as { centered: unknown }).centered = 'yes';
    expect(() => rms.step()).toThrow("RMSprop.step: parameter group 1: invalid centered string 'yes', must be a boolean");
    expect(Array.from(a.data)).toEqual([1, 2, 3]);
  });

  it('Adam steps a gradient that shares its parameter\'s buffer the same way on every backend', () => {
    const p = tensor([1, -2, 3], { requiresGrad: true });
    const q = tensor([1, -2, 3], { requiresGrad: true });
    p.grad = new Tensor(p.data, p.shape);
    for (const make of [(x: Tensor) => new Adam([x], { lr: 0.1 }), (x: Tensor) => new AdamW([x], { lr: 0.1, amsgrad: true })]) {
      q.grad = new Tensor(q.data.slice(), q.shape);
      make(p).step();
      make(q).step();
      expect(Array.from(p.data)).toEqual(Array.from(q.data));
    }
    expect(Array.from(p.data)).not.toEqual([1, -2, 3]);
  });

  it('Adam steps parameters that view one buffer one after the other, as separate optimizers would', () => {
    // Two leaves over the halves of one buffer (and a third on its own): the group's parameters
    // share an ArrayBuffer, so Adam updates them one by one (adamSteps would take these disjoint
    // halves too; the next test has memory that truly overlaps).
    const buf = new Float32Array([1, -2, 3, 4, 5, -6]);
    const a = new Tensor(buf.subarray(0, 3), [3], true);
    const b = new Tensor(buf.subarray(3, 6), [3], true);
    const c = tensor([0.5, 0.25], { requiresGrad: true });
    const solo = [tensor([1, -2, 3], { requiresGrad: true }), tensor([4, 5, -6], { requiresGrad: true }), tensor([0.5, 0.25], { requiresGrad: true })];
    const grads = [[0.1, -0.2, 0.3], [1, 2, -3], [-1, 1]];
    const opt = new Adam([a, b, c], { lr: 0.1 });
    const solos = solo.map((t) => new Adam([t], { lr: 0.1 }));
    for (let step = 0; step < 3; step++) {
      [a, b, c].forEach((t, i) => (t.grad = tensor(grads[i]!)));
      solo.forEach((t, i) => (t.grad = tensor(grads[i]!)));
      opt.step();
      solos.forEach((o) => o.step());
    }
    expect(Array.from(buf)).toEqual([...solo[0]!.data, ...solo[1]!.data]);
    expect(Array.from(c.data)).toEqual(Array.from(solo[2]!.data));
    expect(Array.from(buf)).not.toEqual([1, -2, 3, 4, 5, -6]);
  });

  it('a gradient that views another parameter reads that parameter as updated before it (maximize too)', () => {
    // p2.grad = p1.detach(): PyTorch's per-parameter loop updates p1 first, and p2's gradient is
    // then p1's new value. One group call would read it before any update (and the addon refuses
    // the overlap), so such a group goes one parameter at a time; references: one optimizer per
    // parameter, stepped in the group's order.
    for (const maximize of [false, true]) {
      const run = (separate: boolean) => {
        const p1 = tensor([0.05, 0.3], { requiresGrad: true });
        const p2 = tensor([1, 1], { requiresGrad: true });
        const opts = separate ? [new Adam([p1], { lr: 0.1, maximize }), new Adam([p2], { lr: 0.1, maximize })] : [new Adam([p1, p2], { lr: 0.1, maximize })];
        for (let step = 0; step < 3; step++) {
          p1.grad = tensor([0.5, -1]);
          p2.grad = p1.detach();
          for (const o of opts) o.step();
        }
        return [...p1.data, ...p2.data];
      };
      const got = run(false);
      expect(got).toEqual(run(true));
      // p2's first gradient was p1 after its update (0.05 - 0.1 or + 0.1 with maximize, and so on):
      // not the values before it, which a single group call would have used.
      expect(got[2]).not.toBe(got[3]);
    }
  });

  it('a group of 50,000 parameters steps (the native call takes them a few thousand at a time)', () => {
    const params = Array.from({ length: 50_000 }, (_, i) => tensor([i % 7, -1], { requiresGrad: true }));
    const lone = Array.from({ length: 7 }, (_, i) => tensor([i, -1], { requiresGrad: true }));
    const opt = new Adam(params, { lr: 0.1, amsgrad: true });
    const lones = lone.map((t) => new Adam([t], { lr: 0.1, amsgrad: true }));
    for (let step = 0; step < 2; step++) {
      params.forEach((t, i) => (t.grad = tensor([((i % 7) - 3) * 0.5, step + 1])));
      lone.forEach((t, i) => (t.grad = tensor([(i - 3) * 0.5, step + 1])));
      opt.step();
      lones.forEach((o) => o.step());
    }
    for (const i of [0, 4095, 4096, 4097, 8192, 49_999]) expect(Array.from(params[i]!.data)).toEqual(Array.from(lone[i % 7]!.data));
    expect(Array.from(params[1]!.data)).not.toEqual([1, -1]);
  });

  it('one Adam group gives every parameter what an optimizer of its own would', () => {
    // The group goes through one adamSteps call; each parameter's own optimizer through another.
    const shapes = [[300, 250], [250], [7, 3], [1]];
    const make = () => shapes.map((s, i) => tensor(Array.from({ length: s.reduce((x, y) => x * y, 1) }, (_, j) => Math.sin(j * 0.37 + i)), { requiresGrad: true }).reshape(s).detach().requiresGrad_());
    const group = make(), solo = make();
    const opt = new AdamW(group, { lr: 0.01, amsgrad: true });
    const solos = solo.map((t) => new AdamW([t], { lr: 0.01, amsgrad: true }));
    for (let step = 0; step < 3; step++) {
      for (const [i, t] of group.entries()) {
        const g = Array.from({ length: t.size }, (_, j) => Math.cos(j * 0.11 + i + step));
        t.grad = tensor(g).reshape(t.shape);
        solo[i]!.grad = tensor(g).reshape(t.shape);
      }
      // The last parameter misses one step, so the group's step counts differ.
      if (step === 1) group[3]!.grad = solo[3]!.grad = null;
      opt.step();
      solos.forEach((o) => o.step());
    }
    group.forEach((t, i) => expect(Array.from(t.data)).toEqual(Array.from(solo[i]!.data)));
  });
});

describe('hyper-parameters: one check per optimizer, for the constructor, addParamGroup and loadStateDict', () => {
  const bad: [string, (ps: Tensor[], o: object) => AnyOptimizer, object, RegExp][] = [
    ['SGD', (ps, o) => new SGD(ps, { lr: 0.1, ...o }), { lr: Infinity }, /invalid learning rate Infinity, must be a finite number >= 0/],
    ['SGD', (ps, o) => new SGD(ps, { lr: 0.1, ...o }), { momentum: -1 }, /invalid momentum -1, must be >= 0/],
    ['SGD', (ps, o) => new SGD(ps, { lr: 0.1, ...o }), { dampening: '0' }, /invalid dampening string '0', must be a finite number/],
    ['SGD', (ps, o) => new SGD(ps, { lr: 0.1, ...o }), { nesterov: 1 }, /invalid nesterov 1, must be a boolean/],
    ['SGD', (ps, o) => new SGD(ps, { lr: 0.1, ...o }), { maximize: 'false' }, /invalid maximize string 'false', must be a boolean/],
    ['Adam', (ps, o) => new Adam(ps, o), { betas: [5, -1] }, /invalid beta1 5, must be in \[0, 1\)/],
    ['Adam', (ps, o) => new Adam(ps, o), { betas: [0.9, -1] }, /invalid beta2 -1, must be in \[0, 1\)/],
    ['Adam', (ps, o) => new Adam(ps, o), { betas: [0.9] }, /betas must be a pair \[beta1, beta2\], got an array/],
    ['Adam', (ps, o) => new Adam(ps, o), { eps: NaN }, /invalid epsilon value NaN, must be a finite number >= 0/],
    ['Adam', (ps, o) => new Adam(ps, o), { amsgrad: 1 }, /invalid amsgrad 1, must be a boolean/],
    ['AdamW', (ps, o) => new AdamW(ps, o), { weightDecay: -0.1 }, /invalid weightDecay -0.1, must be >= 0/],
    ['AdamW', (ps, o) => new AdamW(ps, o), { lr: '0.1' }, /invalid learning rate string '0.1', must be a finite number >= 0/],
    ['RMSprop', (ps, o) => new RMSprop(ps, o), { alpha: -1 }, /invalid alpha value -1, must be >= 0/],
    ['RMSprop', (ps, o) => new RMSprop(ps, o), { eps: -1 }, /invalid epsilon value -1, must be >= 0/],
    ['RMSprop', (ps, o) => new RMSprop(ps, o), { centered: 0 }, /invalid centered 0, must be a boolean/],
  ];
  for (const [name, make, values, message] of bad) {
    it(`${name} ${JSON.stringify(values)}`, () => {
      const p = tensor([1, 2], { requiresGrad: true });
      expect(() => make([p], values)).toThrow(message);
      const opt = make([p], {});
      expect(() => opt.addParamGroup({ params: [tensor([1], { requiresGrad: true })], ...values })).toThrow(message);
      expect(opt.paramGroups.length).toBe(1);
      p.grad = tensor([1, 1]);
      opt.step();
      const before = opt.stateDict();
      const sd = opt.stateDict();
      Object.assign(sd.paramGroups[0]!, values);
      expect(() => opt.loadStateDict(sd)).toThrow(new RegExp(`^${name}\\.loadStateDict: parameter group 0: ${message.source}`));
      expect(opt.stateDict()).toEqual(before);
    });
  }

  it('options: an object with known keys only (snake_case is not silently ignored)', () => {
    const p = tensor([1, 2], { requiresGrad: true });
    expect(() => new Adam([p], { weight_decay: 0.1 } as object)).toThrow(
      "Adam: unknown option 'weight_decay' (expected lr, betas, eps, weightDecay, amsgrad, maximize)",
    );
    expect(() => new SGD([p], { lr: 0.1, nesterov: true, momentum: 0.9, dampening: 0, foo: 1 } as object as { lr: number })).toThrow("SGD: unknown option 'foo'");
    expect(() => new RMSprop([p], null as unknown as object)).toThrow('RMSprop: options must be an object, got null');
    expect(() => new Adam(null as unknown as Tensor[])).toThrow('Adam: params must be an iterable of Tensors or of parameter groups, got null');
    expect(() => new SGD([p, 'w'] as unknown as Tensor[], { lr: 1 })).toThrow("SGD: parameters must be Tensors, got string 'w' at index 1");
    expect(() => new SGD([{ params: 3 }] as unknown as Tensor[], { lr: 1 })).toThrow("SGD: a parameter group's params must be a Tensor or an iterable of Tensors, got 3");
    // A group value given as undefined takes the default, as an absent one does.
    expect(new Adam([{ params: [p], lr: undefined }], { lr: 0.5 }).paramGroups[0]!.lr).toBe(0.5);
  });
});

describeBackends('Optimizer.loadStateDict validates the whole dict before changing anything', () => {
  /** An Adam (amsgrad) over w [2, 2] and b [3] stepped twice, and its state dict. */
  const trained = () => {
    const w = tensor([[1, 2], [3, 4]], { requiresGrad: true });
    const b = tensor([1, 2, 3], { requiresGrad: true });
    const opt = new Adam([{ params: [w] }, { params: [b], lr: 0.01 }], { lr: 0.1, amsgrad: true });
    for (let i = 0; i < 2; i++) {
      w.grad = tensor([[0.1, -0.2], [0.3, -0.4]]);
      b.grad = tensor([1, -1, 0.5]);
      opt.step();
    }
    return { w, b, opt, sd: opt.stateDict() };
  };
  const fresh = () => {
    const t = trained();
    const w = tensor([[1, 2], [3, 4]], { requiresGrad: true });
    const b = tensor([1, 2, 3], { requiresGrad: true });
    const opt = new Adam([{ params: [w] }, { params: [b], lr: 0.01 }], { lr: 0.1, amsgrad: true });
    return { ...t, opt2: opt, w2: w, b2: b };
  };
  type Spoil = (sd: OptimizerStateDict) => void;
  const cases: [string, Spoil, RegExp][] = [
    ['betas [5, -1] (the issue)', (sd) => (sd.paramGroups[1]!['betas'] = [5, -1]), /Adam\.loadStateDict: parameter group 1: invalid beta1 5, must be in \[0, 1\)/],
    ['expAvg as a plain array (the issue)', (sd) => (sd.state[1]!['expAvg'] = [0, 0, 0] as unknown as Float32Array),
      /state of parameter 1: 'expAvg' must be a Float32Array or Tensor of 3 elements \(the parameter's size\), got an array/],
    ['a negative step (the issue)', (sd) => (sd.state[0]!['step'] = -3), /state of parameter 0: 'step' must be a non-negative integer, got -3/],
    ['a fractional step', (sd) => (sd.state[0]!['step'] = 1.5), /'step' must be a non-negative integer, got 1\.5/],
    ['a string step', (sd) => (sd.state[0]!['step'] = '2' as unknown as number), /'step' must be a non-negative integer, got string '2'/],
    ['a buffer of the wrong size', (sd) => (sd.state[0]!['expAvgSq'] = new Float32Array(3)), /'expAvgSq' must be a Float32Array or Tensor of 4 elements \(the parameter's size\), got a Float32Array of 3 elements/],
    ['a forged Tensor buffer', (sd) => (sd.state[0]!['expAvg'] = fakeTensor([4], 1) as unknown as Float32Array), /'expAvg' must be .* got not a valid Tensor \(an object posing as one/],
    ['a transferred buffer', (sd) => transfer(new Tensor(sd.state[1]!['expAvg'] as Float32Array, [3])), /'expAvg' must be .* got a Float32Array of 0 elements/],
    ['an unknown state key', (sd) => (sd.state[0]!['exp_avg'] = new Float32Array(4)), /state of parameter 0: unknown key 'exp_avg' \(Adam keeps step, expAvg, expAvgSq, maxExpAvgSq\)/],
    ['a state missing a required key', (sd) => delete sd.state[0]!['expAvgSq'], /state of parameter 0: 'expAvgSq' is missing \(a non-empty Adam state holds step, expAvg, expAvgSq\)/],
    ['an unknown group key', (sd) => (sd.paramGroups[0]!['weight_decay'] = 0.1), /parameter group 0 has unknown key 'weight_decay'/],
    ['a state that is not an object', (sd) => (sd.state[1] = 5 as unknown as Record<string, number>), /state of parameter 1: expected an object, got 5/],
    ['state for an unlisted parameter', (sd) => (sd.state[7] = {}), /state for parameter 7, which no group lists/],
    ['an id listed twice', (sd) => (sd.paramGroups[1]!.params = [0]), /parameter id 0 is listed more than once/],
    ['a non-integer id', (sd) => (sd.paramGroups[1]!.params = [0.5]), /parameter group 1 lists 0\.5 as a parameter id/],
    ['an unknown top-level key', (sd) => ((sd as unknown as Record<string, unknown>)['param_groups'] = []), /unknown key 'param_groups'/],
  ];
  for (const [what, spoil, message] of cases) {
    it(`refuses ${what}, leaving groups and state as they were`, () => {
      const { sd, opt2, w2 } = fresh();
      // Valid changes elsewhere in the dict must not be applied either.
      const mine = opt2.stateDict();
      sd.paramGroups[0]!['lr'] = 0.3;
      spoil(sd);
      expect(() => opt2.loadStateDict(sd)).toThrow(message);
      expect(opt2.stateDict()).toEqual(mine);
      expect(opt2.paramGroups[0]!.lr).toBe(0.1);
      w2.grad = tensor([[1, 1], [1, 1]]);
      opt2.step();
      expect(opt2.state.get(w2)!['step']).toBe(1);
    });
  }

  it('refuses null and non-objects with a clear error', () => {
    const { opt } = trained();
    expect(() => opt.loadStateDict(null as unknown as OptimizerStateDict)).toThrow('Adam.loadStateDict: expected an object with state and paramGroups, got null');
    expect(() => opt.loadStateDict({ state: [], paramGroups: [] } as unknown as OptimizerStateDict)).toThrow(/state must be an object/);
  });

  it('accepts buffers given as Tensors (copied) and then continues exactly as the original', () => {
    const { w, b, opt, sd, opt2, w2, b2 } = fresh();
    for (const s of Object.values(sd.state)) {
      for (const [k, v] of Object.entries(s)) if (v instanceof Float32Array) (s as Record<string, unknown>)[k] = new Tensor(v, [v.length]);
    }
    w2.data.set(w.data);
    b2.data.set(b.data);
    opt2.loadStateDict(sd);
    const m = (sd.state[0]!['expAvg'] as unknown as Tensor).data;
    for (const [o, ww, bb] of [[opt, w, b], [opt2, w2, b2]] as const) {
      ww.grad = tensor([[0.5, 0.5], [-0.5, 0.25]]);
      bb.grad = tensor([0.1, 0.2, 0.3]);
      o.step();
    }
    expect(Array.from(w2.data)).toEqual(Array.from(w.data));
    expect(Array.from(b2.data)).toEqual(Array.from(b.data));
    expect(opt2.state.get(w2)!['expAvg']).not.toBe(m);
  });

  it('an empty state is a parameter never stepped (RMSprop, SGD too)', () => {
    const p = tensor([1, 2], { requiresGrad: true });
    const rms = new RMSprop([p], { momentum: 0.9 });
    rms.loadStateDict({ state: { 0: {} }, paramGroups: [{ ...rms.stateDict().paramGroups[0]!, params: [0] }] });
    expect(() => rms.loadStateDict({ state: { 0: { squareAvg: new Float32Array(2) } }, paramGroups: rms.stateDict().paramGroups })).toThrow(
      "RMSprop.loadStateDict: state of parameter 0: 'step' is missing (a non-empty RMSprop state holds step, squareAvg)",
    );
    const sgd = new SGD([p], { lr: 0.1, momentum: 0.9 });
    expect(() => sgd.loadStateDict({ state: { 0: { step: 1 } }, paramGroups: sgd.stateDict().paramGroups })).toThrow(
      "SGD.loadStateDict: state of parameter 0: unknown key 'step' (SGD keeps momentumBuffer)",
    );
  });
});

it('an optimizer written outside the library (no StateSpec) still loads only buffers of the right size and finite numbers', () => {
  class Halving extends Optimizer<ParamGroup> {
    constructor(params: Tensor[]) {
      super('Halving', params, { lr: 0.5 }, (g, where) => {
        if (!(typeof g.lr === 'number' && g.lr >= 0)) throw new Error(`${where}: invalid learning rate ${String(g.lr)}`);
      });
    }
    protected update(): void {}
  }
  const p = tensor([1, 2], { requiresGrad: true });
  const opt = new Halving([p]);
  const groups = opt.stateDict().paramGroups;
  opt.loadStateDict({ state: { 0: { count: 3, trace: new Float32Array(2) } }, paramGroups: groups });
  expect(opt.state.get(p)).toEqual({ count: 3, trace: new Float32Array(2) });
  expect(() => opt.loadStateDict({ state: { 0: { trace: [0, 0] as unknown as Float32Array } }, paramGroups: groups })).toThrow(
    "Halving.loadStateDict: state of parameter 0: 'trace' must be a Float32Array or Tensor of 2 elements (the parameter's size), got an array",
  );
  expect(() => opt.loadStateDict({ state: { 0: { count: NaN } }, paramGroups: groups })).toThrow("'count' must be a finite number or a buffer, got NaN");
  expect(() => opt.loadStateDict({ state: {}, paramGroups: [{ ...groups[0]!, lr: -1 }] })).toThrow('Halving.loadStateDict: parameter group 0: invalid learning rate -1');
  expect(opt.state.get(p)).toEqual({ count: 3, trace: new Float32Array(2) });
});

describe('hyper-parameters beyond float32', () => {
  // The kernels compute in float32: lr = 1e300 would be Infinity natively but finite in TS.
  it('are refused, so the two backends cannot disagree on them', () => {
    const p = () => [tensor([0, 0], { requiresGrad: true })];
    expect(() => new Adam(p(), { lr: 1e300 })).toThrow(/Adam: invalid learning rate 1e\+300, must be within float32's range/);
    expect(() => new SGD(p(), { lr: 0.1, weightDecay: 1e39 })).toThrow(/SGD: .*float32's range/);
    expect(() => new RMSprop(p(), { lr: 0.01, eps: 4e38 })).toThrow(/RMSprop: .*float32's range/);
    expect(() => new Adam(p(), { lr: 3e38 })).not.toThrow();
  });
});
