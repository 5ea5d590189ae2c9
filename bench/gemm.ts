// npm run bench:gemm — SGEMM GFLOP/s: the native backend (through N-API, as users call it) at 1
// and 2 threads, the TypeScript backend, and numpy's float32 matmul (OpenBLAS) measured in the
// same run when python3 with numpy is present. Each round runs numpy then native per thread
// count, back to back; the table reports medians over rounds, and ratios native/numpy as the
// median of the per-round ratios (the machine is shared, so its speed drifts between rounds).
//
// Options: --rounds N (default 3), --reps N per measurement (default 5), --only SUBSTR.
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { gemm as jsGemm } from '../src/backend/js/gemm.js';
import { loadAddon } from '../src/backend/native.js';
import '../src/index.js'; // picks the backend, which installs the large-array advisor
import { allocFloat32 } from '../src/shape.js';

const { values: opts } = parseArgs({
  options: { rounds: { type: 'string', default: '3' }, reps: { type: 'string', default: '5' }, only: { type: 'string' } },
});
const rounds = Number(opts.rounds);
const reps = Number(opts.reps);

interface Shape {
  name: string;
  form: string;
  m: number;
  n: number;
  k: number;
}

// Kept in step with bench/numpy_gemm.py (its names key the join). The MLP layers are
// (batch, in, out); forward is X·Wᵀ (NT, W stored [out, in]) or X·W (NN), the weight gradient
// dW = Gᵀ·X (TN), the input gradient dX = G·W (NN).
const shapes: Shape[] = [];
for (const s of [64, 128, 256, 512, 1024, 2048]) shapes.push({ name: `sq${s}`, form: 'NN', m: s, n: s, k: s });
for (const [M, K, N] of [[128, 784, 512], [128, 512, 256], [128, 256, 10]] as const) {
  const tag = `mlp${M}x${K}x${N}`;
  shapes.push({ name: `${tag}_fwd_nt`, form: 'NT', m: M, n: N, k: K });
  shapes.push({ name: `${tag}_fwd_nn`, form: 'NN', m: M, n: N, k: K });
  shapes.push({ name: `${tag}_wgrad_tn`, form: 'TN', m: N, n: K, k: M });
  shapes.push({ name: `${tag}_igrad_nn`, form: 'NN', m: M, n: K, k: N });
}
const selected = shapes.filter((s) => !opts.only || s.name.includes(opts.only));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** GFLOP/s of fn: calls batched so one repetition lasts ≥ 20 ms, median of `reps`. */
function measure(s: Shape, fn: () => void): number {
  const flops = 2 * s.m * s.n * s.k;
  let t = performance.now();
  fn();
  const one = Math.max(performance.now() - t, 1e-4);
  const inner = Math.max(1, Math.ceil(20 / one));
  for (let i = 0; i < Math.max(3, inner); i++) fn();
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    t = performance.now();
    for (let i = 0; i < inner; i++) fn();
    times.push((performance.now() - t) / inner);
  }
  return flops / (median(times) * 1e-3) / 1e9;
}

// Allocated as the library allocates a tensor's storage (allocFloat32: arrays of 1 KiB and more
// start on a 64-byte boundary, and those of 2 MiB and more get transparent huge pages from the
// addon, as numpy's of 4 MiB and more do), not as bare Float32Arrays, so the native figures are
// what a.matmul(b) on tensors gets.
function operands(s: Shape): [Float32Array, Float32Array, Float32Array] {
  const a = allocFloat32('bench', s.m * s.k);
  for (let i = 0; i < a.length; i++) a[i] = ((i * 7919) % 1000) / 1000 - 0.5;
  const b = allocFloat32('bench', s.k * s.n);
  for (let i = 0; i < b.length; i++) b[i] = ((i * 104729) % 1000) / 1000 - 0.5;
  return [a, b, allocFloat32('bench', s.m * s.n)];
}

