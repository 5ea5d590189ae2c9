// One configuration of the suite, run in its own process: `node --import tsx bench/suite/child.ts
// '<task json>'`. Prints one line `RESULT <json>`; a failure prints `RESULT {"error": …}` so the
// report can say why a peer did not run. Thread counts come from the environment the orchestrator
// set (TENSORGRAD_NUM_THREADS) and from the task (onnxruntime's intraOpNumThreads).
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { RESULT_PREFIX, median, quantile, type GemmShape } from './common.js';
import { loadShared, type SharedData } from './data.js';
import { mlpOnnx } from './onnx.js';

export interface TrainTask {
  kind: 'train';
  system: 'tg' | 'tfjs-cpu' | 'tfjs-wasm' | 'brain';
  data: string;
  batch: number;
  warmup: number;
  /**
   * The warm-up also lasts at least this long: a step's speed keeps rising for a second or two
   * after a process starts (measured: 0.9-1.0 ms per batch-32 step over the first 400 steps, 0.7
   * after one second, on 1 and 2 threads alike), and a user's training run is in that steady state.
   */
  warmSeconds: number;
  minSteps: number;
  maxSteps: number;
  /** Seconds the timed run aims at (steps = budget ÷ the warm-up's step time, clamped). */
  budget: number;
}

export interface InferTask {
  kind: 'infer';
  system: 'tg' | 'tfjs-cpu' | 'tfjs-wasm' | 'ort' | 'brain';
  data: string;
  threads: number;
  batch: number;
  warmup: number;
  minCalls: number;
  budget: number;
  latencyCalls: number;
  /** Batch-1 and batch-4 calls keep warming up until this long has passed (after `warmup` calls). */
  latencyWarmSeconds?: number;
}

export interface GemmTask {
  kind: 'gemm';
  threads: number;
  shapes: GemmShape[];
  reps: number;
  minTime: number;
}

export type Task = TrainTask | InferTask | GemmTask | { kind: 'probe' };

const require = createRequire(import.meta.url);
type Tg = typeof import('../../src/index.js');
type TfCore = typeof import('@tensorflow/tfjs-core');
type TfTensor = import('@tensorflow/tfjs-core').Tensor;

/** Steps of the timed run: about `budget` seconds at the warm-up's pace, within [minSteps, maxSteps]. */
function timedSteps(t: TrainTask, warmSeconds: number, warmSteps: number): number {
  const per = warmSteps > 0 ? warmSeconds / warmSteps : Infinity;
  return Math.floor(Math.min(t.maxSteps, Math.max(t.minSteps, t.budget / per)));
}

/** Runs step(i) for the warm-up and the timed run; step 0 is the first warm-up step (its loss is reported). */
function trainLoop(t: TrainTask, step: (i: number) => number, samplesPerStep = t.batch): Record<string, unknown> {
  const firstLoss = step(0);
  let t0 = performance.now();
  let warm = 1;
  while (warm < t.warmup || performance.now() - t0 < 1000 * t.warmSeconds) step(warm++);
  const steps = timedSteps(t, (performance.now() - t0) / 1000, warm - 1);
  let last = 0;
  t0 = performance.now();
  for (let i = 0; i < steps; i++) last = step(warm + i);
  const seconds = (performance.now() - t0) / 1000;
  return { samplesPerSecond: (steps * samplesPerStep) / seconds, steps, firstLoss, lastLoss: last };
}

function batchOf(d: SharedData, b: number, i: number): { x: Float32Array; y: Int32Array } {
  const s = (i * b) % d.meta.rows;
  const f = d.meta.features;
  return { x: d.x.subarray(s * f, (s + b) * f), y: d.y.subarray(s, s + b) };
}

async function tgModel(d: SharedData): Promise<{ tg: Tg; model: ReturnType<Tg['mlp']> }> {
  const tg = await import('../../src/index.js');
  const [i, h1, h2, o] = d.meta.dims as [number, number, number, number];
  const model = tg.mlp({ inputs: i, hidden: [h1, h2], outputs: o });
  const keys = Object.keys(model.stateDict());
  model.loadStateDict(Object.fromEntries(keys.map((k, j) => [k, tg.tensor(d.params[j]!, d.meta.paramShapes[j]!)])));
  return { tg, model };
}

