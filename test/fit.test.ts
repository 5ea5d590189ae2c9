import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  Adam,
  DataLoader,
  Dropout,
  Ensemble,
  Generator,
  Linear,
  type Metric,
  MixUp,
  ReLU,
  SGD,
  Sequential,
  StepLR,
  Tensor,
  TensorDataset,
  confusionMatrix,
  evaluate,
  fit,
  formatEpoch,
  manualSeed,
  mlp,
  noGrad,
  predict,
  tensor,
  topK,
} from '../src/index.js';
import { describeBackends } from './helpers/backends.js';

/** Two Gaussian blobs per class in 2-D, linearly separable with a margin. */
function blobs(n: number, seed: number): TensorDataset {
  const g = new Generator(seed);
  const centers = [
    [-3, 0],
    [3, 0],
    [0, 4],
  ];
  const x = new Float32Array(n * 2);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    x[2 * i] = centers[c]![0]! + 0.5 * g.nextNormal();
    x[2 * i + 1] = centers[c]![1]! + 0.5 * g.nextNormal();
    y[i] = c;
  }
  return new TensorDataset(new Tensor(x, [n, 2]), new Tensor(y, [n]));
}

function net(): Sequential {
  return new Sequential(new Linear(2, 16), new ReLU(), new Linear(16, 3));
}

const quiet = { progress: 'none' as const };

