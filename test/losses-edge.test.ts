// Loss functions at their edges, against float64 references written out here: ignored rows in
// nllLoss/crossEntropy (forward, mean count and backward), bceWithLogits at huge logits (the
// stable branch), bce at probabilities 0 and 1, posWeight, and the argument checks.
import { expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { describeBackends } from './helpers/backends.js';

function expectNear(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rtol = 1e-5): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= rtol * Math.max(1, Math.abs(e)))) expect.fail(`${what}[${i}]: got ${a}, want ${e}`);
  }
}

const softplus = (x: number): number => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const sigmoid = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

const LOGP = [
  [-0.5, -1.5, -2.5],
  [-3, -0.25, -1],
  [-0.75, -2, -0.125],
  [-1.25, -1.75, -0.5],
];

describeBackends('nllLoss', () => {
  it('skips rows whose target is ignoreIndex (default -100) in the value, the mean count and the gradient', () => {
    const target = tg.tensor([1, -100, 2, 0]);
    const picked = [-1.5, -0.125, -1.25];
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      const x = tg.tensor(LOGP, { requiresGrad: true });
      const loss = tg.nllLoss(x, target, { reduction });
      expect(loss.gradFn?.op).toBe('nllLoss');
      if (reduction === 'none') {
        expect(Array.from(loss.data)).toEqual([1.5, 0, 0.125, 1.25]);
        loss.backward(tg.tensor([2, 3, 4, 5]));
        expect(x.grad!.toArray()).toEqual([[0, -2, 0], [0, 0, 0], [0, 0, -4], [-5, 0, 0]]);
      } else {
        const s = -picked.reduce((a, b) => a + b, 0);
        expect(loss.item()).toBeCloseTo(reduction === 'mean' ? s / 3 : s, 6);
        loss.backward(tg.tensor(6));
        const k = reduction === 'mean' ? -2 : -6;
        expect(x.grad!.toArray()).toEqual([[0, k, 0], [0, 0, 0], [0, 0, k], [k, 0, 0]]);
      }
    }
  });

  it('a custom ignoreIndex that is a real class index drops exactly those rows', () => {
    const x = tg.tensor(LOGP, { requiresGrad: true });
    const loss = tg.nllLoss(x, tg.tensor([2, 2, 1, 0]), { ignoreIndex: 2 });
    expect(loss.item()).toBeCloseTo((2 + 1.25) / 2, 6);
    loss.backward();
    expect(x.grad!.toArray()).toEqual([[0, 0, 0], [0, 0, 0], [0, -0.5, 0], [-0.5, 0, 0]]);
  });

  it('refuses targets that are not class indices, and malformed inputs, naming nllLoss', () => {
    const x = tg.tensor(LOGP);
    for (const t of [[3, 0, 0, 0], [0, -1, 0, 0], [0, 0.5, 0, 0], [0, 0, 0, NaN]]) {
      expect(() => tg.nllLoss(x, tg.tensor(t)), JSON.stringify(t)).toThrow(/nllLoss/);
    }
    expect(() => tg.nllLoss(x, tg.tensor([0, 0, 0]))).toThrow(/nllLoss/);
    expect(() => tg.nllLoss(x, tg.tensor([[0, 0, 0, 0]]))).toThrow(/nllLoss/);
    expect(() => tg.nllLoss(tg.tensor([-1, -2]), tg.tensor([0, 0]))).toThrow(/nllLoss/);
    expect(() => tg.nllLoss(x, tg.tensor([0, 1, 2, 0]), { reduction: 'avg' as 'mean' })).toThrow(/nllLoss/);
    // The last class is a valid index.
    expect(tg.nllLoss(x, tg.tensor([2, 2, 2, 2]), { reduction: 'sum' }).item()).toBeCloseTo(2.5 + 1 + 0.125 + 0.5, 6);
  });
});

/** Float64 cross-entropy of one row of logits against a (smoothed) target distribution. */
function xent(row: number[], t: number[]): number {
  const mx = Math.max(...row);
  const lse = mx + Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0));
  return t.reduce((s, ti, c) => s + ti * (lse - row[c]!), 0);
}

