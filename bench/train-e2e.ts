// npm run bench:train — end-to-end training throughput: one epoch of the embedded digits through the
// 784-512-ReLU-256-ReLU-10 MLP at batch 128 with Adam (lr 1e-3) and cross-entropy, shuffled, through
// the public API (the PyTorch-style loop: DataLoader, forward, crossEntropy, backward, step), for
// tensorgrad native on every core, native on 1 thread, the TypeScript backend, and tfjs-core with
// its CPU backend running the same model (tf ops, tf.train.adam, tf.variableGrads; tf.layers is not
// in core). Every repetition of every configuration runs in a fresh process (one backend per
// process, nothing warm from another configuration), configurations alternating; a few warm-up
// steps precede the timed epoch. Prints a markdown table: median samples/s of the repetitions and
// the ratio to tfjs.
//
// Options: --reps N (default 3), --quick (1 repetition of 8 timed steps per configuration: a smoke run).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const BATCH = 128;
const WARMUP_STEPS = 3;
const HIDDEN = [512, 256];

interface RunResult {
  samplesPerSecond: number;
  steps: number;
  meanLoss: number;
  detail: string;
}

interface Config {
  name: string;
  kind: 'tensorgrad' | 'tfjs';
  env: Record<string, string>;
}

const { values: opts } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    quick: { type: 'boolean', default: false },
    child: { type: 'string' },
    steps: { type: 'string' },
  },
});

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Timed steps: a whole epoch (dropLast) unless --steps caps it. */
function stepsFor(rows: number): number {
  const full = Math.floor(rows / BATCH);
  return opts.steps ? Math.min(full, Number(opts.steps)) : full;
}

async function runTensorgrad(): Promise<RunResult> {
  const tg = await import('../src/index.js');
  tg.manualSeed(0);
  const { train } = tg.loadDigits();
  const model = tg.mlp({ inputs: 784, hidden: HIDDEN, outputs: 10 });
  const opt = new tg.Adam(model.parameters(), { lr: 1e-3 });
  const loader = new tg.DataLoader(train, { batchSize: BATCH, shuffle: true, dropLast: true });
  const step = (x: InstanceType<typeof tg.Tensor>, y: InstanceType<typeof tg.Tensor>): number => {
    const loss = tg.crossEntropy(model.forward(x), y);
    opt.zeroGrad();
    loss.backward();
    opt.step();
    return loss.item();
  };
  let w = 0;
  for (const [x, y] of loader) {
    if (w++ >= WARMUP_STEPS) break;
    step(x!, y!);
  }
  const steps = stepsFor(train.length);
  let n = 0;
  let lossSum = 0;
  const t0 = performance.now();
  for (const [x, y] of loader) {
    if (n >= steps) break;
    lossSum += step(x!, y!);
    n++;
  }
  const seconds = (performance.now() - t0) / 1000;
  const info = tg.backendInfo();
  return { samplesPerSecond: (n * BATCH) / seconds, steps: n, meanLoss: lossSum / n, detail: `${info.backend} ${info.isa}, ${info.threads} thread${info.threads === 1 ? '' : 's'}` };
}

