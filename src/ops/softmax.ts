import { record } from '../autograd.js';
import { getBackend } from '../backend/index.js';
import { normDim, splitAt } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { requireTensor } from './args.js';
import { empty } from './util.js';

function softmaxOp(name: string, x: Tensor, dim: number, log: boolean): Tensor {
  requireTensor(name, 'input', x);
  if (x.ndim === 0) throw new Error(`${name}: expected a tensor with at least one dim, got a 0-d tensor`);
  const d = normDim(name, dim, x.ndim);
  const [outer, n, inner] = splitAt(x.shape, d);
  const y = empty(x.shape, name);
  // An empty tensor returns at once: no backend call, which could loop over (or refuse) an outer
  // size like 2^50 in [2^50, 0].
  if (y.size > 0) getBackend().softmax(x._buf, outer, n, inner, y._buf, log);
  return record(y, name, [x], [y], (g) => {
    const gx = empty(x.shape, name);
    if (gx.size > 0) getBackend().softmaxGrad(y._buf, g._buf, outer, n, inner, gx._buf, log);
    return [gx];
  });
}

/**
 * exp(x) / Σ exp(x) along dim (default: the last), computed stably for large logits.
 * PyTorch: `torch.softmax`.
 * @param x - input (logits)
 * @param dim - the dim to normalise (default -1)
 */
export function softmax(x: Tensor, dim = -1): Tensor {
  return softmaxOp('softmax', x, dim, false);
}

/**
 * log(softmax(x)) along dim, as x − logsumexp(x): finite even where softmax underflows to 0.
 * PyTorch: `torch.log_softmax`.
 * @param x - input (logits)
 * @param dim - the dim to normalise (default -1)
 */
export function logSoftmax(x: Tensor, dim = -1): Tensor {
  return softmaxOp('logSoftmax', x, dim, true);
}
