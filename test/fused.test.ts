import { expect, it } from 'vitest';
import type { AdamHyper } from '../src/backend/backend.js';
import { Generator } from '../src/random.js';
import { describeBackends } from './helpers/backends.js';

function rand(gen: Generator, n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (gen.nextDouble() * 2 - 1) * scale);
}

/** Cross-entropy of one row against target t (float64): Σ t'·(logsumexp(x) − x). */
function xentRef(x: ArrayLike<number>, t: number[], eps: number): number {
  const c = x.length;
  const mx = Math.max(...Array.from(x));
  const lse = mx + Math.log(Array.from(x).reduce((s, v) => s + Math.exp(v - mx), 0));
  return t.reduce((s, ti, i) => s + ((1 - eps) * ti + eps / c) * (lse - x[i]!), 0);
}

describeBackends('fused softmax cross-entropy', (backend) => {
  const cases = [
    { probs: false, eps: 0 },
    { probs: false, eps: 0.1 },
    { probs: true, eps: 0 },
    { probs: true, eps: 0.2 },
  ];
  for (const { probs, eps } of cases) {
    it(`${probs ? 'probability' : 'index'} targets, label smoothing ${eps}: loss and gradient vs float64`, () => {
      const gen = new Generator(3);
      const rows = 9;
      const classes = 13;
      const logits = rand(gen, rows * classes, 8);
      logits[5] = 1e4; // a huge logit must not overflow
      const targetRows: number[][] = [];
      const targets = new Float32Array(probs ? rows * classes : rows);
      for (let r = 0; r < rows; r++) {
        let row = new Array<number>(classes).fill(0);
        if (probs) {
          const raw = row.map(() => gen.nextDouble());
          const s = raw.reduce((a, b) => a + b, 0);
          row = raw.map((v) => Math.fround(v / s));
          row.forEach((v, c) => (targets[r * classes + c] = v));
        } else {
          const k = gen.randint(classes);
          row[k] = 1;
          targets[r] = k;
        }
        targetRows.push(row);
      }
      const rowLoss = new Float32Array(rows);
      const dlogits = new Float32Array(rows * classes);
      const total = backend().crossEntropy(logits, rows, classes, targets, probs, eps, -100, 1 / rows, null, rowLoss, dlogits);
      let want = 0;
      for (let r = 0; r < rows; r++) {
        const x = Array.from(logits.subarray(r * classes, (r + 1) * classes), Number);
        const l = xentRef(x, targetRows[r]!, eps);
        want += l;
        expect(Math.abs(rowLoss[r]! - l)).toBeLessThan(1e-5 * Math.max(1, Math.abs(l)));
        for (let c = 0; c < classes; c++) {
          // Central difference of the float64 loss: the gradient of the mean loss.
          const h = 1e-4 * Math.max(1, Math.abs(x[c]!));
          const up = x.slice();
          const dn = x.slice();
          up[c]! += h;
          dn[c]! -= h;
          const numeric = (xentRef(up, targetRows[r]!, eps) - xentRef(dn, targetRows[r]!, eps)) / (2 * h) / rows;
          expect(Math.abs(dlogits[r * classes + c]! - numeric)).toBeLessThan(1e-6);
        }
      }
      expect(Math.abs(total - want)).toBeLessThan(1e-5 * want);
    });
  }

  it('skips ignored rows, works in place, scales rows', () => {
    const gen = new Generator(4);
    const logits = rand(gen, 3 * 4, 3);
    const copy = Array.from(logits, Number);
    const rowLoss = new Float32Array(3);
    const rowScale = [1, 1, 2];
    const targets = [1, -100, 3];
    const total = backend().crossEntropy(logits, 3, 4, Float32Array.from(targets), false, 0, -100, 1, Float32Array.from(rowScale), rowLoss, logits);
    // Every element against float64: loss and (softmax − onehot)·rowScale per row, zeros for the ignored row.
    let want = 0;
    for (let r = 0; r < 3; r++) {
      const x = copy.slice(r * 4, r * 4 + 4);
      const onehot = [0, 1, 2, 3].map((c) => (c === targets[r] ? 1 : 0));
      const ignored = targets[r] === -100;
      const loss = ignored ? 0 : xentRef(x, onehot, 0);
      want += loss;
      expect(Math.abs(rowLoss[r]! - loss), `row ${r} loss`).toBeLessThanOrEqual(1e-6 * Math.max(1, loss));
      const mx = Math.max(...x);
      const z = x.reduce((s, v) => s + Math.exp(v - mx), 0);
      for (let c = 0; c < 4; c++) {
        const g = ignored ? 0 : (Math.exp(x[c]! - mx) / z - onehot[c]!) * rowScale[r]!;
        expect(Math.abs(logits[r * 4 + c]! - g), `dlogits[${r}, ${c}]`).toBeLessThanOrEqual(1e-6);
      }
    }
    expect(Math.abs(total - want)).toBeLessThanOrEqual(1e-6 * want);
  });
});