function tgDetail(tg: Tg): string {
  const info = tg.backendInfo();
  if (info.backend !== 'native') return `TypeScript backend, GEMM on ${info.threads} thread${info.threads === 1 ? '' : 's'}, the rest on 1`;
  return `native ${info.isa}, ${info.threads} thread${info.threads === 1 ? '' : 's'}`;
}

async function trainTg(t: TrainTask): Promise<Record<string, unknown>> {
  const d = loadShared(t.data);
  const { tg, model } = await tgModel(d);
  const opt = new tg.Adam(model.parameters(), { lr: 1e-3 });
  // The whole step through the public API. The data become tensors once and each batch is a view
  // of their rows (no copy), as the library's DataLoader yields sequential batches and as the
  // PyTorch peer slices its from_numpy tensors.
  const X = tg.tensor(d.x, [d.meta.rows, d.meta.features]);
  const Y = tg.tensor(d.y, [d.meta.rows]);
  const r = trainLoop(t, (i) => {
    const s = (i * t.batch) % d.meta.rows;
    const loss = tg.crossEntropy(model.forward(X.slice(s, s + t.batch)), Y.slice(s, s + t.batch));
    opt.zeroGrad();
    loss.backward();
    opt.step();
    return loss.item();
  });
  return { ...r, detail: tgDetail(tg) };
}

