// The PyTorch training loop, line for line, against PyTorch's own losses on the same initial
// weights (test/fixtures/training.json, from scripts/fixtures/make_fixtures.py).
import { expect, it } from 'vitest';
import * as tg from '../src/index.js';
import type { NestedArray } from '../src/index.js';
import { describeBackends } from './helpers/backends.js';
import { expectClose, fixture } from './helpers/fixtures.js';

interface TrainingFixture {
  x: NestedArray;
  y: number[];
  init: Record<'w1' | 'b1' | 'w2' | 'b2', NestedArray>;
  optimizers: { sgd_momentum: { lr: number; momentum: number }; adam: { lr: number } };
  runs: { name: 'sgd_momentum' | 'adam'; losses: number[]; final: Record<'w1' | 'b1' | 'w2' | 'b2', NestedArray> }[];
}

describeBackends("a PyTorch-style training loop gives PyTorch's losses step for step", () => {
  const f = fixture<TrainingFixture>('training.json');
  for (const run of f.runs) {
    it(run.name, () => {
      const model = new tg.Sequential(new tg.Linear(4, 8), new tg.ReLU(), new tg.Linear(8, 3));
      model.loadStateDict({
        '0.weight': tg.tensor(f.init.w1),
        '0.bias': tg.tensor(f.init.b1),
        '2.weight': tg.tensor(f.init.w2),
        '2.bias': tg.tensor(f.init.b2),
      });
      const opt =
        run.name === 'adam'
          ? new tg.Adam(model.parameters(), { lr: f.optimizers.adam.lr })
          : new tg.SGD(model.parameters(), { lr: f.optimizers.sgd_momentum.lr, momentum: f.optimizers.sgd_momentum.momentum });
      const x = tg.tensor(f.x);
      const y = tg.tensor(f.y);
      const losses: number[] = [];
      for (let step = 0; step < run.losses.length; step++) {
        const loss = tg.crossEntropy(model.forward(x), y);
        opt.zeroGrad();
        loss.backward();
        opt.step();
        losses.push(loss.item());
      }
      expectClose(Float32Array.from(losses), run.losses, 'losses');
      const sd = model.stateDict();
      expectClose(sd['0.weight']!.data, run.final.w1, 'final w1');
      expectClose(sd['2.bias']!.data, run.final.b2, 'final b2');
      expect(losses[losses.length - 1]!).toBeLessThan(losses[0]!);
    });
  }
});
