import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { noGrad } from '../autograd.js';
import type { Dataset } from '../data/dataset.js';
import { DataLoader } from '../data/loader.js';
import type { Module } from '../nn/module.js';
import { isRecord, requireKnownOptions } from '../ops/args.js';
import { valueStr } from '../shape.js';
import { Adam } from '../optim/adam.js';
import { clipGradNorm } from '../optim/clip.js';
import { OneCycleLR, ReduceLROnPlateau } from '../optim/lr_scheduler.js';
import type { ParamGroup } from '../optim/optimizer.js';
import type { Tensor } from '../tensor.js';
import {
  checkBatchSize,
  checkModel,
  checkSignal,
  defaultMetrics,
  evaluate,
  type LossLike,
  type MetricLike,
  resolveLoss,
  resolveMetrics,
  toLoader,
  updateMetrics,
} from './evaluate.js';
import type { EpochLog, HistoryLike } from './history.js';
import { createProgress, type ProgressMode, type ProgressReporter, type ProgressStream } from './progress.js';

/** Data for fit/evaluate: a DataLoader, a dataset (batched with `batchSize`), or an [x, y] pair of tensors. */
export type DataSource = DataLoader<[Tensor, Tensor]> | Dataset<[Tensor, Tensor]> | readonly [Tensor, Tensor];

/** Anything with step(): every scheduler in tensorgrad's optim. */
export interface SchedulerLike {
  /**
   * Advances the schedule; fit() passes the monitored value to ReduceLROnPlateau.
   * @param metric - the epoch's monitored value (ignored by epoch/step schedulers)
   */
  step(metric?: number): void;
}

/** What fit() needs of an optimizer (every optimizer in tensorgrad's optim, whatever its group type). */
export interface OptimizerLike {
  /** The parameter groups (schedulers write their lr). */
  readonly paramGroups: ParamGroup[];
  /** The optimizer's default hyper-parameters. */
  readonly defaults: object;
  /** Clears the gradients before each step's backward pass. */
  zeroGrad(): void;
  /** Updates the parameters from their gradients. */
  step(): unknown;
}

/** Hooks called during fit(); each may be async (fit awaits it). */
export interface Callback {
  /** Called once before the first epoch. @param info - the planned epochs and batches per epoch */
  onTrainBegin?(info: {
    /** Epochs planned. */
    epochs: number;
    /** Batches per epoch. */
    stepsPerEpoch: number;
  }): void | Promise<void>;
  /** Called before each epoch. @param epoch - the epoch about to run, 1-based */
  onEpochBegin?(epoch: number): void | Promise<void>;
  /** Called after each training step. @param info - where training is and the batch's loss */
  onBatchEnd?(info: {
    /** The current epoch, 1-based. */
    epoch: number;
    /** The step within the epoch, 1-based. */
    step: number;
    /** The batch's training loss. */
    loss: number;
    /** Rows in the batch. */
    samples: number;
  }): void | Promise<void>;
  /**
   * Called after each epoch with its log; `control.stop()` ends training after this epoch.
   * @param log - the epoch's losses and metrics
   * @param control - `stop()` ends training
   */
  onEpochEnd?(
    log: EpochLog,
    control: {
      /** Ends training after this epoch. */
      stop(): void;
    },
  ): void | Promise<void>;
  /** Called once when training ends (also when it stops early). @param history - what fit() returns */
  onTrainEnd?(history: History): void | Promise<void>;
}

/** Options of fit's `earlyStopping`; `true` takes all the defaults. */
export interface EarlyStoppingOptions {
  /** The quantity watched: 'valLoss' (default with validation data), 'loss', or a metric ('valAccuracy', 'accuracy', …). */
  monitor?: string;
  /** Epochs without improvement before stopping. Default 5. */
  patience?: number;
  /** Smallest change that counts as an improvement. Default 0. */
  minDelta?: number;
  /** 'min' for losses, 'max' for accuracies; inferred from the monitor's name by default. */
  mode?: 'min' | 'max';
}

