// Run by test/worker-termination.test.ts in a child process, so that an abort (the bug this guards
// against: a C++ exception escaping the addon while a worker shuts down) fails the test instead of
// killing vitest.
//   node worker-stress.mjs terminate <mode> <n>  start n workers one after another, each running
//                                                <mode>, and terminate each one mid-op
//   node worker-stress.mjs exit                  start two computing workers, then process.exit(0)
// Modes: add (a broadcasting add in a loop), train (MLP training steps), load (terminate while the
// worker is still loading the library), predictAsync (async inference batches in flight).
import { Worker } from 'node:worker_threads';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const entry = JSON.stringify(join(dirname(fileURLToPath(import.meta.url)), '../../dist/cjs/index.js'));
const ready = `require('node:worker_threads').parentPort.postMessage('go');`;
const bodies = {
  add: `const tg = require(${entry}); const a = tg.randn([4, 4, 4, 4]); const b = tg.randn([4, 1, 4, 1]);
        ${ready} for (;;) a.add(b);`,
  train: `const tg = require(${entry});
          const m = new tg.Sequential(new tg.Linear(32, 64), new tg.ReLU(), new tg.Linear(64, 10));
          const opt = new tg.Adam(m.parameters());
          const x = tg.randn([64, 32]); const y = tg.tensor(Array.from({ length: 64 }, (_, i) => i % 10));
          ${ready}
          for (;;) { opt.zeroGrad(); tg.crossEntropy(m.forward(x), y).backward(); opt.step(); }`,
  load: `${ready} const tg = require(${entry}); for (;;) tg.randn([8, 8]).matmul(tg.randn([8, 8]));`,
  // predictAsync keeps batches in flight on libuv threads while the worker is torn down.
  predictAsync: `const tg = require(${entry}); const m = tg.mlp({ inputs: 256, hidden: [256, 128], outputs: 10 });
                 const x = tg.randn([256, 256]); let first = true;
                 (async () => { for (;;) { await Promise.all([m.predictAsync(x), m.predictAsync(x.neg()), tg.predictAsync(m, x, { batchSize: 64 })]);
                   if (first) { first = false; ${ready} } } })();`,
  matmul: `const tg = require(${entry}); const a = tg.randn([128, 128]);
           ${ready} for (;;) a.matmul(a).softmax(1).sum();`,
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function start(mode) {
  const w = new Worker(bodies[mode], { eval: true });
  const errors = [];
  w.on('error', (e) => errors.push(String(e)));
  const go = new Promise((r) => w.once('message', r));
  return { w, go, errors };
}

const [command, mode, count] = process.argv.slice(2);
if (command === 'terminate') {
  const n = Number(count);
    for (let i = 0; i < n; i++) {
    const { w, go, errors } = start(mode);
    await go;
    // 'load' workers spend their first ~100 ms in require() and loading the addon.
    await sleep(Math.random() * (mode === 'load' ? 100 : 4));
    const code = await w.terminate();
    if (errors.length > 0) throw new Error(`worker ${i} (${mode}) failed before termination: ${errors[0]}`);
    if (code !== 1) throw new Error(`worker ${i} (${mode}) exited with ${code}, expected 1 (terminated)`);
  }
  console.log(JSON.stringify({ terminated: n }));
} else if (command === 'exit') {
  const workers = [start('matmul'), start('add'), start('predictAsync')];
  await Promise.all(workers.map((s) => s.go));
  await sleep(Math.random() * 5);
  console.log(JSON.stringify({ exiting: true }));
  process.exit(0);
} else {
  throw new Error(`usage: worker-stress.mjs terminate <mode> <n> | exit`);
}
