import type { Tensor, TensorLike } from '../tensor.js';
import { valueStr } from '../shape.js';
import { requireFinite } from './args.js';
import { unaryOp } from './elementwise.js';

/** max(0, x), with relu(NaN) = NaN and a gradient passed through at NaN, as in PyTorch. */
export const relu = (x: TensorLike): Tensor => unaryOp('relu', x);
export const sigmoid = (x: TensorLike): Tensor => unaryOp('sigmoid', x);
export const tanh = (x: TensorLike): Tensor => unaryOp('tanh', x);

/** max(0, x) + negativeSlope·min(0, x); PyTorch's default slope is 0.01. NaN stays NaN. */
export function leakyRelu(x: TensorLike, negativeSlope = 0.01): Tensor {
  requireFinite('leakyRelu', 'negativeSlope', negativeSlope);
  return unaryOp('leakyRelu', x, negativeSlope);
}

/**
 * GELU, x·Φ(x). approximate = 'none' (default, as in PyTorch) uses the exact erf form; 'tanh'
 * uses 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), the form GPT-2 and BERT were trained with.
 */
export function gelu(x: TensorLike, approximate: 'none' | 'tanh' = 'none'): Tensor {
  if (approximate !== 'none' && approximate !== 'tanh') {
    throw new Error(`gelu: approximate must be 'none' or 'tanh', got ${valueStr(approximate)}`);
  }
  return unaryOp(approximate === 'tanh' ? 'geluTanh' : 'geluErf', x, 0, 0, 'gelu');
}
