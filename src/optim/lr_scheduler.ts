import type { Tensor } from '../tensor.js';
import type { ParamGroup } from './optimizer.js';

/** What a scheduler needs from an optimizer: its groups (lr, momentum/betas) and its defaults. */
export interface SchedulableOptimizer {
  readonly paramGroups: ParamGroup[];
  readonly defaults: object;
}

function cloneJson<T>(v: T): T {
  return structuredClone(v);
}

/**
 * Base class of the epoch/step schedulers (PyTorch's LRScheduler, chainable form). Constructing a
 * scheduler records each group's `initialLr` and performs PyTorch's initial step (lastEpoch -1 → 0).
 * Subclasses compute the new lrs from the current ones in getLr().
 */
export abstract class LRScheduler {
  readonly optimizer: SchedulableOptimizer;
  baseLrs: number[];
  lastEpoch: number;
  protected stepCount = 0;
  protected lastLr: number[] = [];

  protected constructor(optimizer: SchedulableOptimizer, lastEpoch = -1) {
    this.optimizer = optimizer;
    if (!Number.isInteger(lastEpoch) || lastEpoch < -1) throw new Error(`${this.constructor.name}: invalid lastEpoch ${lastEpoch}`);
    optimizer.paramGroups.forEach((g, i) => {
      if (lastEpoch === -1) {
        if (g.initialLr === undefined) g.initialLr = g.lr;
      } else if (g.initialLr === undefined) {
        throw new Error(`${this.constructor.name}: param 'initialLr' is not specified in paramGroups[${i}] when resuming an optimizer`);
      }
    });
    this.baseLrs = optimizer.paramGroups.map((g) => g.initialLr!);
    this.lastEpoch = lastEpoch;
  }

  /** PyTorch's _initial_step; subclasses call it at the end of their constructor. */
  protected initialStep(): void {
    this.stepCount = 0;
    this.step();
  }

  /** The new lr of each group for epoch this.lastEpoch (already advanced). */
  protected abstract getLr(): number[];

  /** Advances one epoch (or step) and writes the new lrs into the optimizer's groups. */
  step(): void {
    this.stepCount++;
    this.lastEpoch++;
    const lrs = this.getLr();
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = lrs[i]!));
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** The lrs set by the last step(). */
  getLastLr(): number[] {
    return this.lastLr.slice();
  }

  /** Everything but the optimizer, copied. */
  stateDict(): Record<string, unknown> {
    return schedulerState(this);
  }

  loadStateDict(sd: Record<string, unknown>): void {
    loadSchedulerState(this, sd);
  }

  protected currentLrs(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }
}

function positiveInt(name: string, what: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name}: invalid ${what} ${v}, must be a positive integer`);
}

function finite(name: string, what: string, v: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${name}: invalid ${what} ${String(v)}, must be a finite number`);
}

/** Multiplies the lr by gamma every stepSize epochs. */
export class StepLR extends LRScheduler {
  readonly stepSize: number;
  readonly gamma: number;
  constructor(optimizer: SchedulableOptimizer, options: { stepSize: number; gamma?: number; lastEpoch?: number }) {
    super(optimizer, options.lastEpoch ?? -1);
    positiveInt('StepLR', 'stepSize', options.stepSize);
    this.stepSize = options.stepSize;
    this.gamma = options.gamma ?? 0.1;
    finite('StepLR', 'gamma', this.gamma);
    this.initialStep();
  }
  protected getLr(): number[] {
    const cur = this.currentLrs();
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return cur;
    return cur.map((lr) => lr * this.gamma);
  }
}

/** Multiplies the lr by gamma at each milestone epoch (a milestone listed k times: gamma^k). */
export class MultiStepLR extends LRScheduler {
  readonly milestones: Record<number, number> = {};
  readonly gamma: number;
  constructor(optimizer: SchedulableOptimizer, options: { milestones: number[]; gamma?: number; lastEpoch?: number }) {
    super(optimizer, options.lastEpoch ?? -1);
    if (!Array.isArray(options.milestones)) throw new Error('MultiStepLR: milestones must be an array of epochs');
    for (const m of options.milestones) {
      if (!Number.isInteger(m)) throw new Error(`MultiStepLR: invalid milestone ${m}, must be an integer`);
      this.milestones[m] = (this.milestones[m] ?? 0) + 1;
    }
    this.gamma = options.gamma ?? 0.1;
    finite('MultiStepLR', 'gamma', this.gamma);
    this.initialStep();
  }
  protected getLr(): number[] {
    const cur = this.currentLrs();
    const k = this.milestones[this.lastEpoch];
    if (k === undefined) return cur;
    return cur.map((lr) => lr * Math.pow(this.gamma, k));
  }
}

