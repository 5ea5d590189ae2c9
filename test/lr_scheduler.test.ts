// LR schedulers against PyTorch's lr sequences (test/fixtures/schedulers.json, written by
// scripts/fixtures/make_fixtures.py; no PyTorch needed here).
import { describe, expect, it } from 'vitest';
import { tensor } from '../src/creation.js';
import {
  Adam,
  CosineAnnealingLR,
  ExponentialLR,
  LinearLR,
  MultiStepLR,
  OneCycleLR,
  ReduceLROnPlateau,
  SGD,
  StepLR,
} from '../src/optim/index.js';
import type { Tensor } from '../src/tensor.js';
import { describeBackends } from './helpers/backends.js';
import { fixture } from './helpers/fixtures.js';

interface SchedCase {
  name: string;
  kwargs: Record<string, unknown>;
  lrs: number[];
  momentums?: number[];
  metrics?: number[];
}
interface SchedFixture {
  base_lr: number;
  epochs: number;
  cases: SchedCase[];
}

const f = fixture<SchedFixture>('schedulers.json');
const camel = (k: string): string => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()).replace(/^T_max$/, 'tMax');

function options(kw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(kw)) out[k === 'T_max' ? 'tMax' : camel(k)] = v;
  return out;
}

type AnySched = { step(metric?: number): void; getLastLr(): number[]; stateDict(): Record<string, unknown>; loadStateDict(sd: Record<string, unknown>): void };

function make(name: string, opt: SGD, kw: Record<string, unknown>): AnySched {
  const o = options(kw) as never;
  switch (name) {
    case 'StepLR':
      return new StepLR(opt, o);
    case 'MultiStepLR':
      return new MultiStepLR(opt, o);
    case 'ExponentialLR':
      return new ExponentialLR(opt, o);
    case 'CosineAnnealingLR':
      return new CosineAnnealingLR(opt, o);
    case 'LinearLR':
      return new LinearLR(opt, o);
    case 'ReduceLROnPlateau':
      return new ReduceLROnPlateau(opt, o) as AnySched;
    case 'OneCycleLR':
      return new OneCycleLR(opt, o);
  }
  throw new Error(`unknown scheduler ${name}`);
}

function close(actual: number, expected: number, what: string): void {
  if (!(Math.abs(actual - expected) <= 1e-12 + 1e-9 * Math.abs(expected))) expect.fail(`${what}: got ${actual}, PyTorch ${expected}`);
}

describeBackends('lr schedulers vs PyTorch', () => {
  for (const c of f.cases) {
    it(`${c.name} ${JSON.stringify(c.kwargs)}: ${f.epochs} epochs`, () => {
      const p = tensor([0], { requiresGrad: true });
      const opt = new SGD([p], { lr: f.base_lr, momentum: 0.9 });
      const s = make(c.name, opt, c.kwargs);
      for (let e = 0; e < f.epochs; e++) {
        close(opt.paramGroups[0]!.lr, c.lrs[e]!, `lr at epoch ${e}`);
        if (c.momentums) close(opt.paramGroups[0]!.momentum, c.momentums[e]!, `momentum at epoch ${e}`);
        p.grad = tensor([0.5]);
        opt.step();
        if (c.metrics) s.step(c.metrics[e]!);
        else s.step();
        expect(s.getLastLr()).toEqual([opt.paramGroups[0]!.lr]);
      }
    });

    it(`${c.name} ${JSON.stringify(c.kwargs)}: stateDict round trip mid-way`, () => {
      const run = (n: number, s: AnySched, opt: SGD) => {
        for (let e = 0; e < n; e++) {
          if (c.metrics) s.step(c.metrics[e]!);
          else s.step();
          void opt;
        }
      };
      const optA = new SGD([tensor([0], { requiresGrad: true })], { lr: f.base_lr, momentum: 0.9 });
      const a = make(c.name, optA, c.kwargs);
      run(10, a, optA);
      const sdSched = a.stateDict();
      const sdOpt = optA.stateDict();
      const optB = new SGD([tensor([0], { requiresGrad: true })], { lr: f.base_lr, momentum: 0.9 });
      const b = make(c.name, optB, c.kwargs);
      optB.loadStateDict(sdOpt);
      b.loadStateDict(sdSched);
      for (let e = 10; e < f.epochs; e++) {
        for (const s of [a, b]) (c.metrics ? s.step(c.metrics[e]!) : s.step());
        expect(optB.paramGroups[0]!.lr).toBe(optA.paramGroups[0]!.lr);
        expect(optB.paramGroups[0]!.momentum).toBe(optA.paramGroups[0]!.momentum);
        expect(b.getLastLr()).toEqual(a.getLastLr());
      }
    });
  }
});

