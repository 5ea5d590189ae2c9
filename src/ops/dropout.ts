import { record } from '../autograd.js';
import { getBackend } from '../backend/index.js';
import { defaultGenerator } from '../random.js';
import type { Tensor } from '../tensor.js';
import { empty } from './util.js';

/**
 * Inverted dropout: in training, each element is zeroed with probability p and the survivors
 * are scaled by 1/(1 − p), so the expected value is unchanged; outside training, the identity.
 * The mask comes from the seeded library generator.
 */
export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout: p must be in [0, 1], got ${p}`);
  if (!training || p === 0) return x;
  const mask = empty(x.shape);
  const keep = 1 - p;
  const scale = keep === 0 ? 0 : 1 / keep;
  for (let i = 0; i < mask.size; i++) mask.data[i] = defaultGenerator.nextFloat() < keep ? scale : 0;
  const y = empty(x.shape);
  getBackend().binary('mul', x.data, x.shape, mask.data, mask.shape, y.data, y.shape);
  return record(y, 'dropout', [x], (g) => {
    const gx = empty(x.shape);
    getBackend().binary('mul', g.data, g.shape, mask.data, mask.shape, gx.data, gx.shape);
    return [gx];
  });
}
