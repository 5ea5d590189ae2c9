/**
 * trainInWorker: fit() on a worker_thread, so the calling thread's event loop only ever handles
 * progress messages. The worker runs dist/esm/train/worker-main.js (a fresh copy of the library
 * with its own addon instance and kernel thread pool); this side checks every option first,
 * copies the data over, relays progress, cancels through a shared flag, and rebuilds the trained
 * model from the safetensors bytes the worker hands back.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { availableBackends, backendInfo, getBackend } from '../backend/index.js';
import { addonLoadError, loadAddon } from '../backend/native.js';
import { packageRoot } from '../backend/root.js';
import { deserialize, serialize, type StateDict } from '../io/safetensors.js';
import type * as Tensorgrad from '../index.js';
import { mlp, type MLPSpec } from '../nn/mlp.js';
import { Module } from '../nn/module.js';
import { isRecord, requireKnownOptions, requireOneOf } from '../ops/args.js';
import { Adam, AdamW } from '../optim/adam.js';
import { RMSprop } from '../optim/rmsprop.js';
import { SGD } from '../optim/sgd.js';
import { defaultGenerator } from '../random.js';
import { valueStr } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { checkBatchSize, checkSignal, defaultMetrics, type LossName, resolveLoss, resolveMetrics, toLoader } from './evaluate.js';
import { checkEarlyStopping, type EarlyStoppingOptions, type History, monitorsOf } from './fit.js';

/** The library as a factory receives it: the copy loaded on the thread that calls the factory. */
export type TensorgradLibrary = typeof Tensorgrad;

/**
 * A model factory exported by a module file: called inside the worker and again on the calling
 * thread (which loads the trained weights into its model), each time with `args` (structured-cloned)
 * and the library loaded on that thread. Building the layers from `lib` keeps the model of the same
 * copy of tensorgrad as the thread running it, whatever build (ESM or CommonJS) the caller uses.
 */
export type ModelFactory = (args: unknown, lib: TensorgradLibrary) => Module;

/** The optimizers a worker can build: a type and its hyper-parameters (as the constructor takes them). */
export interface WorkerOptimizerOptions {
  /** Which optimizer: Adam, AdamW, SGD or RMSprop. */
  type: 'adam' | 'adamw' | 'sgd' | 'rmsprop';
  /** Learning rate (default: the optimizer's; SGD needs one). */
  lr?: number;
  [hyper: string]: unknown;
}

/** The fit() options that can cross a thread (no functions, no objects with behaviour). */
export interface WorkerFitOptions {
  /** Default 1. */
  epochs?: number;
  /** Default 32. */
  batchSize?: number;
  /** Default 'crossEntropy'. */
  loss?: LossName;
  /** Metric names; default ['accuracy'] for classification losses. */
  metrics?: string[];
  /** Default { type: 'adam' } (lr 1e-3), as fit's default. */
  optimizer?: WorkerOptimizerOptions;
  /** Clip the gradients' global L2 norm to this before each step. */
  clipGradNorm?: number;
  /** Stop when the monitored quantity stops improving (`true` for the defaults). */
  earlyStopping?: boolean | EarlyStoppingOptions;
  /** At the end, put back the weights of the best epoch. */
  restoreBest?: boolean;
  /** Throw when the training loss becomes NaN or infinite (default true). */
  stopOnNaN?: boolean;
  /**
   * Share of the training rows held out (seeded by `seed + 1`, apart from the training stream) as
   * validation data, in [0, 1). For a named dataset it replaces the test split as the validation
   * data, and 0 means no validation at all; with tensor data it needs `data.validation` absent.
   */
  validationSplit?: number;
}

