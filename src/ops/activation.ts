import type { Tensor, TensorLike } from '../tensor.js';
import { valueStr } from '../shape.js';
import { requireFinite } from './args.js';
import { unaryOp } from './elementwise.js';

/**
 * max(0, x), with relu(NaN) = NaN and a gradient passed through at NaN, as in PyTorch.
 * PyTorch: `torch.nn.functional.relu`.
 * @param x - input
 */
export const relu = (x: TensorLike): Tensor => unaryOp('relu', x);
/**
 * 1 / (1 + e^−x) elementwise. PyTorch: `torch.sigmoid`.
 * @param x - input
 */
export const sigmoid = (x: TensorLike): Tensor => unaryOp('sigmoid', x);
/**
 * Hyperbolic tangent elementwise. PyTorch: `torch.tanh`.
 * @param x - input
 */
export const tanh = (x: TensorLike): Tensor => unaryOp('tanh', x);

/**
 * max(0, x) + negativeSlope·min(0, x); PyTorch's default slope is 0.01. NaN stays NaN.
 * PyTorch: `torch.nn.functional.leaky_relu`.
 * @param x - input
 * @param negativeSlope - slope for negative inputs (default 0.01)
 */
export function leakyRelu(x: TensorLike, negativeSlope = 0.01): Tensor {
  requireFinite('leakyRelu', 'negativeSlope', negativeSlope);
  return unaryOp('leakyRelu', x, negativeSlope);
}

/**
 * GELU, x·Φ(x). approximate = 'none' (default, as in PyTorch) uses the exact erf form; 'tanh'
 * uses 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), the form GPT-2 and BERT were trained with.
 * PyTorch: `torch.nn.functional.gelu`.
 * @param x - input
 * @param approximate - `'none'` (default) or `'tanh'`
 */
export function gelu(x: TensorLike, approximate: 'none' | 'tanh' = 'none'): Tensor {
  if (approximate !== 'none' && approximate !== 'tanh') {
    throw new Error(`gelu: approximate must be 'none' or 'tanh', got ${valueStr(approximate)}`);
  }
  return unaryOp(approximate === 'tanh' ? 'geluTanh' : 'geluErf', x, 0, 0, 'gelu');
}