/** Multiplies the lr by gamma every epoch. */
export class ExponentialLR extends LRScheduler {
  readonly gamma: number;
  constructor(optimizer: SchedulableOptimizer, options: { gamma: number; lastEpoch?: number }) {
    super(optimizer, options.lastEpoch ?? -1);
    finite('ExponentialLR', 'gamma', options.gamma);
    this.gamma = options.gamma;
    this.initialStep();
  }
  protected getLr(): number[] {
    const cur = this.currentLrs();
    if (this.lastEpoch === 0) return cur;
    return cur.map((lr) => lr * this.gamma);
  }
}

/** Cosine annealing from the base lr to etaMin over tMax epochs (PyTorch's recursive form, which
 * keeps going past tMax as a cosine of period 2·tMax). */
export class CosineAnnealingLR extends LRScheduler {
  readonly tMax: number;
  readonly etaMin: number;
  constructor(optimizer: SchedulableOptimizer, options: { tMax: number; etaMin?: number; lastEpoch?: number }) {
    super(optimizer, options.lastEpoch ?? -1);
    positiveInt('CosineAnnealingLR', 'tMax', options.tMax);
    this.tMax = options.tMax;
    this.etaMin = options.etaMin ?? 0;
    finite('CosineAnnealingLR', 'etaMin', this.etaMin);
    this.initialStep();
  }
  protected getLr(): number[] {
    const groups = this.optimizer.paramGroups;
    const { tMax: T, etaMin, lastEpoch: e } = this;
    if (e === 0) return groups.map((g) => g.lr);
    if (this.stepCount === 1 && e > 0) {
      return this.baseLrs.map((base) => etaMin + ((base - etaMin) * (1 + Math.cos((e * Math.PI) / T))) / 2);
    }
    if ((((e - 1 - T) % (2 * T)) + 2 * T) % (2 * T) === 0) {
      return groups.map((g, i) => g.lr + ((this.baseLrs[i]! - etaMin) * (1 - Math.cos(Math.PI / T))) / 2);
    }
    return groups.map(
      (g) => ((1 + Math.cos((Math.PI * e) / T)) / (1 + Math.cos((Math.PI * (e - 1)) / T))) * (g.lr - etaMin) + etaMin,
    );
  }
}

/** Scales the lr linearly from startFactor to endFactor over totalIters epochs (warm-up). */
export class LinearLR extends LRScheduler {
  readonly startFactor: number;
  readonly endFactor: number;
  readonly totalIters: number;
  constructor(
    optimizer: SchedulableOptimizer,
    options: { startFactor?: number; endFactor?: number; totalIters?: number; lastEpoch?: number } = {},
  ) {
    super(optimizer, options.lastEpoch ?? -1);
    this.startFactor = options.startFactor ?? 1 / 3;
    this.endFactor = options.endFactor ?? 1;
    this.totalIters = options.totalIters ?? 5;
    if (!(this.startFactor > 0 && this.startFactor <= 1)) {
      throw new Error(`LinearLR: invalid startFactor ${this.startFactor}, must be in (0, 1]`);
    }
    if (!(this.endFactor >= 0 && this.endFactor <= 1)) throw new Error(`LinearLR: invalid endFactor ${this.endFactor}, must be in [0, 1]`);
    positiveInt('LinearLR', 'totalIters', this.totalIters);
    this.initialStep();
  }
  protected getLr(): number[] {
    const cur = this.currentLrs();
    const { startFactor: s, endFactor: f, totalIters: n, lastEpoch: e } = this;
    if (e === 0) return cur.map((lr) => lr * s);
    if (e > n) return cur;
    return cur.map((lr) => lr * (1 + (f - s) / (n * s + (e - 1) * (f - s))));
  }
}

export interface ReduceLROnPlateauOptions {
  mode?: 'min' | 'max';
  factor?: number;
  patience?: number;
  threshold?: number;
  thresholdMode?: 'rel' | 'abs';
  cooldown?: number;
  minLr?: number | number[];
  eps?: number;
}

/** Cuts the lr by `factor` when a metric has not improved for more than `patience` epochs. */
export class ReduceLROnPlateau {
  readonly optimizer: SchedulableOptimizer;
  readonly mode: 'min' | 'max';
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly thresholdMode: 'rel' | 'abs';
  readonly cooldown: number;
  readonly minLrs: number[];
  readonly eps: number;
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  lastEpoch = 0;
  protected lastLr: number[];

