import type { Tensor } from './tensor.js';

/**
 * One recorded op: the tensors it read and how to turn the gradient of its output into gradients
 * of those inputs (null for an input that needs none). Backward closures run under noGrad.
 */
export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  readonly backward: (grad: Tensor) => readonly (Tensor | null)[];
}

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/**
 * Runs fn without recording a graph (inference, optimizer updates). Synchronous only: an async
 * fn would leave recording off for unrelated code running while it awaits.
 */
export function noGrad<T>(fn: () => T): T {
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

/** Makes `out` the result of a differentiable op if grad mode is on and any input needs grad. */
export function record(
  out: Tensor,
  op: string,
  inputs: readonly Tensor[],
  backward: (grad: Tensor) => readonly (Tensor | null)[],
): Tensor {
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.gradFn = { op, inputs, backward };
  }
  return out;
}

/** Tensors reachable from root that need grad, inputs before the ops that read them. Iterative, so
 * a graph 100,000 ops deep does not overflow the stack. */
function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>([root]);
  const stack: [Tensor, number][] = [[root, 0]];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
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
export function runBackward(root: Tensor, grad: Tensor, add: (a: Tensor, b: Tensor) => Tensor): void {
  const order = topoOrder(root);
  const grads = new Map<Tensor, Tensor>([[root, grad]]);
  noGrad(() => {
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i]!;
      const g = grads.get(t);
      if (g === undefined) continue;
      grads.delete(t);
      if (t.gradFn === null || t.retainsGrad) t.accumulateGrad(g);
      if (t.gradFn === null) continue;
      const inGrads = t.gradFn.backward(g);
      const inputs = t.gradFn.inputs;
      for (let j = 0; j < inputs.length; j++) {
        const x = inputs[j]!;
        const gx = inGrads[j];
        if (!x.requiresGrad || gx === null || gx === undefined) continue;
        const prev = grads.get(x);
        grads.set(x, prev === undefined ? gx : add(prev, gx));
      }
    }
  });
}
