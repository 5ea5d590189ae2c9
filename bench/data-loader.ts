// npm run bench:data — what loading costs next to training: a shuffled DataLoader batch (gathered
// into reused buffers, as fit() draws it; and fresh, as for…of draws it) against one training step
// of the 784-512-ReLU-256-ReLU-10 MLP (Adam, cross-entropy) at the same batch size, and fit()'s
// whole-epoch throughput against a bare hand-written loop over the same loader (fit adds metrics,
// progress bookkeeping and a yield to the event loop per step). Medians over rounds.
//
// Options: --data digits|fashion-mnist (default digits), --batch N (default 128), --rounds N (default 5).
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as tg from '../src/index.js';

const { values: opts } = parseArgs({
  options: { data: { type: 'string', default: 'digits' }, batch: { type: 'string', default: '128' }, rounds: { type: 'string', default: '5' } },
});
const batch = Number(opts.batch);
const rounds = Number(opts.rounds);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const data = opts.data === 'fashion-mnist' ? tg.loadFashionMnist() : tg.loadDigits();
const train = data.train;
const info = tg.backendInfo();
console.log(`CPU: ${cpus()[0]?.model ?? '?'} (${cpus().length} cores), load average ${loadavg()[0]!.toFixed(2)}`);
console.log(`backend: ${info.backend} ${info.isa}, ${info.threads} threads; data: ${data.name} (${train.length} rows); batch ${batch}\n`);

/** ms per batch for one pass over the loader, touching nothing but the batch. */
function drawMs(iterate: () => Iterable<[tg.Tensor, tg.Tensor]>): number {
  let n = 0;
  let sink = 0;
  const t = performance.now();
  for (const [x, y] of iterate()) {
    sink += x.data[0]! + y.data[0]!;
    n++;
  }
  if (Number.isNaN(sink)) console.log('');
  return (performance.now() - t) / n;
}

tg.manualSeed(0);
const model = tg.mlp({ inputs: 784, hidden: [512, 256], outputs: 10 });
const opt = new tg.Adam(model.parameters(), { lr: 1e-3 });
const loader = new tg.DataLoader(train, { batchSize: batch, shuffle: true, dropLast: true, generator: new tg.Generator(1) });
const [fx, fy] = [...new tg.DataLoader(train, { batchSize: batch })][0]!;

function stepMs(steps: number): number {
  const t = performance.now();
  for (let i = 0; i < steps; i++) {
    opt.zeroGrad();
    tg.crossEntropy(model.forward(fx), fy).backward();
    opt.step();
  }
  return (performance.now() - t) / steps;
}

/** Samples/s of a bare loop over the loader (the PyTorch-style loop, nothing else). */
function bareEpoch(): number {
  const t = performance.now();
  let n = 0;
  for (const [x, y] of loader.transientBatches()) {
    opt.zeroGrad();
    tg.crossEntropy(model.forward(x), y).backward();
    opt.step();
    n += x.shape[0]!;
  }
  return n / ((performance.now() - t) / 1000);
}

async function fitEpoch(): Promise<number> {
  const h = await tg.fit(model, { train: loader, epochs: 1, optimizer: opt, progress: 'none' });
  return h.epochs[0]!.samplesPerSecond;
}

stepMs(5);
bareEpoch();
const rows: Record<string, number[]> = { reused: [], fresh: [], views: [], step: [], bare: [], fit: [] };
const sequential = new tg.DataLoader(train, { batchSize: batch, dropLast: true });
for (let r = 0; r < rounds; r++) {
  rows['reused']!.push(drawMs(() => loader.transientBatches()));
  rows['fresh']!.push(drawMs(() => loader));
  rows['views']!.push(drawMs(() => sequential));
  rows['step']!.push(stepMs(20));
  // Alternate which goes first: whatever runs second in a round inherits the first's warm (or
  // tired) machine, which otherwise shows up as a difference between them.
  if (r % 2 === 0) {
    rows['bare']!.push(bareEpoch());
    rows['fit']!.push(await fitEpoch());
  } else {
    rows['fit']!.push(await fitEpoch());
    rows['bare']!.push(bareEpoch());
  }
}
const step = median(rows['step']!);
const line = (name: string, ms: number): string => `| ${name} | ${(ms * 1000).toFixed(0)} µs | ${((ms / step) * 100).toFixed(2)}% |`;
console.log('| per batch | time (median) | share of one training step |');
console.log('|---|--:|--:|');
console.log(line('shuffled batch, reused buffers (fit/evaluate)', median(rows['reused']!)));
console.log(line('shuffled batch, fresh tensors (for…of)', median(rows['fresh']!)));
console.log(line('sequential batch (views, no copy)', median(rows['views']!)));
console.log(`| training step (forward, backward, Adam) | ${(step * 1000).toFixed(0)} µs | 100% |`);
const bare = median(rows['bare']!);
const viaFit = median(rows['fit']!);
// The machine's speed drifts between rounds; the ratio is the median of the per-round ratios.
const ratio = median(rows['fit']!.map((f, i) => f / rows['bare']![i]!));
const spread = rows['fit']!.map((f, i) => f / rows['bare']![i]!);
console.log(
  `\nepoch throughput (median of ${rounds} rounds): bare loop ${Math.round(bare).toLocaleString('en-US')} samples/s, fit() ${Math.round(viaFit).toLocaleString('en-US')} samples/s; ` +
    `fit/bare per round: median ${ratio.toFixed(3)}, range ${Math.min(...spread).toFixed(3)}–${Math.max(...spread).toFixed(3)}`,
);
console.log(`load average after: ${loadavg()[0]!.toFixed(2)}`);
