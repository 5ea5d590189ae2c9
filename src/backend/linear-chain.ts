import { givePooled } from '../pool.js';
import { allocFloat32 } from '../shape.js';
import type { Backend, ChainLayer } from './backend.js';

/**
 * Backend.linearChain as one `linear` call per layer, with an array between layers: the TS
 * backend's chain, the async-batch recorder's (which records each layer as its own command: the
 * arrays come from allocFloat32, so a batch being recorded owns them) and that of native binaries
 * built before the one-call entry. Nothing outside reaches the arrays between layers: each goes
 * to `done` once the layers have been called (the synchronous backends hand it straight back to
 * the buffer pool, the recorder once its batch has run), so the next call writes into warm memory.
 */
export function composedLinearChain(
  linear: Backend['linear'],
  done: (a: Float32Array) => void = givePooled,
): Backend['linearChain'] {
  return (rows, inF, x, layers, out) => {
    let input = x;
    let k = inF;
    const between: Float32Array[] = [];
    for (let i = 0; i < layers.length; i++) {
      const l: ChainLayer = layers[i]!;
      const y = i === layers.length - 1 ? out : allocFloat32('linearChain', rows * l.outF, false);
      linear(rows, l.outF, k, input, l.w, l.bias, l.relu, y, l.packed);
      if (y !== out) between.push(y);
      input = y;
      k = l.outF;
    }
    for (const a of between) done(a);
  };
}