it('OneCycleLR cycles Adam beta1 and keeps beta2', () => {
  const opt = new Adam([tensor([0], { requiresGrad: true })], { lr: 1 });
  const s = new OneCycleLR(opt, { maxLr: 0.1, totalSteps: 10 });
  expect(opt.paramGroups[0]!.lr).toBeCloseTo(0.004, 12);
  expect(opt.paramGroups[0]!.betas).toEqual([0.95, 0.999]);
  for (let i = 0; i < 2; i++) s.step();
  expect(opt.paramGroups[0]!.lr).toBeCloseTo(0.1, 12);
  expect(opt.paramGroups[0]!.betas).toEqual([0.85, 0.999]);
  for (let i = 0; i < 8; i++) s.step();
  expect(() => s.step()).toThrow(/tried to step 11 times; the specified number of total steps is 10/);
});

it('construction performs the initial step and records initialLr', () => {
  const opt = new SGD([tensor([0], { requiresGrad: true })], { lr: 0.1 });
  const s = new LinearLR(opt, { startFactor: 0.1, totalIters: 5 });
  expect(opt.paramGroups[0]!.initialLr).toBe(0.1);
  expect(s.lastEpoch).toBe(0);
  expect(s.getLastLr()[0]).toBeCloseTo(0.01, 15);
});

