// Adam, AdamW and SGD steps against float64 transcriptions of PyTorch's update rules
// (torch/optim/adam.py and sgd.py, single-tensor path), over several steps with changing
// gradients, for each option that changes the arithmetic: eps (large, so its sign shows),
// maximize, amsgrad (gradients that shrink, so the running max matters), weight decay (L2 or
// decoupled), momentum, dampening, Nesterov. Plus the state PyTorch keeps, infinities, and the
// hyper-parameter checks.
import { expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { describeBackends } from './helpers/backends.js';

interface AdamCfg {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  maximize: boolean;
  decoupled: boolean;
}

function adamRef(p0: number[], grads: number[][], c: AdamCfg): number[] {
  const p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  const vmax = p.map(() => 0);
  grads.forEach((gs, s) => {
    const t = s + 1;
    const bc1 = 1 - c.betas[0] ** t;
    const bc2 = 1 - c.betas[1] ** t;
    for (let i = 0; i < p.length; i++) {
      let g = c.maximize ? -gs[i]! : gs[i]!;
      if (c.weightDecay !== 0) {
        if (c.decoupled) p[i]! *= 1 - c.lr * c.weightDecay;
        else g += c.weightDecay * p[i]!;
      }
      m[i] = c.betas[0] * m[i]! + (1 - c.betas[0]) * g;
      v[i] = c.betas[1] * v[i]! + (1 - c.betas[1]) * g * g;
      vmax[i] = Math.max(vmax[i]!, v[i]!);
      const denom = Math.sqrt(c.amsgrad ? vmax[i]! : v[i]!) / Math.sqrt(bc2) + c.eps;
      p[i]! -= (c.lr / bc1) * (m[i]! / denom);
    }
  });
  return p;
}

interface SgdCfg {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  maximize: boolean;
}

function sgdRef(p0: number[], grads: number[][], c: SgdCfg): number[] {
  const p = [...p0];
  let buf: number[] | null = null;
  for (const gs of grads) {
    const d = gs.map((g, i) => (c.maximize ? -g : g) + c.weightDecay * p[i]!);
    let step = d;
    if (c.momentum !== 0) {
      buf = buf === null ? [...d] : buf.map((b, i) => c.momentum * b + (1 - c.dampening) * d[i]!);
      step = c.nesterov ? d.map((x, i) => x + c.momentum * buf![i]!) : buf;
    }
    for (let i = 0; i < p.length; i++) p[i]! -= c.lr * step[i]!;
  }
  return p;
}

function expectNear(actual: ArrayLike<number>, expected: number[], what: string, tol = 2e-5): void {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!(Math.abs(actual[i]! - expected[i]!) <= tol * Math.max(1, Math.abs(expected[i]!)))) {
      expect.fail(`${what}[${i}]: got ${actual[i]}, want ${expected[i]}`);
    }
  }
}

const P0 = [0.5, -1.25, 2, 0.125, -0.75];
// Large then small gradients (amsgrad's max then differs from v), with sign changes.
const GRADS = [
  [2, -3, 0.5, 4, -1],
  [1.5, -2, -0.5, 3, 1],
  [0.1, 0.2, -0.05, -0.3, 0.01],
  [-0.2, 0.1, 0.05, 0.2, -0.02],
  [0.05, -0.05, 0.01, 0.1, 0.03],
];

function run(opt: tg.Optimizer<tg.ParamGroup>, p: tg.Tensor): void {
  for (const g of GRADS) {
    p.grad = tg.tensor(g);
    opt.step();
  }
}

