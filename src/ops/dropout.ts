import { record } from '../autograd.js';
import { getBackend } from '../backend/index.js';
import { defaultGenerator } from '../random.js';
import type { Tensor } from '../tensor.js';
import { requireBoolean, requireTensor } from './args.js';
import { valueStr } from '../shape.js';
import { empty } from './util.js';

/**
 * Inverted dropout: in training, each element is zeroed with probability p and the survivors
 * are scaled by 1/(1 − p), so the expected value is unchanged; outside training, the identity.
 * The mask comes from the seeded library generator.
 * PyTorch: `torch.nn.functional.dropout`.
 * @param x - input
 * @param p - probability of zeroing an element, in [0, 1] (default 0.5)
 * @param training - apply dropout (default true); false returns x
 */
export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  requireTensor('dropout', 'input', x);
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new Error(`dropout: p must be a number in [0, 1], got ${valueStr(p)}`);
  requireBoolean('dropout', 'training', training);
  if (!training || p === 0) return x;
  const mask = empty(x.shape, 'dropout');
  const keep = 1 - p;
  const scale = keep === 0 ? 0 : 1 / keep;
  defaultGenerator._dropoutMask(mask._data, keep, scale);
  const y = empty(x.shape, 'dropout');
  if (y.size > 0) getBackend().binary('mul', x._buf, x.shape, mask._buf, mask.shape, y._buf, y.shape);
  return record(y, 'dropout', [x], [], (g) => {
    const gx = empty(x.shape, 'dropout');
    if (gx.size > 0) getBackend().binary('mul', g._buf, g.shape, mask._buf, mask.shape, gx._buf, gx.shape);
    return [gx];
  });
}
