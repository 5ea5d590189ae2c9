import { isGradEnabled } from '../autograd.js';
import type { Backend } from '../backend/backend.js';
import { getBackend } from '../backend/index.js';
import { onEmptyCache } from '../pool.js';
import type { Tensor } from '../tensor.js';

/**
 * Linear weights kept packed for inference. Without a graph (noGrad, predict, evaluation), a
 * product of enough rows reads its weight from a copy packed once in the layout the native GEMM
 * reads, instead of packing the weight again on every call (a quarter of a batch-32 forward, half
 * of a batch-9 one): what onnxruntime does when it creates a session.
 *
 * A weight is packed the second time a call meets it unchanged (one used once is not worth it).
 * A copy is used only while it holds the weight's values: it is remade when the weight's version
 * counter moved (every library write: optimizer steps, copy_, loadStateDict, markModified) or its
 * array changed, and never made for a weight whose array user code may hold (`.data` was read, or
 * it came from outside, as `new Tensor(array)`): such an array can change without the counter
 * knowing, and re-checking its values would cost as much as packing it. While a graph is recorded
 * (training) nothing is packed: the weights change every step.
 *
 * A copy takes at least as much memory as its weight (outputs are padded to the panel width); the
 * copies go with their weights, and emptyCache() drops them all (the next inference calls pack
 * again). TENSORGRAD_PACK_WEIGHTS=0 turns this off.
 */

interface Packed {
  /** The packed copy; null once emptyCache() dropped it. */
  array: Float32Array | null;
  /** What it was packed from: the weight's array and version, through this backend. */
  source: Float32Array;
  version: number;
  backend: Backend;
}

const cache = new WeakMap<Tensor, Packed>();
/** Packed copies of arrays that never change (the async path's snapshots of weights), by array. */
const frozenCache = new WeakMap<Float32Array, Packed>();
/** Every entry, weakly, so emptyCache() can drop their arrays (the WeakMap cannot be walked). */
const entries = new Set<WeakRef<Packed>>();
let pruneAt = 64;
let made = 0;

const enabled = process.env['TENSORGRAD_PACK_WEIGHTS'] !== '0';

// Entries stay listed (their weights may be met again and repacked); dead ones go in remember().
onEmptyCache(() => {
  for (const ref of entries) {
    const e = ref.deref();
    if (e !== undefined) e.array = null;
  }
});

/**
 * The packed copy of `weight` ([n, k], a Linear layer's) for a product of `rows` rows without a
 * graph; null where none is used: a graph is being recorded, the backend cannot pack, too few rows
 * to read it, the weight's array may be written behind the library's back, or this is the first
 * call to meet the weight at its current version. Packing a weight costs more than packing its
 * panels inside one product, so a weight is packed only once it is met again unchanged (a weight
 * computed afresh for every call, `linear(x, w.mul(s))`, never is).
 */
export function packedWeight(weight: Tensor, rows: number): Float32Array | null {
  if (!enabled) return null;
  const be = getBackend();
  if (be.packWeight === undefined || be.packedWeightMinRows === undefined || rows < be.packedWeightMinRows || isGradEnabled()) return null;
  const st = weight._storage;
  if (st.exposed) return null;
  return sighted(cache, weight, weight._buf, st.version, be, weight.shape[0]!, weight.shape[1]!);
}

/**
 * The packed array of map's entry for `key` when it was packed from `source` at `version` through
 * `be`; else, when the entry last saw that same source and version (second sight), packs it now;
 * else notes this sight (a new entry for a key met the first time).
 */
function sighted<K extends object>(
  map: WeakMap<K, Packed>,
  key: K,
  source: Float32Array,
  version: number,
  be: Backend,
  n: number,
  k: number,
): Float32Array | null {
  const hit = map.get(key);
  if (hit === undefined) {
    const entry: Packed = { array: null, source, version, backend: be };
    map.set(key, entry);
    remember(entry);
    return null;
  }
  const same = hit.version === version && hit.source === source && hit.backend === be;
  if (same && hit.array !== null) return hit.array;
  if (!same) {
    hit.array = null;
    hit.source = source;
    hit.version = version;
    hit.backend = be;
    return null;
  }
  hit.array = be.packWeight!(n, k, source);
  made++;
  return hit.array;
}

function remember(entry: Packed): void {
  entries.add(new WeakRef(entry));
  if (entries.size >= pruneAt) {
    for (const ref of entries) if (ref.deref() === undefined) entries.delete(ref);
    pruneAt = Math.max(64, 2 * entries.size);
  }
}

/**
 * The packed copy of `w` ([n, k]), an array whose values never change from now on (predictAsync's
 * snapshot of a weight, reused from call to call while the weight keeps its version), for a
 * product of `rows` rows through backend `be`; null where none is used. Packed on the calling (JS)
 * thread, at the second call to meet the snapshot (a snapshot used once is not worth packing).
 */
export function packedFrozen(w: Float32Array, n: number, k: number, rows: number, be: Backend): Float32Array | null {
  if (!enabled || be.packWeight === undefined || be.packedWeightMinRows === undefined || rows < be.packedWeightMinRows) return null;
  return sighted(frozenCache, w, w, 0, be, n, k);
}

/** @internal How many packed copies have been made in this process (tests). */
export function packedWeightsMade(): number {
  return made;
}