describeBackends('fit / evaluate / predict', () => {
  it('learns a separable problem to 100% and records a history', async () => {
    manualSeed(1);
    const model = net();
    const train = new DataLoader(blobs(150, 1), { batchSize: 16, shuffle: true, generator: new Generator(2) });
    const h = await fit(model, { train, validation: blobs(60, 9), epochs: 15, optimizer: new Adam(model.parameters(), { lr: 0.05 }), ...quiet });
    expect(h.epochs).toHaveLength(15);
    expect(h.epochs[0]!.epoch).toBe(1);
    expect(h.epochs.at(-1)!.loss).toBeLessThan(h.epochs[0]!.loss);
    expect(h.epochs.at(-1)!.metrics['accuracy']).toBe(1);
    expect(h.epochs.at(-1)!.valMetrics['accuracy']).toBe(1);
    expect(h.epochs.at(-1)!.valLoss).toBeLessThan(0.1);
    expect(h.epochs[0]!.samplesPerSecond).toBeGreaterThan(0);
    expect(h.stoppedEarly).toBe(false);
    const r = await evaluate(model, blobs(90, 5));
    expect(r.metrics['accuracy']).toBe(1);
    expect(r.samples).toBe(90);
  });

  it('early stopping stops after `patience` epochs without improvement, and restoreBest puts the best weights back', async () => {
    manualSeed(2);
    const model = net();
    const seenWeights: Float32Array[] = [];
    // lr 0 after epoch 2 (StepLR gamma 0): nothing improves from then on.
    const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
    const h = await fit(model, {
      train: blobs(90, 3),
      batchSize: 30,
      epochs: 50,
      optimizer: opt,
      scheduler: new StepLR(opt, { stepSize: 2, gamma: 0 }),
      earlyStopping: { monitor: 'loss', patience: 3 },
      restoreBest: true,
      callbacks: { onEpochEnd: () => void seenWeights.push(model.parameters()[0]!.data.slice()) },
      ...quiet,
    });
    expect(h.stoppedEarly).toBe(true);
    expect(h.monitor).toBe('loss');
    expect(h.epochs.length).toBeLessThan(10);
    expect(h.epochs.length).toBe(h.bestEpoch! + 4);
    const losses = h.epochs.map((e) => e.loss);
    expect(Math.min(...losses)).toBe(losses[h.bestEpoch! - 1]);
    expect(Array.from(model.parameters()[0]!.data)).toEqual(Array.from(seenWeights[h.bestEpoch! - 1]!));
  });

  it('monitors validation accuracy in max mode and reports unknown monitors', async () => {
    manualSeed(3);
    const model = net();
    const h = await fit(model, { train: blobs(60, 1), validation: blobs(30, 2), epochs: 3, earlyStopping: { monitor: 'valAccuracy', patience: 10 }, ...quiet });
    expect(h.monitor).toBe('valAccuracy');
    expect(h.bestEpoch).not.toBeNull();
    await expect(fit(net(), { train: blobs(30, 1), epochs: 1, earlyStopping: { monitor: 'valF1' }, ...quiet })).rejects.toThrow(/cannot monitor 'valF1'; available: loss, accuracy/);
  });

  it('yields to the event loop between steps, so timers keep firing while it trains', async () => {
    manualSeed(4);
    let ticks = 0;
    let running = true;
    const tick = (): void => {
      ticks++;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    let timerFiredDuringFit = false;
    let fitDone = false;
    setTimeout(() => (timerFiredDuringFit = !fitDone), 5);
    try {
      await fit(net(), { train: blobs(600, 1), batchSize: 4, epochs: 4, ...quiet });
      fitDone = true;
    } finally {
      running = false;
    }
    // 600 steps; a loop that never yielded would let the other task run about once.
    expect(ticks).toBeGreaterThan(500);
    expect(timerFiredDuringFit).toBe(true);
  });

  it('calls callbacks in order and stops when one asks', async () => {
    const calls: string[] = [];
    const h = await fit(net(), {
      train: blobs(30, 1),
      batchSize: 10,
      epochs: 5,
      callbacks: [
        {
          onTrainBegin: ({ epochs, stepsPerEpoch }) => void calls.push(`begin ${epochs}x${stepsPerEpoch}`),
          onEpochBegin: (e) => void calls.push(`epoch ${e}`),
          onBatchEnd: ({ step, samples }) => void calls.push(`step ${step} ${samples}`),
          onEpochEnd: async (log, control) => {
            calls.push(`end ${log.epoch}`);
            if (log.epoch === 2) control.stop();
          },
          onTrainEnd: (hist) => void calls.push(`done ${hist.epochs.length}`),
        },
      ],
      ...quiet,
    });
    expect(calls).toEqual(['begin 5x3', 'epoch 1', 'step 1 10', 'step 2 10', 'step 3 10', 'end 1', 'epoch 2', 'step 1 10', 'step 2 10', 'step 3 10', 'end 2', 'done 2']);
    expect(h.stoppedEarly).toBe(true);
  });

  it('rejects with the abort reason when its signal fires', async () => {
    const ac = new AbortController();
    const p = fit(net(), { train: blobs(300, 1), batchSize: 2, epochs: 100, signal: ac.signal, ...quiet });
    setTimeout(() => ac.abort(new Error('stop now')), 20);
    await expect(p).rejects.toThrow('stop now');
  });

  it('stops with a clear error when the loss becomes NaN', async () => {
    // No ReLU in front: the TypeScript backend's relu maps NaN to 0.
    const model = new Linear(2, 3);
    const x = tensor([[1, Number.NaN]]);
    await expect(fit(model, { train: [x, tensor([0])] as unknown as TensorDataset, epochs: 1, ...quiet })).rejects.toThrow(/training loss became NaN at epoch 1, step 1/);
  });

  it('evaluate and predict build no graph, run in eval mode and restore the mode', async () => {
    manualSeed(5);
    const model = new Sequential(new Linear(2, 32), new ReLU(), new Dropout(0.5), new Linear(32, 3));
    const x = blobs(40, 1).tensors[0];
    const a = predict(model, x, { batchSize: 7 });
    const b = predict(model, x);
    expect(a.shape).toEqual([40, 3]);
    expect(a.gradFn).toBeNull();
    expect(a.requiresGrad).toBe(false);
    // Dropout off: batching and repetition do not change the outputs.
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(model.training).toBe(true);
    model.eval();
    await evaluate(model, blobs(40, 1));
    expect(model.training).toBe(false);
    expect(Array.from(predict(model, new DataLoader(blobs(40, 1), { batchSize: 9 })).data)).toEqual(Array.from(a.data));
  });

  it('is deterministic: same seed, same history to the last bit', async () => {
    const run = async () => {
      manualSeed(42);
      const model = mlp({ inputs: 2, hidden: [8], outputs: 3, dropout: 0.2 });
      const h = await fit(model, {
        train: new DataLoader(blobs(64, 1), { batchSize: 8, shuffle: true }),
        epochs: 3,
        batchTransform: new MixUp({ alpha: 0.4, numClasses: 3 }),
        ...quiet,
      });
      return [h.epochs.map((e) => [e.loss, e.metrics['accuracy']]), Array.from(model.parameters()[0]!.data)];
    };
    expect(await run()).toEqual(await run());
  });

  it('refuses mistakes that would otherwise train nothing, silently', async () => {
    // One output with the default cross-entropy: loss 0 whatever the weights.
    const reg = new TensorDataset(tensor([[1], [2], [3]]), tensor([0, 0, 0]));
    await expect(fit(new Linear(1, 1), { train: reg, ...quiet })).rejects.toThrow(/single output.*loss: 'mse'/);
    await expect(evaluate(new Linear(1, 1), reg)).rejects.toThrow(/single output/);
    const other = net();
    await expect(fit(net(), { train: blobs(30, 1), optimizer: new Adam(other.parameters()), ...quiet })).rejects.toThrow(/optimizer holds none of the model's parameters/);
  });

  it('reports the best epoch by the default monitor even without early stopping', async () => {
    const h = await fit(net(), { train: blobs(60, 1), validation: blobs(30, 2), epochs: 3, ...quiet });
    expect(h.monitor).toBe('valLoss');
    const v = h.epochs.map((e) => e.valLoss!);
    expect(h.bestEpoch).toBe(v.indexOf(Math.min(...v)) + 1);
    expect((await fit(net(), { train: [blobs(30, 1).tensors[0], blobs(30, 1).tensors[1]], epochs: 1, ...quiet })).monitor).toBe('loss');
  });

  it('accepts metric objects and custom losses', async () => {
    let updates = 0;
    const count: Metric = { name: 'rows', reset: () => (updates = 0), update: (o) => (updates += o.shape[0]!), compute: () => updates };
    const h = await fit(net(), { train: blobs(30, 1), batchSize: 7, epochs: 1, loss: (o, t) => o.softmax(-1).sub(t.shape.length ? o.softmax(-1) : o).sum(), metrics: [count, 'top2'], ...quiet });
    expect(h.epochs[0]!.metrics['rows']).toBe(30);
    expect(h.epochs[0]!.metrics['top2']).toBeGreaterThanOrEqual(0);
    await expect(fit(net(), { train: blobs(30, 1), loss: 'hinge' as 'mse', ...quiet })).rejects.toThrow(/unknown loss 'hinge'/);
  });
});

describeBackends('metrics', () => {
  it('topK and the confusion matrix count what they should', () => {
    const out = tensor([
      [0.1, 0.7, 0.2],
      [0.5, 0.3, 0.2],
      [0.2, 0.3, 0.5],
      [0.3, 0.4, 0.3],
    ]);
    const y = tensor([1, 1, 2, 2]);
    const top1 = topK(1);
    top1.update(out, y);
    expect(top1.compute()).toBe(0.5);
    const top2 = topK(2);
    top2.update(out, y);
    // Row 3: target 2 is behind 0.4 and ties with class 0 at 0.3; the lower index wins ties (as
    // argmax does), so the target ranks third: a miss for top-2.
    expect(top2.compute()).toBe(0.75);
    const cm = confusionMatrix(out, y, 3, ['cat', 'dog', 'eel']);
    expect(cm.matrix).toEqual([
      [0, 0, 0],
      [1, 1, 0],
      [0, 1, 1],
    ]);
    expect(cm.accuracy).toBe(0.5);
    expect(cm.perClass()[1]).toEqual({ name: 'dog', recall: 0.5, precision: 0.5, support: 2 });
    expect(cm.perClass()[0]!.recall).toBeNaN();
    expect(cm.toString()).toMatch(/true\\pred\s+cat\s+dog\s+eel\s+recall/);
    expect(cm.toString()).toMatch(/dog\s+1\s+1\s+0\s+50\.0%/);
    expect(cm.toString()).toMatch(/cat\s+0\s+0\s+0\s+-/);
    // Probability targets (MixUp): the class is their argmax.
    const soft = topK(1);
    soft.update(out, tensor([[0.2, 0.8, 0], [0.9, 0.1, 0], [0, 0, 1], [0.6, 0.4, 0]]));
    expect(soft.compute()).toBe(0.75);
  });
});

describeBackends('Ensemble', () => {
  it('averages its members’ probabilities and reports each member beside the ensemble', async () => {
    const a = net();
    const b = net();
    const x = blobs(12, 1).tensors[0];
    const ens = new Ensemble([a, b]);
    const p = noGrad(() => ens.predictProba(x));
    const pa = noGrad(() => a.forward(x).softmax(-1));
    const pb = noGrad(() => b.forward(x).softmax(-1));
    p.data.forEach((v, i) => expect(v).toBeCloseTo((pa.data[i]! + pb.data[i]!) / 2, 6));
    const logp = noGrad(() => ens.forward(x));
    logp.data.forEach((v, i) => expect(Math.exp(v)).toBeCloseTo(p.data[i]!, 5));
    expect(Object.keys(ens.stateDict())).toEqual(['0.0.weight', '0.0.bias', '0.2.weight', '0.2.bias', '1.0.weight', '1.0.bias', '1.2.weight', '1.2.bias']);
  });

  it('trains members from different seeds', async () => {
    const { ensemble, histories } = await Ensemble.train(3, () => net(), {
      train: blobs(60, 1),
      epochs: 4,
      seed: 10,
      optimizer: (m) => new Adam(m.parameters(), { lr: 0.03 }),
      ...quiet,
    });
    expect(histories).toHaveLength(3);
    const w = ensemble.members.map((m) => Array.from(m.parameters()[0]!.data));
    expect(w[0]).not.toEqual(w[1]);
    const r = await ensemble.evaluate(blobs(60, 7));
    expect(r.members).toHaveLength(3);
    expect(r.metrics['accuracy']).toBeGreaterThan(0.9);
    for (const m of r.members) expect(m.metrics['accuracy']).toBeGreaterThan(0.8);
    await expect(Ensemble.train(2, () => net(), { train: blobs(30, 1), optimizer: new Adam(net().parameters()), ...quiet })).rejects.toThrow(/optimizer as a factory/);
  });
});

describe('progress', () => {
  class Sink extends Writable {
    text = '';
    isTTY = false;
    override _write(chunk: Buffer, _enc: string, cb: () => void): void {
      this.text += chunk.toString();
      cb();
    }
  }

  it('prints one plain line per epoch when not on a TTY', async () => {
    const sink = new Sink();
    await fit(net(), { train: blobs(30, 1), validation: blobs(30, 2), epochs: 3, progressStream: sink as unknown as NodeJS.WriteStream });
    const lines = sink.text.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatch(/^epoch 3\/3 {2}loss \d\.\d{4} {2}accuracy \d+\.\d\d% {2}val loss \d\.\d{4} {2}val accuracy \d+\.\d\d% {2}lr 0\.00100 {2}[\d,]+ samples\/s {2}\d+\.\ds$/);
  });

  it('draws a live bar on a TTY and replaces it with the epoch summary', async () => {
    const sink = new Sink();
    sink.isTTY = true;
    Object.assign(sink, { columns: 120, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
    await fit(net(), { train: blobs(300, 1), batchSize: 2, epochs: 1, progressStream: sink as unknown as NodeJS.WriteStream, progress: 'bar' });
    expect(sink.text).toMatch(/epoch 1\/1 .*\d+\/300 \| loss \d\.\d{4} \| [\d,]+ samples\/s \| ETA/);
    expect(sink.text).toMatch(/epoch 1\/1 {2}loss \d\.\d{4} {2}accuracy/);
  });

  it('formats an epoch log', () => {
    expect(formatEpoch({ epoch: 2, loss: 0.5, metrics: { accuracy: 0.9 }, valMetrics: {}, lr: 0.001, seconds: 1.25, samplesPerSecond: 12345.6 }, 10)).toBe(
      'epoch  2/10  loss 0.5000  accuracy 90.00%  lr 0.00100  12,346 samples/s  1.3s',
    );
  });
});