describeBackends('crossEntropy', () => {
  const logits = [
    [1, 2, 0.5],
    [-1, 0, 3],
    [2, 2, -2],
  ];
  const oneHot = (k: number): number[] => [0, 1, 2].map((c) => (c === k ? 1 : 0));

  it('works on logits that need no gradient (inference) and matches the float64 value', () => {
    const loss = tg.crossEntropy(tg.tensor(logits), tg.tensor([1, 2, 0]));
    expect(loss.requiresGrad).toBe(false);
    const want = (xent(logits[0]!, oneHot(1)) + xent(logits[1]!, oneHot(2)) + xent(logits[2]!, oneHot(0))) / 3;
    expect(loss.item()).toBeCloseTo(want, 6);
  });

  it('a custom ignoreIndex drops rows from the mean and the gradient', () => {
    const x = tg.tensor(logits, { requiresGrad: true });
    const loss = tg.crossEntropy(x, tg.tensor([1, 2, 2]), { ignoreIndex: 2 });
    expect(loss.gradFn?.op).toBe('crossEntropy');
    expect(loss.item()).toBeCloseTo(xent(logits[0]!, oneHot(1)), 6);
    loss.backward();
    const g = x.grad!.toArray() as number[][];
    expect(g[1]).toEqual([0, 0, 0]);
    expect(g[2]).toEqual([0, 0, 0]);
    const row = logits[0]!;
    const z = row.reduce((s, v) => s + Math.exp(v), 0);
    expectNear(g[0]!, row.map((v, c) => Math.exp(v) / z - (c === 1 ? 1 : 0)), 'grad row 0');
  });

  it('probability targets ignore ignoreIndex even when a probability equals it', () => {
    const probs = [
      [0, 1, 0],
      [0.5, 0, 0.5],
      [0, 0, 1],
    ];
    const loss = tg.crossEntropy(tg.tensor(logits), tg.tensor(probs), { ignoreIndex: 0 });
    const want = logits.reduce((s, row, r) => s + xent(row, probs[r]!), 0) / 3;
    expect(loss.item()).toBeCloseTo(want, 6);
  });

  it('labelSmoothing may be anything in [0, 1], including 1 (a uniform target)', () => {
    const loss = tg.crossEntropy(tg.tensor(logits), tg.tensor([1, 2, 0]), { labelSmoothing: 1, reduction: 'sum' });
    const want = logits.reduce((s, row) => s + xent(row, [1 / 3, 1 / 3, 1 / 3]), 0);
    expect(loss.item()).toBeCloseTo(want, 5);
    for (const eps of [-0.1, 1.5, NaN]) {
      expect(() => tg.crossEntropy(tg.tensor(logits), tg.tensor([1, 2, 0]), { labelSmoothing: eps }), String(eps)).toThrow(/crossEntropy/);
    }
  });

  it('refuses malformed logits, targets and options, naming crossEntropy', () => {
    const x = tg.tensor(logits);
    const bad: [string, () => unknown][] = [
      ['1-D logits', () => tg.crossEntropy(tg.tensor([1, 2, 3]), tg.tensor([0]))],
      ['3-D logits', () => tg.crossEntropy(tg.zeros([1, 3, 3]), tg.tensor([0]))],
      ['index target of the wrong length', () => tg.crossEntropy(x, tg.tensor([0, 1]))],
      ['probabilities with too few rows', () => tg.crossEntropy(x, tg.zeros([2, 3]))],
      ['probabilities with too many classes', () => tg.crossEntropy(x, tg.zeros([3, 4]))],
      ['3-D target', () => tg.crossEntropy(x, tg.zeros([3, 1, 1]))],
      ['class index out of range', () => tg.crossEntropy(x, tg.tensor([0, 3, 0]))],
      ['negative class index', () => tg.crossEntropy(x, tg.tensor([0, -1, 0]))],
      ['fractional class index', () => tg.crossEntropy(x, tg.tensor([0, 1.5, 0]))],
      ['unknown reduction', () => tg.crossEntropy(x, tg.tensor([0, 1, 2]), { reduction: 'avg' as 'mean' })],
      ['target not a tensor', () => tg.crossEntropy(x, [0, 1, 2] as unknown as tg.Tensor)],
    ];
    for (const [what, f] of bad) expect(f, what).toThrow(/crossEntropy/);
  });
});