function numpy(threads: number): Map<string, number> | null {
  const env = { ...process.env };
  delete env['OPENBLAS_CORETYPE'];
  delete env['OPENBLAS_L2_SIZE'];
  const args = ['bench/numpy_gemm.py', '--threads', String(threads), '--reps', String(reps)];
  if (opts.only) args.push('--only', opts.only);
  const r = spawnSync('python3', args, { env, encoding: 'utf8' });
  if (r.status !== 0) return null;
  const out = new Map<string, number>();
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const j = JSON.parse(line) as { name: string; gflops: number };
    out.set(j.name, j.gflops);
  }
  return out;
}

const addon = loadAddon();
if (!addon) {
  console.error('native addon not found: run npm install (or npm run prebuild) first');
  process.exit(1);
}
addon.setIsa('auto');
const info = addon.info();
const load0 = loadavg()[0]!;
const nat: Record<number, Map<string, number[]>> = { 1: new Map(), 2: new Map() };
const np: Record<number, Map<string, number[]>> = { 1: new Map(), 2: new Map() };
const ratios: Record<number, Map<string, number[]>> = { 1: new Map(), 2: new Map() };
let numpyOk = true;
const push = (m: Map<string, number[]>, k: string, v: number) => m.set(k, [...(m.get(k) ?? []), v]);

for (let round = 0; round < rounds; round++) {
  for (const threads of [1, 2]) {
    const npRes = numpyOk ? numpy(threads) : null;
    if (npRes === null) numpyOk = false;
    addon.setNumThreads(threads);
    for (const s of selected) {
      const [a, b, c] = operands(s);
      const g = measure(s, () => addon.gemm(s.form[0] === 'T', s.form[1] === 'T', s.m, s.n, s.k, 1, a, b, 0, c, null, false));
      push(nat[threads]!, s.name, g);
      const p = npRes?.get(s.name);
      if (p !== undefined) {
        push(np[threads]!, s.name, p);
        push(ratios[threads]!, s.name, g / p);
      }
    }
  }
  process.stderr.write(`round ${round + 1}/${rounds} done\n`);
}

// The TypeScript backend (single-threaded; the two largest squares take too long to matter).
// Two passes, the first discarded: on the first shape V8 is still tiering the kernel up, which
// once read 0.2 GFLOP/s at 64³ against 7.4 warm (Zen 5).
const ts = new Map<string, number>();
for (let pass = 0; pass < 2; pass++) {
  for (const s of selected) {
    if (s.m * s.n * s.k > 512 ** 3) continue;
    const [a, b, c] = operands(s);
    ts.set(s.name, measure(s, () => jsGemm(s.form[0] === 'T', s.form[1] === 'T', s.m, s.n, s.k, 1, a, b, 0, c)));
  }
}

const f = (v: number | undefined, d = 1) => (v === undefined ? '—' : v.toFixed(d));
const med = (m: Map<string, number[]>, k: string) => (m.has(k) ? median(m.get(k)!) : undefined);
console.log(`native isa ${info.isa} (cpu ${info.detectedIsa}), ${rounds} rounds × ${reps} reps; load average ${load0.toFixed(2)} → ${loadavg()[0]!.toFixed(2)}${numpyOk ? '' : '; numpy not available'}\n`);
console.log('| shape | form | m×n×k | TS 1T | native 1T | numpy 1T | native/numpy 1T | native 2T | numpy 2T | native/numpy 2T |');
console.log('|---|---|---|--:|--:|--:|--:|--:|--:|--:|');
for (const s of selected) {
  console.log(
    `| ${s.name} | ${s.form} | ${s.m}×${s.n}×${s.k} | ${f(ts.get(s.name))} | ${f(med(nat[1]!, s.name))} | ${f(med(np[1]!, s.name))} | ${f(med(ratios[1]!, s.name), 2)} | ${f(med(nat[2]!, s.name))} | ${f(med(np[2]!, s.name))} | ${f(med(ratios[2]!, s.name), 2)} |`,
  );
}