/** Options of `fit(model, options)`: the data, and how to train on it. */
export interface FitOptions {
  /** Training data: a DataLoader, or a dataset that fit batches (shuffled) with batchSize. */
  train: DataSource;
  /** Validation data, evaluated after each epoch without building a graph. */
  validation?: DataSource;
  /** Default 1. */
  epochs?: number;
  /** Batch size when `train`/`validation` are datasets. Default 32. */
  batchSize?: number;
  /** An optimizer over the model's parameters, or a factory given the model. Default Adam(lr 1e-3). */
  optimizer?: OptimizerLike | ((model: Module) => OptimizerLike);
  /** A loss function (output, target) → scalar tensor, or a name. Default 'crossEntropy'. */
  loss?: LossLike;
  /** Metrics to report, by name ('accuracy', 'top5') or as objects. Default ['accuracy'] for classification losses. */
  metrics?: MetricLike[];
  /** An LR scheduler, or a factory given the optimizer and the steps per epoch. */
  scheduler?: SchedulerLike | ((optimizer: OptimizerLike, stepsPerEpoch: number) => SchedulerLike);
  /** When the scheduler steps: after every 'epoch' (default; OneCycleLR defaults to 'batch'). */
  schedulerInterval?: 'epoch' | 'batch';
  /** Hooks called at the start, per batch, per epoch and at the end. */
  callbacks?: Callback | Callback[];
  /** Stop when the monitored quantity stops improving (`true` for the defaults). */
  earlyStopping?: boolean | EarlyStoppingOptions;
  /** At the end, put back the weights of the best epoch by the monitored quantity. */
  restoreBest?: boolean;
  /** Applied to each training batch before the forward pass (e.g. `new MixUp(...)`). */
  batchTransform?:
    | {
        /** Returns the transformed batch. @param batch - the (input, target) batch */
        apply(batch: readonly [Tensor, Tensor]): [Tensor, Tensor];
      }
    | ((batch: readonly [Tensor, Tensor]) => [Tensor, Tensor]);
  /** Clip the gradients' global L2 norm to this before each step. */
  clipGradNorm?: number;
  /** Progress display. Default 'auto' (a bar on a TTY, one line per epoch otherwise). */
  progress?: ProgressMode | ProgressReporter;
  /** Where progress goes. Default process.stdout. */
  progressStream?: ProgressStream;
  /** Aborting rejects fit() with the signal's reason after the current step. */
  signal?: AbortSignal;
  /** Throw when the training loss becomes NaN or infinite (default true): nothing good follows. */
  stopOnNaN?: boolean;
}

/** What fit() returns: the per-epoch logs and how training ended. */
export interface History extends HistoryLike {
  /** One log per epoch run, in order. */
  epochs: EpochLog[];
  /** The epoch (1-based) with the best value of `monitor`. */
  bestEpoch: number | null;
  /** The quantity watched for the best epoch, early stopping and restoreBest. */
  monitor: string;
  /** True when early stopping or a callback ended training before `epochs`. */
  stoppedEarly: boolean;
}

function monitorValue(log: EpochLog, monitor: string): number {
  if (monitor === 'loss') return log.loss;
  if (monitor === 'valLoss') {
    if (log.valLoss === undefined) throw new Error("fit: earlyStopping monitors 'valLoss' but there is no validation data");
    return log.valLoss;
  }
  const val = /^val([A-Z].*)$/.exec(monitor);
  const table = val ? log.valMetrics : log.metrics;
  const key = val ? val[1]!.charAt(0).toLowerCase() + val[1]!.slice(1) : monitor;
  const v = table[key];
  if (v === undefined) {
    const names = ['loss', ...Object.keys(log.metrics), ...(log.valLoss !== undefined ? ['valLoss'] : [])];
    for (const k of Object.keys(log.valMetrics)) names.push(`val${k.charAt(0).toUpperCase()}${k.slice(1)}`);
    throw new Error(`fit: cannot monitor '${monitor}'; available: ${names.join(', ')}`);
  }
  return v;
}