/** tfjs-core plus one backend, with the gradients this model needs registered. */
async function tfjs(system: 'tfjs-cpu' | 'tfjs-wasm'): Promise<TfCore> {
  const tf = await import('@tensorflow/tfjs-core');
  if (system === 'tfjs-cpu') {
    await import('@tensorflow/tfjs-backend-cpu');
    await tf.setBackend('cpu');
  } else {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // The .wasm files ship next to the package's main file; Node reads them from there.
    wasm.setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}/`);
    await tf.setBackend('wasm');
  }
  await tf.ready();
  // tfjs-core's Node bundle registers no gradient functions (the @tensorflow/tfjs bundle's
  // register_all_gradients uses extensionless ES imports Node cannot load): the three this model
  // needs, with the math of tfjs's MatMul_grad (no transposes here: weights are [in, out] as
  // tf.layers keeps them), Add_grad and Relu_grad.
  if (!tf.getGradient('BatchMatMul')) {
    tf.registerGradient({
      kernelName: 'BatchMatMul',
      inputsToSave: ['a', 'b'],
      gradFunc: (dy, saved) => {
        const [a, b] = saved as [TfTensor, TfTensor];
        return { a: () => tf.matMul(dy as TfTensor, b, false, true), b: () => tf.matMul(a, dy as TfTensor, true, false) };
      },
    });
    tf.registerGradient({
      kernelName: 'Add',
      inputsToSave: ['a', 'b'],
      gradFunc: (dy, saved) => {
        const [a, b] = saved as [TfTensor, TfTensor];
        const g = dy as TfTensor;
        const reduceTo = (x: TfTensor): TfTensor => (x.rank === g.rank ? g : tf.sum(g, 0));
        return { a: () => reduceTo(a), b: () => reduceTo(b) };
      },
    });
    tf.registerGradient({
      kernelName: 'Relu',
      inputsToSave: ['x'],
      gradFunc: (dy, saved) => ({ x: () => tf.mul(dy as TfTensor, tf.step(saved[0] as TfTensor)) }),
    });
  }
  return tf;
}

async function tfjsDetail(tf: TfCore): Promise<string> {
  if (tf.getBackend() !== 'wasm') return `tfjs-core ${tf.version_core}, backend ${tf.getBackend()}, 1 thread`;
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) ? 'SIMD' : 'no SIMD';
  const mt = (await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) ? 'threads available' : '1 thread (no wasm threads in Node)';
  return `tfjs-core ${tf.version_core}, backend wasm, ${simd}, ${mt}`;
}

/** The shared weights as tfjs variables: W transposed once to [in, out], biases as they are. */
function tfjsVars(tf: TfCore, d: SharedData): import('@tensorflow/tfjs-core').Variable[] {
  const vars: import('@tensorflow/tfjs-core').Variable[] = [];
  for (let l = 0; l + 1 < d.meta.dims.length; l++) {
    const [out, inp] = d.meta.paramShapes[2 * l] as [number, number];
    const w = tf.tidy(() => tf.transpose(tf.tensor2d(d.params[2 * l]!, [out, inp])));
    vars.push(tf.variable(w));
    w.dispose();
    vars.push(tf.variable(tf.tensor1d(d.params[2 * l + 1]!)));
  }
  return vars;
}

function tfjsForward(tf: TfCore, vars: import('@tensorflow/tfjs-core').Variable[], x: TfTensor): TfTensor {
  let h = x;
  for (let i = 0; i < vars.length; i += 2) {
    h = tf.add(tf.matMul(h, vars[i]!), vars[i + 1]!);
    if (i + 2 < vars.length) h = tf.relu(h);
  }
  return h;
}

async function trainTfjs(t: TrainTask & { system: 'tfjs-cpu' | 'tfjs-wasm' }): Promise<Record<string, unknown>> {
  const tf = await tfjs(t.system);
  const d = loadShared(t.data);
  const vars = tfjsVars(tf, d);
  const classes = d.meta.dims[d.meta.dims.length - 1]!;
  // Softmax cross-entropy as one customGrad (as tf.losses.softmaxCrossEntropy does).
  const softmaxXent = tf.customGrad((logits, labels, save) => {
    const logp = tf.logSoftmax(logits as TfTensor);
    (save as (ts: TfTensor[]) => void)([logp, labels as TfTensor]);
    const value = tf.neg(tf.mean(tf.sum(tf.mul(labels as TfTensor, logp), 1)));
    const gradFunc = (dy: TfTensor, saved: TfTensor[]) => {
      const [lp, y] = saved as [TfTensor, TfTensor];
      return [tf.mul(tf.sub(tf.exp(lp), y), tf.div(dy, lp.shape[0]!)), tf.zerosLike(y)];
    };
    return { value, gradFunc };
  });
  const opt = tf.train.adam(1e-3, 0.9, 0.999, 1e-8);
  const r = trainLoop(t, (i) => {
    const { x, y } = batchOf(d, t.batch, i);
    const loss = tf.tidy(() => {
      const xb = tf.tensor2d(x, [t.batch, d.meta.features]);
      const yb = tf.cast(tf.oneHot(tf.tensor1d(y, 'int32'), classes), 'float32');
      const { value, grads } = tf.variableGrads(() => softmaxXent(tfjsForward(tf, vars, xb), yb) as import('@tensorflow/tfjs-core').Scalar, vars);
      opt.applyGradients(grads as Parameters<typeof opt.applyGradients>[0]);
      return value;
    });
    const v = loss.dataSync()[0]!;
    loss.dispose();
    return v;
  });
  return { ...r, detail: await tfjsDetail(tf) };
}

interface BrainNet {
  sizes: number[];
  weights: Float32Array[][];
  biases: Float32Array[];
  outputs: Float32Array[];
  initialize(): void;
  updateTrainingOptions(o: Record<string, unknown>): void;
  trainPattern(v: { input: Float32Array; output: Float32Array }, logErrorRate?: boolean): number | null;
  run(input: Float32Array): Float32Array;
}

/** brain.js's NeuralNetwork with the shared weights (its layout is ours: one [in] row per output node). */
function brainNet(d: SharedData, train: boolean): { net: BrainNet; version: string } {
  const brain = require('brain.js') as { NeuralNetwork: new (o: Record<string, unknown>) => BrainNet };
  const version = (require('brain.js/package.json') as { version: string }).version;
  const dims = d.meta.dims;
  const net = new brain.NeuralNetwork({ hiddenLayers: dims.slice(1, -1), activation: 'relu' });
  if (train) net.updateTrainingOptions({ praxis: 'adam', learningRate: 1e-3 });
  net.sizes = [...dims];
  net.initialize();
  for (let l = 1; l < dims.length; l++) {
    const w = d.params[2 * (l - 1)]!;
    for (let j = 0; j < dims[l]!; j++) net.weights[l]![j] = w.slice(j * dims[l - 1]!, (j + 1) * dims[l - 1]!);
    net.biases[l] = d.params[2 * (l - 1) + 1]!.slice();
  }
  return { net, version };
}

const BRAIN_STEP = 8;

async function trainBrain(t: TrainTask): Promise<Record<string, unknown>> {
  const d = loadShared(t.data);
  const { net, version } = brainNet(d, true);
  const classes = d.meta.dims[d.meta.dims.length - 1]!;
  const f = d.meta.features;
  // brain.js trains one sample at a time (no batches, ~100× slower than the others): a "step" here
  // is BRAIN_STEP samples, whatever the batch.
  const r = trainLoop(t, (i) => {
    let err = 0;
    for (let s = 0; s < BRAIN_STEP; s++) {
      const row = (i * BRAIN_STEP + s) % d.meta.rows;
      const output = new Float32Array(classes);
      output[d.y[row]!] = 1;
      err = net.trainPattern({ input: d.x.subarray(row * f, (row + 1) * f), output }, s === BRAIN_STEP - 1) ?? err;
    }
    return err;
  }, BRAIN_STEP);
  return { ...r, detail: `brain.js ${version}: per-sample Adam, MSE on a ReLU output layer (its only choice)` };
}

/** Throughput of `call` on batches of b rows, then median/p99 latency of batch-1 calls. */
async function inferLoop(
  t: InferTask,
  d: SharedData,
  run: (x: Float32Array, rows: number) => Float32Array | Promise<Float32Array>,
): Promise<Record<string, unknown>> {
  const f = d.meta.features;
  const check = Array.from((await run(d.x.subarray(0, 4 * f), 4)).subarray(0, 8));
  const xb = d.x.subarray(0, t.batch * f);
  for (let i = 0; i < t.warmup; i++) await run(xb, t.batch);
  let n = 0;
  const t0 = performance.now();
  let el = 0;
  for (;;) {
    await run(xb, t.batch);
    n++;
    el = (performance.now() - t0) / 1000;
    if (n >= t.minCalls && el >= t.budget) break;
  }
  const throughput = (n * t.batch) / el;
  // Latency in the steady state a served model runs in: the first few thousand small calls after
  // the batch-256 phase run slower (JIT code specialised to the other batch size, first-time
  // paths), which 5 calls do not cover.
  const warmFor = async (rows: number): Promise<void> => {
    const w0 = performance.now();
    for (let i = 0; i < t.warmup || performance.now() - w0 < 1000 * (t.latencyWarmSeconds ?? 0); i++) {
      const j = (i * rows) % (d.meta.rows - rows + 1);
      await run(d.x.subarray(j * f, (j + rows) * f), rows);
    }
  };
  await warmFor(1);
  const lat: number[] = [];
  for (let i = 0; i < t.latencyCalls; i++) {
    const j = i % d.meta.rows;
    const x = d.x.subarray(j * f, (j + 1) * f);
    const s = performance.now();
    await run(x, 1);
    lat.push((performance.now() - s) * 1000);
  }
  lat.sort((a, b) => a - b);
  // Batch 4 (a server batching the requests that arrive together): consecutive rows, half as many calls.
  const rows4 = Math.min(4, d.meta.rows);
  await warmFor(rows4);
  const lat4: number[] = [];
  for (let i = 0; i < Math.ceil(t.latencyCalls / 2); i++) {
    const j = (i * rows4) % (d.meta.rows - rows4 + 1);
    const x = d.x.subarray(j * f, (j + rows4) * f);
    const s = performance.now();
    await run(x, rows4);
    lat4.push((performance.now() - s) * 1000);
  }
  lat4.sort((a, b) => a - b);
  return {
    check,
    throughput,
    latencyMedianUs: median(lat),
    latencyP99Us: quantile(lat, 0.99),
    latencyCalls: lat.length,
    latency4MedianUs: median(lat4),
    latency4P99Us: quantile(lat4, 0.99),
    latency4Calls: lat4.length,
  };
}

async function inferTg(t: InferTask, viaPredict: boolean): Promise<Record<string, unknown>> {
  const d = loadShared(t.data);
  const { tg, model } = await tgModel(d);
  model.eval();
  const f = d.meta.features;
  const r = await inferLoop(t, d, (x, rows) => {
    // Wrapped, not copied (tg.tensor would copy): as torch.from_numpy and new ort.Tensor do.
    const input = new tg.Tensor(x, [rows, f]);
    return viaPredict ? tg.predict(model, input, { batchSize: rows }).data : tg.noGrad(() => model.forward(input)).data;
  });
  return { ...r, detail: `${viaPredict ? 'predict()' : 'model.forward under noGrad'}; ${tgDetail(tg)}` };
}

async function inferTfjs(t: InferTask & { system: 'tfjs-cpu' | 'tfjs-wasm' }): Promise<Record<string, unknown>> {
  const tf = await tfjs(t.system);
  const d = loadShared(t.data);
  const vars = tfjsVars(tf, d);
  const r = await inferLoop(t, d, (x, rows) => {
    const out = tf.tidy(() => tfjsForward(tf, vars, tf.tensor2d(x, [rows, d.meta.features])));
    const v = out.dataSync() as Float32Array;
    out.dispose();
    return v;
  });
  return { ...r, detail: await tfjsDetail(tf) };
}

async function inferOrt(t: InferTask): Promise<Record<string, unknown>> {
  const ort = (await import('onnxruntime-node')) as typeof import('onnxruntime-node');
  const d = loadShared(t.data);
  const session = await ort.InferenceSession.create(mlpOnnx(d.meta.dims, d.params), {
    intraOpNumThreads: t.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const f = d.meta.features;
  const r = await inferLoop(t, d, async (x, rows) => {
    const out = await session.run({ input: new ort.Tensor('float32', x, [rows, f]) });
    return out['logits']!.data as Float32Array;
  });
  const version = (require('onnxruntime-node/package.json') as { version: string }).version;
  return { ...r, detail: `onnxruntime-node ${version}, intraOpNumThreads ${t.threads}, session.run (async)` };
}

async function inferBrain(t: InferTask): Promise<Record<string, unknown>> {
  const d = loadShared(t.data);
  const { net, version } = brainNet(d, false);
  const f = d.meta.features;
  const classes = d.meta.dims[d.meta.dims.length - 1]!;
  // No batch API: a batch is a loop of run() calls, each output copied out (run reuses its buffer).
  const r = await inferLoop(t, d, (x, rows) => {
    const out = new Float32Array(rows * classes);
    for (let i = 0; i < rows; i++) out.set(net.run(x.subarray(i * f, (i + 1) * f)), i * classes);
    return out;
  });
  return { ...r, detail: `brain.js ${version}: run() per row; its output layer is ReLU'd (no linear output)` };
}

