import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { loadAddon } from '../src/backend/native.js';

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