const FIT_KEYS = [
  'train',
  'validation',
  'epochs',
  'batchSize',
  'optimizer',
  'loss',
  'metrics',
  'scheduler',
  'schedulerInterval',
  'callbacks',
  'earlyStopping',
  'restoreBest',
  'batchTransform',
  'clipGradNorm',
  'progress',
  'progressStream',
  'signal',
  'stopOnNaN',
];
const CALLBACK_HOOKS = ['onTrainBegin', 'onEpochBegin', 'onBatchEnd', 'onEpochEnd', 'onTrainEnd'] as const;
const REPORTER_METHODS = ['epochBegin', 'step', 'epochEnd', 'end'] as const;
const EARLY_STOPPING_KEYS = ['monitor', 'patience', 'minDelta', 'mode'];

function isOptimizerLike(o: unknown): o is OptimizerLike {
  const x = o as Partial<OptimizerLike> | null;
  return (
    x !== null &&
    typeof x === 'object' &&
    Array.isArray(x.paramGroups) &&
    x.paramGroups.every((g) => isRecord(g) && Array.isArray(g['params']) && typeof g['lr'] === 'number') &&
    typeof x.zeroGrad === 'function' &&
    typeof x.step === 'function'
  );
}

/**
 * The optimizer option: an optimizer, or a factory given the model. A factory's own error (an
 * optimizer refusing its hyper-parameters) is passed on under fit's name, with the original as cause.
 */
