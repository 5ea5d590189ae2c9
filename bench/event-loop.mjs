// node bench/event-loop.mjs — how long tensorgrad holds the event loop while it trains
// and predicts. perf_hooks.monitorEventLoopDelay({ resolution: 1 }) runs through each scenario:
//   idle         nothing but the monitor (the floor: timer slack and the machine's own noise)
//   fit          `await fit(...)` in this process: the 784-512-ReLU-256-ReLU-10 MLP, Adam lr 1e-3,
//                cross-entropy, batch 128, on the embedded digits (fit yields between steps, so
//                the loop is held for about one step at a time)
//   worker       trainInWorker(...) with the same model, data and options (the main thread only
//                receives progress messages), measured from the first step to the last epoch;
//                with its default kernel threads (one fewer than the cores, leaving one to the
//                event loop), and again with every core
//   predict      predict(model, x) on a batch of 256, then 2048, in a loop (awaiting setImmediate
//                between calls so the loop can run at all)
//   predictAsync await predictAsync(model, x) on the same batches, in a loop
// A 1 ms setInterval ticks throughout; its largest gap between ticks is reported too. For fit the
// step durations (time between consecutive steps' onBatchEnd; median and p99) are measured in the
// same run: issue 9 asks for p99 ≤ one step for fit and ≤ 5 ms for the worker. The slow steps are
// mostly V8 mark-compacts, which the per-step churn of fresh Float32Arrays sets off every few steps.
//
// Plain JavaScript on the built package (dist/: npm run build:ts first), run by plain node as a
// user's server would be: under tsx, the loader that a parent passes on to its workers added
// main-thread delay spikes of its own to the trainInWorker rows. Options: --epochs N (training,
// default 5 = 310 steps), --calls N (predictions per predict row, default 200), --reps N (runs
// per trainInWorker row, default 5), --quick.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setImmediate as yieldToEventLoop, setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import * as tg from '../dist/esm/index.js';
import { fmt, intFlag, machine, machineLine, median, quantile, table } from './embed-common.mjs';
const { values: opts } = parseArgs({
  options: { epochs: { type: 'string' }, calls: { type: 'string' }, reps: { type: 'string' }, quick: { type: 'boolean', default: false } },
});
const epochs = intFlag('epochs', opts.epochs, opts.quick ? 1 : 5);
const calls = intFlag('calls', opts.calls, opts.quick ? 30 : 200);
const reps = intFlag('reps', opts.reps, opts.quick ? 1 : 5);
const BATCH = 128;
const PREDICT_ROWS = 256;
const LARGE_ROWS = 2048;
const m = machine(tg.backendInfo());
const data = tg.loadDigits();
/**
* Runs `work` under the delay monitor and a 1 ms interval; delays in ms. The window is the whole
* of `work` unless `manual`, when work opens and closes it.
*/
async function measure(name, work, manual = false) {
  const h = monitorEventLoopDelay({ resolution: 1 });
  let last = NaN;
  let gap = 0;
  let on = false;
  let t0 = NaN;
  let seconds = NaN;
  const tick = setInterval(() => {
    const now = performance.now();
    if (on && !Number.isNaN(last))
      gap = Math.max(gap, now - last);
    last = now;
  }, 1);
  const w = {
    begin: () => {
      if (on)
        return;
      on = true;
      last = NaN;
      t0 = performance.now();
      h.enable();
    },
    end: () => {
      if (!on)
        return;
      h.disable();
      on = false;
      seconds = (performance.now() - t0) / 1000;
    },
  };
  if (!manual)
    w.begin();
  const r = await work(w);
  w.end();
  clearInterval(tick);
  const ms = (ns) => ns / 1e6;
  return {
    name,
    work: r.what,
    p50: ms(h.percentile(50)),
    p99: ms(h.percentile(99)),
    max: ms(h.max),
    tickGap: gap,
    unit: r.unit,
    unitP99: r.unitP99 ?? NaN,
    unitName: r.unitName,
    seconds,
  };
}
function freshModel() {
  tg.manualSeed(0);
  return tg.mlp({ inputs: 784, hidden: [512, 256], outputs: 10 });
}
const rows = [];
rows.push(await measure('idle', async () => {
  await sleep(opts.quick ? 300 : 2000);
  return { what: 'an idle loop', unit: NaN, unitName: '' };
}));
// Warm the kernels and the JIT outside the measured runs.
{
  const model = freshModel();
  await tg.fit(model, { train: data.train, batchSize: BATCH, epochs: 1, progress: 'none' });
}
rows.push(await measure('fit (same thread)', async () => {
  const model = freshModel();
  const loader = new tg.DataLoader(data.train, { batchSize: BATCH, shuffle: true, dropLast: true, generator: new tg.Generator(1) });
  const gaps = [];
  let prev = NaN;
  await tg.fit(model, {
    train: loader,
    epochs,
    optimizer: new tg.Adam(model.parameters(), { lr: 1e-3 }),
    progress: 'none',
    callbacks: {
      onEpochBegin: () => {
        prev = NaN; // an epoch boundary is not a step
      },
      onBatchEnd: () => {
        const now = performance.now();
        if (!Number.isNaN(prev))
          gaps.push(now - prev);
        prev = now;
      },
    },
  });
  return { what: `${epochs} epochs, ${epochs * loader.length} steps`, unit: median(gaps), unitP99: quantile(gaps, 0.99), unitName: 'step' };
}));
/**
* trainInWorker, measured from its first step event to its last epoch event: the training itself,
* not the worker's start (library and data loading) or the model rebuilt on this thread at the
* end, which the whole-call max reports apart.
*/
async function inWorker(threads) {
  let whole = 0;
  const row = await measure(threads === undefined ? 'trainInWorker' : `trainInWorker, ${threads} kernel thread${threads === 1 ? '' : 's'}`, async (w) => {
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    const r = await tg.trainInWorker({
      model: { inputs: 784, hidden: [512, 256], outputs: 10 },
      data: 'digits',
      fit: { epochs, batchSize: BATCH, optimizer: { type: 'adam', lr: 1e-3 }, validationSplit: 0 },
      seed: 0,
      ...(threads === undefined ? {} : { threads }),
      onProgress: (e) => {
        if (e.type === 'step')
          w.begin();
        if (e.type === 'epoch' && e.epoch === e.epochs)
          w.end();
      },
    });
    h.disable();
    whole = h.max / 1e6;
    const steps = Math.floor(data.train.length / BATCH);
    const perStep = (r.history.epochs.reduce((s, e) => s + e.seconds, 0) * 1000) / (steps * r.history.epochs.length);
    return { what: `${epochs} epochs, ${epochs * steps} steps`, unit: perStep, unitName: 'step, mean in the worker' };
  }, true);
  row.work += `; whole call incl. worker start and model rebuild: max delay ${fmt(whole, 1)} ms`;
  return row;
}
// The main thread's delay while a worker trains moves a lot from run to run on a small shared VM:
// each worker configuration runs `reps` times, alternating, and the run with the median p99 is
// reported (its name says of how many).
{
  const configs = m.threads > 1 ? [undefined, m.threads] : [undefined]; // the default, and every core
  const runs = configs.map(() => []);
  for (let r = 0; r < reps; r++) for (let i = 0; i < configs.length; i++) runs[i].push(await inWorker(configs[i]));
  for (const list of runs) {
    const sorted = [...list].sort((a, b) => a.p99 - b.p99);
    const pick = sorted[Math.floor(sorted.length / 2)];
    pick.name += ` (median p99 of ${list.length} runs: ${sorted.map((r) => fmt(r.p99, 1)).join(', ')})`;
    rows.push(pick);
  }
}
// predict against predictAsync at two batch sizes: the larger shows what the async path is for.
for (const [size, n] of [[PREDICT_ROWS, calls], [LARGE_ROWS, Math.max(3, Math.round(calls / 8))]]) {
  const model = freshModel();
  const x = tg.randn([size, 784]);
  tg.predict(model, x, { batchSize: size });
  await tg.predictAsync(model, x, { batchSize: size });
  rows.push(await measure('predict (sync)', async () => {
    const times = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      tg.predict(model, x, { batchSize: size });
      times.push(performance.now() - t);
      await yieldToEventLoop();
    }
    return { what: `${n} calls, batch ${size}`, unit: median(times), unitName: 'call' };
  }));
  rows.push(await measure('predictAsync', async () => {
    const times = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await tg.predictAsync(model, x, { batchSize: size });
      times.push(performance.now() - t);
    }
    return { what: `${n} calls, batch ${size}`, unit: median(times), unitName: 'call' };
  }));
}
console.log('\n### Event-loop delay while training and predicting (784-512-256-10 MLP, digits)\n');
console.log(table(['scenario', 'work', 'delay p50 (ms)', 'p99 (ms)', 'max (ms)', 'largest 1 ms-tick gap (ms)', 'step/call median (p99), ms', 'measured (s)'], rows.map((r) => [
  r.name,
  r.work,
  fmt(r.p50, 2),
  fmt(r.p99, 2),
  fmt(r.max, 1),
  fmt(r.tickGap, 1),
  Number.isNaN(r.unit) ? '' : `${fmt(r.unit, 2)}${Number.isNaN(r.unitP99) ? '' : ` (${fmt(r.unitP99, 2)})`} per ${r.unitName}`,
  fmt(r.seconds, 1),
])));
const fitRow = rows.find((r) => r.name.startsWith('fit'));
const workerRow = rows.find((r) => r.name.startsWith('trainInWorker ('));
console.log(`\nfit: delay p99 ${fmt(fitRow.p99, 2)} ms vs one step ${fmt(fitRow.unit, 2)} ms median, ${fmt(fitRow.unitP99, 2)} ms p99 ` +
  // The monitor's own resolution is 1 ms: a delay reads up to that much above the block it measures.
  `(${fitRow.p99 <= fitRow.unitP99 + 1 ? 'within' : 'NOT within'} one step, give or take the monitor's 1 ms resolution); ` +
  `trainInWorker: p99 ${fmt(workerRow.p99, 2)} ms (${workerRow.p99 <= 5 ? 'within' : 'NOT within'} 5 ms)`);
console.log(machineLine(m));