/** Options of `trainInWorker(options)`: only data that can cross a thread. */
export interface TrainInWorkerOptions {
  /**
   * An MLP spec (as mlp() takes), or an ES module file (a path, resolved from the current
   * directory, or a file: URL) whose export (default: 'default') is a ModelFactory.
   */
  model:
    | MLPSpec
    | {
        /** The ES module file: a path (from the current directory) or a file: URL. */
        module: string | URL;
        /** The export holding the ModelFactory (default 'default'). */
        export?: string;
        /** Passed to the factory (structured-cloned). */
        args?: unknown;
      };
  /**
   * A built-in dataset by name ('digits' | 'fashion-mnist', loaded inside the worker: its train
   * split is trained on, its test split is the validation data unless fit.validationSplit is
   * set), or tensors (copied to the worker, so the caller may go on using them).
   */
  data:
    | 'digits'
    | 'fashion-mnist'
    | {
        /** Training inputs and targets. */
        train: readonly [Tensor, Tensor];
        /** Validation inputs and targets, evaluated after each epoch. */
        validation?: readonly [Tensor, Tensor];
      };
  /** The fit() options that can cross a thread: epochs, batch size, loss, optimizer… */
  fit?: WorkerFitOptions;
  /** Start from these weights: safetensors bytes or a state dict (checked against the model first). */
  initialWeights?: Uint8Array | Record<string, Tensor>;
  /** manualSeed(seed) in the worker before the model is built. Default 0. */
  seed?: number;
  /**
   * Kernel threads in the worker. Default: one fewer than that backend's thread count on the
   * calling thread (at least 1), which leaves a core to the calling thread's event loop.
   */
  threads?: number;
  /** Default: the backend the calling thread runs on ('native' when the addon loads). */
  backend?: 'native' | 'js';
  /** Called on the calling thread with each progress event. */
  onProgress?: (event: TrainProgress) => void;
  /** Minimum ms between 'step' events (default 100; 0 = every step). Epoch events always come. */
  progressIntervalMs?: number;
  /** Aborting rejects with the signal's reason once the worker has exited. */
  signal?: AbortSignal;
}

/** Progress from the worker: a 'step' event at most every progressIntervalMs (the first step always), an 'epoch' event after each epoch. */
export type TrainProgress =
  | {
      /** A training step ended. */
      type: 'step';
      /** The current epoch, 1-based. */
      epoch: number;
      /** The step within the epoch, 1-based. */
      step: number;
      /** Batches per epoch. */
      stepsPerEpoch: number;
      /** The batch's training loss. */
      loss: number;
      /** Training throughput since the last step event. */
      samplesPerSecond: number;
    }
  | {
      /** An epoch ended. */
      type: 'epoch';
      /** The epoch that ended, 1-based. */
      epoch: number;
      /** Epochs planned. */
      epochs: number;
      /** Mean training loss of the epoch. */
      loss: number;
      /** Training metrics of the epoch, by name. */
      metrics: Record<string, number>;
      /** Validation loss, when there is validation data. */
      valLoss?: number;
      /** Validation metrics, when there is validation data. */
      valMetrics?: Record<string, number>;
      /** Wall-clock seconds the epoch took. */
      seconds: number;
    };

/** What `trainInWorker` resolves to. */
export interface TrainInWorkerResult {
  /** Rebuilt on the calling thread (mlp(spec) or the factory) with the trained weights. */
  model: Module;
  /** The trained weights, apart from the model's (changing one does not change the other). */
  stateDict: Record<string, Tensor>;
  /** The weights as a safetensors file. */
  safetensors: Uint8Array;
  /** fit()'s history, from the worker. */
  history: History;
  /** Wall-clock seconds from the call to the result. */
  seconds: number;
}

// ---------------------------------------------------------------------------------------------
// What crosses to the worker (workerData) and back (messages). Internal.

/** @internal A tensor's values and shape, as they cross to the worker. */
export interface WireTensor {
  data: Float32Array;
  shape: number[];
}

/** @internal The job a worker runs. */
export interface WorkerJob {
  model: { kind: 'mlp'; spec: MLPSpec } | { kind: 'factory'; url: string; export: string; args: unknown };
  data: { kind: 'named'; name: 'digits' | 'fashion-mnist' } | { kind: 'tensors'; train: [WireTensor, WireTensor]; validation?: [WireTensor, WireTensor] };
  fit: {
    epochs: number;
    batchSize: number;
    loss: LossName;
    metrics: string[];
    optimizer: { type: WorkerOptimizerOptions['type']; hyper: Record<string, unknown> };
    clipGradNorm?: number;
    earlyStopping?: boolean | EarlyStoppingOptions;
    restoreBest: boolean;
    stopOnNaN: boolean;
    validationSplit?: number;
  };
  initialWeights?: Uint8Array;
  seed: number;
  threads: number;
  backend: 'native' | 'js';
  /** Post step events (only when the caller listens). */
  steps: boolean;
  progressIntervalMs: number;
  /** Int32Array over a SharedArrayBuffer: [0] becomes 1 when the caller cancels. */
  cancel: Int32Array;
}

