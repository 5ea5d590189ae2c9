import { getBackend } from './backend/index.js';
import { givePooled } from './pool.js';
import { onAlloc, shapeStr, valueStr } from './shape.js';
import type { Storage, Tensor } from './tensor.js';

/** A tensor a backward closure reads, as it was when the op ran. */
export interface SavedTensor {
  /** The tensor. */
  readonly tensor: Tensor;
  /** Its storage's version counter then. */
  readonly version: number;
  /** Its fingerprint then, when user code could already write its array; -1 otherwise. */
  readonly fingerprint: number;
}

/**
 * One recorded op: the tensors it read, the ones its backward reads (`saved`), and how to turn
 * the gradient of its output into gradients of those inputs (null for an input that needs none).
 * Backward closures run under noGrad.
 */
export interface GradNode {
  /** The op's name, e.g. 'matmul' (what `tensor.gradFn.op` shows). */
  readonly op: string;
  /** The op's tensor inputs, in order. */
  readonly inputs: readonly Tensor[];
  /** The tensors backward reads, with their versions when the op ran. */
  readonly saved: readonly SavedTensor[];
  /** The gradient of each input from the gradient of the output (null where none is needed). */
  readonly backward: (grad: Tensor) => readonly (Tensor | null)[];
}

let gradEnabled = true;

/** Whether ops are being recorded for backward (false inside noGrad). PyTorch: `torch.is_grad_enabled`. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/**
 * Runs fn without recording a graph (inference, optimizer updates). Synchronous only: an async
 * fn would leave recording off for unrelated code running while it awaits.
 * PyTorch: `torch.no_grad()`.
 * @param fn - synchronous work to run without recording
 * @returns fn's result
 * @example
 * ```ts
 * const preds = noGrad(() => model.forward(x).argmax(1));
 * ```
 */
export function noGrad<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new Error(`noGrad: fn must be a function, got ${valueStr(fn)}`);
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    const result = fn();
    if (result instanceof Promise) {
      throw new Error('noGrad: fn returned a Promise; noGrad only covers synchronous code');
    }
    return result;
  } finally {
    gradEnabled = prev;
  }
}

/**
 * Makes `out` the result of a differentiable op if grad mode is on and any input needs grad.
 * `saved` lists every tensor the backward closure reads (inputs, the output, targets...):
 * backward() refuses to run if one was written in place since. List only what the closure
 * really reads (add reads none of its operands), so nothing else is checked or fingerprinted.
 */
export function record(
  out: Tensor,
  op: string,
  inputs: readonly Tensor[],
  saved: readonly Tensor[],
  backward: (grad: Tensor) => readonly (Tensor | null)[],
): Tensor {
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    const entries: SavedTensor[] = [];
    // Stryker disable next-line EqualityOperator: saved[length] is undefined, whose indexOf is -1, so the extra pass adds nothing
    for (let i = 0; i < saved.length; i++) {
      const t = saved[i]!;
      // Stryker disable next-line ConditionalExpression: the dedupe only saves work; a duplicate entry checks the same tensor twice
      if (saved.indexOf(t) === i) entries.push(save(t));
    }
    out.gradFn = { op, inputs, saved: entries, backward };
  }
  return out;
}

/**
 * The version alone when user code has never held the array (every write to it then goes
 * through the library, which bumps the version); a fingerprint too when it has. A storage saved
 * unfingerprinted is flagged, so that exposing it later (the `data` getter) fingerprints it first.
 */
function save(t: Tensor): SavedTensor {
  const st = t._storage;
  if (!st.exposed) {
    st.savedUnexposed = true;
    return { tensor: t, version: st.version, fingerprint: -1 };
  }
  return { tensor: t, version: st.version, fingerprint: getBackend().fingerprint(t._data) };
}

/** How an error names a saved tensor: its role in the op whose backward needs it. */
function role(owner: Tensor, node: GradNode, t: Tensor): string {
  const k = node.inputs.indexOf(t);
  const what = t === owner ? `the output of ${node.op}` : k >= 0 ? `input ${k} of ${node.op}` : `a tensor that ${node.op}'s backward reads`;
  return `${what} (shape ${shapeStr(t.shape)})`;
}

const HINT = 'Modify tensors a graph needs only after backward(), or give the op a clone().';

/**
 * Throws if a tensor that `owner`'s grad function will read changed since the op ran. `full`
 * also checks detached buffers and fingerprints; during the walk only versions can move (the
 * library's own writes, e.g. accumulating into a .grad a later node reads).
 */
