import { Tensor } from '../tensor.js';

function gradsOf(params: Iterable<Tensor> | Tensor): Float32Array[] {
  const list = params instanceof Tensor ? [params] : Array.from(params);
  const out: Float32Array[] = [];
  for (const p of list) if (p.grad !== null) out.push(p.grad.data);
  return out;
}

export interface ClipGradNormOptions {
  /** Throw if the total norm is NaN or infinite (PyTorch's error_if_nonfinite). Default false. */
  errorIfNonfinite?: boolean;
}

/**
 * Scales the gradients of params in place so that their total norm (the normType-norm of all
 * gradients taken together; Infinity for the max-abs norm) is at most maxNorm, as
 * torch.nn.utils.clip_grad_norm_: coefficient min(1, maxNorm / (total + 1e-6)).
 * Returns the total norm before clipping (0 when no parameter has a gradient).
 */
export function clipGradNorm(
  params: Iterable<Tensor> | Tensor,
  maxNorm: number,
  normType = 2,
  options: ClipGradNormOptions = {},
): number {
  if (typeof maxNorm !== 'number' || Number.isNaN(maxNorm)) throw new Error(`clipGradNorm: maxNorm must be a number, got ${String(maxNorm)}`);
  if (typeof normType !== 'number' || Number.isNaN(normType) || normType <= 0) {
    throw new Error(`clipGradNorm: normType must be a positive number or Infinity, got ${String(normType)}`);
  }
  const grads = gradsOf(params);
  if (grads.length === 0) return 0;
  let total: number;
  if (normType === Infinity) {
    total = 0;
    for (const g of grads) for (let i = 0; i < g.length; i++) {
      const a = Math.abs(g[i]!);
      if (a > total || Number.isNaN(a)) total = a;
    }
  } else {
    let acc = 0;
    for (const g of grads) {
      let s = 0;
      if (normType === 2) for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
      else if (normType === 1) for (let i = 0; i < g.length; i++) s += Math.abs(g[i]!);
      else for (let i = 0; i < g.length; i++) s += Math.pow(Math.abs(g[i]!), normType);
      acc += s;
    }
    total = Math.pow(acc, 1 / normType);
  }
  total = Math.fround(total);
  if (options.errorIfNonfinite && !Number.isFinite(total)) {
    throw new Error(
      `clipGradNorm: the total norm of order ${normType} for gradients from \`parameters\` is non-finite, so it cannot be clipped`,
    );
  }
  const coef = Math.min(1, maxNorm / (total + 1e-6));
  if (coef < 1 || Number.isNaN(coef)) for (const g of grads) for (let i = 0; i < g.length; i++) g[i] = g[i]! * coef;
  return total;
}

/** Clamps every gradient element of params into [-clipValue, clipValue], in place (torch.nn.utils.clip_grad_value_). */
export function clipGradValue(params: Iterable<Tensor> | Tensor, clipValue: number): void {
  if (typeof clipValue !== 'number' || Number.isNaN(clipValue)) throw new Error(`clipGradValue: clipValue must be a number, got ${String(clipValue)}`);
  // torch.clamp_(min=-clipValue, max=clipValue): min(max(v, -c), c)
  const lo = -clipValue;
  const hi = clipValue;
  for (const g of gradsOf(params)) for (let i = 0; i < g.length; i++) {
    let v = g[i]!;
    if (v < lo) v = lo;
    if (v > hi) v = hi;
    g[i] = v;
  }
}
