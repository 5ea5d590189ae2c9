import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { loadAddon } from '../src/backend/native.js';
import { describeBackends } from './helpers/backends.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// A worker loads the built CommonJS package (npm test builds it first) and multiplies a seeded
// matrix pair; the same product is computed here for comparison.
const workerCode = `
const { parentPort, workerData } = require('node:worker_threads');
const tg = require(workerData.entry);
tg.manualSeed(workerData.seed);
const a = tg.randn([64, 96]);
const b = tg.randn([96, 48]);
let c;
for (let i = 0; i < 20; i++) c = a.matmul(b).relu().softmax(1);
parentPort.postMessage({ info: tg.backendInfo(), data: Array.from(c.data) });
`;

function runWorker(seed: number): Promise<{ info: tg.BackendInfo; data: number[] }> {
  return new Promise((ok, fail) => {
    const w = new Worker(workerCode, { eval: true, workerData: { entry: join(root, 'dist/cjs/index.js'), seed } });
    w.once('message', ok);
    w.once('error', fail);
    w.once('exit', (code) => code !== 0 && fail(new Error(`worker exited with ${code}`)));
  });
}

function expected(seed: number): number[] {
  tg.manualSeed(seed);
  const a = tg.randn([64, 96]);
  const b = tg.randn([96, 48]);
  return Array.from(a.matmul(b).relu().softmax(1).data);
}

describe('worker_threads', () => {
  const want = process.env['TENSORGRAD_BACKEND'] ?? (loadAddon() ? 'native' : 'js');

  it('the library loads and computes inside a worker', async () => {
    const r = await runWorker(1);
    expect(r.info.backend).toBe(want);
    expect(r.data).toEqual(expected(1));
  });

  it('four workers at once, each with its own addon instance', async () => {
    const results = await Promise.all([11, 12, 13, 14].map(runWorker));
    results.forEach((r, i) => {
      expect(r.info.backend).toBe(want);
      expect(r.data).toEqual(expected(11 + i));
    });
  });
});

// A tensor over a SharedArrayBuffer lets a worker read (or write) weights without copying them.
describeBackends('SharedArrayBuffer-backed tensors', () => {
  function shared(values: number[], offset = 0): Float32Array {
    const a = new Float32Array(new SharedArrayBuffer((values.length + offset) * 4), offset * 4, values.length);
    a.set(values);
    return a;
  }

  it('compute exactly like tensors over ordinary buffers, forward and backward', () => {
    tg.manualSeed(3);
    const xs = Array.from(tg.randn([6, 5]).data);
    const ws = Array.from(tg.randn([4, 5]).data);
    const run = (x: tg.Tensor, w: tg.Tensor) => {
      const y = x.matmul(w.T).relu().add(x.sum(1, true)).softmax(1);
      y.mul(tg.arange(4)).sum().backward();
      return { y: Array.from(y.data), g: Array.from(w.grad!.data) };
    };
    const plain = run(tg.tensor(xs).reshape(6, 5), tg.tensor(ws).reshape(4, 5).requiresGrad_());
    const sab = run(new tg.Tensor(shared(xs, 3), [6, 5]), new tg.Tensor(shared(ws, 1), [4, 5], true));
    expect(sab).toEqual(plain);
  });

  it('a worker reads the shared weights and writes its result into shared memory', async () => {
    const w = shared([1, 2, 3, 4, 5, 6]);
    const out = shared([0, 0]);
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const tg = require(workerData.entry);
      const w = new tg.Tensor(workerData.w, [2, 3]);
      workerData.out.set(w.sum(1).data);
      parentPort.postMessage('done');`;
    const worker = new Worker(code, { eval: true, workerData: { entry: join(root, 'dist/cjs/index.js'), w, out } });
    await new Promise((ok, fail) => {
      worker.once('message', ok);
      worker.once('error', fail);
    });
    await worker.terminate();
    expect(Array.from(out)).toEqual([6, 15]);
  });
});