function checkSaved(owner: Tensor, node: GradNode, full: boolean): void {
  for (const s of node.saved) {
    const t = s.tensor;
    const st = t._storage;
    if (full) {
      if (t._freedByBackward) {
        throw new Error(
          `backward: ${role(owner, node, t)} was freed by an earlier backward() through this graph (a Sequential's intermediate activations and a cross-entropy loss's saved gradient are recycled once backward has used them); pass { retainGraph: true } to the first backward() to run backward through the same graph again`,
        );
      }
      try {
        t._check('backward');
      } catch (e) {
        throw new Error(`${(e as Error).message}: ${role(owner, node, t)} is needed for gradient computation`);
      }
    }
    if (st.version !== s.version) {
      throw new Error(
        `backward: one of the tensors needed for gradient computation has been modified by an in-place operation: ${role(owner, node, t)} is at version ${st.version}; expected version ${s.version}. ${HINT}`,
      );
    }
    if (!full) continue;
    let changed = false;
    if (s.fingerprint >= 0) changed = getBackend().fingerprint(t._data) !== s.fingerprint;
    // Saved before user code saw the array, which then happened at this same version (else the
    // version check above fired): compare with the fingerprint the `data` getter took then.
    else if (st.exposed && st.fpVersion === s.version) changed = getBackend().fingerprint(st.base) !== st.fp;
    if (changed) {
      throw new Error(
        `backward: one of the tensors needed for gradient computation has been modified: ${role(owner, node, t)} was written through .data after ${node.op} ran (its version, ${s.version}, did not change). ${HINT}`,
      );
    }
  }
}

/** Tensors reachable from root that need grad, inputs before the ops that read them. Iterative, so
 * a graph 100,000 ops deep does not overflow the stack. */
