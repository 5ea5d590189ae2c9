// Reference values from PyTorch itself (scripts/fixtures/make_fixtures.py wrote them; the tests
// only read the JSON and need no PyTorch).
import { it } from 'vitest';
import * as tg from '../src/index.js';
import type { NestedArray } from '../src/index.js';
import { describeBackends } from './helpers/backends.js';
import { expectClose, fixture } from './helpers/fixtures.js';

interface LinearFixture {
  in_features: number;
  out_features: number;
  weight: NestedArray;
  bias: NestedArray;
  input: NestedArray;
  w_up: NestedArray;
  output: NestedArray;
  grad_weight: NestedArray;
  grad_bias: NestedArray;
  grad_input: NestedArray;
}

describeBackends('PyTorch fixtures', () => {
  it('Linear forward and backward on given weights', () => {
    const f = fixture<LinearFixture>('linear.json');
    const lin = new tg.Linear(f.in_features, f.out_features);
    lin.loadStateDict({ weight: tg.tensor(f.weight), bias: tg.tensor(f.bias) });
    const x = tg.tensor(f.input, { requiresGrad: true });
    const y = lin.forward(x);
    expectClose(y.data, f.output, 'output');
    y.mul(tg.tensor(f.w_up)).sum().backward();
    expectClose(lin.weight.grad!.data, f.grad_weight, 'grad weight');
    expectClose(lin.bias!.grad!.data, f.grad_bias, 'grad bias');
    expectClose(x.grad!.data, f.grad_input, 'grad input');
  });

  const losses: Record<string, (i: tg.Tensor, t: tg.Tensor, o: Record<string, unknown>) => tg.Tensor> = {
    mse_loss: (i, t, o) => tg.mseLoss(i, t, o),
    l1_loss: (i, t, o) => tg.l1Loss(i, t, o),
    cross_entropy: (i, t, o) => tg.crossEntropy(i, t, o),
    nll_loss: (i, t, o) => tg.nllLoss(i, t, o),
    binary_cross_entropy_with_logits: (i, t, o) => tg.bceWithLogits(i, t, o),
    binary_cross_entropy: (i, t, o) => tg.bce(i, t, o),
  };
  const cases = fixture<{ cases: unknown[] }>('losses.json').cases as {
    name: string;
    kwargs: Record<string, unknown>;
    input: NestedArray;
    target: NestedArray;
    mean: { loss: number; grad: NestedArray };
    sum: { loss: number; grad: NestedArray };
    none: { loss: NestedArray; grad: NestedArray };
    upstream_none: NestedArray;
  }[];
  cases.forEach((c, n) => {
    it(`${c.name} ${JSON.stringify(c.kwargs)} (#${n}): every reduction, value and gradient`, () => {
      const opts: Record<string, unknown> = {};
      if ('label_smoothing' in c.kwargs) opts['labelSmoothing'] = c.kwargs['label_smoothing'];
      if ('ignore_index' in c.kwargs) opts['ignoreIndex'] = c.kwargs['ignore_index'];
      if ('pos_weight' in c.kwargs) opts['posWeight'] = tg.tensor(c.kwargs['pos_weight'] as number[]);
      for (const reduction of ['mean', 'sum', 'none'] as const) {
        const x = tg.tensor(c.input, { requiresGrad: true });
        const loss = losses[c.name]!(x, tg.tensor(c.target), { ...opts, reduction });
        if (reduction === 'none') {
          expectClose(loss.data, c.none.loss, `${reduction} loss`);
          loss.backward(tg.tensor(c.upstream_none));
          expectClose(x.grad!.data, c.none.grad, `${reduction} grad`);
        } else {
          expectClose(loss.data, c[reduction].loss, `${reduction} loss`);
          loss.backward();
          expectClose(x.grad!.data, c[reduction].grad, `${reduction} grad`);
        }
      }
    });
  });
});
