import type { AdamHyper, AdamSlot, RmspropHyper, SgdHyper } from '../backend.js';

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

/** adamStep for each slot in turn (one thread: nothing to fuse beyond the loop). */
export function adamSteps(slots: readonly AdamSlot[], hp: Omit<AdamHyper, 'step'>): void {
  for (const s of slots) adamStep(s.p, s.g, s.m, s.v, s.vmax, { ...hp, step: s.step });
}

/**
 * PyTorch's single-tensor Adam (torch/optim/adam.py) in its order of operations, but for one
 * thing, as the native kernels do: √v is multiplied by 1/√(1 − β₂ᵗ) instead of divided by its
 * inverse. A division and a square root per element already keep the divider busy; a second
 * division made the step 17% slower (535,818 parameters on the Intel Xeon VM: 2.57 → 2.18 ms),
 * and in float64 the two differ by at most an ulp of a double, which rarely reaches the float32
 * result (no element of those parameters differed after 20 steps; a review built inputs where p
 * moves by one float32 ulp).
 */
export function adamStep(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, vmax: Float32Array | null, hp: AdamHyper): void {
  const { lr, beta1, beta2, eps, weightDecay: wd, decoupled, amsgrad, step } = hp;
  const bc1 = 1 - Math.pow(beta1, step);
  const invBc2Sqrt = 1 / Math.sqrt(1 - Math.pow(beta2, step));
  const stepSize = lr / bc1;
  const decay = 1 - lr * wd;
  const n = p.length;
  if (wd === 0 && !amsgrad) {
    // The common case without the per-element option tests, each array read once: the same
    // operations in the same order as the general loop below, so the same bits.
    const omb1 = 1 - beta1;
    const omb2 = 1 - beta2;
    for (let i = 0; i < n; i++) {
      const gi = g[i]!;
      const m0 = m[i]!;
      const mi = m0 + (gi - m0) * omb1;
      const vi = v[i]! * beta2 + omb2 * gi * gi;
      m[i] = mi;
      v[i] = vi;
      p[i] = p[i]! - (stepSize * mi) / (Math.sqrt(vi) * invBc2Sqrt + eps);
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    let gi = g[i]!;
    if (wd !== 0) {
      if (decoupled) p[i] = p[i]! * decay;
      else gi += wd * p[i]!;
    }
    const mi = (m[i] = m[i]! + (gi - m[i]!) * (1 - beta1));
    const vi = (v[i] = v[i]! * beta2 + (1 - beta2) * gi * gi);
    let vv = vi;
    if (amsgrad && vmax) vv = vmax[i] = Math.max(vmax[i]!, vi);
    p[i] = p[i]! - (stepSize * mi) / (Math.sqrt(vv) * invBc2Sqrt + eps);
  }
}

/**
 * SGD (torch/optim/sgd.py): float64 arithmetic, rounded to float32 where PyTorch's float32 tensors
 * round (the native kernel performs the same operations, for the same bits).
 */
export function sgdStep(x: Float32Array, g: Float32Array, buf: Float32Array | null, hp: SgdHyper): void {
  const { lr, momentum, dampening, weightDecay: wd, nesterov, maximize, first } = hp;
  const sign = maximize ? -1 : 1;
  const n = x.length;
  for (let i = 0; i < n; i++) {
    let d = Math.fround(sign * g[i]!);
    if (wd !== 0) d = Math.fround(d + wd * x[i]!);
    if (buf !== null) {
      const bi = (buf[i] = first ? d : Math.fround(buf[i]! * momentum) + (1 - dampening) * d);
      d = nesterov ? d + momentum * bi : bi;
    }
    x[i] = x[i]! - lr * d;
  }
}

/** RMSprop (torch/optim/rmsprop.py), with sgdStep's rounding rule. */
export function rmspropStep(x: Float32Array, g: Float32Array, sq: Float32Array, ga: Float32Array | null, buf: Float32Array | null, hp: RmspropHyper): void {
  const { lr, alpha, eps, weightDecay: wd, momentum, maximize } = hp;
  const n = x.length;
  for (let i = 0; i < n; i++) {
    let gi = maximize ? -g[i]! : g[i]!;
    if (wd !== 0) gi = Math.fround(gi + wd * x[i]!);
    const si = (sq[i] = Math.fround(sq[i]! * alpha) + (1 - alpha) * gi * gi);
    let avg: number;
    if (ga !== null) {
      const gai = (ga[i] = Math.fround(ga[i]! * alpha) + (1 - alpha) * gi);
      avg = Math.sqrt(Math.fround(si - gai * gai));
    } else {
      avg = Math.sqrt(si);
    }
    avg = Math.fround(avg) + eps;
    if (buf !== null) {
      const bi = (buf[i] = Math.fround(buf[i]! * momentum) + gi / avg);
      x[i] = x[i]! - lr * bi;
    } else {
      x[i] = x[i]! - (lr * gi) / avg;
    }
  }
}
