import { getBackend } from '../backend/index.js';
import type { Tensor } from '../tensor.js';
import { gradOf } from '../tensor.js';
import { type ParamGroup, type ParamGroupInput, Optimizer, checkBoolean, checkNonNegative, checkNumber } from './optimizer.js';
import { requireKnownOptions } from '../ops/args.js';
import { allocFloat32 } from '../shape.js';

/** Options of `new SGD(params, options)`; defaults are PyTorch's. */
export interface SGDOptions {
  /** Learning rate (required). */
  lr: number;
  /** Momentum factor (default 0: plain SGD). */
  momentum?: number;
  /** Dampening of the momentum (default 0). */
  dampening?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
  /** Nesterov momentum (default false; needs momentum > 0 and dampening 0). */
  nesterov?: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize?: boolean;
}

/** One SGD parameter group: the options, all set. */
export interface SGDGroup extends ParamGroup {
  /** Momentum factor. */
  momentum: number;
  /** Dampening of the momentum. */
  dampening: number;
  /** L2 penalty added to the gradient. */
  weightDecay: number;
  /** Nesterov momentum. */
  nesterov: boolean;
  /** Maximize instead of minimize. */
  maximize: boolean;
}

const OPTIONS = ['lr', 'momentum', 'dampening', 'weightDecay', 'nesterov', 'maximize'] as const;

/** PyTorch's checks on SGD's hyper-parameters (with finiteness and types added). */
function validateSGD(g: SGDGroup, where: string): void {
  checkNonNegative(where, 'learning rate', g.lr);
  checkNonNegative(where, 'momentum', g.momentum);
  checkNumber(where, 'dampening', g.dampening, '', () => true);
  checkNonNegative(where, 'weightDecay', g.weightDecay);
  checkBoolean(where, 'nesterov', g.nesterov);
  checkBoolean(where, 'maximize', g.maximize);
  if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) {
    throw new Error(`${where}: nesterov momentum requires a momentum > 0 and zero dampening (got momentum ${g.momentum}, dampening ${g.dampening})`);
  }
}

/**
 * Stochastic gradient descent with momentum, dampening, Nesterov and weight decay (torch.optim.SGD).
 * PyTorch: `torch.optim.SGD`.
 * @example
 * ```ts
 * const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
 * opt.zeroGrad(); loss.backward(); opt.step();
 * ```
 */
export class SGD extends Optimizer<SGDGroup> {
  /**
   * @param params - the tensors to optimize (`model.parameters()`), or parameter groups
   * @param options - lr (required), momentum…; see `SGDOptions`
   */
  constructor(params: Iterable<Tensor> | Iterable<ParamGroupInput<SGDGroup>>, options: SGDOptions) {
    if (options === undefined) throw new Error('SGD: lr is required');
    requireKnownOptions('SGD', options, OPTIONS);
    if (options.lr === undefined) throw new Error('SGD: lr is required');
    const defaults = {
      lr: options.lr,
      momentum: options.momentum ?? 0,
      dampening: options.dampening ?? 0,
      weightDecay: options.weightDecay ?? 0,
      nesterov: options.nesterov ?? false,
      maximize: options.maximize ?? false,
    };
    super('SGD', params, defaults, validateSGD, { buffers: ['momentumBuffer'], counters: [], required: [] });
  }

  protected update(group: SGDGroup): void {
    const { lr, momentum, dampening, weightDecay: wd, nesterov, maximize } = group;
    for (const p of group.params) {
      const grad = gradOf(p);
      if (grad === null) continue;
      const x = p._write('SGD'); // bumps the version: graphs that saved p refuse to backward
      const g = grad._data;
      const n = x.length;
      let buf: Float32Array | null = null;
      let first = false;
      if (momentum !== 0) {
        const s = this.stateOf(p);
        const b = s['momentumBuffer'];
        if (b instanceof Float32Array) buf = b;
        else {
          buf = s['momentumBuffer'] = allocFloat32('SGD', n);
          first = true;
        }
      }
      getBackend().sgdStep(x, g, buf, { lr, momentum, dampening, weightDecay: wd, nesterov, maximize, first });
    }
  }
}