  constructor(optimizer: SchedulableOptimizer, options: ReduceLROnPlateauOptions = {}) {
    this.optimizer = optimizer;
    this.mode = options.mode ?? 'min';
    this.factor = options.factor ?? 0.1;
    this.patience = options.patience ?? 10;
    this.threshold = options.threshold ?? 1e-4;
    this.thresholdMode = options.thresholdMode ?? 'rel';
    this.cooldown = options.cooldown ?? 0;
    this.eps = options.eps ?? 1e-8;
    if (!(this.factor < 1)) throw new Error(`ReduceLROnPlateau: invalid factor ${this.factor}, must be < 1.0`);
    if (this.mode !== 'min' && this.mode !== 'max') throw new Error(`ReduceLROnPlateau: mode ${String(this.mode)} is unknown`);
    if (this.thresholdMode !== 'rel' && this.thresholdMode !== 'abs') {
      throw new Error(`ReduceLROnPlateau: thresholdMode ${String(this.thresholdMode)} is unknown`);
    }
    const n = optimizer.paramGroups.length;
    const minLr = options.minLr ?? 0;
    if (Array.isArray(minLr)) {
      if (minLr.length !== n) throw new Error(`ReduceLROnPlateau: expected ${n} minLr values, got ${minLr.length}`);
      this.minLrs = minLr.slice();
    } else {
      this.minLrs = new Array<number>(n).fill(minLr);
    }
    this.best = this.mode === 'min' ? Infinity : -Infinity;
    this.lastLr = optimizer.paramGroups.map((g) => g.lr);
  }

  private isBetter(a: number, best: number): boolean {
    const t = this.threshold;
    if (this.mode === 'min') return this.thresholdMode === 'rel' ? a < best * (1 - t) : a < best - t;
    return this.thresholdMode === 'rel' ? a > best * (t + 1) : a > best + t;
  }

  /** Feeds one epoch's metric (a number or a one-element tensor). */
  step(metric: number | Tensor): void {
    const current = typeof metric === 'number' ? metric : metric.item();
    this.lastEpoch++;
    if (this.isBetter(current, this.best)) {
      this.best = current;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs++;
    }
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.numBadEpochs = 0;
    }
    if (this.numBadEpochs > this.patience) {
      this.optimizer.paramGroups.forEach((g, i) => {
        const oldLr = g.lr;
        const newLr = Math.max(oldLr * this.factor, this.minLrs[i]!);
        if (oldLr - newLr > this.eps) g.lr = newLr;
      });
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  getLastLr(): number[] {
    return this.lastLr.slice();
  }

  stateDict(): Record<string, unknown> {
    return schedulerState(this);
  }

  loadStateDict(sd: Record<string, unknown>): void {
    loadSchedulerState(this, sd);
  }
}

export interface OneCycleLROptions {
  maxLr: number | number[];
  totalSteps?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  pctStart?: number;
  annealStrategy?: 'cos' | 'linear';
  cycleMomentum?: boolean;
  baseMomentum?: number | number[];
  maxMomentum?: number | number[];
  divFactor?: number;
  finalDivFactor?: number;
  threePhase?: boolean;
  lastEpoch?: number;
}

type LrKey = 'initialLr' | 'maxLr' | 'minLr';
type MomKey = 'maxMomentum' | 'baseMomentum';
interface Phase {
  endStep: number;
  startLr: LrKey;
  endLr: LrKey;
  startMomentum: MomKey;
  endMomentum: MomKey;
}

/** The 1cycle policy (Smith & Topin): lr up from maxLr/divFactor to maxLr, then down to
 * initialLr/finalDivFactor; momentum (or Adam's beta1) cycles the opposite way. Step it per batch. */
export class OneCycleLR extends LRScheduler {
  readonly totalSteps: number;
  readonly phases: Phase[];
  readonly annealStrategy: 'cos' | 'linear';
  readonly cycleMomentum: boolean;
  readonly useBeta1: boolean;

