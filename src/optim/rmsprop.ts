import { getBackend } from '../backend/index.js';
import type { Tensor } from '../tensor.js';
import { gradOf } from '../tensor.js';
import { type ParamGroup, type ParamGroupInput, Optimizer, checkBoolean, checkNonNegative } from './optimizer.js';
import { requireKnownOptions } from '../ops/args.js';
import { allocFloat32 } from '../shape.js';

/** Options of `new RMSprop(params, options)`; defaults are PyTorch's. */
export interface RMSpropOptions {
  /** Learning rate (default 1e-2). */
  lr?: number;
  /** Decay rate of the squared gradient's running mean (default 0.99). */
  alpha?: number;
  /** Added to the denominator for stability (default 1e-8). */
  eps?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
  /** Momentum factor (default 0). */
  momentum?: number;
  /** Normalise by the gradient's estimated variance instead of its second moment (default false). */
  centered?: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize?: boolean;
}

/** One RMSprop parameter group: the options, all set. */
export interface RMSpropGroup extends ParamGroup {
  /** Decay rate of the squared gradient's running mean. */
  alpha: number;
  /** Added to the denominator for stability. */
  eps: number;
  /** L2 penalty added to the gradient. */
  weightDecay: number;
  /** Momentum factor. */
  momentum: number;
  /** Centered variant. */
  centered: boolean;
  /** Maximize instead of minimize. */
  maximize: boolean;
}

const OPTIONS = ['lr', 'alpha', 'eps', 'weightDecay', 'momentum', 'centered', 'maximize'] as const;

/** PyTorch's checks on RMSprop's hyper-parameters (with finiteness and types added). */
function validateRMSprop(g: RMSpropGroup, where: string): void {
  checkNonNegative(where, 'learning rate', g.lr);
  checkNonNegative(where, 'epsilon value', g.eps);
  checkNonNegative(where, 'momentum value', g.momentum);
  checkNonNegative(where, 'weightDecay', g.weightDecay);
  checkNonNegative(where, 'alpha value', g.alpha);
  checkBoolean(where, 'centered', g.centered);
  checkBoolean(where, 'maximize', g.maximize);
}

/** RMSprop (torch.optim.RMSprop), with optional momentum and centering. PyTorch: `torch.optim.RMSprop`. */
export class RMSprop extends Optimizer<RMSpropGroup> {
  /**
   * @param params - the tensors to optimize (`model.parameters()`), or parameter groups
   * @param options - lr, alpha, eps…; see `RMSpropOptions`
   */
  constructor(params: Iterable<Tensor> | Iterable<ParamGroupInput<RMSpropGroup>>, options: RMSpropOptions = {}) {
    requireKnownOptions('RMSprop', options, OPTIONS);
    const defaults = {
      lr: options.lr ?? 1e-2,
      alpha: options.alpha ?? 0.99,
      eps: options.eps ?? 1e-8,
      weightDecay: options.weightDecay ?? 0,
      momentum: options.momentum ?? 0,
      centered: options.centered ?? false,
      maximize: options.maximize ?? false,
    };
    super('RMSprop', params, defaults, validateRMSprop, {
      buffers: ['squareAvg', 'momentumBuffer', 'gradAvg'],
      counters: ['step'],
      required: ['step', 'squareAvg'],
    });
  }

  protected update(group: RMSpropGroup): void {
    const { lr, alpha, eps, weightDecay: wd, momentum, centered, maximize } = group;
    for (const p of group.params) {
      const grad = gradOf(p);
      if (grad === null) continue;
      const n = p.size;
      const s = this.stateOf(p);
      if (!(s['squareAvg'] instanceof Float32Array)) {
        s['step'] = 0;
        s['squareAvg'] = allocFloat32('RMSprop', n);
      }
      if (momentum > 0 && !(s['momentumBuffer'] instanceof Float32Array)) s['momentumBuffer'] = allocFloat32('RMSprop', n);
      if (centered && !(s['gradAvg'] instanceof Float32Array)) s['gradAvg'] = allocFloat32('RMSprop', n);
      s['step'] = (s['step'] as number) + 1;
      const sq = s['squareAvg'] as Float32Array;
      const ga = centered ? (s['gradAvg'] as Float32Array) : null;
      const buf = momentum > 0 ? (s['momentumBuffer'] as Float32Array) : null;
      const x = p._write('RMSprop'); // bumps the version: graphs that saved p refuse to backward
      const g = grad._data;
      getBackend().rmspropStep(x, g, sq, ga, buf, { lr, alpha, eps, weightDecay: wd, momentum, maximize });
    }
  }
}