it('validates scheduler arguments', () => {
  const opt = () => new SGD([tensor([0], { requiresGrad: true })], { lr: 0.1 });
  expect(() => new StepLR(opt(), { stepSize: 0 })).toThrow('StepLR: invalid stepSize 0, must be a positive integer');
  expect(() => new LinearLR(opt(), { startFactor: 0 })).toThrow('LinearLR: invalid startFactor 0, must be in (0, 1]');
  expect(() => new LinearLR(opt(), { endFactor: 1.5 })).toThrow('LinearLR: invalid endFactor 1.5');
  expect(() => new ReduceLROnPlateau(opt(), { factor: 1 })).toThrow('ReduceLROnPlateau: invalid factor 1, must be in [0, 1)');
  expect(() => new OneCycleLR(opt(), { maxLr: 0.1 })).toThrow(/either totalSteps or both epochs and stepsPerEpoch/);
  expect(() => new OneCycleLR(opt(), { maxLr: 0.1, totalSteps: 10, pctStart: 2 })).toThrow('OneCycleLR: invalid pctStart 2');
  expect(() => new CosineAnnealingLR(opt(), { tMax: 0 })).toThrow('CosineAnnealingLR: invalid tMax 0');
  expect(() => new StepLR(opt(), { stepSize: 2, lastEpoch: 3 })).toThrow(/initialLr' is not specified in paramGroups\[0\]/);
});

describe('scheduler state dicts are checked as the constructor checks its options, all or nothing', () => {
  const opt = () => new SGD([tensor([0], { requiresGrad: true })], { lr: 0.1, momentum: 0.9 });
  const cases: [string, () => AnySched, Record<string, unknown>, string | RegExp][] = [
    ['StepLR', () => new StepLR(opt(), { stepSize: 3 }), { stepSize: 0 }, 'StepLR.loadStateDict: invalid stepSize 0, must be a positive integer'],
    ['StepLR', () => new StepLR(opt(), { stepSize: 3 }), { gamma: NaN }, 'StepLR.loadStateDict: invalid gamma NaN, must be a finite number >= 0'],
    ['StepLR', () => new StepLR(opt(), { stepSize: 3 }), { lastEpoch: -5 }, 'StepLR.loadStateDict: invalid lastEpoch -5, must be an integer >= -1'],
    ['StepLR', () => new StepLR(opt(), { stepSize: 3 }), { baseLrs: [0.1, 0.2] }, /invalid baseLrs an array, must be an array of 1 values \(one per parameter group\)/],
    ['StepLR', () => new StepLR(opt(), { stepSize: 3 }), { baseLrs: ['0.1'] }, "StepLR.loadStateDict: invalid baseLrs[0] string '0.1', must be a finite number >= 0"],
    ['StepLR', () => new StepLR(opt(), { stepSize: 3 }), { stepCount: 1.5 }, 'invalid stepCount 1.5, must be a non-negative integer'],
    ['StepLR', () => new StepLR(opt(), { stepSize: 3 }), { step_size: 2 }, "StepLR.loadStateDict: unknown key 'step_size' (a StepLR state holds baseLrs, lastEpoch, stepCount, lastLr, stepSize, gamma)"],
    ['StepLR', () => new StepLR(opt(), { stepSize: 3 }), { optimizer: {} }, "unknown key 'optimizer'"],
    ['MultiStepLR', () => new MultiStepLR(opt(), { milestones: [2, 4] }), { milestones: [2, 4] }, 'invalid milestones an array, must be an object mapping integer epochs to positive counts'],
    ['MultiStepLR', () => new MultiStepLR(opt(), { milestones: [2, 4] }), { milestones: { 2: 0 } }, 'must be an object mapping integer epochs to positive counts'],
    ['CosineAnnealingLR', () => new CosineAnnealingLR(opt(), { tMax: 5 }), { etaMin: -1 }, 'CosineAnnealingLR.loadStateDict: invalid etaMin -1, must be a finite number >= 0'],
    ['LinearLR', () => new LinearLR(opt()), { startFactor: 0 }, 'LinearLR.loadStateDict: invalid startFactor 0, must be in (0, 1]'],
    ['LinearLR', () => new LinearLR(opt()), { totalIters: 2.5 }, 'LinearLR.loadStateDict: invalid totalIters 2.5, must be a positive integer'],
    ['ExponentialLR', () => new ExponentialLR(opt(), { gamma: 0.9 }), { gamma: '0.5' }, "ExponentialLR.loadStateDict: invalid gamma string '0.5'"],
    ['ReduceLROnPlateau', () => new ReduceLROnPlateau(opt()) as AnySched, { mode: 'avg' }, "ReduceLROnPlateau.loadStateDict: invalid mode string 'avg', must be 'min' or 'max'"],
    ['ReduceLROnPlateau', () => new ReduceLROnPlateau(opt()) as AnySched, { factor: 1.5 }, 'invalid factor 1.5, must be in [0, 1)'],
    ['ReduceLROnPlateau', () => new ReduceLROnPlateau(opt()) as AnySched, { best: NaN }, 'invalid best NaN'],
    ['ReduceLROnPlateau', () => new ReduceLROnPlateau(opt()) as AnySched, { numBadEpochs: -1 }, 'invalid numBadEpochs -1, must be a non-negative integer'],
    ['ReduceLROnPlateau', () => new ReduceLROnPlateau(opt()) as AnySched, { minLrs: 0 }, 'invalid minLrs 0, must be an array of 1 values'],
    ['OneCycleLR', () => new OneCycleLR(opt(), { maxLr: 1, totalSteps: 10 }), { phases: [{ endStep: 3 }] }, /invalid phases an array, must be 2 or 3 phases/],
    ['OneCycleLR', () => new OneCycleLR(opt(), { maxLr: 1, totalSteps: 10 }), { useBeta1: true }, 'OneCycleLR.loadStateDict: invalid useBeta1 boolean true, must be false for this optimizer'],
    ['OneCycleLR', () => new OneCycleLR(opt(), { maxLr: 1, totalSteps: 10 }), { annealStrategy: 'cosine' }, "invalid annealStrategy string 'cosine', must be 'cos' or 'linear'"],
  ];
  for (const [name, make, spoil, message] of cases) {
    it(`${name} refuses ${JSON.stringify(spoil)} and changes nothing`, () => {
      const s = make();
      s.step(1);
      const before = s.stateDict();
      // A valid change next to the bad one must not be applied either.
      expect(() => s.loadStateDict({ ...before, lastEpoch: 7, ...spoil })).toThrow(message);
      expect(s.stateDict()).toEqual(before);
    });
  }

  it('refuses a state dict that is not an object', () => {
    const s = new StepLR(opt(), { stepSize: 2 });
    expect(() => s.loadStateDict(null as unknown as Record<string, unknown>)).toThrow('StepLR.loadStateDict: expected an object (from stateDict()), got null');
    expect(() => new ReduceLROnPlateau(opt()).loadStateDict([] as unknown as Record<string, unknown>)).toThrow(
      'ReduceLROnPlateau.loadStateDict: expected an object (from stateDict()), got an array',
    );
  });

  it("a partial dict updates only the fields it names (as PyTorch's dict update)", () => {
    const s = new StepLR(opt(), { stepSize: 2 });
    s.loadStateDict({ lastEpoch: 5 });
    expect(s.lastEpoch).toBe(5);
    expect(s.stepSize).toBe(2);
  });
});

describe('scheduler constructors check every option before touching the optimizer', () => {
  const opt = () => new SGD([tensor([0], { requiresGrad: true })], { lr: 0.1, momentum: 0.9 });
  it('a refused option leaves the groups without initialLr and with their lr', () => {
    const attempts: [(o: SGD) => unknown, string][] = [
      [(o) => new StepLR(o, { stepSize: 0 }), 'StepLR: invalid stepSize 0, must be a positive integer'],
      [(o) => new StepLR(o, { stepSize: 2, gamma: -1 }), 'StepLR: invalid gamma -1, must be a finite number >= 0'],
      [(o) => new CosineAnnealingLR(o, { tMax: 4, etaMin: NaN }), 'CosineAnnealingLR: invalid etaMin NaN'],
      [(o) => new OneCycleLR(o, { maxLr: 1, totalSteps: 10, divFactor: 0 }), 'OneCycleLR: invalid divFactor 0, must be a finite number > 0'],
      [(o) => new OneCycleLR(o, { maxLr: [1, 2], totalSteps: 10 }), 'OneCycleLR: invalid maxLr an array, must be an array of 1 values (one per parameter group)'],
      [(o) => new OneCycleLR(o, { maxLr: 1, totalSteps: 10, maxMomentum: Infinity }), 'OneCycleLR: invalid maxMomentum[0] Infinity'],
      [(o) => new OneCycleLR(o, { maxLr: 1, totalSteps: 10, threePhase: 'yes' as unknown as boolean }), "OneCycleLR: invalid threePhase string 'yes', must be a boolean"],
    ];
    for (const [make, message] of attempts) {
      const o = opt();
      expect(() => make(o)).toThrow(message);
      expect(o.paramGroups[0]!.initialLr).toBeUndefined();
      expect(o.paramGroups[0]!.maxLr).toBeUndefined();
      expect(o.paramGroups[0]!.lr).toBe(0.1);
      expect(o.paramGroups[0]!.momentum).toBe(0.9);
    }
  });

  it('options and optimizer: objects, with known keys only', () => {
    expect(() => new StepLR(opt(), { step_size: 2 } as unknown as { stepSize: number })).toThrow(
      "StepLR: unknown option 'step_size' (expected stepSize, gamma, lastEpoch)",
    );
    expect(() => new ExponentialLR(opt(), undefined as unknown as { gamma: number })).toThrow('ExponentialLR: options must be an object, got undefined');
    expect(() => new ReduceLROnPlateau(opt(), { patience: 2.5 })).toThrow('ReduceLROnPlateau: invalid patience 2.5, must be a non-negative integer');
    expect(() => new ReduceLROnPlateau(opt(), { min_lr: 0.1 } as object)).toThrow("ReduceLROnPlateau: unknown option 'min_lr'");
    expect(() => new CosineAnnealingLR(null as unknown as SGD, { tMax: 2 })).toThrow(
      'CosineAnnealingLR: optimizer must be an optimizer (with paramGroups and defaults), got null',
    );
    expect(() => new MultiStepLR(opt(), { milestones: [1, '2' as unknown as number] })).toThrow("MultiStepLR: invalid milestone string '2', must be an integer");
  });

  it('ReduceLROnPlateau.step takes a number or a one-element Tensor', () => {
    const s = new ReduceLROnPlateau(opt());
    expect(() => s.step('1' as unknown as number)).toThrow("ReduceLROnPlateau.step: metric must be a number or a one-element Tensor, got string '1'");
    expect(() => s.step(tensor([1, 2]))).toThrow('ReduceLROnPlateau.step: metric must be a number or a one-element Tensor, got a Tensor of 2 elements');
    expect(s.lastEpoch).toBe(0);
    s.step(tensor([0.5]) as Tensor);
    expect(s.best).toBe(0.5);
  });
});