/** @internal What a worker posts back. */
export type WorkerMessage =
  | { type: 'progress'; event: TrainProgress }
  | { type: 'done'; safetensors: Uint8Array; history: History }
  | { type: 'cancelled' }
  | { type: 'error'; message: string };

/** @internal The optimizer constructors by type (the worker builds from the same table). */
export const WORKER_OPTIMIZERS = {
  adam: (p: Tensor[], h: Record<string, unknown>) => new Adam(p, h),
  adamw: (p: Tensor[], h: Record<string, unknown>) => new AdamW(p, h),
  sgd: (p: Tensor[], h: Record<string, unknown>) => new SGD(p, h as { lr: number }),
  rmsprop: (p: Tensor[], h: Record<string, unknown>) => new RMSprop(p, h),
} as const;

const OPTIONS = ['model', 'data', 'fit', 'initialWeights', 'seed', 'threads', 'backend', 'onProgress', 'progressIntervalMs', 'signal'];
const FIT_OPTIONS = ['epochs', 'batchSize', 'loss', 'metrics', 'optimizer', 'clipGradNorm', 'earlyStopping', 'restoreBest', 'stopOnNaN', 'validationSplit'];
const LOSS_NAMES: readonly LossName[] = ['crossEntropy', 'nll', 'mse', 'l1', 'bceWithLogits'];
const DATASETS = ['digits', 'fashion-mnist'] as const;
/** How long a cancelled worker may take to stop on its own before it is terminated. */
const CANCEL_GRACE_MS = 2000;

const counts = { started: 0, exited: 0 };

/** @internal Workers started and workers that emitted 'exit', for the tests' leak checks. */
export function _workerCounts(): { started: number; exited: number } {
  return { ...counts };
}

/** The worker's entry: always the ESM build, which both builds (and the sources under test) can start. */
function workerEntry(): string {
  return join(packageRoot(), 'dist', 'esm', 'train', 'worker-main.js');
}

/**
 * Runs `fn` and puts the library-wide random stream back where it was, so building the calling
 * thread's copy of the model leaves the user's draws as they were. Synchronous on purpose: across
 * an await, other code could draw meanwhile and be rewound.
 */
function keepingRandomStream<T>(fn: () => T): T {
  const state = defaultGenerator._getState();
  try {
    return fn();
  } finally {
    defaultGenerator._setState(state);
  }
}

/** `e`'s message under trainInWorker's name (once), with `e` as the cause. */
function named(e: unknown, context = ''): Error {
  const msg = e instanceof Error ? e.message : String(e);
  return new Error(msg.startsWith('trainInWorker: ') ? msg : `trainInWorker: ${context}${msg}`, { cause: e });
}

function wire(t: Tensor): WireTensor {
  // slice(): a compact copy the caller can no longer touch, transferred rather than cloned again.
  return { data: t._read('trainInWorker').slice(), shape: [...t.shape] };
}

/** Imports a module file on this thread; CommonJS builds go through require(), which wants a path. */
async function importFile(url: URL): Promise<Record<string, unknown>> {
  // tsc turns import() into require() in the CommonJS build, and require() takes paths, not URLs.
  const specifier = typeof __filename === 'string' ? fileURLToPath(url) : url.href;
  return (await import(specifier)) as Record<string, unknown>;
}

function moduleUrl(v: unknown): URL {
  if (v instanceof URL) {
    if (v.protocol !== 'file:') throw new Error(`trainInWorker: model.module must be a path or a file: URL, got ${v.href}`);
    return v;
  }
  if (typeof v !== 'string' || v === '') throw new Error(`trainInWorker: model.module must be a path or a file: URL, got ${valueStr(v)}`);
  if (v.startsWith('file:')) return new URL(v);
  // A scheme of two letters or more (a drive letter has one): a URL the worker could not load.
  if (/^[a-z][a-z0-9+.-]+:/i.test(v)) throw new Error(`trainInWorker: model.module must be a path or a file: URL, got '${v}'`);
  return pathToFileURL(isAbsolute(v) ? v : resolve(v));
}