function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  // Stryker disable next-line ArrayDeclaration: the graph is acyclic, so no input path leads back to root
  const seen = new Set<Tensor>([root]);
  const stack: [Tensor, number][] = [[root, 0]];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    // Stryker disable next-line ArrayDeclaration: a placeholder input is not a tensor (requiresGrad undefined) and is skipped
    const inputs = t.gradFn ? t.gradFn.inputs : [];
    if (i < inputs.length) {
      top[1] = i + 1;
      const child = inputs[i]!;
      if (child.requiresGrad && !seen.has(child)) {
        seen.add(child);
        stack.push([child, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order;
}

/**
 * Reverse-mode differentiation from root. Leaves (tensors created by the user with requiresGrad)
 * accumulate into `.grad`, as do tensors that called retainGrad(); intermediate gradients are
 * dropped as soon as they have been propagated.
 */
export function runBackward(root: Tensor, grad: Tensor, add: (a: Tensor, b: Tensor) => Tensor, retainGraph = false): void {
  const order = topoOrder(root);
  // Every saved tensor is checked before any gradient is accumulated, so a refused backward
  // leaves every .grad as it was.
  for (const t of order) if (t.gradFn !== null) checkSaved(t, t.gradFn, true);
  // So are the tensors that will take a gradient: a disposed one (or one whose .grad was
  // disposed) would throw mid-walk, after other leaves had taken theirs.
  for (const t of order) {
    if (t.gradFn === null || t.retainsGrad) {
      t._check('backward');
      t._grad?._check('backward');
    }
  }
  const grads = new Map<Tensor, Tensor>([[root, grad]]);
  // A leaf whose .grad is empty takes its gradient tensor as it is instead of a copy (PyTorch's
  // AccumulateGrad "steals" it the same way), which saves an allocation and a copy the size of
  // every parameter per step. Only when nothing else can hold that buffer: it was allocated during
  // this walk (so no user code or saved tensor has it), it was handed to exactly one tensor, it is
  // the whole of its storage, and no backward closure exposed it.
  const fresh = new WeakSet<ArrayBufferLike>();
  const handedOut = new Map<Storage, number>();
  const life: Lifetimes = { allocated: [], pending: new Map(), kept: new Set(), released: new Set() };
  const stopListening = onAlloc((a) => {
    fresh.add(a.buffer);
    life.allocated.push(a);
  });
  const steals = (g: Tensor): boolean => {
    const st = g._storage;
    return handedOut.get(st) === 1 && !st.exposed && st.base.length === g.size && fresh.has(st.base.buffer);
  };
  const dead = (st: Storage): boolean => !st.exposed && fresh.has(st.base.buffer) && (life.pending.get(st.base) ?? 0) === 0;
  try {
    walk(order, grads, add, handedOut, steals, life, dead);
  } finally {
    stopListening();
  }
  // The activations a Sequential marked are read by nothing but this graph's backward closures,
  // all of which have run: their arrays go back to the pool for the next forward pass (without
  // this, every step's activations are fresh memory that the kernels page-fault in).
  // So do the tensors an op made for its own backward closure and marked (_graphPrivate: a loss's
  // gradient, computed with its forward), which nothing outside the closure reaches. Their node's
  // saved list is read first: freeing t drops its gradFn.
  if (!retainGraph) {
    for (const t of order) {
      const saved = t.gradFn?.saved;
      if (t._freeAfterBackward && t !== root && !t.retainsGrad && t.gradFn !== null) t._freeAfterUse();
      if (saved !== undefined) for (const s of saved) if (s.tensor._graphPrivate) s.tensor._freeAfterUse();
    }
  }
}

/**
 * What the walk knows about the arrays allocated during it, to recycle the ones it has finished
 * with (src/pool.ts): a gradient once the node that takes it has run, and a backward closure's
 * temporaries once it has returned. No user code runs during the walk, so an array allocated in
 * it that is no longer a pending gradient, nor some tensor's `.grad`, is unreachable.
 */
interface Lifetimes {
  /** Every array allocated so far in this walk, in order. */
  readonly allocated: Float32Array[];
  /** How many entries of the walk's gradient map use each array. */
  readonly pending: Map<Float32Array, number>;
  /** Arrays that became a `.grad` (stolen): never recycled. */
  readonly kept: Set<Float32Array>;
  /** Arrays already given back, so none is given back twice. */
  readonly released: Set<Float32Array>;
}

function giveBack(life: Lifetimes, a: Float32Array): void {
  if (life.kept.has(a) || life.released.has(a)) return;
  life.released.add(a);
  givePooled(a);
}

function walk(
  order: readonly Tensor[],
  grads: Map<Tensor, Tensor>,
  add: (a: Tensor, b: Tensor) => Tensor,
  handedOut: Map<Storage, number>,
  steals: (g: Tensor) => boolean,
  life: Lifetimes,
  dead: (st: Storage) => boolean,
): void {
  const { pending } = life;
  const hold = (t: Tensor): void => {
    const a = t._storage.base;
    pending.set(a, (pending.get(a) ?? 0) + 1);
  };
  // One use of t's array ends; recycle it when that was the last and nothing else can hold it.
  const letGo = (t: Tensor): void => {
    const st = t._storage;
    const a = st.base;
    const n = (pending.get(a) ?? 0) - 1;
    if (n > 0) pending.set(a, n);
    else {
      pending.delete(a);
      if (dead(st)) giveBack(life, a);
    }
  };
  hold(grads.get(order[order.length - 1]!)!);
  noGrad(() => {
    // Stryker disable next-line ArithmeticOperator: order[length] is undefined, which has no gradient and is skipped
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i]!;
      const g = grads.get(t);
      if (g === undefined) continue;
      grads.delete(t);
      if (t.gradFn === null || t.retainsGrad) {
        const steal = t.gradFn === null && steals(g);
        t._accumulateGrad(g, 'backward', steal);
        if (steal) life.kept.add(g._storage.base);
      }
      if (t.gradFn === null) {
        letGo(g);
        continue;
      }
      // Stryker disable next-line BooleanLiteral: no user code runs during the walk, so the full check (detached buffers, fingerprints) finds nothing the first pass did not
      checkSaved(t, t.gradFn, false);
      const firstTemp = life.allocated.length;
      const inGrads = t.gradFn.backward(g);
      const lastTemp = life.allocated.length;
      const inputs = t.gradFn.inputs;
      for (let j = 0; j < inputs.length; j++) {
        const x = inputs[j]!;
        const gx = inGrads[j];
        if (!x.requiresGrad || gx === null || gx === undefined) continue;
        const prev = grads.get(x);
        let next = gx;
        if (prev !== undefined) {
          next = add(prev, gx);
          hold(next);
          letGo(prev);
          // gx was never held: count it in and out, which recycles it unless it is pending elsewhere
          hold(gx);
          letGo(gx);
        } else hold(next);
        grads.set(x, next);
        handedOut.set(next._storage, (handedOut.get(next._storage) ?? 0) + 1);
      }
      letGo(g);
      // The closure's own temporaries (e.g. a masked copy of g): dead unless handed on above.
      for (let k = firstTemp; k < lastTemp; k++) {
        const a = life.allocated[k]!;
        if (!pending.has(a)) giveBack(life, a);
      }
    }
  });
  life.allocated.length = 0;
}
