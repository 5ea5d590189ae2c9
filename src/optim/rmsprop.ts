import type { Tensor } from '../tensor.js';
import { type ParamGroup, type ParamGroupInput, Optimizer, check, isNum } from './optimizer.js';

export interface RMSpropOptions {
  lr?: number;
  alpha?: number;
  eps?: number;
  weightDecay?: number;
  momentum?: number;
  centered?: boolean;
  maximize?: boolean;
}

export interface RMSpropGroup extends ParamGroup {
  alpha: number;
  eps: number;
  weightDecay: number;
  momentum: number;
  centered: boolean;
  maximize: boolean;
}

/** RMSprop (torch.optim.RMSprop), with optional momentum and centering. */
export class RMSprop extends Optimizer<RMSpropGroup> {
  constructor(params: Iterable<Tensor> | Iterable<ParamGroupInput<RMSpropGroup>>, options: RMSpropOptions = {}) {
    const defaults = {
      lr: options.lr ?? 1e-2,
      alpha: options.alpha ?? 0.99,
      eps: options.eps ?? 1e-8,
      weightDecay: options.weightDecay ?? 0,
      momentum: options.momentum ?? 0,
      centered: options.centered ?? false,
      maximize: options.maximize ?? false,
    };
    super('RMSprop', params, defaults, (g) => {
      check(isNum(g.lr) && g.lr >= 0, 'RMSprop', 'learning rate', g.lr, '>= 0');
      check(isNum(g.eps) && g.eps >= 0, 'RMSprop', 'epsilon value', g.eps, '>= 0');
      check(isNum(g.momentum) && g.momentum >= 0, 'RMSprop', 'momentum value', g.momentum, '>= 0');
      check(isNum(g.weightDecay) && g.weightDecay >= 0, 'RMSprop', 'weightDecay', g.weightDecay, '>= 0');
      check(isNum(g.alpha) && g.alpha >= 0, 'RMSprop', 'alpha value', g.alpha, '>= 0');
    });
  }

  protected update(group: RMSpropGroup): void {
    const { lr, alpha, eps, weightDecay: wd, momentum, centered, maximize } = group;
    for (const p of group.params) {
      if (p.grad === null) continue;
      const n = p.size;
      const s = this.stateOf(p);
      if (!(s['squareAvg'] instanceof Float32Array)) {
        s['step'] = 0;
        s['squareAvg'] = new Float32Array(n);
      }
      if (momentum > 0 && !(s['momentumBuffer'] instanceof Float32Array)) s['momentumBuffer'] = new Float32Array(n);
      if (centered && !(s['gradAvg'] instanceof Float32Array)) s['gradAvg'] = new Float32Array(n);
      s['step'] = (s['step'] as number) + 1;
      const sq = s['squareAvg'] as Float32Array;
      const ga = centered ? (s['gradAvg'] as Float32Array) : null;
      const buf = momentum > 0 ? (s['momentumBuffer'] as Float32Array) : null;
      const x = p.data;
      const g = p.grad.data;
      for (let i = 0; i < n; i++) {
        let gi = maximize ? -g[i]! : g[i]!;
        if (wd !== 0) gi = Math.fround(gi + wd * x[i]!);
        const si = (sq[i] = Math.fround(sq[i]! * alpha) + (1 - alpha) * gi * gi);
        let avg: number;
        if (ga !== null) {
          const gai = (ga[i] = Math.fround(ga[i]! * alpha) + (1 - alpha) * gi);
          avg = Math.sqrt(Math.fround(si - gai * gai));
        } else {
          avg = Math.sqrt(si);
        }
        avg = Math.fround(avg) + eps;
        if (buf !== null) {
          const bi = (buf[i] = Math.fround(buf[i]! * momentum) + gi / avg);
          x[i] = x[i]! - lr * bi;
        } else {
          x[i] = x[i]! - (lr * gi) / avg;
        }
      }
    }
  }
}