describeBackends('Adam and AdamW against a float64 reference', () => {
  const base: AdamCfg = { lr: 0.1, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, decoupled: false };
  const cases: [string, Partial<AdamCfg>][] = [
    ['defaults (lr 0.1)', {}],
    ['a large eps (its sign matters)', { eps: 0.5 }],
    ['maximize', { maximize: true }],
    ['maximize with eps and weight decay', { maximize: true, eps: 0.25, weightDecay: 0.1 }],
    ['amsgrad', { amsgrad: true }],
    ['amsgrad with a large eps', { amsgrad: true, eps: 0.3, betas: [0.5, 0.6] }],
    ['L2 weight decay', { weightDecay: 0.2 }],
    ['other betas', { betas: [0.5, 0.75] }],
    ['betas of zero', { betas: [0, 0] }],
  ];
  for (const [name, over] of cases) {
    for (const decoupled of [false, true]) {
      it(`${decoupled ? 'AdamW' : 'Adam'}: ${name}`, () => {
        const c = { ...base, ...over, decoupled };
        const p = tg.tensor(P0, { requiresGrad: true });
        const opts = { lr: c.lr, betas: c.betas, eps: c.eps, weightDecay: c.weightDecay, amsgrad: c.amsgrad, maximize: c.maximize };
        const opt = decoupled ? new tg.AdamW([p], opts) : new tg.Adam([p], opts);
        run(opt, p);
        expectNear(p.data, adamRef(P0, GRADS, c), name);
      });
    }
  }

  it('AdamW decays weights by lr·weightDecay (default 1e-2) before the Adam step', () => {
    const p = tg.tensor(P0, { requiresGrad: true });
    const opt = new tg.AdamW([p], { lr: 0.5 });
    run(opt, p);
    expectNear(p.data, adamRef(P0, GRADS, { ...base, lr: 0.5, weightDecay: 1e-2, decoupled: true }), 'AdamW defaults');
  });

  it('keeps PyTorch’s state: step, expAvg, expAvgSq, and maxExpAvgSq only with amsgrad', () => {
    for (const amsgrad of [false, true]) {
      const p = tg.tensor([1, 2], { requiresGrad: true });
      const opt = new tg.Adam([p], { amsgrad });
      p.grad = tg.tensor([0.5, -0.5]);
      opt.step();
      opt.step();
      const s = opt.stateDict().state[0]!;
      expect(Object.keys(s).sort()).toEqual(amsgrad ? ['expAvg', 'expAvgSq', 'maxExpAvgSq', 'step'] : ['expAvg', 'expAvgSq', 'step']);
      expect(s['step']).toBe(2);
    }
  });

  it('an infinite parameter stays infinite without weight decay (the decay term is skipped, not 0·∞)', () => {
    for (const Opt of [tg.Adam, tg.AdamW]) {
      const p = tg.tensor([Infinity, -Infinity, 1], { requiresGrad: true });
      const opt = new Opt([p], { weightDecay: 0 });
      p.grad = tg.tensor([1, 1, 1]);
      opt.step();
      expect(p.data[0]).toBe(Infinity);
      expect(p.data[1]).toBe(-Infinity);
      expect(Number.isFinite(p.data[2])).toBe(true);
    }
  });

  it('accepts the boundaries PyTorch accepts', () => {
    for (const Opt of [tg.Adam, tg.AdamW]) {
      const p = tg.tensor([1, 2], { requiresGrad: true });
      const opt = new Opt([p], { lr: 0, eps: 0, betas: [0, 0], weightDecay: 0 });
      p.grad = tg.tensor([1, -1]);
      opt.step();
      expect(Array.from(p.data)).toEqual([1, 2]);
    }
  });

  it('refuses hyper-parameters outside PyTorch’s ranges, naming the optimizer and the argument', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ lr: -1e-3 }, /learning rate|lr/],
      [{ lr: NaN }, /learning rate|lr/],
      [{ eps: -1e-8 }, /eps/],
      [{ betas: [1, 0.999] }, /beta/],
      [{ betas: [-0.1, 0.999] }, /beta/],
      [{ betas: [0.9, 1] }, /beta/],
      [{ betas: [0.9, -0.5] }, /beta/],
      [{ betas: [0.9, NaN] }, /beta/],
      [{ betas: [NaN, 0.9] }, /beta/],
      [{ betas: [0.9] }, /beta/],
      [{ betas: [0.9, 0.99, 0.999] }, /beta/],
      [{ betas: 'x' }, /beta/],
      [{ weightDecay: -0.1 }, /weight ?decay/i],
      [{ weightDecay: NaN }, /weight ?decay/i],
    ];
    for (const [Opt, name] of [
      [tg.Adam, 'Adam'],
      [tg.AdamW, 'AdamW'],
    ] as const) {
      for (const [opts, what] of bad) {
        const f = () => new Opt([tg.tensor([1], { requiresGrad: true })], opts as tg.AdamOptions);
        expect(f, `${name} ${JSON.stringify(opts)}`).toThrow(new RegExp(`^${name}\\b`));
        expect(f, `${name} ${JSON.stringify(opts)}`).toThrow(what);
      }
    }
  });
});