  constructor(optimizer: SchedulableOptimizer, options: OneCycleLROptions) {
    const n = optimizer.paramGroups.length;
    const perGroup = (what: string, v: number | number[]): number[] => {
      if (Array.isArray(v)) {
        if (v.length !== n) throw new Error(`OneCycleLR: expected ${n} values for ${what}, got ${v.length}`);
        return v.slice();
      }
      return new Array<number>(n).fill(v);
    };
    let totalSteps: number;
    if (options.totalSteps !== undefined) {
      positiveInt('OneCycleLR', 'totalSteps', options.totalSteps);
      totalSteps = options.totalSteps;
    } else if (options.epochs !== undefined && options.stepsPerEpoch !== undefined) {
      positiveInt('OneCycleLR', 'epochs', options.epochs);
      positiveInt('OneCycleLR', 'stepsPerEpoch', options.stepsPerEpoch);
      totalSteps = options.epochs * options.stepsPerEpoch;
    } else {
      throw new Error('OneCycleLR: you must define either totalSteps or both epochs and stepsPerEpoch');
    }
    const pct = options.pctStart ?? 0.3;
    if (!(pct >= 0 && pct <= 1)) throw new Error(`OneCycleLR: invalid pctStart ${pct}, must be in [0, 1]`);
    const anneal = options.annealStrategy ?? 'cos';
    if (anneal !== 'cos' && anneal !== 'linear') throw new Error(`OneCycleLR: annealStrategy must be 'cos' or 'linear', got ${String(anneal)}`);
    const threePhase = options.threePhase ?? false;
    const phases: Phase[] = threePhase
      ? [
          { endStep: pct * totalSteps - 1, startLr: 'initialLr', endLr: 'maxLr', startMomentum: 'maxMomentum', endMomentum: 'baseMomentum' },
          { endStep: 2 * pct * totalSteps - 2, startLr: 'maxLr', endLr: 'initialLr', startMomentum: 'baseMomentum', endMomentum: 'maxMomentum' },
          { endStep: totalSteps - 1, startLr: 'initialLr', endLr: 'minLr', startMomentum: 'maxMomentum', endMomentum: 'maxMomentum' },
        ]
      : [
          { endStep: pct * totalSteps - 1, startLr: 'initialLr', endLr: 'maxLr', startMomentum: 'maxMomentum', endMomentum: 'baseMomentum' },
          { endStep: totalSteps - 1, startLr: 'maxLr', endLr: 'minLr', startMomentum: 'baseMomentum', endMomentum: 'maxMomentum' },
        ];
    const lastEpoch = options.lastEpoch ?? -1;
    const divFactor = options.divFactor ?? 25;
    const finalDivFactor = options.finalDivFactor ?? 1e4;
    if (lastEpoch === -1) {
      const maxLrs = perGroup('maxLr', options.maxLr);
      optimizer.paramGroups.forEach((g, i) => {
        g.initialLr = maxLrs[i]! / divFactor;
        g.maxLr = maxLrs[i]!;
        g.minLr = g.initialLr / finalDivFactor;
      });
    }
    const cycleMomentum = options.cycleMomentum ?? true;
    const useBeta1 = 'betas' in optimizer.defaults;
    if (cycleMomentum) {
      if (!('momentum' in optimizer.defaults) && !useBeta1) {
        throw new Error('OneCycleLR: optimizer must support momentum (or betas) with the cycleMomentum option enabled');
      }
      const maxM = perGroup('maxMomentum', options.maxMomentum ?? 0.95);
      const baseM = perGroup('baseMomentum', options.baseMomentum ?? 0.85);
      if (lastEpoch === -1) {
        optimizer.paramGroups.forEach((g, i) => {
          if (useBeta1) g.betas = [maxM[i]!, g.betas![1]];
          else g.momentum = maxM[i]!;
          g.maxMomentum = maxM[i]!;
          g.baseMomentum = baseM[i]!;
        });
      }
    }
    super(optimizer, lastEpoch);
    this.totalSteps = totalSteps;
    this.phases = phases;
    this.annealStrategy = anneal;
    this.cycleMomentum = cycleMomentum;
    this.useBeta1 = useBeta1;
    this.initialStep();
  }

  private anneal(start: number, end: number, pct: number): number {
    if (this.annealStrategy === 'cos') return end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1);
    return (end - start) * pct + start;
  }

  protected getLr(): number[] {
    const stepNum = this.lastEpoch;
    if (stepNum > this.totalSteps) {
      throw new Error(
        `OneCycleLR: tried to step ${stepNum} times; the specified number of total steps is ${this.totalSteps}`,
      );
    }
    return this.optimizer.paramGroups.map((g) => {
      let startStep = 0;
      let lr = 0;
      let mom = 0;
      for (let i = 0; i < this.phases.length; i++) {
        const ph = this.phases[i]!;
        if (stepNum <= ph.endStep || i === this.phases.length - 1) {
          const pct = (stepNum - startStep) / (ph.endStep - startStep);
          lr = this.anneal(g[ph.startLr]!, g[ph.endLr]!, pct);
          if (this.cycleMomentum) mom = this.anneal(g[ph.startMomentum]!, g[ph.endMomentum]!, pct);
          break;
        }
        startStep = ph.endStep;
      }
      if (this.cycleMomentum) {
        if (this.useBeta1) g.betas = [mom, g.betas![1]];
        else g.momentum = mom;
      }
      return lr;
    });
  }
}

/** A scheduler's fields, copied, all but its optimizer (PyTorch's scheduler state_dict). */
function schedulerState(scheduler: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(scheduler)) if (k !== 'optimizer') out[k] = cloneJson(v);
  return out;
}

function loadSchedulerState(scheduler: object, sd: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(sd)) if (k !== 'optimizer') (scheduler as Record<string, unknown>)[k] = cloneJson(v);
}
