import type { UnaryOp } from '../backend.js';
import { maskRelu, relu32 } from './relu.js';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const GELU_C = 0.044715;

/**
 * erf(x) from the Chebyshev fit of erfc (Numerical Recipes' erfcc), relative error < 1.2e-7
 * everywhere: at float32's own precision, which is all a float32 result can hold.
 */
export function erf(x: number): number {
  const r = erfcAbs(x);
  return x >= 0 ? 1 - r : r - 1;
}

/** erfc(x) from the same fit, with the same relative error: no cancellation where erf(x) → ±1. */
function erfc(x: number): number {
  const r = erfcAbs(x);
  return x >= 0 ? r : 2 - r;
}

/** erfc(|x|) (Numerical Recipes' erfcc). */
function erfcAbs(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  return (
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    )
  );
}

function sigmoid(x: number): number {
  // Two forms so exp never overflows.
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/**
 * x·Φ(x) with Φ(x) = erfc(−x/√2)/2: on the negative tail Φ is tiny and 1 + erf(x/√2) would lose
 * it to cancellation (gelu(−6) ≈ −5.9e-9, not 0). At ±Infinity the limits (−0 and Infinity, as
 * the native kernels give), not −Infinity·0 = NaN.
 */
function geluErf(v: number): number {
  if (v === -Infinity) return -0;
  return 0.5 * v * erfc(-v * INV_SQRT_2);
}

/** d/dx geluErf = Φ(x) + x·φ(x); at ±Infinity its limits 1 and 0. */
function geluErfGrad(v: number): number {
  if (v === Infinity || v === -Infinity) return v > 0 ? 1 : 0;
  return 0.5 * erfc(-v * INV_SQRT_2) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v);
}

/**
 * 0.5·x·(1 + tanh(u)) written as x·σ(2u): the same value without the cancellation of 1 + tanh(u)
 * for x below about −3, where tanh(u) → −1 (the native kernels use this form too).
 */
function geluTanh(v: number): number {
  if (v === Infinity || v === -Infinity) return v > 0 ? v : -0;
  return v * sigmoid(2 * SQRT_2_OVER_PI * (v + GELU_C * v * v * v));
}

/** d/dx of geluTanh: 0.5(1 + t) + 0.5x(1 − t²)c(1 + 3Gx²) with 0.5(1 + t) = σ(2u), 1 − t² = 4σ(2u)σ(−2u). */
function geluTanhGrad(v: number): number {
  if (v === Infinity || v === -Infinity) return v > 0 ? 1 : 0;
  const u2 = 2 * SQRT_2_OVER_PI * (v + GELU_C * v * v * v);
  const s = sigmoid(u2);
  return s + 2 * v * s * sigmoid(-u2) * SQRT_2_OVER_PI * (1 + 3 * GELU_C * v * v);
}

// Each op gets its own loop: a per-element closure or switch would dominate the cost.
export function unary(op: UnaryOp, x: Float32Array, out: Float32Array, p0: number, p1: number): void {
  const n = x.length;
  switch (op) {
    case 'neg': for (let i = 0; i < n; i++) out[i] = -x[i]!; return;
    case 'abs': for (let i = 0; i < n; i++) out[i] = Math.abs(x[i]!); return;
    case 'sqrt': for (let i = 0; i < n; i++) out[i] = Math.sqrt(x[i]!); return;
    case 'exp': for (let i = 0; i < n; i++) out[i] = Math.exp(x[i]!); return;
    case 'log': for (let i = 0; i < n; i++) out[i] = Math.log(x[i]!); return;
    case 'pow':
      if (p0 === 2) for (let i = 0; i < n; i++) out[i] = x[i]! * x[i]!;
      else for (let i = 0; i < n; i++) out[i] = Math.pow(x[i]!, p0);
      return;
    case 'clamp':
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        out[i] = v < p0 ? p0 : v > p1 ? p1 : v;
      }
      return;
    case 'relu':
      // PyTorch: NaN stays NaN (and -0 stays -0, as max(x, 0) returns x there).
      for (let i = 0; i < n; i++) out[i] = relu32(x[i]!);
      return;
    case 'leakyRelu':
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        out[i] = v > 0 ? v : v * p0;
      }
      return;
    case 'sigmoid': for (let i = 0; i < n; i++) out[i] = sigmoid(x[i]!); return;
    case 'tanh': for (let i = 0; i < n; i++) out[i] = Math.tanh(x[i]!); return;
    case 'geluTanh':
      for (let i = 0; i < n; i++) out[i] = geluTanh(x[i]!);
      return;
    case 'geluErf':
      for (let i = 0; i < n; i++) out[i] = geluErf(x[i]!);
      return;
  }
}

export function unaryGrad(
  op: UnaryOp,
  x: Float32Array,
  y: Float32Array,
  gy: Float32Array,
  gx: Float32Array,
  p0: number,
  p1: number,
): void {
  const n = x.length;
  switch (op) {
    case 'neg': for (let i = 0; i < n; i++) gx[i] = -gy[i]!; return;
    case 'abs':
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        gx[i] = v > 0 ? gy[i]! : v < 0 ? -gy[i]! : 0;
      }
      return;
    case 'sqrt': for (let i = 0; i < n; i++) gx[i] = gy[i]! / (2 * y[i]!); return;
    case 'exp': for (let i = 0; i < n; i++) gx[i] = gy[i]! * y[i]!; return;
    case 'log': for (let i = 0; i < n; i++) gx[i] = gy[i]! / x[i]!; return;
    case 'pow':
      for (let i = 0; i < n; i++) gx[i] = gy[i]! * p0 * Math.pow(x[i]!, p0 - 1);
      return;
    case 'clamp':
      // PyTorch passes the gradient where lo <= x <= hi (boundaries included).
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        gx[i] = v >= p0 && v <= p1 ? gy[i]! : 0;
      }
      return;
    // Passed through at NaN, as PyTorch's threshold_backward (x <= 0 is false there).
    case 'relu': maskRelu(x, gy, gx, n); return;
    case 'leakyRelu': for (let i = 0; i < n; i++) gx[i] = x[i]! > 0 ? gy[i]! : gy[i]! * p0; return;
    case 'sigmoid':
      for (let i = 0; i < n; i++) {
        const s = y[i]!;
        gx[i] = gy[i]! * s * (1 - s);
      }
      return;
    case 'tanh':
      for (let i = 0; i < n; i++) {
        const t = y[i]!;
        gx[i] = gy[i]! * (1 - t * t);
      }
      return;
    case 'geluTanh':
      for (let i = 0; i < n; i++) gx[i] = gy[i]! * geluTanhGrad(x[i]!);
      return;
    case 'geluErf':
      for (let i = 0; i < n; i++) gx[i] = gy[i]! * geluErfGrad(x[i]!);
      return;
  }
  void p1;
}
