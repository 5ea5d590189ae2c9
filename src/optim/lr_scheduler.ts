import { isRecord, requireKnownOptions } from '../ops/args.js';
import { valueStr } from '../shape.js';
import { Tensor } from '../tensor.js';
import type { ParamGroup } from './optimizer.js';

/** What a scheduler needs from an optimizer: its groups (lr, momentum/betas) and its defaults. */
export interface SchedulableOptimizer {
  /** The groups whose `lr` (and momentum or betas) the scheduler writes. */
  readonly paramGroups: ParamGroup[];
  /** The optimizer's defaults; OneCycleLR reads whether they hold `momentum` or `betas`. */
  readonly defaults: object;
}

function cloneJson<T>(v: T): T {
  return structuredClone(v);
}

/**
 * Checks one field of a scheduler, throwing `${where}: invalid ${what} …`. A scheduler lists its
 * fields' checks in schema(); the constructor runs them on the fields it set and loadStateDict on
 * every field it is given, so a state dict is held to exactly the constructor's rules.
 */
type FieldCheck = (v: unknown, where: string, what: string) => void;
type Schema = Record<string, FieldCheck>;

function rule(ok: (v: unknown) => boolean, text: string): FieldCheck {
  return (v, where, what) => {
    if (!ok(v)) throw new Error(`${where}: invalid ${what} ${valueStr(v)}, must be ${text}`);
  };
}

const isFiniteNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const nonNegative = rule((v) => isFiniteNum(v) && v >= 0, 'a finite number >= 0');
const positive = rule((v) => isFiniteNum(v) && v > 0, 'a finite number > 0');
const positiveInt = rule((v) => Number.isSafeInteger(v) && (v as number) > 0, 'a positive integer');
const nonNegativeInt = rule((v) => Number.isSafeInteger(v) && (v as number) >= 0, 'a non-negative integer');
const boolean = rule((v) => typeof v === 'boolean', 'a boolean');
const oneOf = (...allowed: string[]): FieldCheck => rule((v) => allowed.includes(v as string), allowed.map((a) => `'${a}'`).join(' or '));

/** An array of n values (one per parameter group), each passing `each`. */
function perGroupList(n: number, each: FieldCheck): FieldCheck {
  return (v, where, what) => {
    if (!Array.isArray(v) || v.length !== n) throw new Error(`${where}: invalid ${what} ${valueStr(v)}, must be an array of ${n} values (one per parameter group)`);
    v.forEach((x, i) => each(x, where, `${what}[${i}]`));
  };
}

function checkOptimizer(name: string, optimizer: unknown): void {
  if (!isRecord(optimizer) || !Array.isArray(optimizer['paramGroups']) || !isRecord(optimizer['defaults'])) {
    throw new Error(`${name}: optimizer must be an optimizer (with paramGroups and defaults), got ${valueStr(optimizer)}`);
  }
}

/** Runs schema's checks on the fields of `values` it names. */
function checkFields(schema: Schema, values: Record<string, unknown>, where: string): void {
  for (const [k, check] of Object.entries(schema)) if (k in values) check(values[k], where, k);
}

/**
 * A scheduler's fields, copied, all but its optimizer (PyTorch's scheduler state_dict).
 */
function schedulerState(scheduler: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(scheduler)) if (k !== 'optimizer') out[k] = cloneJson(v);
  return out;
}

/**
 * Loads a state dict into a scheduler, all or nothing: every key must be one of the scheduler's
 * fields and pass its check before any field changes. Fields it does not name keep their values,
 * as PyTorch's load_state_dict (a dict update) does.
 */
function loadSchedulerState(scheduler: object, schema: Schema, sd: unknown, name: string): void {
  const where = `${name}.loadStateDict`;
  if (!isRecord(sd)) throw new Error(`${where}: expected an object (from stateDict()), got ${valueStr(sd)}`);
  for (const k of Object.keys(sd)) {
    if (!Object.prototype.hasOwnProperty.call(schema, k)) {
      throw new Error(`${where}: unknown key '${k}' (a ${name} state holds ${Object.keys(schema).join(', ')})`);
    }
  }
  checkFields(schema, sd, where);
  for (const [k, v] of Object.entries(sd)) (scheduler as Record<string, unknown>)[k] = cloneJson(v);
}