describeBackends('SGD against a float64 reference', () => {
  const base: SgdCfg = { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false };
  const cases: [string, Partial<SgdCfg>][] = [
    ['plain', {}],
    ['maximize', { maximize: true }],
    ['weight decay', { weightDecay: 0.3 }],
    ['momentum', { momentum: 0.9 }],
    ['momentum with dampening', { momentum: 0.8, dampening: 0.25 }],
    ['Nesterov', { momentum: 0.7, nesterov: true }],
    ['everything', { momentum: 0.5, weightDecay: 0.05, nesterov: true, maximize: true }],
  ];
  for (const [name, over] of cases) {
    it(name, () => {
      const c = { ...base, ...over };
      const p = tg.tensor(P0, { requiresGrad: true });
      run(new tg.SGD([p], c), p);
      expectNear(p.data, sgdRef(P0, GRADS, c), name, 1e-5);
    });
  }

  it('keeps a momentum buffer only when momentum is used (PyTorch’s state)', () => {
    for (const momentum of [0, 0.9]) {
      const p = tg.tensor([1, 2], { requiresGrad: true });
      const opt = new tg.SGD([p], { lr: 0.1, momentum });
      p.grad = tg.tensor([1, 1]);
      opt.step();
      const s = opt.stateDict().state[0] ?? {};
      expect('momentumBuffer' in s, `momentum ${momentum}`).toBe(momentum !== 0);
    }
  });

  it('an infinite parameter stays infinite without weight decay', () => {
    const p = tg.tensor([Infinity, -Infinity, 1], { requiresGrad: true });
    const opt = new tg.SGD([p], { lr: 0.1 });
    p.grad = tg.tensor([1, 1, 1]);
    opt.step();
    expect(Array.from(p.data)).toEqual([Infinity, -Infinity, Math.fround(0.9)]);
  });

  it('lr 0 is accepted and leaves the parameters alone', () => {
    const p = tg.tensor([1, 2], { requiresGrad: true });
    const opt = new tg.SGD([p], { lr: 0, momentum: 0.9 });
    p.grad = tg.tensor([1, -1]);
    opt.step();
    expect(Array.from(p.data)).toEqual([1, 2]);
  });

  it('refuses a missing lr and out-of-range hyper-parameters, naming SGD and the argument', () => {
    const p = () => [tg.tensor([1], { requiresGrad: true })];
    const missing: unknown[] = [undefined, {}, { momentum: 0.9 }];
    for (const o of missing) expect(() => new tg.SGD(p(), o as tg.SGDOptions), JSON.stringify(o)).toThrow(/^SGD\b.*lr/);
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ lr: -0.1 }, /learning rate|lr/],
      [{ lr: NaN }, /learning rate|lr/],
      [{ lr: 0.1, momentum: -0.5 }, /momentum/],
      [{ lr: 0.1, dampening: NaN }, /dampening/],
      [{ lr: 0.1, weightDecay: -1 }, /weight ?decay/i],
      [{ lr: 0.1, nesterov: true }, /nesterov/i],
      [{ lr: 0.1, nesterov: true, momentum: 0.9, dampening: 0.1 }, /nesterov/i],
    ];
    for (const [o, what] of bad) {
      expect(() => new tg.SGD(p(), o as unknown as tg.SGDOptions), JSON.stringify(o)).toThrow(/^SGD\b/);
      expect(() => new tg.SGD(p(), o as unknown as tg.SGDOptions), JSON.stringify(o)).toThrow(what);
    }
  });
});