/** Loads a factory module on this thread and calls it: the caller's twin of the worker's model. */
async function buildFromFactory(url: URL, exportName: string, args: unknown): Promise<Module> {
  // Loaded here, not at the top: index.ts re-exports this module.
  const lib = (await import('../index.js')) as TensorgradLibrary;
  const path = fileURLToPath(url);
  if (!existsSync(path)) throw new Error(`trainInWorker: model.module ${path} does not exist`);
  let ns: Record<string, unknown>;
  try {
    ns = await importFile(url);
  } catch (e) {
    throw named(e, `cannot import model.module ${path}: `);
  }
  const factory = ns[exportName];
  if (typeof factory !== 'function') {
    throw new Error(`trainInWorker: model.module ${path} has no function export '${exportName}' (it exports: ${Object.keys(ns).filter((k) => k !== '__esModule').join(', ') || 'nothing'})`);
  }
  let model: unknown;
  try {
    model = keepingRandomStream(() => (factory as ModelFactory)(args, lib));
  } catch (e) {
    throw named(e, `the factory '${exportName}' of ${path} failed: `);
  }
  if (model instanceof Promise) throw new Error(`trainInWorker: the factory '${exportName}' of ${path} must return the Module itself, not a Promise`);
  if (!(model instanceof Module)) {
    throw new Error(
      `trainInWorker: the factory '${exportName}' of ${path} must return a Module of this copy of tensorgrad (build it from the library passed as its second argument), got ${valueStr(model)}`,
    );
  }
  return model;
}

interface Checked {
  job: Omit<WorkerJob, 'cancel'>;
  transfer: ArrayBuffer[];
  model: Module;
  onProgress: ((event: TrainProgress) => void) | undefined;
  signal: AbortSignal | undefined;
}

/**
 * Checks every option and builds the calling thread's model, so bad input fails before a worker
 * starts. Everything up to the model is synchronous: the data and initial weights are copied
 * before trainInWorker returns, so the caller may change them at once.
 */
