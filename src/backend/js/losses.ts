/**
 * Element loops of the losses that have no fused kernel of their own (nllLoss, bce,
 * bceWithLogits): forward values and gradients, in float64 with one float32 rounding per stored
 * value, as the TypeScript code in nn/losses.ts computed them before they became kernels. The
 * native backend runs the same operations in C++ (native/kernels/losses.cc).
 */

/** See Backend.nllLoss. */
export function nllLoss(
  logp: Float32Array,
  rows: number,
  classes: number,
  target: Float32Array,
  ignoreIndex: number,
  loss: Float32Array,
  stats: Float64Array,
): number {
  let sum = 0;
  let count = 0;
  for (let r = 0; r < rows; r++) {
    const t = target[r]!;
    if (t === ignoreIndex) {
      loss[r] = 0;
      continue;
    }
    if (!(Number.isInteger(t) && t >= 0 && t < classes)) return r;
    const v = -logp[r * classes + t]!;
    loss[r] = v;
    sum += Math.fround(v);
    count++;
  }
  stats[0] = sum;
  stats[1] = count;
  return -1;
}

/** See Backend.nllLossGrad. */
export function nllLossGrad(
  rows: number,
  classes: number,
  target: Float32Array,
  ignoreIndex: number,
  g: Float32Array | null,
  gScalar: number,
  gx: Float32Array,
): void {
  for (let r = 0; r < rows; r++) {
    const t = target[r]!;
    if (t === ignoreIndex) continue;
    gx[r * classes + t] = -(g === null ? gScalar : g[r]!);
  }
}

/** softplus(−x) = log(1 + e^(−x)), stable for any x. */
function softplusNeg(x: number): number {
  return Math.log1p(Math.exp(-Math.abs(x))) + Math.max(-x, 0);
}

/** See Backend.bceLoss. */
export function bceLoss(
  logits: boolean,
  x: Float32Array,
  y: Float32Array,
  posWeight: Float32Array | null,
  last: number,
  loss: Float32Array,
): number {
  const n = x.length;
  if (logits) {
    for (let i = 0; i < n; i++) {
      const xi = x[i]!;
      const yi = y[i]!;
      const w = posWeight === null ? 1 : posWeight[posWeight.length === 1 ? 0 : i % last]!;
      const l = 1 + (w - 1) * yi;
      loss[i] = (1 - yi) * xi + l * softplusNeg(xi);
    }
    return -1;
  }
  for (let i = 0; i < n; i++) {
    const p = x[i]!;
    if (!(p >= 0 && p <= 1)) return i;
    const yi = y[i]!;
    loss[i] = -(yi * Math.max(Math.log(p), -100) + (1 - yi) * Math.max(Math.log(1 - p), -100));
  }
  return -1;
}

/** See Backend.bceLossGrad. */
export function bceLossGrad(
  logits: boolean,
  x: Float32Array,
  y: Float32Array,
  posWeight: Float32Array | null,
  last: number,
  g: Float32Array,
  gx: Float32Array | null,
  gy: Float32Array | null,
): void {
  const n = x.length;
  for (let i = 0; i < n; i++) {
    const xi = x[i]!;
    const yi = y[i]!;
    const gi = g[i]!;
    if (logits) {
      const w = posWeight === null ? 1 : posWeight[posWeight.length === 1 ? 0 : i % last]!;
      if (gx !== null) {
        const l = 1 + (w - 1) * yi;
        const s = xi >= 0 ? 1 / (1 + Math.exp(-xi)) : Math.exp(xi) / (1 + Math.exp(xi));
        // d/dx = (1 − y) − l·(1 − σ(x))
        gx[i] = gi * (1 - yi - l * (1 - s));
      }
      // d/dy = −x + (posWeight − 1)·softplus(−x), PyTorch's log σ(−x) − posWeight·log σ(x).
      if (gy !== null) gy[i] = gi * (-xi + (w - 1) * softplusNeg(xi));
    } else {
      if (gx !== null) gx[i] = (gi * (xi - yi)) / Math.max((1 - xi) * xi, 1e-12);
      // d/dy = log(1 − p) − log(p), i.e. −logit(p) as PyTorch (unclamped: ±Infinity at p = 1 or 0).
      if (gy !== null) gy[i] = gi * (Math.log1p(-xi) - Math.log(xi));
    }
  }
}
