import { getBackend } from '../backend/index.js';
import type { AdamSlot } from '../backend/backend.js';
import type { Tensor } from '../tensor.js';
import { gradOf } from '../tensor.js';
import { requireKnownOptions } from '../ops/args.js';
import { allocFloat32, copyFloat32, freshFloat32, valueStr } from '../shape.js';
import {
  type ParamGroup,
  type ParamGroupInput,
  type ParamState,
  Optimizer,
  checkBoolean,
  checkNonNegative,
  checkNumber,
} from './optimizer.js';

/** Options of `new Adam(params, options)` and `new AdamW(params, options)`; defaults are PyTorch's. */
export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** Decay rates of the gradient's running mean and of its square (default [0.9, 0.999]). */
  betas?: [number, number];
  /** Added to the denominator for stability (default 1e-8). */
  eps?: number;
  /** Weight decay: L2 for Adam (default 0), decoupled for AdamW (default 1e-2). */
  weightDecay?: number;
  /** Use the AMSGrad variant (default false). */
  amsgrad?: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize?: boolean;
}

/** One Adam/AdamW parameter group: the options, all set. */
export interface AdamGroup extends ParamGroup {
  /** Decay rates of the running averages. */
  betas: [number, number];
  /** Added to the denominator for stability. */
  eps: number;
  /** Weight decay (L2 for Adam, decoupled for AdamW). */
  weightDecay: number;
  /** AMSGrad variant. */
  amsgrad: boolean;
  /** Maximize instead of minimize. */
  maximize: boolean;
}

const OPTIONS = ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad', 'maximize'] as const;

/** PyTorch's checks on Adam's and AdamW's hyper-parameters (with finiteness and types added). */
function validateAdam(g: AdamGroup, where: string): void {
  checkNonNegative(where, 'learning rate', g.lr);
  checkNonNegative(where, 'epsilon value', g.eps);
  if (!Array.isArray(g.betas) || g.betas.length !== 2) throw new Error(`${where}: betas must be a pair [beta1, beta2], got ${valueStr(g.betas)}`);
  checkNumber(where, 'beta1', g.betas[0], 'in [0, 1)', (x) => x >= 0 && x < 1);
  checkNumber(where, 'beta2', g.betas[1], 'in [0, 1)', (x) => x >= 0 && x < 1);
  checkNonNegative(where, 'weightDecay', g.weightDecay);
  checkBoolean(where, 'amsgrad', g.amsgrad);
  checkBoolean(where, 'maximize', g.maximize);
}

const ADAM_STATE = { buffers: ['expAvg', 'expAvgSq', 'maxExpAvgSq'], counters: ['step'], required: ['step', 'expAvg', 'expAvgSq'] };

/**
 * Shared body of Adam and AdamW: one backend adamSteps call per parameter group (the native
 * fused kernel, crossing into C++ and forking its threads once for all the group's parameters).
 */
abstract class AdamBase extends Optimizer<AdamGroup> {
  /** Whether weight decay is decoupled from the gradient (AdamW) or added to it (Adam). */
  protected abstract readonly decoupled: boolean;