/** Seconds a GEMM child spends on warm-up products before it times anything. */
const WARM_SECONDS = 1.5;

async function gemmTg(t: GemmTask): Promise<Record<string, unknown>> {
  const { loadAddon } = await import('../../src/backend/native.js');
  const tg = await import('../../src/index.js');
  const addon = loadAddon();
  if (!addon) throw new Error('native addon not loadable (run npm install / npm run build:native)');
  addon.setNumThreads(t.threads);
  tg.setNumThreads(t.threads);
  // The variants of one shape are timed in alternating repetitions, so that drift in the
  // machine's speed during the shape (these VMs drift by several percent within a minute) falls on
  // all of them alike and their ratios stay fair.
  const measure = (s: GemmShape, fns: (() => void)[]): number[] => {
    // Calls per repetition from the warm speed (the first call, cold and compiling, would give too
    // few: each repetition starts on the operands the other variant evicted, a cost that only
    // enough calls amortise).
    const inners = fns.map((fn) => {
      let t0 = performance.now();
      fn();
      const first = Math.max(performance.now() - t0, 1e-4);
      const warm = Math.max(2, Math.ceil((t.minTime * 1000) / first));
      t0 = performance.now();
      for (let i = 0; i < warm; i++) fn();
      const one = Math.max((performance.now() - t0) / warm, 1e-4);
      return Math.max(1, Math.ceil((t.minTime * 1000) / one));
    });
    const times: number[][] = fns.map(() => []);
    for (let r = 0; r < t.reps; r++) {
      fns.forEach((fn, f) => {
        const t0 = performance.now();
        for (let i = 0; i < inners[f]!; i++) fn();
        times[f]!.push((performance.now() - t0) / inners[f]!);
      });
    }
    return times.map((ts) => (2 * s.m * s.n * s.k) / (median(ts) * 1e-3) / 1e9);
  };
  const { allocFloat32 } = await import('../../src/shape.js');
  // Operands allocated as the library allocates a tensor's storage (64-byte aligned from 1 KiB up
  // with the native backend: src/shape.ts), so kernel and public figures read the same kind of memory.
  const fill = (n: number, seed: number): Float32Array => {
    const a = allocFloat32('bench', n);
    for (let i = 0; i < n; i++) a[i] = ((i * seed) % 1000) / 1000 - 0.5;
    return a;
  };
  // A fresh process runs the first second or so slower (code still compiling, pool and caches
  // filling; the training part waits out the same with warmSeconds): without this, the first
  // shapes' public figures came out 5-15% under the kernel's, later shapes' within 2%.
  {
    const w = tg.randn([128, 256]);
    const x = tg.randn([256, 128]);
    const until = performance.now() + 1000 * WARM_SECONDS;
    while (performance.now() < until) {
      tg.matmul(w, x).dispose();
      tg.matmul(w, x);
    }
  }
  const rows: Record<string, unknown>[] = [];
  for (const s of t.shapes) {
    const a = fill(s.m * s.k, 7919);
    const b = fill(s.k * s.n, 104729);
    const c = allocFloat32('bench', s.m * s.n);
    const ta = tg.tensor(a, [s.m, s.k]);
    const tb = tg.tensor(b, [s.k, s.n]);
    const own = () => addon.gemm(s.form[0] === 'T', s.form[1] === 'T', s.m, s.n, s.k, 1, a, b, 0, c, null, false);
    // The public API's matmul is the NN product: compare it with the kernel's NN form at the same m×n×k.
    const nn = () => addon.gemm(false, false, s.m, s.n, s.k, 1, a, b, 0, c, null, false);
    // Disposed: the result goes back to the pool, as `using c = a.matmul(b)` does.
    const dispose = () => tg.matmul(ta, tb).dispose();
    const r = measure(s, s.form === 'NN' ? [own, dispose] : [own, nn, dispose]);
    const kernel = r[0]!;
    const kernelNN = s.form === 'NN' ? kernel : r[1]!;
    const disposed = r[r.length - 1]!;
    // Left to the garbage collector: measured alone and last, since its garbage would otherwise be
    // collected during the others.
    const [pub] = measure(s, [() => void tg.matmul(ta, tb)]);
    rows.push({ name: s.name, kernel, kernelNN, public: pub, disposed });
  }
  return { rows, detail: tgDetail(tg) };
}