async function check(options: unknown): Promise<Checked> {
  if (options === undefined) throw new Error('trainInWorker: options { model, data, fit? } are required');
  const o = requireKnownOptions('trainInWorker', options, OPTIONS, true);
  const m = o['model'];
  if (m === undefined) throw new Error('trainInWorker: options.model (an MLP spec or { module, export?, args? }) is required');
  const transfer: ArrayBuffer[] = [];

  const seed = o['seed'] ?? 0;
  if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new Error(`trainInWorker: seed must be a finite number, got ${valueStr(seed)}`);
  const backend = o['backend'] === undefined ? getBackend().name : requireOneOf('trainInWorker', 'backend', o['backend'], ['native', 'js'] as const);
  if (backend === 'native' && loadAddon() === null) {
    throw new Error(`trainInWorker: backend 'native' is not available: the native addon did not load (${addonLoadError()}); use backend: 'js'`);
  }
  // One core fewer than the calling thread uses, so the worker's kernels never take the core the
  // event loop runs on: measured on 2 cores, 2 worker threads put the main thread's p99 delay at
  // about 5 ms, 1 thread at about 3.5 ms.
  const callerThreads = (availableBackends().find((b) => b.name === backend)?.info() ?? backendInfo()).threads;
  const threads = o['threads'] ?? Math.max(1, callerThreads - 1);
  if (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 1 || threads > 1024) {
    throw new Error(`trainInWorker: threads must be an integer in [1, 1024], got ${valueStr(threads)}`);
  }
  const onProgress = o['onProgress'];
  if (onProgress !== undefined && typeof onProgress !== 'function') throw new Error(`trainInWorker: onProgress must be a function, got ${valueStr(onProgress)}`);
  const interval = o['progressIntervalMs'] ?? 100;
  if (typeof interval !== 'number' || !Number.isFinite(interval) || interval < 0) {
    throw new Error(`trainInWorker: progressIntervalMs must be a non-negative number, got ${valueStr(interval)}`);
  }
  const signal = checkSignal('trainInWorker', o['signal']);

  // fit options
  const who = 'trainInWorker: fit';
  const f = requireKnownOptions(who, o['fit'], FIT_OPTIONS);
  const epochs = f['epochs'] ?? 1;
  if (typeof epochs !== 'number' || !Number.isSafeInteger(epochs) || epochs < 0) throw new Error(`${who}: epochs must be a non-negative integer, got ${valueStr(epochs)}`);
  const batchSize = checkBatchSize(who, f['batchSize'], 32);
  const loss = f['loss'] ?? 'crossEntropy';
  if (typeof loss !== 'string' || !(LOSS_NAMES as readonly string[]).includes(loss)) {
    throw new Error(`${who}: loss must be one of ${LOSS_NAMES.join(', ')} (a function cannot cross to a worker), got ${valueStr(loss)}`);
  }
  resolveLoss(who, loss as LossName);
  const metrics = f['metrics'] ?? defaultMetrics(loss as LossName);
  if (!Array.isArray(metrics) || !metrics.every((m) => typeof m === 'string')) {
    throw new Error(`${who}: metrics must be an array of metric names ('accuracy', 'top5'; objects cannot cross to a worker), got ${valueStr(metrics)}`);
  }
  const metricNames = resolveMetrics(who, metrics).map((m) => m.name);
  const clip = f['clipGradNorm'];
  if (clip !== undefined && (typeof clip !== 'number' || !(clip > 0))) throw new Error(`${who}: clipGradNorm must be a positive number, got ${valueStr(clip)}`);
  for (const k of ['restoreBest', 'stopOnNaN']) {
    if (f[k] !== undefined && typeof f[k] !== 'boolean') throw new Error(`${who}: ${k} must be a boolean, got ${valueStr(f[k])}`);
  }
  const split = f['validationSplit'];
  if (split !== undefined && (typeof split !== 'number' || !(split >= 0 && split < 1))) {
    throw new Error(`${who}: validationSplit must be a number in [0, 1), got ${valueStr(split)}`);
  }
  const opt = f['optimizer'] ?? { type: 'adam' };
  if (!isRecord(opt)) throw new Error(`${who}: optimizer must be { type: 'adam' | 'adamw' | 'sgd' | 'rmsprop', lr?, …hyper-parameters }, got ${valueStr(opt)}`);
  const { type: optType, ...hyper } = opt;
  const optimizerType = requireOneOf(`${who}: optimizer`, 'type', optType, Object.keys(WORKER_OPTIMIZERS) as WorkerOptimizerOptions['type'][]);
  try {
    structuredClone(hyper);
  } catch {
    throw new Error(`${who}: optimizer hyper-parameters must be plain data (they are copied to the worker), got ${valueStr(hyper)}`);
  }

  // data
  let data: WorkerJob['data'];
  let hasValidation: boolean;
  const d = o['data'];
  if (d === undefined) throw new Error("trainInWorker: options.data ('digits', 'fashion-mnist' or { train: [x, y], validation? }) is required");
  if (typeof d === 'string') {
    data = { kind: 'named', name: requireOneOf('trainInWorker', 'data', d, DATASETS) };
    hasValidation = split !== 0;
  } else {
    if (!isRecord(d)) throw new Error(`trainInWorker: data must be 'digits', 'fashion-mnist' or { train: [x, y], validation?: [x, y] }, got ${valueStr(d)}`);
    const dd = requireKnownOptions('trainInWorker: data', d, ['train', 'validation']);
    if (dd['train'] === undefined) throw new Error('trainInWorker: data.train (an [x, y] pair of tensors) is required');
    const pair = (what: string, v: unknown): [WireTensor, WireTensor] => {
      if (!Array.isArray(v)) throw new Error(`trainInWorker: ${what} must be an [x, y] pair of tensors, got ${valueStr(v)}`);
      toLoader(`trainInWorker: ${what}`, v as unknown as readonly [Tensor, Tensor], batchSize, false);
      const w: [WireTensor, WireTensor] = [wire(v[0] as Tensor), wire(v[1] as Tensor)];
      transfer.push(w[0].data.buffer as ArrayBuffer, w[1].data.buffer as ArrayBuffer);
      return w;
    };
    const train = pair('data.train', dd['train']);
    if (dd['validation'] !== undefined && split !== undefined && split > 0) {
      throw new Error('trainInWorker: give either data.validation or fit.validationSplit, not both');
    }
    data = dd['validation'] === undefined ? { kind: 'tensors', train } : { kind: 'tensors', train, validation: pair('data.validation', dd['validation']) };
    hasValidation = dd['validation'] !== undefined || (split !== undefined && split > 0);
  }
  let es: EarlyStoppingOptions | null;
  try {
    es = checkEarlyStopping(f['earlyStopping']);
  } catch (e) {
    throw named(e); // "fit: earlyStopping…" becomes "trainInWorker: fit: earlyStopping…"
  }
  if (es !== null && es.monitor !== undefined) {
    const monitors = monitorsOf(metricNames, hasValidation);
    if (!monitors.includes(es.monitor)) throw new Error(`${who}: cannot monitor '${es.monitor}'; available: ${monitors.join(', ')}`);
  }

  let initialWeights: Uint8Array | undefined;
  const iw = o['initialWeights'];
  if (iw !== undefined) {
    // new Uint8Array(…), not slice(): a Buffer's slice() is a view, and the copy is transferred.
    if (iw instanceof Uint8Array) initialWeights = new Uint8Array(iw);
    else if (isRecord(iw)) {
      try {
        initialWeights = serialize(iw as StateDict);
      } catch (e) {
        throw named(e, 'initialWeights: ');
      }
    } else throw new Error(`trainInWorker: initialWeights must be safetensors bytes (a Uint8Array) or a state dict, got ${valueStr(iw)}`);
    transfer.push(initialWeights.buffer as ArrayBuffer);
  }

  // the model, built here too: it checks the spec or factory, the initial weights and the
  // optimizer's hyper-parameters, and is the model the trained weights load into at the end
  let jobModel: WorkerJob['model'];
  let model: Module;
  if (isRecord(m) && 'module' in m) {
    const mm = requireKnownOptions('trainInWorker: model', m, ['module', 'export', 'args']);
    const url = moduleUrl(mm['module']);
    const exportName = mm['export'] ?? 'default';
    if (typeof exportName !== 'string' || exportName === '') throw new Error(`trainInWorker: model.export must be an export's name, got ${valueStr(exportName)}`);
    let args: unknown;
    try {
      args = structuredClone(mm['args']);
    } catch {
      throw new Error(`trainInWorker: model.args must be plain data (it is copied to the worker: no functions or class instances), got ${valueStr(mm['args'])}`);
    }
    jobModel = { kind: 'factory', url: url.href, export: exportName, args };
    model = await buildFromFactory(url, exportName, structuredClone(args));
  } else {
    try {
      model = keepingRandomStream(() => mlp(m as MLPSpec));
    } catch (e) {
      throw named(e, 'model: ');
    }
    jobModel = { kind: 'mlp', spec: structuredClone(m as MLPSpec) };
  }
  if (model.parameters().length === 0) throw new Error('trainInWorker: the model has no parameters to train');
  try {
    WORKER_OPTIMIZERS[optimizerType](model.parameters(), hyper);
  } catch (e) {
    throw named(e, 'fit: optimizer: ');
  }

  if (initialWeights !== undefined) {
    try {
      model.loadStateDict(deserialize(initialWeights, { name: 'initialWeights' }).tensors);
    } catch (e) {
      throw named(e, 'initialWeights: ');
    }
  }

  const jobFit: WorkerJob['fit'] = {
    epochs,
    batchSize,
    loss: loss as LossName,
    metrics: metrics as string[],
    optimizer: { type: optimizerType, hyper },
    restoreBest: (f['restoreBest'] as boolean | undefined) ?? false,
    stopOnNaN: (f['stopOnNaN'] as boolean | undefined) ?? true,
  };
  if (clip !== undefined) jobFit.clipGradNorm = clip;
  if (f['earlyStopping'] !== undefined) jobFit.earlyStopping = f['earlyStopping'] as boolean | EarlyStoppingOptions;
  if (split !== undefined) jobFit.validationSplit = split;
  const job: Omit<WorkerJob, 'cancel'> = {
    model: jobModel!,
    data,
    fit: jobFit,
    seed,
    threads,
    backend,
    steps: onProgress !== undefined,
    progressIntervalMs: interval,
  };
  if (initialWeights !== undefined) job.initialWeights = initialWeights;
  return { job, transfer, model, onProgress: onProgress as ((e: TrainProgress) => void) | undefined, signal };
}