describeBackends('Adam state dicts and mid-run changes', () => {
  function stepped(amsgrad: boolean): { p: tg.Tensor; opt: tg.Adam } {
    const p = tg.tensor(P0, { requiresGrad: true });
    const opt = new tg.Adam([p], { lr: 0.1, amsgrad });
    for (const g of GRADS.slice(0, 2)) {
      p.grad = tg.tensor(g);
      opt.step();
    }
    return { p, opt };
  }

  for (const amsgrad of [false, true]) {
    it(`a loaded state dict continues exactly where the original would (amsgrad ${amsgrad})`, () => {
      const a = stepped(amsgrad);
      const q = tg.tensor(Array.from(a.p.data), { requiresGrad: true });
      const b = new tg.Adam([q], { lr: 0.1, amsgrad });
      b.loadStateDict(a.opt.stateDict());
      for (const g of GRADS.slice(2)) {
        a.p.grad = tg.tensor(g);
        q.grad = tg.tensor(g);
        a.opt.step();
        b.step();
      }
      expect(Array.from(q.data)).toEqual(Array.from(a.p.data));
      expectNear(q.data, adamRef(P0, GRADS, { lr: 0.1, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad, maximize: false, decoupled: false }), 'resumed');
    });
  }

  it('refuses a state missing step, expAvg or expAvgSq, and buffers of the wrong size', () => {
    for (const key of ['step', 'expAvg', 'expAvgSq']) {
      const { opt } = stepped(false);
      const sd = opt.stateDict();
      delete sd.state[0]![key];
      expect(() => opt.loadStateDict(sd), key).toThrow(/^Adam\b/);
    }
    for (const key of ['expAvg', 'expAvgSq', 'maxExpAvgSq']) {
      const { opt } = stepped(true);
      const sd = opt.stateDict();
      sd.state[0]![key] = new Float32Array(2);
      expect(() => opt.loadStateDict(sd), key).toThrow(/^Adam\b/);
    }
    const { opt } = stepped(false);
    const sd = opt.stateDict();
    sd.state[0]!['step'] = 1.5;
    expect(() => opt.loadStateDict(sd)).toThrow(/^Adam\b/);
  });

  it('amsgrad switched on for a group mid-run keeps a running max from that step on', () => {
    const { p, opt } = stepped(false);
    opt.paramGroups[0]!.amsgrad = true;
    for (const g of GRADS.slice(2)) {
      p.grad = tg.tensor(g);
      opt.step();
    }
    // Reference: plain Adam for two steps, then the max of v starts from the third step's v.
    const c: AdamCfg = { lr: 0.1, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, decoupled: false };
    const want = [...P0];
    const m = P0.map(() => 0);
    const v = P0.map(() => 0);
    const vmax = P0.map(() => 0);
    GRADS.forEach((gs, s) => {
      const t = s + 1;
      for (let i = 0; i < want.length; i++) {
        m[i] = c.betas[0] * m[i]! + (1 - c.betas[0]) * gs[i]!;
        v[i] = c.betas[1] * v[i]! + (1 - c.betas[1]) * gs[i]! * gs[i]!;
        if (t > 2) vmax[i] = Math.max(vmax[i]!, v[i]!);
        const denom = Math.sqrt(t > 2 ? vmax[i]! : v[i]!) / Math.sqrt(1 - c.betas[1] ** t) + c.eps;
        want[i]! -= (c.lr / (1 - c.betas[0] ** t)) * (m[i]! / denom);
      }
    });
    expectNear(p.data, want, 'amsgrad from step 3');
  });

  it('unknown options and non-boolean flags are refused, naming the optimizer', () => {
    for (const [Opt, name] of [
      [tg.Adam, 'Adam'],
      [tg.AdamW, 'AdamW'],
    ] as const) {
      const p = () => [tg.tensor([1], { requiresGrad: true })];
      expect(() => new Opt(p(), { lr: 0.1, momentum: 0.9 } as tg.AdamOptions)).toThrow(new RegExp(`^${name}\\b`));
      expect(() => new Opt(p(), { maximize: 'yes' } as unknown as tg.AdamOptions)).toThrow(new RegExp(`^${name}\\b.*maximize`));
      expect(() => new Opt(p(), { amsgrad: 1 } as unknown as tg.AdamOptions)).toThrow(new RegExp(`^${name}\\b.*amsgrad`));
    }
  });
});
