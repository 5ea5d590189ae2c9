/**
 * The entry of a trainInWorker worker (started as dist/esm/train/worker-main.js; see worker.ts).
 * It rebuilds the run in the order the serial equivalent uses — threads, seed, model, initial
 * weights, then fit() with the optimizer built by fit — so the same seed and thread count give
 * the same weights as training on the calling thread, and posts progress and the result back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as lib from '../index.js';
import { backendInfo, setNumThreads } from '../backend/index.js';
import { randomSplit, TensorDataset, type Subset } from '../data/dataset.js';
import { loadDigits, loadFashionMnist } from '../data/datasets.js';
import { deserialize, serialize } from '../io/safetensors.js';
import { mlp } from '../nn/mlp.js';
import { Module } from '../nn/module.js';
import { Generator, manualSeed } from '../random.js';
import { valueStr } from '../shape.js';
import { Tensor } from '../tensor.js';
import { type Callback, type DataSource, fit, type FitOptions } from './fit.js';
import { type ModelFactory, type TrainProgress, WORKER_OPTIMIZERS, type WireTensor, type WorkerJob, type WorkerMessage } from './worker.js';

function post(msg: WorkerMessage, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(msg, transfer);
}

const tensor = (w: WireTensor): Tensor => new Tensor(w.data, w.shape);

/** Holds out `fraction` of `data`'s rows with its own generator, leaving the training stream alone. */
function holdOut(data: TensorDataset, fraction: number, seed: number): [Subset<[Tensor, Tensor]>, Subset<[Tensor, Tensor]>] {
  const held = Math.round(data.length * fraction);
  if (held === 0 || held === data.length) {
    throw new Error(`fit: validationSplit ${fraction} of ${data.length} rows leaves ${held === 0 ? 'no validation rows' : 'no training rows'}`);
  }
  const [rest, val] = randomSplit(data as TensorDataset<[Tensor, Tensor]>, [data.length - held, held], new Generator(seed + 1));
  return [rest!, val!];
}

function loadData(job: WorkerJob): { train: DataSource; validation?: DataSource } {
  const split = job.fit.validationSplit;
  let train: TensorDataset<[Tensor, Tensor]> | readonly [Tensor, Tensor];
  let validation: DataSource | undefined;
  if (job.data.kind === 'named') {
    const d = job.data.name === 'digits' ? loadDigits() : loadFashionMnist();
    train = d.train as TensorDataset<[Tensor, Tensor]>;
    if (split === undefined) validation = d.test as TensorDataset<[Tensor, Tensor]>;
  } else {
    train = [tensor(job.data.train[0]), tensor(job.data.train[1])];
    if (job.data.validation) validation = [tensor(job.data.validation[0]), tensor(job.data.validation[1])];
  }
  if (split !== undefined && split > 0) {
    const ds = train instanceof TensorDataset ? train : new TensorDataset(train[0], train[1]);
    const [rest, val] = holdOut(ds, split, job.seed);
    return { train: rest, validation: val };
  }
  return validation === undefined ? { train } : { train, validation };
}

async function buildModel(job: WorkerJob): Promise<Module> {
  if (job.model.kind === 'mlp') return mlp(job.model.spec);
  const { url, export: name, args } = job.model;
  const ns = (await import(url)) as Record<string, unknown>;
  const factory = ns[name];
  if (typeof factory !== 'function') throw new Error(`model.module ${url} has no function export '${name}'`);
  const model: unknown = (factory as ModelFactory)(args, lib);
  if (!(model instanceof Module)) {
    throw new Error(`the factory '${name}' of ${url} must return a Module of this copy of tensorgrad (build it from the library passed as its second argument), got ${valueStr(model)}`);
  }
  return model;
}

async function run(job: WorkerJob): Promise<void> {
  const controller = new AbortController();
  const cancelled = (): boolean => {
    if (Atomics.load(job.cancel, 0) !== 0) controller.abort();
    return controller.signal.aborted;
  };
  const info = backendInfo();
  if (info.backend !== job.backend) throw new Error(`the worker runs the ${info.backend} backend, not the ${job.backend} one asked for`);
  setNumThreads(job.threads);
  const data = loadData(job);
  manualSeed(job.seed);
  const model = await buildModel(job);
  if (job.initialWeights !== undefined) model.loadStateDict(deserialize(job.initialWeights, { name: 'initialWeights' }).tensors);
  if (cancelled()) return post({ type: 'cancelled' });

  let stepsPerEpoch = 0;
  let epochStart = 0;
  let samples = 0;
  let lastStep = -Infinity;
  const progress = (event: TrainProgress): void => post({ type: 'progress', event });
  const relay: Callback = {
    onTrainBegin: (i) => void (stepsPerEpoch = i.stepsPerEpoch),
    onEpochBegin: () => {
      epochStart = performance.now();
      samples = 0;
      cancelled();
    },
    onBatchEnd: ({ epoch, step, loss, samples: n }) => {
      samples += n;
      // Checked after every step: fit() then stops at its next abort check, right after this one.
      if (cancelled() || !job.steps) return;
      const now = performance.now();
      if (now - lastStep < job.progressIntervalMs) return;
      lastStep = now;
      progress({ type: 'step', epoch, step, stepsPerEpoch, loss, samplesPerSecond: (samples * 1000) / Math.max(now - epochStart, 1e-3) });
    },
    onEpochEnd: (log) => {
      if (!job.steps) return;
      const e: TrainProgress = { type: 'epoch', epoch: log.epoch, epochs: job.fit.epochs, loss: log.loss, metrics: log.metrics, seconds: log.seconds };
      if (log.valLoss !== undefined) {
        e.valLoss = log.valLoss;
        e.valMetrics = log.valMetrics;
      }
      progress(e);
    },
  };
  const f = job.fit;
  const options: FitOptions = {
    ...data,
    epochs: f.epochs,
    batchSize: f.batchSize,
    loss: f.loss,
    metrics: f.metrics,
    optimizer: (m) => WORKER_OPTIMIZERS[f.optimizer.type](m.parameters(), f.optimizer.hyper),
    restoreBest: f.restoreBest,
    stopOnNaN: f.stopOnNaN,
    progress: 'none',
    signal: controller.signal,
    callbacks: relay,
  };
  if (f.clipGradNorm !== undefined) options.clipGradNorm = f.clipGradNorm;
  if (f.earlyStopping !== undefined) options.earlyStopping = f.earlyStopping;
  let history;
  try {
    history = await fit(model, options);
  } catch (e) {
    if (controller.signal.aborted) return post({ type: 'cancelled' });
    throw e;
  }
  let bytes = serialize(model);
  // Transferring moves the whole ArrayBuffer: only one the bytes fill alone may go.
  if (bytes.byteOffset !== 0 || bytes.byteLength !== bytes.buffer.byteLength) bytes = new Uint8Array(bytes);
  post({ type: 'done', safetensors: bytes, history }, [bytes.buffer as ArrayBuffer]);
}

// Only as a trainInWorker worker: importing this file elsewhere does nothing.
const job = workerData as WorkerJob | null;
if (parentPort !== null && job !== null && typeof job === 'object' && job.cancel instanceof Int32Array) {
  // Nothing keeps this thread's event loop alive once run() settles, so the worker then exits.
  run(job).catch((e: unknown) => post({ type: 'error', message: e instanceof Error ? e.message : String(e) }));
}
