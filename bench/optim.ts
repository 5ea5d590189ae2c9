// npm run bench:optim — what one optimizer step costs, through the public API: `opt.step()` on the
// 784-512-ReLU-256-ReLU-10 MLP (535,818 parameters, 6 tensors) after a batch-128 backward (32 batches of random data in turn), for
// SGD (plain and with momentum), RMSprop (plain and centered with momentum), Adam and AdamW, on
// the active backend at 1 and 2 threads (native) or on the TypeScript backend
// (TENSORGRAD_BACKEND=js), next to the whole training step with that optimizer. The step's
// gradients are recomputed before every timed step (a real step reads gradients that the backward
// just wrote), and only the step is timed. Medians over rounds.
//
// Options: --rounds N (default 5), --steps N per round (default 200; 20 on the TS backend).
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as tg from '../src/index.js';

const { values: opts } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, steps: { type: 'string' } } });
const rounds = Number(opts.rounds);
const info0 = tg.backendInfo();
const steps = Number(opts.steps ?? (info0.backend === 'js' ? 20 : 200));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const optimizers: [string, (p: tg.Tensor[]) => tg.Optimizer][] = [
  ['SGD', (p) => new tg.SGD(p, { lr: 0.01 })],
  ['SGD momentum 0.9', (p) => new tg.SGD(p, { lr: 0.01, momentum: 0.9 })],
  ['RMSprop', (p) => new tg.RMSprop(p, { lr: 1e-3 })],
  ['RMSprop centered, momentum', (p) => new tg.RMSprop(p, { lr: 1e-3, centered: true, momentum: 0.9 })],
  ['Adam', (p) => new tg.Adam(p, { lr: 1e-3 })],
  ['AdamW', (p) => new tg.AdamW(p, { lr: 1e-3 })],
];

console.log(`CPU: ${cpus()[0]?.model ?? '?'} (${cpus().length} cores), load average ${loadavg()[0]!.toFixed(2)}`);
console.log(`backend: ${info0.backend} ${info0.isa}; ${rounds} rounds of ${steps} steps\n`);
console.log('| optimizer | threads | opt.step() µs | whole training step µs |');
console.log('|---|--:|--:|--:|');

const threadCounts = info0.backend === 'native' ? [1, 2] : [1];
tg.manualSeed(0);
// 32 batches of random inputs and labels, in turn: on a single batch the model soon fits it so
// closely that the loss and its gradients turn subnormal, and the backward pass slows down.
const X = tg.randn([32 * 128, 784]);
const Y = tg.tensor(Float32Array.from({ length: 32 * 128 }, () => Math.floor(Math.random() * 10)), [32 * 128]);
let batch = 0;
for (const threads of threadCounts) {
  tg.setNumThreads(threads);
  for (const [name, make] of optimizers) {
    tg.manualSeed(1);
    const model = tg.mlp({ inputs: 784, hidden: [512, 256], outputs: 10 });
    const opt = make(model.parameters());
    const backward = (): void => {
      const s = (batch++ % 32) * 128;
      const loss = tg.crossEntropy(model.forward(X.slice(s, s + 128)), Y.slice(s, s + 128));
      opt.zeroGrad();
      loss.backward();
    };
    const stepUs: number[] = [];
    const wholeUs: number[] = [];
    for (let i = 0; i < 20; i++) {
      backward();
      opt.step();
    }
    for (let r = 0; r < rounds; r++) {
      let inStep = 0;
      const t0 = performance.now();
      for (let i = 0; i < steps; i++) {
        backward();
        const t = performance.now();
        opt.step();
        inStep += performance.now() - t;
      }
      wholeUs.push(((performance.now() - t0) / steps) * 1000);
      stepUs.push((inStep / steps) * 1000);
    }
    console.log(`| ${name} | ${threads} | ${median(stepUs).toFixed(0)} | ${median(wholeUs).toFixed(0)} |`);
  }
}