/** PyTorch's Adam (torch/optim/adam.py, single tensor) in float64. */
function adamRef(p: number[], grads: number[][], hp: Omit<AdamHyper, 'step'>): number[] {
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  const vmax = p.map(() => 0);
  const q = p.slice();
  grads.forEach((g, s) => {
    const t = s + 1;
    for (let i = 0; i < q.length; i++) {
      let gi = g[i]!;
      if (hp.weightDecay !== 0) {
        if (hp.decoupled) q[i] = q[i]! * (1 - hp.lr * hp.weightDecay);
        else gi += hp.weightDecay * q[i]!;
      }
      m[i] = hp.beta1 * m[i]! + (1 - hp.beta1) * gi;
      v[i] = hp.beta2 * v[i]! + (1 - hp.beta2) * gi * gi;
      vmax[i] = Math.max(vmax[i]!, v[i]!);
      const denom = Math.sqrt(hp.amsgrad ? vmax[i]! : v[i]!) / Math.sqrt(1 - hp.beta2 ** t) + hp.eps;
      q[i] = q[i]! - (hp.lr / (1 - hp.beta1 ** t)) * (m[i]! / denom);
    }
  });
  return q;
}

describeBackends('fused Adam / AdamW step', (backend) => {
  const variants: [string, Omit<AdamHyper, 'step'>][] = [
    ['Adam', { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, amsgrad: false }],
    ['Adam + L2 weight decay', { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, decoupled: false, amsgrad: false }],
    ['AdamW', { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-2, decoupled: true, amsgrad: false }],
    ['Adam amsgrad', { lr: 5e-3, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0, decoupled: false, amsgrad: true }],
  ];
  for (const [name, hp] of variants) {
    it(`${name}: 20 steps match a float64 PyTorch-formula reference`, () => {
      const gen = new Generator(8);
      const n = 37;
      const p = rand(gen, n);
      const grads = Array.from({ length: 20 }, () => Array.from(rand(gen, n, 2), Number));
      const want = adamRef(Array.from(p, Number), grads, hp);
      const m = new Float32Array(n);
      const v = new Float32Array(n);
      const vmax = new Float32Array(n);
      grads.forEach((g, s) => backend().adamStep(p, Float32Array.from(g), m, v, vmax, { ...hp, step: s + 1 }));
      for (let i = 0; i < n; i++) expect(Math.abs(p[i]! - want[i]!)).toBeLessThan(2e-6 * Math.max(1, Math.abs(want[i]!)));
    });

    it(`${name}: adamSteps over a group gives each parameter bitwise what adamStep gives it`, () => {
      const gen = new Generator(9);
      // Sizes on both sides of the native split threshold (65,536), an empty slot, and step
      // counts that differ between slots (a parameter that had no gradient for a while).
      const sizes = [70_003, 5, 0, 65_536, 131, 1];
      const make = (n: number) => ({ p: rand(gen, n), g: rand(gen, n, 3), m: rand(gen, n, 0.1), v: rand(gen, n, 0.01).map(Math.abs), vmax: rand(gen, n, 0.02).map(Math.abs) });
      const one = sizes.map(make);
      const many = one.map((s) => ({ p: s.p.slice(), g: s.g.slice(), m: s.m.slice(), v: s.v.slice(), vmax: s.vmax.slice() }));
      const before = one[0]!.p.slice();
      for (let round = 1; round <= 3; round++) {
        one.forEach((s, i) => backend().adamStep(s.p, s.g, s.m, s.v, hp.amsgrad ? s.vmax : null, { ...hp, step: round + i }));
        backend().adamSteps(
          many.map((s, i) => ({ ...s, vmax: hp.amsgrad ? s.vmax : null, step: round + i })),
          hp,
        );
      }
      // Index of the first element whose bits differ, -1 when none (toEqual on 70k elements is slow).
      const firstDiff = (x: Float32Array, y: Float32Array) => {
        if (x.length !== y.length) return -2;
        const a = new Uint32Array(x.buffer, x.byteOffset, x.length), b = new Uint32Array(y.buffer, y.byteOffset, y.length);
        for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
        return -1;
      };
      one.forEach((s, i) => {
        for (const k of ['p', 'm', 'v', 'vmax'] as const) expect(firstDiff(many[i]![k], s[k]), `slot ${i} ${k}`).toBe(-1);
      });
      // The update did move the parameters (the comparison above is not between untouched arrays).
      expect(firstDiff(one[0]!.p, before)).toBeGreaterThanOrEqual(0);
    });
  }
});