async function probe(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const tryVersion = (key: string, pkg: string): void => {
    try {
      out[key] = (require(`${pkg}/package.json`) as { version: string }).version;
    } catch (e) {
      out[`${key}Error`] = (e as Error).message.split('\n')[0];
    }
  };
  tryVersion('tfjsCore', '@tensorflow/tfjs-core');
  tryVersion('tfjsCpu', '@tensorflow/tfjs-backend-cpu');
  tryVersion('tfjsWasm', '@tensorflow/tfjs-backend-wasm');
  tryVersion('ort', 'onnxruntime-node');
  tryVersion('brain', 'brain.js');
  tryVersion('tfjsNode', '@tensorflow/tfjs-node');
  const tg = await import('../../src/index.js');
  const info = tg.backendInfo();
  out['tensorgrad'] = `${info.backend} ${info.isa}`;
  return out;
}

async function runTask(t: Task): Promise<Record<string, unknown>> {
  switch (t.kind) {
    case 'probe':
      return probe();
    case 'gemm':
      return gemmTg(t);
    case 'train':
      if (t.system === 'tg') return trainTg(t);
      if (t.system === 'brain') return trainBrain(t);
      return trainTfjs(t as TrainTask & { system: 'tfjs-cpu' | 'tfjs-wasm' });
    case 'infer':
      if (t.system === 'tg') return inferTg(t, process.env['TG_BENCH_PREDICT'] === '1');
      if (t.system === 'ort') return inferOrt(t);
      if (t.system === 'brain') return inferBrain(t);
      return inferTfjs(t as InferTask & { system: 'tfjs-cpu' | 'tfjs-wasm' });
  }
}

const task = JSON.parse(process.argv[2] ?? '{}') as Task;
let res: Record<string, unknown>;
try {
  res = await runTask(task);
} catch (e) {
  const err = e as Error;
  res = { error: `${err.name}: ${err.message.split('\n')[0]}` };
}
process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(res)}\n`);
// onnxruntime and the wasm backend may keep handles open: the result is out, leave now.
process.exit(0);
