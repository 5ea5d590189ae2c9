import { getBackend } from '../backend/index.js';
import type { Tensor } from '../tensor.js';
import { type ParamGroup, type ParamGroupInput, type ParamState, Optimizer, check, isNum } from './optimizer.js';

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
  maximize?: boolean;
}

export interface AdamGroup extends ParamGroup {
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  maximize: boolean;
}

function validator(name: string): (g: AdamGroup) => void {
  return (g) => {
    check(isNum(g.lr) && g.lr >= 0, name, 'learning rate', g.lr, '>= 0');
    check(isNum(g.eps) && g.eps >= 0, name, 'epsilon value', g.eps, '>= 0');
    if (!Array.isArray(g.betas) || g.betas.length !== 2) throw new Error(`${name}: betas must be a pair [beta1, beta2], got ${String(g.betas)}`);
    check(isNum(g.betas[0]) && g.betas[0] >= 0 && g.betas[0] < 1, name, 'beta1', g.betas[0], 'in [0, 1)');
    check(isNum(g.betas[1]) && g.betas[1] >= 0 && g.betas[1] < 1, name, 'beta2', g.betas[1], 'in [0, 1)');
    check(isNum(g.weightDecay) && g.weightDecay >= 0, name, 'weightDecay', g.weightDecay, '>= 0');
  };
}

/** Shared body of Adam and AdamW: one backend adamStep call per parameter (the native fused kernel). */
abstract class AdamBase extends Optimizer<AdamGroup> {
  protected abstract readonly decoupled: boolean;

  protected update(group: AdamGroup): void {
    const backend = getBackend();
    const { lr, betas, eps, weightDecay, amsgrad, maximize } = group;
    for (const p of group.params) {
      if (p.grad === null) continue;
      const n = p.size;
      const s: ParamState = this.stateOf(p);
      if (!(s['expAvg'] instanceof Float32Array)) {
        s['step'] = 0;
        s['expAvg'] = new Float32Array(n);
        s['expAvgSq'] = new Float32Array(n);
        if (amsgrad) s['maxExpAvgSq'] = new Float32Array(n);
      }
      if (amsgrad && !(s['maxExpAvgSq'] instanceof Float32Array)) s['maxExpAvgSq'] = new Float32Array(n);
      const step = (s['step'] as number) + 1;
      s['step'] = step;
      let g = p.grad.data;
      if (maximize) {
        const neg = new Float32Array(n);
        for (let i = 0; i < n; i++) neg[i] = -g[i]!;
        g = neg;
      }
      backend.adamStep(
        p.data,
        g,
        s['expAvg'] as Float32Array,
        s['expAvgSq'] as Float32Array,
        amsgrad ? (s['maxExpAvgSq'] as Float32Array) : null,
        { lr, beta1: betas[0], beta2: betas[1], eps, weightDecay, decoupled: this.decoupled, amsgrad, step },
      );
    }
  }
}

function adamDefaults(o: AdamOptions, wd: number): Omit<AdamGroup, 'params'> {
  return {
    lr: o.lr ?? 1e-3,
    betas: o.betas ? [o.betas[0], o.betas[1]] : [0.9, 0.999],
    eps: o.eps ?? 1e-8,
    weightDecay: o.weightDecay ?? wd,
    amsgrad: o.amsgrad ?? false,
    maximize: o.maximize ?? false,
  };
}

/** Adam (torch.optim.Adam): weight decay is L2, added to the gradient. */
export class Adam extends AdamBase {
  protected readonly decoupled = false;
  constructor(params: Iterable<Tensor> | Iterable<ParamGroupInput<AdamGroup>>, options: AdamOptions = {}) {
    super('Adam', params, adamDefaults(options, 0), validator('Adam'));
  }
}

/** AdamW (torch.optim.AdamW): decoupled weight decay, default 1e-2. */
export class AdamW extends AdamBase {
  protected readonly decoupled = true;
  constructor(params: Iterable<Tensor> | Iterable<ParamGroupInput<AdamGroup>>, options: AdamOptions = {}) {
    super('AdamW', params, adamDefaults(options, 1e-2), validator('AdamW'));
  }
}