/**
 * Trains a model with fit() on a worker_thread and returns it trained, with its weights as a
 * state dict and as safetensors bytes. Every option is checked here first (nothing starts on bad
 * input); the tensors and initial weights are copied before this returns its promise, so the
 * caller may change them at once. Progress comes through
 * `onProgress`; aborting `signal` stops the worker after its current step (or terminates it after
 * 2 s) and rejects with the signal's reason. The promise settles only after the worker has exited.
 *
 * With the same seed and thread count the weights equal, bit for bit, those of this run on the
 * calling thread (on the same backend):
 *
 *     manualSeed(seed);
 *     const model = mlp(spec);                       // or the factory's model
 *     model.loadStateDict(initialWeights);           // when given
 *     await fit(model, { train: [x, y], validation, epochs, batchSize, loss, metrics,
 *       optimizer: (m) => new Adam(m.parameters(), { lr }), clipGradNorm, earlyStopping, … });
 *
 * The calling thread's random stream is left as it was (building its copy of the model draws
 * from it, and is undone).
 * @param options - the model (an MLP spec or a factory module), the data, fit options, progress
 *   and cancellation; see `TrainInWorkerOptions`
 * @example
 * ```ts
 * const ac = new AbortController();
 * const { model, history } = await trainInWorker({
 *   model: { inputs: 784, hidden: [128], outputs: 10 },
 *   data: 'digits',
 *   fit: { epochs: 5, optimizer: { type: 'adam', lr: 1e-3 } },
 *   onProgress: (e) => { if (e.type === 'epoch') console.log(e.epoch, e.loss); },
 *   signal: ac.signal,
 * });
 * ```
 */