  protected update(group: AdamGroup): void {
    const backend = getBackend();
    const { lr, betas, eps, weightDecay, amsgrad, maximize } = group;
    const hp = { lr, beta1: betas[0], beta2: betas[1], eps, weightDecay, decoupled: this.decoupled, amsgrad };
    const todo: { p: Tensor; g: Float32Array; s: ParamState; step: number }[] = [];
    // Every parameter's and gradient's memory: one group call needs them all apart.
    const buffers = new Set<ArrayBufferLike>();
    for (const p of group.params) {
      const grad = gradOf(p);
      if (grad === null) continue;
      const n = p.size;
      const s: ParamState = this.stateOf(p);
      if (!(s['expAvg'] instanceof Float32Array)) {
        s['step'] = 0;
        s['expAvg'] = allocFloat32('Adam', n);
        s['expAvgSq'] = allocFloat32('Adam', n);
        if (amsgrad) s['maxExpAvgSq'] = allocFloat32('Adam', n);
      }
      if (amsgrad && !(s['maxExpAvgSq'] instanceof Float32Array)) s['maxExpAvgSq'] = allocFloat32('Adam', n);
      const step = (s['step'] as number) + 1;
      s['step'] = step;
      todo.push({ p, g: grad._data, s, step });
      buffers.add(p._data.buffer).add(grad._data.buffer);
    }
    if (todo.length === 0) return;
    // The gradient each update reads, made just before that update: -g for maximize; a copy of a
    // gradient that views its own parameter (p.grad = p.detach()), which the native kernel refuses
    // since it writes p while reading g.
    const gradientOf = (t: (typeof todo)[number]): Float32Array => {
      if (maximize) {
        const neg = freshFloat32(t.g.length);
        backend.unary('neg', t.g, neg, 0, 0);
        return neg;
      }
      return t.g.buffer === t.p._data.buffer ? copyFloat32(t.g) : t.g;
    };
    const slotOf = (t: (typeof todo)[number], g: Float32Array): AdamSlot => ({
      p: t.p._write(this.name), // bumps the version: graphs that saved p refuse to backward
      g,
      m: t.s['expAvg'] as Float32Array,
      v: t.s['expAvgSq'] as Float32Array,
      vmax: amsgrad ? (t.s['maxExpAvgSq'] as Float32Array) : null,
      step: t.step,
    });
    if (buffers.size === 2 * todo.length) {
      // No parameter or gradient shares memory with another: no update can see another's effect,
      // so all of them go in one call (which refuses overlaps).
      backend.adamSteps(todo.map((t) => slotOf(t, gradientOf(t))), hp);
      return;
    }
    // Parameters or gradients that view one another's memory (a gradient that is another
    // parameter's view, two leaves over one buffer): one after the other, each reading what the
    // updates before it left, as PyTorch's per-parameter loop does.
    for (const t of todo) {
      const s = slotOf(t, gradientOf(t));
      backend.adamStep(s.p, s.g, s.m, s.v, s.vmax, { ...hp, step: s.step });
    }
  }
}

function adamDefaults(name: string, o: AdamOptions, wd: number): Omit<AdamGroup, 'params'> {
  requireKnownOptions(name, o, OPTIONS);
  return {
    lr: o.lr ?? 1e-3,
    // Copied, so the caller's array is not the group's; anything but an array is left for validateAdam to refuse.
    betas: Array.isArray(o.betas) ? ([...o.betas] as [number, number]) : (o.betas ?? [0.9, 0.999]),
    eps: o.eps ?? 1e-8,
    weightDecay: o.weightDecay ?? wd,
    amsgrad: o.amsgrad ?? false,
    maximize: o.maximize ?? false,
  };
}

/**
 * Adam (torch.optim.Adam): weight decay is L2, added to the gradient. Each step is one fused
 * kernel call per parameter group.
 * PyTorch: `torch.optim.Adam`.
 * @example
 * ```ts
 * const opt = new Adam(model.parameters(), { lr: 1e-3 });
 * for (const [x, y] of loader) {
 *   opt.zeroGrad();
 *   crossEntropy(model.forward(x), y).backward();
 *   opt.step();
 * }
 * ```
 */
export class Adam extends AdamBase {
  /** false: Adam's weight decay is L2. */
  protected readonly decoupled = false;
  /**
   * @param params - the tensors to optimize (`model.parameters()`), or parameter groups
   * @param options - lr, betas, eps…; see `AdamOptions`
   */
  constructor(params: Iterable<Tensor> | Iterable<ParamGroupInput<AdamGroup>>, options: AdamOptions = {}) {
    super('Adam', params, adamDefaults('Adam', options, 0), validateAdam, ADAM_STATE);
  }
}

/** AdamW (torch.optim.AdamW): decoupled weight decay, default 1e-2. PyTorch: `torch.optim.AdamW`. */
export class AdamW extends AdamBase {
  /** true: AdamW's weight decay is decoupled. */
  protected readonly decoupled = true;
  /**
   * @param params - the tensors to optimize (`model.parameters()`), or parameter groups
   * @param options - lr, betas, eps, weightDecay (default 1e-2)…; see `AdamOptions`
   */
  constructor(params: Iterable<Tensor> | Iterable<ParamGroupInput<AdamGroup>>, options: AdamOptions = {}) {
    super('AdamW', params, adamDefaults('AdamW', options, 1e-2), validateAdam, ADAM_STATE);
  }
}
