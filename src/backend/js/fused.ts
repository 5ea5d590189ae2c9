import type { AdamHyper } from '../backend.js';

export function crossEntropy(
  logits: Float32Array,
  rows: number,
  classes: number,
  targets: Float32Array,
  probs: boolean,
  labelSmoothing: number,
  ignoreIndex: number,
  scale: number,
  rowScale: Float32Array | null,
  rowLoss: Float32Array | null,
  dlogits: Float32Array | null,
): number {
  const eps = labelSmoothing;
  const t = new Float64Array(classes);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * classes;
    if (!probs && targets[r] === ignoreIndex) {
      if (rowLoss) rowLoss[r] = 0;
      if (dlogits) dlogits.fill(0, base, base + classes);
      continue;
    }
    // Smoothed target t' = (1 − ε)·t + ε/classes, and its total P (1 unless probability rows
    // do not sum to 1): the gradient of Σ t'·(lse − x) is P·softmax − t'.
    let P = 0;
    for (let c = 0; c < classes; c++) {
      const raw = probs ? targets[base + c]! : c === targets[r] ? 1 : 0;
      t[c] = (1 - eps) * raw + eps / classes;
      P += t[c]!;
    }
    let mx = -Infinity;
    for (let c = 0; c < classes; c++) mx = Math.max(mx, logits[base + c]!);
    let s = 0;
    for (let c = 0; c < classes; c++) s += Math.exp(logits[base + c]! - mx);
    const lse = mx + Math.log(s);
    let loss = 0;
    for (let c = 0; c < classes; c++) if (t[c] !== 0) loss += t[c]! * (lse - logits[base + c]!);
    total += loss;
    if (rowLoss) rowLoss[r] = loss;
    if (dlogits) {
      const k = scale * (rowScale ? rowScale[r]! : 1);
      for (let c = 0; c < classes; c++) dlogits[base + c] = (P * Math.exp(logits[base + c]! - lse) - t[c]!) * k;
    }
  }
  return total;
}

/** PyTorch's single-tensor Adam (torch/optim/adam.py) in its order of operations. */
export function adamStep(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, vmax: Float32Array | null, hp: AdamHyper): void {
  const { lr, beta1, beta2, eps, weightDecay: wd, decoupled, amsgrad, step } = hp;
  const bc1 = 1 - Math.pow(beta1, step);
  const bc2Sqrt = Math.sqrt(1 - Math.pow(beta2, step));
  const stepSize = lr / bc1;
  const decay = 1 - lr * wd;
  for (let i = 0; i < p.length; i++) {
    let gi = g[i]!;
    if (wd !== 0) {
      if (decoupled) p[i] = p[i]! * decay;
      else gi += wd * p[i]!;
    }
    const mi = (m[i] = m[i]! + (gi - m[i]!) * (1 - beta1));
    const vi = (v[i] = v[i]! * beta2 + (1 - beta2) * gi * gi);
    let vv = vi;
    if (amsgrad && vmax) vv = vmax[i] = Math.max(vmax[i]!, vi);
    p[i] = p[i]! - (stepSize * mi) / (Math.sqrt(vv) / bc2Sqrt + eps);
  }
}