describeBackends('bceWithLogits', () => {
  // Logits from far negative to far positive: e^1000 overflows float64, so only the stable
  // formulas give finite values there.
  const xs = [-1000, -60, -3, -0.5, 0, 0.5, 3, 60, 1000];

  function reference(x: number[], y: number[], pw: (i: number) => number) {
    const loss = x.map((v, i) => (1 - y[i]!) * v + (1 + (pw(i) - 1) * y[i]!) * softplus(-v));
    const grad = x.map((v, i) => (1 - y[i]!) - (1 + (pw(i) - 1) * y[i]!) * (1 - sigmoid(v)));
    return { loss, grad };
  }

  for (const yv of [0, 0.25, 1]) {
    it(`finite loss and gradient at logits up to ±1000 (target ${yv})`, () => {
      const y = xs.map(() => yv);
      const x = tg.tensor(xs, { requiresGrad: true });
      const loss = tg.bceWithLogits(x, tg.tensor(y), { reduction: 'none' });
      expect(loss.gradFn?.op).toBe('bceWithLogits');
      loss.backward(tg.ones([xs.length]));
      const want = reference(xs, y, () => 1);
      expect(Array.from(loss.data).every(Number.isFinite)).toBe(true);
      expect(Array.from(x.grad!.data).every(Number.isFinite)).toBe(true);
      expectNear(loss.data, want.loss, 'loss');
      expectNear(x.grad!.data, want.grad, 'grad', 1e-6);
    });
  }

  it('gradient at x = 1000: 1 − y (σ saturates at 1), not NaN', () => {
    const x = tg.tensor([1000, 1000, 1000], { requiresGrad: true });
    tg.bceWithLogits(x, tg.tensor([0, 0.5, 1]), { reduction: 'sum' }).backward();
    expect(Array.from(x.grad!.data)).toEqual([1, 0.5, 0]);
  });

  it('posWeight scales the positive term: one value for all, or one per class (last dim)', () => {
    const xv = [
      [-2, 0.5, 3],
      [1, -1, 0],
    ];
    const yv = [
      [1, 0, 0.5],
      [0.25, 1, 1],
    ];
    const flatX = xv.flat();
    const flatY = yv.flat();
    for (const w of [[3], [2, 0.5, 4]]) {
      const pw = (i: number): number => w[w.length === 1 ? 0 : i % 3]!;
      const x = tg.tensor(xv, { requiresGrad: true });
      const loss = tg.bceWithLogits(x, tg.tensor(yv), { posWeight: tg.tensor(w), reduction: 'sum' });
      loss.backward();
      const want = reference(flatX, flatY, pw);
      expect(loss.item()).toBeCloseTo(want.loss.reduce((a, b) => a + b, 0), 5);
      expectNear(x.grad!.data, want.grad, `grad with posWeight ${JSON.stringify(w)}`);
    }
    expect(() => tg.bceWithLogits(tg.tensor(xv), tg.tensor(yv), { posWeight: tg.tensor([1, 2]) })).toThrow(/bceWithLogits/);
  });

  it('mean reduction divides the summed loss and gradient by the element count', () => {
    const x = tg.tensor([0.5, -1, 2, 0], { requiresGrad: true });
    const y = [1, 0, 0.5, 1];
    const loss = tg.bceWithLogits(x, tg.tensor(y));
    const want = reference([0.5, -1, 2, 0], y, () => 1);
    expect(loss.item()).toBeCloseTo(want.loss.reduce((a, b) => a + b, 0) / 4, 6);
    loss.backward();
    expectNear(x.grad!.data, want.grad.map((g) => g / 4), 'grad');
  });

  it('refuses mismatched shapes and unknown reductions, naming bceWithLogits', () => {
    expect(() => tg.bceWithLogits(tg.zeros([2, 3]), tg.zeros([3, 2]))).toThrow(/bceWithLogits/);
    expect(() => tg.bceWithLogits(tg.zeros([2]), tg.zeros([2]), { reduction: 'avg' as 'mean' })).toThrow(/bceWithLogits/);
  });
});

describeBackends('bce', () => {
  it('accepts probabilities 0 and 1 (logs clamped at -100, as PyTorch) and refuses anything outside [0, 1]', () => {
    const loss = tg.bce(tg.tensor([0, 1, 1, 0]), tg.tensor([0, 1, 0, 1]), { reduction: 'none' });
    // (-0 for the exact matches: the negated sum of zeros.)
    expect(Array.from(loss.data, (v) => v + 0)).toEqual([0, 0, 100, 100]);
    for (const p of [-0.01, 1.01, NaN]) expect(() => tg.bce(tg.tensor([0.5, p]), tg.tensor([0, 1])), String(p)).toThrow(/bce/);
  });

  it('value and gradient match float64 inside (0, 1)', () => {
    const p = [0.1, 0.5, 0.9, 0.3];
    const y = [0, 1, 0.25, 1];
    const x = tg.tensor(p, { requiresGrad: true });
    const loss = tg.bce(x, tg.tensor(y), { reduction: 'sum' });
    expect(loss.gradFn?.op).toBe('sum');
    loss.backward();
    const want = p.map((v, i) => -(y[i]! * Math.log(v) + (1 - y[i]!) * Math.log(1 - v)));
    expect(loss.item()).toBeCloseTo(want.reduce((a, b) => a + b, 0), 5);
    expectNear(x.grad!.data, p.map((v, i) => (v - y[i]!) / (v * (1 - v))), 'grad');
  });

  it('refuses mismatched shapes and unknown reductions, naming bce', () => {
    expect(() => tg.bce(tg.zeros([2]), tg.zeros([3]))).toThrow(/bce/);
    expect(() => tg.bce(tg.zeros([2]), tg.zeros([2]), { reduction: 'avg' as 'mean' })).toThrow(/bce/);
  });
});