async function runTfjs(): Promise<RunResult> {
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-cpu');
  // tfjs-core's Node bundle registers no gradient functions (the @tensorflow/tfjs bundle does, from
  // dist/register_all_gradients, whose extensionless ES imports Node cannot load): register the
  // three this model's ops need, with the math of tfjs's own MatMul_grad, Add_grad and Relu_grad.
  // The loss is one customGrad (softmax cross-entropy, as tf.losses does), so it needs none.
  if (!tf.getGradient('BatchMatMul')) {
    type T = import('@tensorflow/tfjs-core').Tensor;
    tf.registerGradient({
      kernelName: 'BatchMatMul',
      inputsToSave: ['a', 'b'],
      gradFunc: (dy, saved) => {
        const [a, b] = saved as [T, T];
        return { a: () => tf.matMul(dy as T, b, false, true), b: () => tf.matMul(a, dy as T, true, false) };
      },
    });
    tf.registerGradient({
      kernelName: 'Add',
      inputsToSave: ['a', 'b'],
      gradFunc: (dy, saved) => {
        const [a, b] = saved as [T, T];
        const d = dy as T;
        // The bias operand was broadcast over rows: its gradient sums them.
        const reduceTo = (x: T): T => (x.rank === d.rank ? d : tf.sum(d, 0));
        return { a: () => reduceTo(a), b: () => reduceTo(b) };
      },
    });
    tf.registerGradient({
      kernelName: 'Relu',
      inputsToSave: ['x'],
      gradFunc: (dy, saved) => ({ x: () => tf.mul(dy as T, tf.step(saved[0] as T)) }),
    });
  }
  const softmaxXent = tf.customGrad((logits, labels, save) => {
    const l = logits as import('@tensorflow/tfjs-core').Tensor2D;
    const logp = tf.logSoftmax(l);
    (save as (tensors: import('@tensorflow/tfjs-core').Tensor[]) => void)([logp, labels as import('@tensorflow/tfjs-core').Tensor]);
    const value = tf.neg(tf.mean(tf.sum(tf.mul(labels as import('@tensorflow/tfjs-core').Tensor, logp), 1)));
    const gradFunc = (dy: import('@tensorflow/tfjs-core').Tensor, saved: import('@tensorflow/tfjs-core').Tensor[]) => {
      const [lp, y] = saved as [import('@tensorflow/tfjs-core').Tensor, import('@tensorflow/tfjs-core').Tensor];
      return [tf.mul(tf.sub(tf.exp(lp), y), tf.div(dy, lp.shape[0]!)), tf.zerosLike(y)];
    };
    return { value, gradFunc };
  });
  await tf.setBackend('cpu');
  await tf.ready();
  // The digits, as the same TensorDataset rows tensorgrad trains on.
  const tg = await import('../src/index.js');
  const { train } = tg.loadDigits();
  const [xs, ys] = [train.tensors[0]!, train.tensors[1]!];
  const rows = train.length;
  const xAll = tf.tensor2d(xs.data, [rows, 784]);
  const yAll = tf.tensor1d(Int32Array.from(ys.data), 'int32');
  // PyTorch's Linear init (kaiming-uniform weights, uniform bias, both ±1/sqrt(fan_in)), as mlp() uses.
  const sizes = [784, ...HIDDEN, 10];
  const vars: import('@tensorflow/tfjs-core').Variable[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    const bound = 1 / Math.sqrt(sizes[i]!);
    vars.push(tf.variable(tf.randomUniform([sizes[i]!, sizes[i + 1]!], -bound, bound, 'float32', 1 + i)));
    vars.push(tf.variable(tf.randomUniform([sizes[i + 1]!], -bound, bound, 'float32', 101 + i)));
  }
  const opt = tf.train.adam(1e-3, 0.9, 0.999, 1e-8);
  const forward = (x: import('@tensorflow/tfjs-core').Tensor2D): import('@tensorflow/tfjs-core').Tensor2D => {
    let h = x;
    for (let i = 0; i < vars.length; i += 2) {
      h = tf.add(tf.matMul(h, vars[i] as import('@tensorflow/tfjs-core').Tensor2D), vars[i + 1]!);
      if (i + 2 < vars.length) h = tf.relu(h);
    }
    return h;
  };
  // The shuffle: a fresh permutation per epoch, drawn as tensorgrad's loader draws its own.
  const perm = tg.randperm(rows, new tg.Generator(0));
  const step = (b: number): number => {
    const idx = tf.tensor1d(perm.subarray(b * BATCH, (b + 1) * BATCH), 'int32');
    const loss = tf.tidy(() => {
      const x = tf.gather(xAll, idx) as import('@tensorflow/tfjs-core').Tensor2D;
      const y = tf.cast(tf.oneHot(tf.gather(yAll, idx), 10), 'float32');
      const { value, grads } = tf.variableGrads(() => softmaxXent(forward(x), y) as import('@tensorflow/tfjs-core').Scalar, vars);
      opt.applyGradients(grads as Parameters<typeof opt.applyGradients>[0]);
      return value;
    });
    const v = loss.dataSync()[0]!;
    loss.dispose();
    idx.dispose();
    return v;
  };
  for (let b = 0; b < WARMUP_STEPS; b++) step(b);
  const steps = stepsFor(rows);
  let lossSum = 0;
  const t0 = performance.now();
  for (let b = 0; b < steps; b++) lossSum += step(b);
  const seconds = (performance.now() - t0) / 1000;
  return { samplesPerSecond: (steps * BATCH) / seconds, steps, meanLoss: lossSum / steps, detail: `tfjs-core ${tf.version_core}, backend ${tf.getBackend()}` };
}