/**
 * Base class of the epoch/step schedulers (PyTorch's LRScheduler, chainable form). Constructing a
 * scheduler records each group's `initialLr` and performs PyTorch's initial step (lastEpoch -1 → 0).
 * Subclasses compute the new lrs from the current ones in getLr().
 */
export abstract class LRScheduler {
  /** The optimizer whose groups' lrs this scheduler sets. */
  readonly optimizer: SchedulableOptimizer;
  /** Each group's initial lr, the value the schedule is relative to. */
  baseLrs: number[];
  /** Index of the current epoch (or step): 0 after construction, +1 per step(). */
  lastEpoch: number;
  /** step() calls since construction (including the initial one). */
  protected stepCount = 0;
  /** The lrs set by the last step(). */
  protected lastLr: number[] = [];

  /**
   * @param optimizer - the optimizer to schedule
   * @param lastEpoch - the last epoch when resuming (default -1: a fresh start)
   */
  protected constructor(optimizer: SchedulableOptimizer, lastEpoch = -1) {
    checkOptimizer(new.target.name, optimizer);
    this.optimizer = optimizer;
    if (!Number.isSafeInteger(lastEpoch) || lastEpoch < -1) {
      throw new Error(`${new.target.name}: invalid lastEpoch ${valueStr(lastEpoch)}, must be an integer >= -1`);
    }
    optimizer.paramGroups.forEach((g, i) => {
      if (lastEpoch !== -1 && g.initialLr === undefined) {
        throw new Error(`${new.target.name}: param 'initialLr' is not specified in paramGroups[${i}] when resuming an optimizer`);
      }
    });
    // initialStep() records these in the groups as initialLr, once every field has been checked.
    this.baseLrs = optimizer.paramGroups.map((g) => g.initialLr ?? g.lr);
    this.lastEpoch = lastEpoch;
    this.lastLr = this.currentLrs();
  }

  /**
   * @internal Checks of every field stateDict() holds (see FieldCheck). Subclasses add theirs; a
   * method, not a field, so it is not part of the state.
   */
  protected schema(): Schema {
    const n = this.optimizer.paramGroups.length;
    return {
      baseLrs: perGroupList(n, nonNegative),
      lastEpoch: rule((v) => Number.isSafeInteger(v) && (v as number) >= -1, 'an integer >= -1'),
      stepCount: nonNegativeInt,
      lastLr: perGroupList(n, nonNegative),
    };
  }