describeBackends('mseLoss and l1Loss', () => {
  for (const [name, f] of [
    ['mseLoss', tg.mseLoss],
    ['l1Loss', tg.l1Loss],
  ] as const) {
    it(`${name}: refuses mismatched shapes, a non-tensor target and unknown reductions, naming the loss`, () => {
      const re = new RegExp(name);
      expect(() => f(tg.zeros([2, 3]), tg.zeros([3, 2]))).toThrow(re);
      expect(() => f(tg.zeros([2]), tg.zeros([1, 2]))).toThrow(re);
      expect(() => f(tg.zeros([2]), [0, 0] as unknown as tg.Tensor)).toThrow(re);
      expect(() => f(tg.zeros([2]), tg.zeros([2]), { reduction: 'avg' as 'mean' })).toThrow(re);
    });

    it(`${name}: every reduction`, () => {
      const x = tg.tensor([1, -2, 3.5]);
      const y = tg.tensor([0, 1, 3]);
      const d = [1, -3, 0.5];
      const e = d.map((v) => (name === 'mseLoss' ? v * v : Math.abs(v)));
      expect(Array.from(f(x, y, { reduction: 'none' }).data)).toEqual(e);
      expect(f(x, y, { reduction: 'sum' }).item()).toBeCloseTo(e.reduce((a, b) => a + b, 0), 6);
      expect(f(x, y).item()).toBeCloseTo(e.reduce((a, b) => a + b, 0) / 3, 6);
    });
  }
});

describeBackends('losses: shapes that differ in one dim or in rank', () => {
  const fns = {
    mseLoss: (a: tg.Tensor, b: tg.Tensor) => tg.mseLoss(a, b),
    l1Loss: (a: tg.Tensor, b: tg.Tensor) => tg.l1Loss(a, b),
    bce: (a: tg.Tensor, b: tg.Tensor) => tg.bce(a, b),
    bceWithLogits: (a: tg.Tensor, b: tg.Tensor) => tg.bceWithLogits(a, b),
  };
  for (const [name, f] of Object.entries(fns)) {
    it(`${name} refuses [2,3] vs [2,4], [2] vs [2,3] and [2,3] vs [2]`, () => {
      const re = new RegExp(`^${name}\\b`);
      const half = (s: number[]) => tg.full(s, 0.5);
      expect(() => f(half([2, 3]), half([2, 4]))).toThrow(re);
      expect(() => f(half([2]), half([2, 3]))).toThrow(re);
      expect(() => f(half([2, 3]), half([2]))).toThrow(re);
    });
  }

  it('nllLoss refuses a 3-D input and a target that is longer or 2-D', () => {
    expect(() => tg.nllLoss(tg.zeros([1, 2, 2]), tg.tensor([0]))).toThrow(/^nllLoss\b/);
    expect(() => tg.nllLoss(tg.tensor(LOGP), tg.tensor([0, 0, 0, 0, 0]))).toThrow(/^nllLoss\b/);
    expect(() => tg.nllLoss(tg.tensor(LOGP), tg.tensor([[0], [0], [0], [0]]))).toThrow(/^nllLoss\b/);
  });
});

describeBackends('losses: what their backward reads', () => {
  it('nllLoss reads its target: writing it before backward is refused', () => {
    const x = tg.tensor(LOGP, { requiresGrad: true });
    const t = tg.tensor([0, 1, 2, 0]);
    const loss = tg.nllLoss(x, t);
    t.data[0] = 1;
    expect(() => loss.backward()).toThrow(/backward/);
  });

  it('bce and bceWithLogits read input and target: writing either is refused', () => {
    for (const which of ['input', 'target'] as const) {
      for (const [name, f] of [
        ['bce', (a: tg.Tensor, b: tg.Tensor) => tg.bce(a, b, { reduction: 'none' })],
        ['bceWithLogits', (a: tg.Tensor, b: tg.Tensor) => tg.bceWithLogits(a, b, { reduction: 'none' })],
        ['bceWithLogits posWeight', (a: tg.Tensor, b: tg.Tensor) => tg.bceWithLogits(a, b, { reduction: 'none', posWeight: tg.tensor([2]) })],
      ] as const) {
        const x = tg.tensor([0.25, 0.5], { requiresGrad: true });
        const y = tg.tensor([1, 0]);
        const loss = f(x, y);
        expect(loss.gradFn?.op, name).toBe(name.split(' ')[0]);
        (which === 'input' ? x : y).data[0] = 0.75;
        expect(() => loss.sum().backward(), `${name} ${which}`).toThrow(/backward/);
      }
    }
  });
});