function cpuLine(): string {
  let model = cpus()[0]?.model ?? 'unknown CPU';
  let flags = '';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    model = /^model name\s*:\s*(.+)$/m.exec(info)?.[1] ?? model;
    const f = ` ${/^flags\s*:\s*(.+)$/m.exec(info)?.[1] ?? ''} `;
    flags = ['avx2', 'fma', 'avx512f'].filter((x) => f.includes(` ${x} `)).join(', ');
  } catch {
    // Not Linux: the model name from os.cpus() is all we have.
  }
  return `${model}, ${cpus().length} logical cores${flags ? ` (${flags})` : ''}`;
}

if (opts.child) {
  const result = opts.child === 'tfjs' ? await runTfjs() : await runTensorgrad();
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  const reps = opts.quick ? 1 : Number(opts.reps);
  const steps = opts.quick ? '8' : opts.steps;
  const configs: Config[] = [
    { name: `tensorgrad native, ${cpus().length} threads`, kind: 'tensorgrad', env: { TENSORGRAD_BACKEND: 'native' } },
    { name: 'tensorgrad native, 1 thread', kind: 'tensorgrad', env: { TENSORGRAD_BACKEND: 'native', TENSORGRAD_NUM_THREADS: '1' } },
    { name: 'tensorgrad TypeScript backend', kind: 'tensorgrad', env: { TENSORGRAD_BACKEND: 'js' } },
    // The tfjs process uses tensorgrad only to read the digits: keep the addon out of it.
    { name: 'tfjs-core + tfjs-backend-cpu', kind: 'tfjs', env: { TENSORGRAD_BACKEND: 'js' } },
  ];
  const self = fileURLToPath(import.meta.url);
  const results = new Map<string, RunResult[]>(configs.map((c) => [c.name, []]));
  const load0 = loadavg()[0]!;
  for (let r = 0; r < reps; r++) {
    // Rotate the order so no configuration always runs first (cold caches, CPU clocks).
    for (let k = 0; k < configs.length; k++) {
      const c = configs[(k + r) % configs.length]!;
      const args = ['--import', 'tsx', self, '--child', c.kind, ...(steps ? ['--steps', steps] : [])];
      const out = execFileSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, ...c.env }, stdio: ['ignore', 'pipe', 'inherit'] });
      const res = JSON.parse(out.split('\n').find((l) => l.startsWith('{'))!) as RunResult;
      results.get(c.name)!.push(res);
      process.stderr.write(`rep ${r + 1}/${reps} ${c.name}: ${Math.round(res.samplesPerSecond).toLocaleString('en-US')} samples/s (${res.detail})\n`);
    }
  }
  const load1 = loadavg()[0]!;
  const med = new Map([...results].map(([k, v]) => [k, median(v.map((x) => x.samplesPerSecond))]));
  const tfjs = med.get(configs[3]!.name)!;
  const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
  console.log(`One epoch of the embedded digits (${results.get(configs[0]!.name)![0]!.steps} steps of ${BATCH}), MLP 784-${HIDDEN.join('-')}-10 (ReLU), Adam lr 1e-3, cross-entropy; median of ${reps} repetition(s), each in a fresh process${opts.quick ? ' (QUICK: 8 steps, not a measurement)' : ''}\n`);
  console.log('| configuration | samples/s (median) | runs (samples/s) | mean loss of the epoch | ratio to tfjs |');
  console.log('|---|--:|--:|--:|--:|');
  for (const c of configs) {
    const rs = results.get(c.name)!;
    const m = med.get(c.name)!;
    console.log(`| ${c.name} | ${fmt(m)} | ${rs.map((x) => fmt(x.samplesPerSecond)).join(', ')} | ${median(rs.map((x) => x.meanLoss)).toFixed(3)} | ${(m / tfjs).toFixed(1)}× |`);
  }
  console.log(`\n${cpuLine()}; Node ${process.version}; ${results.get(configs[0]!.name)![0]!.detail}; load average ${load0.toFixed(2)} at start, ${load1.toFixed(2)} at end; ${new Date().toISOString().slice(0, 10)}`);
}
