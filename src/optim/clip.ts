import { getBackend } from '../backend/index.js';
import { shapeStr, valueStr } from '../shape.js';
import { Tensor, gradOf, tensorProblem } from '../tensor.js';

/**
 * The gradients of params, each checked against its parameter (a Tensor of the same shape with
 * intact data) before the caller touches any of them, so a bad one leaves all gradients as they were.
 */
function gradsOf(fn: string, params: Iterable<Tensor> | Tensor): Tensor[] {
  const iterable = params !== null && typeof params === 'object' && typeof (params as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function';
  if (!(params instanceof Tensor) && !iterable) {
    throw new TypeError(`${fn}: params must be a Tensor or an iterable of Tensors, got ${valueStr(params)}`);
  }
  const list: unknown[] = params instanceof Tensor ? [params] : Array.from(params);
  const out: Tensor[] = [];
  list.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new TypeError(`${fn}: params must be Tensors, got ${valueStr(p)} at index ${i}`);
    const grad: unknown = gradOf(p);
    if (grad === null) return;
    if (!(grad instanceof Tensor)) throw new Error(`${fn}: the gradient of parameter ${i} must be a Tensor or null, got ${valueStr(grad)}`);
    const pBad = tensorProblem(p);
    if (pBad !== null) throw new Error(`${fn}: parameter ${i}: ${pBad}`);
    const gBad = tensorProblem(grad);
    if (gBad !== null) throw new Error(`${fn}: the gradient of parameter ${i}: ${gBad}`);
    if (grad.shape.length !== p.shape.length || grad.shape.some((d, k) => d !== p.shape[k])) {
      throw new Error(`${fn}: the gradient of parameter ${i} has shape ${shapeStr(grad.shape)}, but the parameter has shape ${shapeStr(p.shape)}`);
    }
    out.push(grad);
  });
  return out;
}

/** Options of `clipGradNorm`. */
export interface ClipGradNormOptions {
  /** Throw if the total norm is NaN or infinite (PyTorch's error_if_nonfinite). Default false. */
  errorIfNonfinite?: boolean;
}

/**
 * Scales the gradients of params in place so that their total norm (the normType-norm of all
 * gradients taken together; Infinity for the max-abs norm) is at most maxNorm, as
 * torch.nn.utils.clip_grad_norm_: coefficient min(1, maxNorm / (total + 1e-6)).
 * Returns the total norm before clipping (0 when no parameter has a gradient).
 * PyTorch: `torch.nn.utils.clip_grad_norm_`.
 * @param params - the parameters whose gradients to clip (e.g. `model.parameters()`)
 * @param maxNorm - the largest total norm allowed (≥ 0)
 * @param normType - p of the p-norm (default 2; Infinity for max-abs)
 * @param options - `errorIfNonfinite`
 * @example
 * ```ts
 * loss.backward();
 * clipGradNorm(model.parameters(), 1.0);
 * opt.step();
 * ```
 */
export function clipGradNorm(
  params: Iterable<Tensor> | Tensor,
  maxNorm: number,
  normType = 2,
  options: ClipGradNormOptions = {},
): number {
  // A negative maxNorm would flip every gradient's sign (PyTorch does so silently).
  if (typeof maxNorm !== 'number' || Number.isNaN(maxNorm) || maxNorm < 0) {
    throw new Error(`clipGradNorm: maxNorm must be a number >= 0 (Infinity: no clipping), got ${valueStr(maxNorm)}`);
  }
  if (typeof normType !== 'number' || Number.isNaN(normType) || normType <= 0) {
    throw new Error(`clipGradNorm: normType must be a positive number or Infinity, got ${valueStr(normType)}`);
  }
  if (options === null || typeof options !== 'object') throw new Error(`clipGradNorm: options must be an object, got ${valueStr(options)}`);
  const errorIfNonfinite: unknown = options.errorIfNonfinite ?? false;
  if (typeof errorIfNonfinite !== 'boolean') {
    throw new Error(`clipGradNorm: options.errorIfNonfinite must be a boolean, got ${valueStr(errorIfNonfinite)}`);
  }
  const tensors = gradsOf('clipGradNorm', params);
  if (tensors.length === 0) return 0;
  const be = getBackend();
  let total: number;
  if (normType === Infinity) {
    total = 0;
    for (const g of tensors) {
      const m = be.normPart(g._buf, Infinity);
      if (m > total || Number.isNaN(m)) total = m;
      if (Number.isNaN(total)) break;
    }
  } else {
    let acc = 0;
    for (const g of tensors) acc += be.normPart(g._buf, normType);
    total = Math.pow(acc, 1 / normType);
  }
  total = Math.fround(total);
  if (errorIfNonfinite && !Number.isFinite(total)) {
    throw new Error(
      `clipGradNorm: the total norm of order ${normType} for gradients from \`parameters\` is non-finite, so it cannot be clipped`,
    );
  }
  const coef = Math.min(1, maxNorm / (total + 1e-6));
  if (coef < 1 || Number.isNaN(coef)) {
    // _write bumps each gradient's version: clipping writes them in place.
    // One float32 multiply per element, as PyTorch's grads.mul_(clip_coef).
    const c = new Float32Array([coef]);
    for (const t of tensors) {
      const g = t._write('clipGradNorm');
      be.binary('mul', g, t.shape, c, [], g, t.shape);
    }
  }
  return total;
}

/**
 * Clamps every gradient element of params into [-clipValue, clipValue], in place.
 * PyTorch: `torch.nn.utils.clip_grad_value_`.
 * @param params - the parameters whose gradients to clip
 * @param clipValue - the bound (≥ 0)
 */
export function clipGradValue(params: Iterable<Tensor> | Tensor, clipValue: number): void {
  // A negative clipValue would make the range empty and set every gradient to it (PyTorch does so silently).
  if (typeof clipValue !== 'number' || Number.isNaN(clipValue) || clipValue < 0) {
    throw new Error(`clipGradValue: clipValue must be a number >= 0, got ${valueStr(clipValue)}`);
  }
  const be = getBackend();
  // torch.clamp_(min=-clipValue, max=clipValue); _write bumps each gradient's version.
  for (const g of gradsOf('clipGradValue', params).map((t) => t._write('clipGradValue'))) be.unary('clamp', g, g, -clipValue, clipValue);
}
