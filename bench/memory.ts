// node --import tsx bench/memory.ts — does a long training run keep a flat heap and RSS? Trains the
// 784-512-ReLU-256-ReLU-10 MLP (Adam lr 1e-3, cross-entropy) on the embedded digits for --steps
// steps (the loader loops over epochs, shuffled), through the public API only: fit() (one call,
// progress off, stopped after exactly --steps steps by an AbortSignal), or the plain PyTorch loop
// (for…of over the DataLoader: zeroGrad, forward, loss, backward, step). Every --every steps it
// samples process.memoryUsage(); the table compares the first quarter's mean with the last
// quarter's (issue 9 asks for the last within 5% of the first). Run with `node --expose-gc` to
// also sample the heap after a full collection: what is really live, without the sawtooth of
// garbage not yet collected (those collections cost time, so steps/s is then a little lower).
//
// --mode predictAsync instead runs --steps calls of predictAsync on a batch of --batch test digits
// (the inference path a server uses, whose native work runs on another thread).
//
// Options: --steps N (default 20000), --batch N (default 64), --mode fit|loop|predictAsync (default fit),
// --every N (default 100), --samples (print every sample as CSV too), --quick (2,000 steps).
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import * as tg from '../src/index.js';
import { fmt, int, intFlag, machine, machineLine, mean, mib, table } from './embed-common.mjs';

const { values: opts } = parseArgs({
  options: {
    steps: { type: 'string' },
    batch: { type: 'string' },
    mode: { type: 'string', default: 'fit' },
    every: { type: 'string' },
    samples: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
  },
});
const steps = intFlag('steps', opts.steps, opts.quick ? 2000 : 20000);
const batch = intFlag('batch', opts.batch, 64);
const every = intFlag('every', opts.every, 100);
const mode = opts.mode;
if (mode !== 'fit' && mode !== 'loop' && mode !== 'predictAsync') {
  console.error(`--mode must be 'fit', 'loop' or 'predictAsync', got '${mode}'`);
  process.exit(2);
}
if (steps < 4 * every) {
  console.error(`--steps (${steps}) must be at least 4 × --every (${every}): the report compares quarters of the samples`);
  process.exit(2);
}
const gc = (globalThis as { gc?: () => void }).gc;

const m = machine(tg.backendInfo());
const data = tg.loadDigits();
tg.manualSeed(0);
const model = tg.mlp({ inputs: 784, hidden: [512, 256], outputs: 10 });
const opt = new tg.Adam(model.parameters(), { lr: 1e-3 });
const loader = new tg.DataLoader(data.train, { batchSize: batch, shuffle: true, dropLast: true, generator: new tg.Generator(1) });

interface Sample {
  step: number;
  heapUsed: number;
  rss: number;
  external: number;
  arrayBuffers: number;
  /** heapUsed right after a full gc(); NaN without --expose-gc. */
  heapAfterGc: number;
  /** rss right after that gc. */
  rssAfterGc: number;
}
const samples: Sample[] = [];
let samplingMs = 0;

function sample(step: number): void {
  const t = performance.now();
  const u = process.memoryUsage();
  let heapAfterGc = NaN;
  let rssAfterGc = NaN;
  if (gc) {
    gc();
    gc(); // twice: ArrayBuffer memory is freed by a background sweeper, a collection behind
    const v = process.memoryUsage();
    heapAfterGc = v.heapUsed;
    rssAfterGc = v.rss;
  }
  samples.push({ step, heapUsed: u.heapUsed, rss: u.rss, external: u.external, arrayBuffers: u.arrayBuffers, heapAfterGc, rssAfterGc });
  samplingMs += performance.now() - t;
}