export async function trainInWorker(options: TrainInWorkerOptions): Promise<TrainInWorkerResult> {
  const t0 = performance.now();
  const { job, transfer, model, onProgress, signal } = await check(options);
  if (signal?.aborted) throw signal.reason ?? abortError();
  const entry = workerEntry();
  if (!existsSync(entry)) throw new Error(`trainInWorker: the worker's entry ${entry} is missing; build the package (npm run build:ts)`);

  const cancel = new Int32Array(new SharedArrayBuffer(4));
  const workerData: WorkerJob = { ...job, cancel };
  return new Promise<TrainInWorkerResult>((resolvePromise, rejectPromise) => {
    let worker: Worker;
    try {
      worker = new Worker(entry, { workerData, transferList: transfer, env: { ...process.env, TENSORGRAD_BACKEND: job.backend } });
    } catch (e) {
      rejectPromise(named(e, 'cannot start the worker: '));
      return;
    }
    counts.started++;
    let done: { safetensors: Uint8Array; history: History } | null = null;
    let failure: Error | null = null;
    let aborted = false;
    let killTimer: ReturnType<typeof setTimeout> | undefined;

    const stop = (): void => {
      if (killTimer !== undefined) return;
      Atomics.store(cancel, 0, 1);
      killTimer = setTimeout(() => void worker.terminate(), CANCEL_GRACE_MS);
    };
    const onAbort = (): void => {
      aborted = true;
      stop();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    let exited = false;
    const progressFailed = (e: unknown): void => {
      if (exited || aborted || failure !== null) return; // settled already, or failing for another reason
      failure = named(e, 'onProgress threw: ');
      stop();
    };

    worker.on('message', (msg: WorkerMessage) => {
      if (aborted || failure !== null) return;
      switch (msg.type) {
        case 'progress':
          try {
            const r: unknown = onProgress?.(msg.event);
            // An async listener's rejection would otherwise be unhandled, which ends the process
            // (Node's default): fail the training with it, as a synchronous throw does.
            if (r instanceof Promise) r.catch((e: unknown) => progressFailed(e));
          } catch (e) {
            progressFailed(e);
          }
          break;
        case 'done':
          done = { safetensors: msg.safetensors, history: msg.history };
          break;
        case 'error':
          failure = new Error(`trainInWorker: ${msg.message}`);
          break;
        case 'cancelled':
          break;
      }
    });
    worker.on('error', (e) => {
      failure ??= named(e, 'the worker failed: ');
    });
    worker.once('exit', (code) => {
      exited = true;
      counts.exited++;
      clearTimeout(killTimer);
      signal?.removeEventListener('abort', onAbort);
      if (aborted) return rejectPromise(signal?.reason ?? abortError());
      if (failure !== null) return rejectPromise(failure);
      if (done === null) return rejectPromise(new Error(`trainInWorker: the worker exited (code ${code}) without a result`));
      try {
        const stateDict = deserialize(done.safetensors, { name: 'the trained weights' }).tensors;
        model.loadStateDict(stateDict);
        resolvePromise({ model, stateDict, safetensors: done.safetensors, history: done.history, seconds: (performance.now() - t0) / 1000 });
      } catch (e) {
        rejectPromise(named(e));
      }
    });
  });
}

function abortError(): Error {
  return new DOMException('trainInWorker: aborted', 'AbortError');
}