function resolveOptimizer(model: Module, o: unknown): OptimizerLike {
  if (o === undefined) return new Adam(model.parameters());
  let opt: unknown = o;
  if (typeof o === 'function') {
    try {
      opt = (o as (m: Module) => unknown)(model);
    } catch (e) {
      throw new Error(`fit: the optimizer factory failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    if (!isOptimizerLike(opt)) throw new Error(`fit: the optimizer factory must return an optimizer (paramGroups, zeroGrad(), step()), got ${valueStr(opt)}`);
    return opt;
  }
  if (!isOptimizerLike(opt)) throw new Error(`fit: optimizer must be an optimizer (paramGroups, zeroGrad(), step()) or a factory (model) => optimizer, got ${valueStr(opt)}`);
  return opt;
}

function resolveScheduler(s: unknown, optimizer: OptimizerLike, steps: number): SchedulerLike | undefined {
  if (s === undefined) return undefined;
  let sched: unknown = s;
  if (typeof s === 'function') {
    try {
      sched = (s as (o: OptimizerLike, n: number) => unknown)(optimizer, steps);
    } catch (e) {
      throw new Error(`fit: the scheduler factory failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }
  if (sched === null || typeof sched !== 'object' || typeof (sched as Partial<SchedulerLike>).step !== 'function') {
    throw new Error(`fit: scheduler must be a scheduler (with step()) or a factory (optimizer, stepsPerEpoch) => scheduler, got ${valueStr(sched)}`);
  }
  return sched as SchedulerLike;
}

function checkCallbacks(v: unknown): Callback[] {
  if (v === undefined) return [];
  const list: unknown[] = Array.isArray(v) ? v : [v];
  list.forEach((cb, i) => {
    const where = Array.isArray(v) ? `callbacks[${i}]` : 'callbacks';
    if (cb === null || typeof cb !== 'object') throw new Error(`fit: ${where} must be an object of hooks (${CALLBACK_HOOKS.join(', ')}), got ${valueStr(cb)}`);
    for (const h of CALLBACK_HOOKS) {
      const f = (cb as Record<string, unknown>)[h];
      if (f !== undefined && typeof f !== 'function') throw new Error(`fit: ${where}.${h} must be a function, got ${valueStr(f)}`);
    }
  });
  return list as Callback[];
}

/** @internal Also used by trainInWorker to check its fit options before starting a worker. */
export function checkEarlyStopping(v: unknown): EarlyStoppingOptions | null {
  if (v === undefined || v === false) return null;
  if (v === true) return {};
  if (!isRecord(v)) throw new Error(`fit: earlyStopping must be a boolean or { monitor, patience, minDelta, mode }, got ${valueStr(v)}`);
  for (const k of Object.keys(v)) {
    if (!EARLY_STOPPING_KEYS.includes(k)) throw new Error(`fit: unknown earlyStopping option '${k}' (expected ${EARLY_STOPPING_KEYS.join(', ')})`);
  }
  const { monitor, patience, minDelta, mode } = v;
  if (monitor !== undefined && typeof monitor !== 'string') throw new Error(`fit: earlyStopping.monitor must be a string, got ${valueStr(monitor)}`);
  if (patience !== undefined && (typeof patience !== 'number' || !Number.isSafeInteger(patience) || patience < 0)) {
    throw new Error(`fit: earlyStopping.patience must be a non-negative integer, got ${valueStr(patience)}`);
  }
  if (minDelta !== undefined && (typeof minDelta !== 'number' || !Number.isFinite(minDelta))) {
    throw new Error(`fit: earlyStopping.minDelta must be a finite number, got ${valueStr(minDelta)}`);
  }
  if (mode !== undefined && mode !== 'min' && mode !== 'max') throw new Error(`fit: earlyStopping.mode must be 'min' or 'max', got ${valueStr(mode)}`);
  return v as EarlyStoppingOptions;
}

function checkBoolean(name: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new Error(`fit: ${name} must be a boolean, got ${valueStr(v)}`);
  return v;
}

function checkProgress(mode: unknown, stream: unknown): void {
  if (typeof mode === 'object' && mode !== null) {
    for (const m of REPORTER_METHODS) {
      if (typeof (mode as Record<string, unknown>)[m] !== 'function') throw new Error(`fit: a progress reporter needs ${REPORTER_METHODS.join(', ')} methods; ${m} is ${valueStr((mode as Record<string, unknown>)[m])}`);
    }
  }
  if (stream !== undefined && (stream === null || typeof stream !== 'object' || typeof (stream as { write?: unknown }).write !== 'function')) {
    throw new Error(`fit: progressStream must be a stream with write(), got ${valueStr(stream)}`);
  }
}

/** The monitors a run can watch: its loss and metrics, with their validation twins when there is validation data. */
export function monitorsOf(metricNames: readonly string[], validation: boolean): string[] {
  const out = ['loss', ...metricNames];
  if (validation) out.push('valLoss', ...metricNames.map((k) => `val${k.charAt(0).toUpperCase()}${k.slice(1)}`));
  return out;
}

/**
 * Trains `model` in place, epoch by epoch, and returns the history. Between steps it yields to
 * the event loop, so a server in the same process keeps answering while it trains. Validation,
 * metrics and early stopping follow Keras' fit(); the loop inside each step is PyTorch's
 * (zeroGrad, forward, loss, backward, optional clipping, step).
 * PyTorch has no fit(); this is Keras' `Model.fit` around a PyTorch training loop.
 * @param model - the model to train (its weights change in place)
 * @param options - the data (`train`, `validation`), epochs, optimizer, loss, metrics…; see `FitOptions`
 * @returns the per-epoch losses and metrics, and how training ended
 * @example
 * ```ts
 * const model = mlp({ inputs: 784, hidden: [128], outputs: 10 });
 * const history = await fit(model, {
 *   train: [xTrain, yTrain],
 *   validation: [xTest, yTest],
 *   epochs: 5,
 *   optimizer: (m) => new Adam(m.parameters(), { lr: 1e-3 }),
 * });
 * console.log(history.epochs.at(-1)?.valMetrics.accuracy);
 * ```
 */
export async function fit(model: Module, options: FitOptions): Promise<History> {
  // Every option is checked before any work, so a typo fails at once rather than after an epoch.
  checkModel('fit', model);
  if (options === undefined) throw new Error('fit: options with at least train (a DataLoader, a Dataset or an [x, y] pair) are required');
  const o = requireKnownOptions('fit', options, FIT_KEYS);
  if (o['train'] === undefined) throw new Error('fit: options.train (a DataLoader, a Dataset or an [x, y] pair) is required');
  const epochs = o['epochs'] ?? 1;
  if (typeof epochs !== 'number' || !Number.isSafeInteger(epochs) || epochs < 0) throw new Error(`fit: epochs must be a non-negative integer, got ${valueStr(epochs)}`);
  const batchSize = checkBatchSize('fit', o['batchSize'], 32);
  const lossFn = resolveLoss('fit', options.loss);
  const metricList = options.metrics ?? defaultMetrics(options.loss);
  const metrics = resolveMetrics('fit', metricList);
  const schedulerInterval = o['schedulerInterval'];
  if (schedulerInterval !== undefined && schedulerInterval !== 'epoch' && schedulerInterval !== 'batch') {
    throw new Error(`fit: schedulerInterval must be 'epoch' or 'batch', got ${valueStr(schedulerInterval)}`);
  }
  const callbacks = checkCallbacks(o['callbacks']);
  const bt = o['batchTransform'];
  if (bt !== undefined && typeof bt !== 'function' && (bt === null || typeof bt !== 'object' || typeof (bt as { apply?: unknown }).apply !== 'function')) {
    throw new Error(`fit: batchTransform must be a function or an object with apply() (e.g. a MixUp), got ${valueStr(bt)}`);
  }
  const clip = o['clipGradNorm'];
  if (clip !== undefined && (typeof clip !== 'number' || !(clip > 0))) throw new Error(`fit: clipGradNorm must be a positive number, got ${valueStr(clip)}`);
  const restoreBest = checkBoolean('restoreBest', o['restoreBest'], false);
  const stopOnNaN = checkBoolean('stopOnNaN', o['stopOnNaN'], true);
  const signal = checkSignal('fit', o['signal']);
  const es = checkEarlyStopping(o['earlyStopping']);
  checkProgress(o['progress'], o['progressStream']);
  const progress = createProgress((o['progress'] ?? 'auto') as ProgressMode | ProgressReporter, o['progressStream'] as ProgressStream | undefined);
  const hasValidation = o['validation'] !== undefined;
  const monitor = es?.monitor ?? (hasValidation ? 'valLoss' : 'loss');
  const monitors = monitorsOf(metrics.map((m) => m.name), hasValidation);
  if (!monitors.includes(monitor)) {
    throw new Error(`fit: cannot monitor '${monitor}'; available: ${monitors.join(', ')}${!hasValidation && monitor.startsWith('val') ? ' (there is no validation data)' : ''}`);
  }
  const mode = es?.mode ?? (/loss/i.test(monitor) ? 'min' : 'max');
  const patience = es?.patience ?? 5;
  const minDelta = Math.abs(es?.minDelta ?? 0);
  if (model.parameters().length === 0) throw new Error('fit: the model has no parameters to train');

  const train = toLoader('fit: train', options.train, batchSize, true);
  if (train.length === 0) throw new Error('fit: the training data yields no batches (empty dataset, or dropLast with fewer samples than batchSize)');
  const validation = options.validation === undefined ? null : toLoader('fit: validation', options.validation, batchSize, false);
  const optimizer = resolveOptimizer(model, o['optimizer']);
  const own = new Set(model.parameters());
  if (!optimizer.paramGroups.some((g) => g.params.some((p) => own.has(p)))) {
    throw new Error("fit: the optimizer holds none of the model's parameters (was it built for another model?)");
  }
  const scheduler = resolveScheduler(o['scheduler'], optimizer, train.length);
  const perBatch = (schedulerInterval ?? (scheduler instanceof OneCycleLR ? 'batch' : 'epoch')) === 'batch';
  const transform = bt === undefined ? null : typeof bt === 'function' ? (bt as (b: readonly [Tensor, Tensor]) => [Tensor, Tensor]) : (bt as { apply(b: readonly [Tensor, Tensor]): [Tensor, Tensor] }).apply.bind(bt);

  const history: History = { epochs: [], bestEpoch: null, monitor, stoppedEarly: false };
  const params = model.parameters();
  let best = mode === 'min' ? Infinity : -Infinity;
  let bestWeights: Float32Array[] | null = null;
  let bad = 0;
  let stop = false;
  const wasTraining = model.training;

  const checkAbort = (): void => {
    if (signal?.aborted) throw signal.reason ?? new Error('fit: aborted');
  };

  try {
    checkAbort();
    for (const cb of callbacks) await cb.onTrainBegin?.({ epochs, stepsPerEpoch: train.length });
    for (let epoch = 1; epoch <= epochs && !stop; epoch++) {
      for (const cb of callbacks) await cb.onEpochBegin?.(epoch);
      model.train();
      for (const m of metrics) m.reset();
      const lr = optimizer.paramGroups[0]!.lr;
      progress.epochBegin(epoch, epochs, train.samplesPerEpoch);
      const t0 = performance.now();
      let lossSum = 0;
      let samples = 0;
      let step = 0;
      for (const batch of train.transientBatches()) {
        const [x, y] = transform ? transform(batch) : batch;
        optimizer.zeroGrad();
        const out = model.forward(x);
        const loss = lossFn(out, y);
        loss.backward();
        if (clip !== undefined) clipGradNorm(params, clip);
        optimizer.step();
        if (perBatch) scheduler?.step();
        const l = loss.item();
        if (stopOnNaN && !Number.isFinite(l)) {
          throw new Error(
            `fit: the training loss became ${l} at epoch ${epoch}, step ${step + 1}; lower the learning rate, normalise the inputs or clip gradients (stopOnNaN: false to go on)`,
          );
        }
        const n = x.shape[0]!;
        lossSum += l * n;
        samples += n;
        step++;
        noGrad(() => updateMetrics('fit', metrics, out, y));
        progress.step(samples, lossSum / samples, (samples * 1000) / Math.max(performance.now() - t0, 1e-3));
        for (const cb of callbacks) await cb.onBatchEnd?.({ epoch, step, loss: l, samples: n });
        // Let timers, I/O and HTTP handlers run between steps.
        await yieldToEventLoop();
        checkAbort();
      }
      const seconds = (performance.now() - t0) / 1000;
      const log: EpochLog = {
        epoch,
        loss: lossSum / samples,
        metrics: Object.fromEntries(metrics.map((m) => [m.name, m.compute()])),
        valMetrics: {},
        lr,
        seconds,
        samplesPerSecond: samples / seconds,
      };
      if (validation !== null) {
        const r = await evaluate(model, validation, { loss: options.loss, metrics: metricList, signal });
        log.valLoss = r.loss;
        log.valMetrics = r.metrics;
      }
      if (!perBatch && scheduler !== undefined) {
        if (scheduler instanceof ReduceLROnPlateau) scheduler.step(log.valLoss ?? log.loss);
        else scheduler.step();
      }
      history.epochs.push(log);
      progress.epochEnd(log, epochs);
      {
        const v = monitorValue(log, monitor);
        const improved = mode === 'min' ? v < best - minDelta : v > best + minDelta;
        if (improved || history.bestEpoch === null) {
          if (improved) best = v;
          history.bestEpoch = epoch;
          bad = 0;
          if (restoreBest) bestWeights = params.map((p) => p._data.slice());
        } else if (es !== null && ++bad > patience) {
          stop = true;
        }
      }
      for (const cb of callbacks) await cb.onEpochEnd?.(log, { stop: () => (stop = true) });
      if (stop && epoch < epochs) history.stoppedEarly = true;
    }
    if (restoreBest && bestWeights !== null) params.forEach((p, i) => p._write('fit').set(bestWeights![i]!));
    for (const cb of callbacks) await cb.onTrainEnd?.(history);
    return history;
  } finally {
    progress.end();
    model.train(wasTraining);
  }
}