const STOP = Symbol('enough steps');
let lastLoss = NaN;
const t0 = performance.now();
if (mode === 'fit') {
  const ctl = new AbortController();
  let done = 0;
  try {
    await tg.fit(model, {
      train: loader,
      epochs: Math.ceil(steps / loader.length),
      optimizer: opt,
      progress: 'none',
      signal: ctl.signal,
      callbacks: {
        onBatchEnd: ({ loss }) => {
          done++;
          lastLoss = loss;
          if (done % every === 0) sample(done);
          if (done === steps) ctl.abort(STOP);
        },
      },
    });
  } catch (e) {
    if (e !== STOP) throw e;
  }
} else if (mode === 'predictAsync') {
  // Inference as a server runs it: each call copies the input and (when they changed) the
  // weights, and pins them while the kernels run on another thread; none of it may stay behind.
  const x = data.test.tensors[0].slice(0, batch);
  for (let done = 1; done <= steps; done++) {
    const out = await tg.predictAsync(model, x, { batchSize: batch });
    if (done % every === 0) {
      lastLoss = out.data[0]!;
      sample(done);
    }
  }
} else {
  let done = 0;
  outer: for (;;) {
    for (const [x, y] of loader) {
      opt.zeroGrad();
      const loss = tg.crossEntropy(model.forward(x), y);
      loss.backward();
      opt.step();
      done++;
      if (done % every === 0) {
        lastLoss = loss.item();
        sample(done);
        // A server's training loop would yield; this also lets finalizers and timers run.
        await yieldToEventLoop();
      }
      if (done === steps) break outer;
    }
  }
}
const trainSeconds = (performance.now() - t0 - samplingMs) / 1000;

const q = Math.floor(samples.length / 4);
const first = samples.slice(0, q);
const last = samples.slice(samples.length - q);
const rows: string[][] = [];
const keys: [keyof Sample, string][] = [
  ['heapUsed', 'heapUsed'],
  ['rss', 'rss'],
  ['external', 'external (ArrayBuffers etc.)'],
];
if (gc) keys.push(['heapAfterGc', 'heapUsed after gc()'], ['rssAfterGc', 'rss after gc()']);
let worst = 0;
for (const [k, label] of keys) {
  const xs = samples.map((s) => s[k]);
  const a = mean(first.map((s) => s[k]));
  const b = mean(last.map((s) => s[k]));
  const ratio = b / a;
  if (k !== 'external') worst = Math.max(worst, ratio);
  rows.push([label, mib(a), mib(b), fmt(ratio, 3), mib(Math.min(...xs)), mib(Math.max(...xs))]);
}

const what =
  mode === 'predictAsync'
    ? `${int(steps)} predictAsync calls (batch ${batch}, 784-512-256-10 MLP, digits)`
    : `${int(steps)} training steps (${mode === 'fit' ? 'fit()' : 'plain loop'}, batch ${batch}, 784-512-256-10 MLP, Adam, digits)`;
console.log(`\n### Memory over ${what}\n`);
console.log(table(['MiB', `first quarter (mean of ${q})`, 'last quarter (mean)', 'last/first', 'min', 'max'], rows));
console.log(
  `\n${fmt(steps / trainSeconds, 0)} ${mode === 'predictAsync' ? 'calls' : 'steps'}/s (${int((steps * batch) / trainSeconds)} samples/s) over ${fmt(trainSeconds, 1)} s, ` +
    `sampling every ${every} steps${gc ? ' with a gc() each (excluded from the time)' : ''}; ${mode === 'predictAsync' ? 'last output[0]' : 'final loss'} ${fmt(lastLoss, 4)}; ` +
    `worst last/first (heap, rss) ${fmt(worst, 3)}: ${worst <= 1.05 ? 'within' : 'NOT within'} 5%`,
);
console.log(machineLine(m));
if (opts.samples) {
  console.log('\nstep,heapUsed,rss,external,arrayBuffers,heapAfterGc,rssAfterGc');
  for (const s of samples) console.log([s.step, s.heapUsed, s.rss, s.external, s.arrayBuffers, s.heapAfterGc, s.rssAfterGc].join(','));
}
