// The suite's shared inputs, written once per run into a temporary folder that every child process
// (Node or Python) reads: the same rows, the same labels, the same initial weights for every system.
//   x.bin       float32 [rows, 784]: a seeded sample of the training images, pixels in [0, 1]
//   y.bin       int32 [rows]: their class indices
//   weights.bin float32: tensorgrad's mlp(784-512-256-10) after manualSeed(0), in stateDict order
//               (0.weight [512,784], 0.bias, 2.weight [256,512], 2.bias, 4.weight [10,256], 4.bias)
//   meta.json   rows, features, dims, paramShapes, dataset
// Batch i of size B is rows [(i·B) mod rows, … + B): rows is a multiple of 512, so no batch wraps.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIMS } from './common.js';

export interface Meta {
  rows: number;
  features: number;
  dims: number[];
  paramShapes: number[][];
  dataset: string;
}

export interface SharedData {
  meta: Meta;
  x: Float32Array;
  y: Int32Array;
  /** Parameters in stateDict order: weight [out, in], bias [out], per layer. */
  params: Float32Array[];
}

export const POOL_ROWS = 8192;

/** Loads the data with tensorgrad and writes the folder; returns the dataset's description. */
export async function prepareData(dir: string): Promise<string> {
  const tg = await import('../../src/index.js');
  let data;
  let dataset: string;
  try {
    data = tg.loadFashionMnist();
    dataset = 'Fashion-MNIST (training split)';
  } catch (e) {
    data = tg.loadDigits();
    dataset = `the embedded digits (Fashion-MNIST not available: ${(e as Error).message.split('. ')[0]})`;
  }
  const [xs, ys] = [data.train.tensors[0]!, data.train.tensors[1]!];
  const n = data.train.length;
  const rows = Math.min(POOL_ROWS, n - (n % 512));
  const perm = tg.randperm(n, new tg.Generator(0));
  const features = DIMS[0];
  const x = new Float32Array(rows * features);
  const y = new Int32Array(rows);
  const xd = xs.data;
  const yd = ys.data;
  for (let r = 0; r < rows; r++) {
    const src = perm[r]!;
    x.set(xd.subarray(src * features, (src + 1) * features), r * features);
    y[r] = yd[src]!;
  }
  tg.manualSeed(0);
  const model = tg.mlp({ inputs: DIMS[0], hidden: [DIMS[1], DIMS[2]], outputs: DIMS[3] });
  const state = model.stateDict();
  const paramShapes: number[][] = [];
  const parts: Float32Array[] = [];
  for (const t of Object.values(state)) {
    paramShapes.push([...t.shape]);
    parts.push(t.data);
  }
  const total = parts.reduce((s, p) => s + p.length, 0);
  const w = new Float32Array(total);
  let off = 0;
  for (const p of parts) {
    w.set(p, off);
    off += p.length;
  }
  writeFileSync(join(dir, 'x.bin'), x);
  writeFileSync(join(dir, 'y.bin'), y);
  writeFileSync(join(dir, 'weights.bin'), w);
  const meta: Meta = { rows, features, dims: [...DIMS], paramShapes, dataset };
  writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta));
  return dataset;
}

function f32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

export function loadShared(dir: string): SharedData {
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Meta;
  const x = f32(join(dir, 'x.bin'));
  const yb = readFileSync(join(dir, 'y.bin'));
  const y = new Int32Array(yb.buffer.slice(yb.byteOffset, yb.byteOffset + yb.byteLength));
  const w = f32(join(dir, 'weights.bin'));
  const params: Float32Array[] = [];
  let off = 0;
  for (const s of meta.paramShapes) {
    const size = s.reduce((a, b) => a * b, 1);
    params.push(w.slice(off, off + size));
    off += size;
  }
  return { meta, x, y, params };
}
