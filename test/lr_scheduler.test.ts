// LR schedulers against PyTorch's lr sequences (test/fixtures/schedulers.json, written by
// scripts/fixtures/make_fixtures.py; no PyTorch needed here).
import { expect, it } from 'vitest';
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
  expect(() => new ReduceLROnPlateau(opt(), { factor: 1 })).toThrow('ReduceLROnPlateau: invalid factor 1, must be < 1.0');
  expect(() => new OneCycleLR(opt(), { maxLr: 0.1 })).toThrow(/either totalSteps or both epochs and stepsPerEpoch/);
  expect(() => new OneCycleLR(opt(), { maxLr: 0.1, totalSteps: 10, pctStart: 2 })).toThrow('OneCycleLR: invalid pctStart 2');
  expect(() => new CosineAnnealingLR(opt(), { tMax: 0 })).toThrow('CosineAnnealingLR: invalid tMax 0');
  expect(() => new StepLR(opt(), { stepSize: 2, lastEpoch: 3 })).toThrow(/initialLr' is not specified in paramGroups\[0\]/);
});