  /** PyTorch's _initial_step; subclasses call it at the end of their constructor, after checking their fields. */
  protected initialStep(): void {
    checkFields(this.schema(), this as unknown as Record<string, unknown>, this.constructor.name);
    if (this.lastEpoch === -1) this.optimizer.paramGroups.forEach((g, i) => (g.initialLr ??= this.baseLrs[i]!));
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

  /**
   * Restores a stateDict(), all or nothing (every key checked as the constructor checks it).
   * @param sd - what stateDict() returned
   */
  loadStateDict(sd: Record<string, unknown>): void {
    loadSchedulerState(this, this.schema(), sd, this.constructor.name);
  }

  /** Each group's lr as it is now. */
  protected currentLrs(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }
}

/**
 * Multiplies the lr by gamma every stepSize epochs.
 * PyTorch: `torch.optim.lr_scheduler.StepLR`.
 * @example
 * ```ts
 * const sched = new StepLR(opt, { stepSize: 10, gamma: 0.5 });
 * for (let epoch = 0; epoch < 30; epoch++) { trainOneEpoch(); sched.step(); }
 * ```
 */
export class StepLR extends LRScheduler {
  /** Epochs between two decays. */
  readonly stepSize: number;
  /** Factor applied at each decay. */
  readonly gamma: number;
  /**
   * @param optimizer - the optimizer to schedule
   * @param options.stepSize - epochs between two decays (a positive integer)
   * @param options.gamma - decay factor (default 0.1)
   * @param options.lastEpoch - index of the last epoch when resuming (default -1: a fresh start)
   */
  constructor(optimizer: SchedulableOptimizer, options: { stepSize: number; gamma?: number; lastEpoch?: number }) {
    requireKnownOptions('StepLR', options, ['stepSize', 'gamma', 'lastEpoch'], true);
    super(optimizer, options.lastEpoch ?? -1);
    this.stepSize = options.stepSize;
    this.gamma = options.gamma ?? 0.1;
    this.initialStep();
  }
  /** @internal */
  protected override schema(): Schema {
    return { ...super.schema(), stepSize: positiveInt, gamma: nonNegative };
  }
  protected getLr(): number[] {
    const cur = this.currentLrs();
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return cur;
    return cur.map((lr) => lr * this.gamma);
  }
}

/** Milestone epoch → how many times it was listed, as MultiStepLR keeps them. */
const milestoneCounts: FieldCheck = (v, where, what) => {
  const ok = isRecord(v) && Object.entries(v).every(([k, c]) => /^-?(0|[1-9]\d*)$/.test(k) && Number.isSafeInteger(c) && (c as number) > 0);
  if (!ok) throw new Error(`${where}: invalid ${what} ${valueStr(v)}, must be an object mapping integer epochs to positive counts`);
};

/**
 * Multiplies the lr by gamma at each milestone epoch (a milestone listed k times: gamma^k).
 * PyTorch: `torch.optim.lr_scheduler.MultiStepLR`.
 */
export class MultiStepLR extends LRScheduler {
  /** Milestone epoch → how many times it was listed. */
  readonly milestones: Record<number, number> = {};
  /** Factor applied at each milestone. */
  readonly gamma: number;
  /**
   * @param optimizer - the optimizer to schedule
   * @param options.milestones - epochs at which to decay (integers; repeats compound)
   * @param options.gamma - decay factor (default 0.1)
   * @param options.lastEpoch - index of the last epoch when resuming (default -1: a fresh start)
   */
  constructor(optimizer: SchedulableOptimizer, options: { milestones: number[]; gamma?: number; lastEpoch?: number }) {
    requireKnownOptions('MultiStepLR', options, ['milestones', 'gamma', 'lastEpoch'], true);
    if (!Array.isArray(options.milestones)) throw new Error(`MultiStepLR: milestones must be an array of epochs, got ${valueStr(options.milestones)}`);
    for (const m of options.milestones) {
      if (!Number.isSafeInteger(m)) throw new Error(`MultiStepLR: invalid milestone ${valueStr(m)}, must be an integer`);
    }
    super(optimizer, options.lastEpoch ?? -1);
    for (const m of options.milestones) this.milestones[m] = (this.milestones[m] ?? 0) + 1;
    this.gamma = options.gamma ?? 0.1;
    this.initialStep();
  }
  /** @internal */
  protected override schema(): Schema {
    return { ...super.schema(), milestones: milestoneCounts, gamma: nonNegative };
  }
  protected getLr(): number[] {
    const cur = this.currentLrs();
    const k = this.milestones[this.lastEpoch];
    if (k === undefined) return cur;
    return cur.map((lr) => lr * Math.pow(this.gamma, k));
  }
}

/** Multiplies the lr by gamma every epoch. PyTorch: `torch.optim.lr_scheduler.ExponentialLR`. */
export class ExponentialLR extends LRScheduler {
  /** Factor applied every epoch. */
  readonly gamma: number;
  /**
   * @param optimizer - the optimizer to schedule
   * @param options.gamma - decay factor per epoch
   * @param options.lastEpoch - index of the last epoch when resuming (default -1: a fresh start)
   */
  constructor(optimizer: SchedulableOptimizer, options: { gamma: number; lastEpoch?: number }) {
    requireKnownOptions('ExponentialLR', options, ['gamma', 'lastEpoch'], true);
    super(optimizer, options.lastEpoch ?? -1);
    this.gamma = options.gamma;
    this.initialStep();
  }
  /** @internal */
  protected override schema(): Schema {
    return { ...super.schema(), gamma: nonNegative };
  }
  protected getLr(): number[] {
    const cur = this.currentLrs();
    if (this.lastEpoch === 0) return cur;
    return cur.map((lr) => lr * this.gamma);
  }
}

/**
 * Cosine annealing from the base lr to etaMin over tMax epochs (PyTorch's recursive form, which
 * keeps going past tMax as a cosine of period 2·tMax).
 * PyTorch: `torch.optim.lr_scheduler.CosineAnnealingLR`.
 */
export class CosineAnnealingLR extends LRScheduler {
  /** Epochs of one half-period. */
  readonly tMax: number;
  /** The lowest lr. */
  readonly etaMin: number;
  /**
   * @param optimizer - the optimizer to schedule
   * @param options.tMax - epochs from the base lr down to etaMin (a positive integer)
   * @param options.etaMin - the lowest lr (default 0)
   * @param options.lastEpoch - index of the last epoch when resuming (default -1: a fresh start)
   */
  constructor(optimizer: SchedulableOptimizer, options: { tMax: number; etaMin?: number; lastEpoch?: number }) {
    requireKnownOptions('CosineAnnealingLR', options, ['tMax', 'etaMin', 'lastEpoch'], true);
    super(optimizer, options.lastEpoch ?? -1);
    this.tMax = options.tMax;
    this.etaMin = options.etaMin ?? 0;
    this.initialStep();
  }
  /** @internal */
  protected override schema(): Schema {
    return { ...super.schema(), tMax: positiveInt, etaMin: nonNegative };
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

/**
 * Scales the lr linearly from startFactor to endFactor over totalIters epochs (warm-up).
 * PyTorch: `torch.optim.lr_scheduler.LinearLR`.
 */
export class LinearLR extends LRScheduler {
  /** Factor of the base lr at epoch 0. */
  readonly startFactor: number;
  /** Factor of the base lr from epoch totalIters on. */
  readonly endFactor: number;
  /** Epochs the ramp lasts. */
  readonly totalIters: number;
  /**
   * @param optimizer - the optimizer to schedule
   * @param options.startFactor - factor at the start, in (0, 1] (default 1/3)
   * @param options.endFactor - factor at the end, in [0, 1] (default 1)
   * @param options.totalIters - epochs of the ramp (default 5)
   * @param options.lastEpoch - index of the last epoch when resuming (default -1: a fresh start)
   */
  constructor(
    optimizer: SchedulableOptimizer,
    options: { startFactor?: number; endFactor?: number; totalIters?: number; lastEpoch?: number } = {},
  ) {
    requireKnownOptions('LinearLR', options, ['startFactor', 'endFactor', 'totalIters', 'lastEpoch'], true);
    super(optimizer, options.lastEpoch ?? -1);
    this.startFactor = options.startFactor ?? 1 / 3;
    this.endFactor = options.endFactor ?? 1;
    this.totalIters = options.totalIters ?? 5;
    this.initialStep();
  }
  /** @internal */
  protected override schema(): Schema {
    return {
      ...super.schema(),
      startFactor: rule((v) => isFiniteNum(v) && v > 0 && v <= 1, 'in (0, 1]'),
      endFactor: rule((v) => isFiniteNum(v) && v >= 0 && v <= 1, 'in [0, 1]'),
      totalIters: positiveInt,
    };
  }
  protected getLr(): number[] {
    const cur = this.currentLrs();
    const { startFactor: s, endFactor: f, totalIters: n, lastEpoch: e } = this;
    if (e === 0) return cur.map((lr) => lr * s);
    if (e > n) return cur;
    return cur.map((lr) => lr * (1 + (f - s) / (n * s + (e - 1) * (f - s))));
  }
}

/** Options of `new ReduceLROnPlateau(optimizer, options)`; defaults are PyTorch's. */
export interface ReduceLROnPlateauOptions {
  /** `'min'` (default): lower is better (a loss); `'max'`: higher is better (an accuracy). */
  mode?: 'min' | 'max';
  /** Factor the lr is multiplied by on a plateau, in [0, 1) (default 0.1). */
  factor?: number;
  /** Epochs without improvement tolerated before cutting the lr (default 10). */
  patience?: number;
  /** Least change that counts as an improvement (default 1e-4). */
  threshold?: number;
  /** `'rel'` (default): threshold is relative to the best value; `'abs'`: absolute. */
  thresholdMode?: 'rel' | 'abs';
  /** Epochs to wait after a cut before counting bad epochs again (default 0). */
  cooldown?: number;
  /** Lower bound on the lr: one for all groups or one per group (default 0). */
  minLr?: number | number[];
  /** A cut smaller than this is skipped (default 1e-8). */
  eps?: number;
}

const PLATEAU_OPTIONS = ['mode', 'factor', 'patience', 'threshold', 'thresholdMode', 'cooldown', 'minLr', 'eps'] as const;

/**
 * Cuts the lr by `factor` when a metric has not improved for more than `patience` epochs.
 * PyTorch: `torch.optim.lr_scheduler.ReduceLROnPlateau`.
 * @example
 * ```ts
 * const sched = new ReduceLROnPlateau(opt, { patience: 3 });
 * sched.step(valLoss); // once per epoch
 * ```
 */
export class ReduceLROnPlateau {
  /** The optimizer whose groups' lrs this scheduler cuts. */
  readonly optimizer: SchedulableOptimizer;
  /** Whether lower (`'min'`) or higher (`'max'`) metrics are better. */
  readonly mode: 'min' | 'max';
  /** Factor applied to the lr on a plateau. */
  readonly factor: number;
  /** Bad epochs tolerated before a cut. */
  readonly patience: number;
  /** Least change that counts as an improvement. */
  readonly threshold: number;
  /** Whether threshold is relative or absolute. */
  readonly thresholdMode: 'rel' | 'abs';
  /** Epochs to wait after a cut. */
  readonly cooldown: number;
  /** Each group's lower bound on the lr. */
  readonly minLrs: number[];
  /** Smallest cut applied. */
  readonly eps: number;
  /** The best metric seen so far (±Infinity before the first step). */
  best: number;
  /** Consecutive epochs without improvement. */
  numBadEpochs = 0;
  /** Epochs of cooldown left. */
  cooldownCounter = 0;
  /** Number of step() calls. */
  lastEpoch = 0;
  /** The lrs after the last step(). */
  protected lastLr: number[];

  /**
   * @param optimizer - the optimizer to schedule
   * @param options - mode, factor, patience…; see `ReduceLROnPlateauOptions`
   */
  constructor(optimizer: SchedulableOptimizer, options: ReduceLROnPlateauOptions = {}) {
    checkOptimizer('ReduceLROnPlateau', optimizer);
    requireKnownOptions('ReduceLROnPlateau', options, PLATEAU_OPTIONS, true);
    this.optimizer = optimizer;
    this.mode = options.mode ?? 'min';
    this.factor = options.factor ?? 0.1;
    this.patience = options.patience ?? 10;
    this.threshold = options.threshold ?? 1e-4;
    this.thresholdMode = options.thresholdMode ?? 'rel';
    this.cooldown = options.cooldown ?? 0;
    this.eps = options.eps ?? 1e-8;
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
    checkFields(this.schema(), this as unknown as Record<string, unknown>, 'ReduceLROnPlateau');
  }

  /** @internal Checks of every field stateDict() holds (see FieldCheck). */
  protected schema(): Schema {
    const n = this.optimizer.paramGroups.length;
    return {
      mode: oneOf('min', 'max'),
      factor: rule((v) => isFiniteNum(v) && v >= 0 && v < 1, 'in [0, 1)'),
      patience: nonNegativeInt,
      threshold: nonNegative,
      thresholdMode: oneOf('rel', 'abs'),
      cooldown: nonNegativeInt,
      minLrs: perGroupList(n, nonNegative),
      eps: nonNegative,
      best: rule((v) => typeof v === 'number' && !Number.isNaN(v), 'a number (±Infinity before the first step)'),
      numBadEpochs: nonNegativeInt,
      cooldownCounter: nonNegativeInt,
      lastEpoch: nonNegativeInt,
      lastLr: perGroupList(n, nonNegative),
    };
  }

  private isBetter(a: number, best: number): boolean {
    const t = this.threshold;
    if (this.mode === 'min') return this.thresholdMode === 'rel' ? a < best * (1 - t) : a < best - t;
    return this.thresholdMode === 'rel' ? a > best * (t + 1) : a > best + t;
  }

  /**
   * Feeds one epoch's metric (a number or a one-element tensor; NaN counts as no improvement).
   * @param metric - the monitored value, e.g. the validation loss
   */
  step(metric: number | Tensor): void {
    let current: number;
    if (typeof metric === 'number') current = metric;
    else if (metric instanceof Tensor && metric.size === 1) current = metric.item();
    else throw new Error(`ReduceLROnPlateau.step: metric must be a number or a one-element Tensor, got ${metric instanceof Tensor ? `a Tensor of ${metric.size} elements` : valueStr(metric)}`);
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

  /** The lrs after the last step(). */
  getLastLr(): number[] {
    return this.lastLr.slice();
  }

  /** Everything but the optimizer, copied. */
  stateDict(): Record<string, unknown> {
    return schedulerState(this);
  }

  /**
   * Restores a stateDict(), all or nothing (every key checked as the constructor checks it).
   * @param sd - what stateDict() returned
   */
  loadStateDict(sd: Record<string, unknown>): void {
    loadSchedulerState(this, this.schema(), sd, 'ReduceLROnPlateau');
  }
}

/**
 * Options of `new OneCycleLR(optimizer, options)`; defaults are PyTorch's. Give totalSteps, or
 * epochs and stepsPerEpoch.
 */
export interface OneCycleLROptions {
  /** The peak lr: one for all groups or one per group. */
  maxLr: number | number[];
  /** Steps in the whole cycle (the number of step() calls). */
  totalSteps?: number;
  /** Epochs of training; with stepsPerEpoch, gives totalSteps. */
  epochs?: number;
  /** Batches per epoch; with epochs, gives totalSteps. */
  stepsPerEpoch?: number;
  /** Fraction of the cycle spent raising the lr, in [0, 1] (default 0.3). */
  pctStart?: number;
  /** Shape of the ramps: `'cos'` (default) or `'linear'`. */
  annealStrategy?: 'cos' | 'linear';
  /** Cycle momentum (or Adam's beta1) inversely to the lr (default true). */
  cycleMomentum?: boolean;
  /** Momentum at the lr's peak (default 0.85). */
  baseMomentum?: number | number[];
  /** Momentum at the lr's ends (default 0.95). */
  maxMomentum?: number | number[];
  /** The start lr is maxLr / divFactor (default 25). */
  divFactor?: number;
  /** The final lr is the start lr / finalDivFactor (default 1e4). */
  finalDivFactor?: number;
  /** Use fast.ai's three phases (up, down to the start lr, then to the final lr); default false. */
  threePhase?: boolean;
  /** Index of the last step when resuming (default -1: a fresh start). */
  lastEpoch?: number;
}

const ONE_CYCLE_OPTIONS = [
  'maxLr', 'totalSteps', 'epochs', 'stepsPerEpoch', 'pctStart', 'annealStrategy', 'cycleMomentum',
  'baseMomentum', 'maxMomentum', 'divFactor', 'finalDivFactor', 'threePhase', 'lastEpoch',
] as const;

type LrKey = 'initialLr' | 'maxLr' | 'minLr';
type MomKey = 'maxMomentum' | 'baseMomentum';
interface Phase {
  endStep: number;
  startLr: LrKey;
  endLr: LrKey;
  startMomentum: MomKey;
  endMomentum: MomKey;
}

/** OneCycleLR's phases as stateDict() writes them. */
const phaseList: FieldCheck = (v, where, what) => {
  const lr = ['initialLr', 'maxLr', 'minLr'];
  const mom = ['maxMomentum', 'baseMomentum'];
  const ok =
    Array.isArray(v) &&
    (v.length === 2 || v.length === 3) &&
    v.every(
      (ph) =>
        isRecord(ph) &&
        Object.keys(ph).length === 5 &&
        isFiniteNum(ph['endStep']) &&
        lr.includes(ph['startLr'] as string) &&
        lr.includes(ph['endLr'] as string) &&
        mom.includes(ph['startMomentum'] as string) &&
        mom.includes(ph['endMomentum'] as string),
    );
  if (!ok) throw new Error(`${where}: invalid ${what} ${valueStr(v)}, must be 2 or 3 phases { endStep, startLr, endLr, startMomentum, endMomentum } as stateDict() writes them`);
};

/**
 * The 1cycle policy (Smith & Topin): lr up from maxLr/divFactor to maxLr, then down to
 * initialLr/finalDivFactor; momentum (or Adam's beta1) cycles the opposite way. Step it per batch.
 * PyTorch: `torch.optim.lr_scheduler.OneCycleLR`.
 * @example
 * ```ts
 * const sched = new OneCycleLR(opt, { maxLr: 0.01, epochs: 10, stepsPerEpoch: loader.length });
 * // after every optimizer step: sched.step();
 * ```
 */
export class OneCycleLR extends LRScheduler {
  /** Steps in the whole cycle. */
  readonly totalSteps: number;
  /** @internal The phase table (ends and the group fields each ramp runs between), part of the state. */
  readonly phases: Phase[];
  /** Shape of the ramps. */
  readonly annealStrategy: 'cos' | 'linear';
  /** Whether momentum (or beta1) cycles. */
  readonly cycleMomentum: boolean;
  /** Whether the cycled momentum is Adam's beta1 (the optimizer has `betas`). */
  readonly useBeta1: boolean;

  /**
   * @param optimizer - the optimizer to schedule (SGD with momentum, Adam, AdamW, RMSprop…)
   * @param options - maxLr and the cycle length; see `OneCycleLROptions`
   */
  constructor(optimizer: SchedulableOptimizer, options: OneCycleLROptions) {
    const name = 'OneCycleLR';
    checkOptimizer(name, optimizer);
    requireKnownOptions(name, options, ONE_CYCLE_OPTIONS, true);
    const n = optimizer.paramGroups.length;
    const perGroup = (what: string, v: number | number[], check: FieldCheck): number[] => {
      const list = Array.isArray(v) ? v.slice() : new Array<number>(n).fill(v);
      perGroupList(n, check)(list, name, what);
      return list;
    };
    let totalSteps: number;
    if (options.totalSteps !== undefined) {
      positiveInt(options.totalSteps, name, 'totalSteps');
      totalSteps = options.totalSteps;
    } else if (options.epochs !== undefined && options.stepsPerEpoch !== undefined) {
      positiveInt(options.epochs, name, 'epochs');
      positiveInt(options.stepsPerEpoch, name, 'stepsPerEpoch');
      totalSteps = options.epochs * options.stepsPerEpoch;
    } else {
      throw new Error('OneCycleLR: you must define either totalSteps or both epochs and stepsPerEpoch');
    }
    const pct = options.pctStart ?? 0.3;
    rule((v) => isFiniteNum(v) && v >= 0 && v <= 1, 'in [0, 1]')(pct, name, 'pctStart');
    const anneal = options.annealStrategy ?? 'cos';
    oneOf('cos', 'linear')(anneal, name, 'annealStrategy');
    const threePhase = options.threePhase ?? false;
    boolean(threePhase, name, 'threePhase');
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
    positive(divFactor, name, 'divFactor');
    const finalDivFactor = options.finalDivFactor ?? 1e4;
    positive(finalDivFactor, name, 'finalDivFactor');
    const maxLrs = perGroup('maxLr', options.maxLr, nonNegative);
    const cycleMomentum = options.cycleMomentum ?? true;
    boolean(cycleMomentum, name, 'cycleMomentum');
    const useBeta1 = 'betas' in optimizer.defaults;
    let maxM: number[] = [];
    let baseM: number[] = [];
    if (cycleMomentum) {
      if (!('momentum' in optimizer.defaults) && !useBeta1) {
        throw new Error('OneCycleLR: optimizer must support momentum (or betas) with the cycleMomentum option enabled');
      }
      maxM = perGroup('maxMomentum', options.maxMomentum ?? 0.95, nonNegative);
      baseM = perGroup('baseMomentum', options.baseMomentum ?? 0.85, nonNegative);
    }
    // Every option is valid: only now touch the optimizer's groups.
    if (lastEpoch === -1) {
      optimizer.paramGroups.forEach((g, i) => {
        g.initialLr = maxLrs[i]! / divFactor;
        g.maxLr = maxLrs[i]!;
        g.minLr = g.initialLr / finalDivFactor;
        if (cycleMomentum) {
          if (useBeta1) g.betas = [maxM[i]!, g.betas![1]];
          else g.momentum = maxM[i]!;
          g.maxMomentum = maxM[i]!;
          g.baseMomentum = baseM[i]!;
        }
      });
    }
    super(optimizer, lastEpoch);
    this.totalSteps = totalSteps;
    this.phases = phases;
    this.annealStrategy = anneal;
    this.cycleMomentum = cycleMomentum;
    this.useBeta1 = useBeta1;
    this.initialStep();
  }

  /** @internal */
  protected override schema(): Schema {
    const hasBetas = 'betas' in this.optimizer.defaults;
    return {
      ...super.schema(),
      totalSteps: positiveInt,
      phases: phaseList,
      annealStrategy: oneOf('cos', 'linear'),
      cycleMomentum: boolean,
      // It picks the group field the momentum is written to, which depends on the optimizer.
      useBeta1: rule((v) => v === hasBetas, `${String(hasBetas)} for this optimizer`),
    };
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
