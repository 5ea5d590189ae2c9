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
  ConfusionMatrix,
  ReLU,
  SGD,
  TopK,
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
  zeros,
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
    const a = predict(model, x, { batchSize: 10 });
    const b = predict(model, x);
    expect(a.shape).toEqual([40, 3]);
    expect(a.gradFn).toBeNull();
    expect(a.requiresGrad).toBe(false);
    // Dropout off: batching and repetition do not change the outputs. (Bit for bit with batches
    // of 9 rows or more; the native backend takes dot products for 1 to 8 rows, which round
    // differently in the last bits, as BLAS libraries do: a remainder of 4 rows stays close.)
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    const small = Array.from(predict(model, x, { batchSize: 12 }).data);
    const full = Array.from(b.data);
    for (let i = 0; i < full.length; i++) expect(small[i]).toBeCloseTo(full[i]!, 5);
    expect(model.training).toBe(true);
    model.eval();
    await evaluate(model, blobs(40, 1));
    expect(model.training).toBe(false);
    expect(Array.from(predict(model, new DataLoader(blobs(40, 1), { batchSize: 10 })).data)).toEqual(Array.from(a.data));
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

/** Bad arguments as a JavaScript caller (or a bug) would pass them, past the type checker. */
const junk = (v: unknown) => v as never;

describeBackends('argument checks name the function the user called', () => {
  const xy = (): [Tensor, Tensor] => [blobs(6, 1).tensors[0], blobs(6, 1).tensors[1]];

  it('fit checks every option before any work, even those DataLoader or an optimizer would check', async () => {
    const model = net();
    const before = Array.from(model.parameters()[0]!.data);
    const fails = (options: unknown, message: string | RegExp) => expect(fit(model, junk(options))).rejects.toThrow(message);
    await fails({ train: xy(), batchSize: 0.5, ...quiet }, 'fit: batchSize must be a positive integer, got 0.5');
    await fails({ train: xy(), batchSize: '8', ...quiet }, "fit: batchSize must be a positive integer, got string '8'");
    await fails({ train: [blobs(3, 1).tensors[0], tensor([0, 1])], ...quiet }, 'fit: train: x [3, 2] and y [2] must have the same number of rows (dim 0)');
    await fails({ train: xy(), validation: [tensor([[1, 2]]), tensor([0, 1])], ...quiet }, 'fit: validation: x [1, 2] and y [2] must have the same number of rows (dim 0)');
    await fails({ train: xy(), metrics: ['f1'], ...quiet }, /^fit: metric 'f1' is unknown/);
    await fails({ train: xy(), metrics: -1, ...quiet }, "fit: metrics must be an array of names ('accuracy', 'top5') or Metric objects, got -1");
    await fails({ train: xy(), loss: 1e300, ...quiet }, /^fit: unknown loss 1e\+300; use one of crossEntropy/);
    await fails({ train: xy(), restoreBest: 1e300, ...quiet }, 'fit: restoreBest must be a boolean, got 1e+300');
    await fails({ train: xy(), stopOnNaN: {}, ...quiet }, 'fit: stopOnNaN must be a boolean, got Object');
    await fails({ train: xy(), clipGradNorm: {}, ...quiet }, 'fit: clipGradNorm must be a positive number, got Object');
    await fails({ train: xy(), earlyStopping: { monitor: {} }, ...quiet }, 'fit: earlyStopping.monitor must be a string, got Object');
    await fails({ train: xy(), earlyStopping: { monitor: 'bogus' }, ...quiet }, "fit: cannot monitor 'bogus'; available: loss, accuracy");
    await fails({ train: xy(), earlyStopping: { patience: -1 }, ...quiet }, 'fit: earlyStopping.patience must be a non-negative integer, got -1');
    await fails({ train: xy(), progress: 1n }, 'fit: progress must be \'auto\', \'bar\', \'lines\', \'none\' or a reporter, got bigint 1n');
    await fails({ train: xy(), batch_size: 8, ...quiet }, /^fit: unknown option 'batch_size'/);
    await fails({ train: xy(), signal: 'stop', ...quiet }, "fit: signal must be an AbortSignal, got string 'stop'");
    await fails({ train: xy(), callbacks: [{ onEpochEnd: 3 }], ...quiet }, 'fit: callbacks[0].onEpochEnd must be a function, got 3');
    // An optimizer factory's own refusal is passed on under fit's name.
    await fails({ train: xy(), optimizer: (m: Linear) => new SGD(m.parameters(), { lr: junk('0.1') }), ...quiet }, "fit: the optimizer factory failed: SGD: invalid learning rate string '0.1'");
    await fails({ train: xy(), optimizer: () => 3, ...quiet }, 'fit: the optimizer factory must return an optimizer (paramGroups, zeroGrad(), step()), got 3');
    await expect(fit(junk({}), { train: xy(), ...quiet })).rejects.toThrow('fit: model must be a Module, got Object');
    await expect(fit(model, junk(null))).rejects.toThrow('fit: options must be an object, got null');
    await expect(fit(new ReLU(), { train: xy(), ...quiet })).rejects.toThrow('fit: the model has no parameters to train');
    expect(Array.from(model.parameters()[0]!.data)).toEqual(before);
  });

  it('fit refuses a loss function that returns no single value', async () => {
    await expect(fit(net(), { train: xy(), loss: junk(() => 1), ...quiet })).rejects.toThrow('fit: the loss function must return a Tensor, got 1');
    await expect(fit(net(), { train: xy(), loss: (o) => o, ...quiet })).rejects.toThrow('fit: the loss function must return a single value, got shape [6, 3]');
  });

  it('evaluate and predict check their model, data and options', async () => {
    await expect(evaluate(net(), xy(), { batchSize: -Infinity })).rejects.toThrow('evaluate: batchSize must be a positive integer, got -Infinity');
    await expect(evaluate(net(), [tensor([[1, 2]]), tensor([0, 1])])).rejects.toThrow('evaluate: data: x [1, 2] and y [2] must have the same number of rows (dim 0)');
    await expect(evaluate(net(), xy(), { metrics: [junk(1)] })).rejects.toThrow('evaluate: metrics[0] must be a name or an object with name, reset(), update() and compute(), got 1');
    await expect(evaluate(net(), xy(), { confusionMatrix: junk(NaN) })).rejects.toThrow('evaluate: confusionMatrix must be a boolean, got NaN');
    await expect(evaluate(junk(undefined), xy())).rejects.toThrow('evaluate: model must be a Module, got undefined');
    await expect(evaluate(net(), xy(), junk({ data: [] }))).rejects.toThrow("evaluate: unknown option 'data'");
    // A metric refusing the targets is reported under the caller's name.
    const badTarget: [Tensor, Tensor] = [blobs(6, 1).tensors[0], tensor([0, 1, 2, 0, 1, 7])];
    await expect(evaluate(net(), badTarget, { loss: (o) => o.sum(), metrics: ['accuracy'] })).rejects.toThrow(
      "evaluate: metric 'accuracy': accuracy.update: target 7 at row 5 is not a class index in [0, 3)",
    );
    // (fit shuffles, so the bad row may come anywhere in the batch.)
    await expect(fit(net(), { train: badTarget, loss: (o) => o.sum(), metrics: ['accuracy'], batchSize: 6, ...quiet })).rejects.toThrow(
      /^fit: metric 'accuracy': accuracy\.update: target 7 at row \d is not a class index in \[0, 3\)$/,
    );
    expect(() => predict(junk(1n), blobs(6, 1).tensors[0])).toThrow('predict: model must be a Module, got bigint 1n');
    expect(() => predict(net(), blobs(6, 1).tensors[0], junk(null))).toThrow('predict: options must be an object, got null');
    expect(() => predict(net(), blobs(6, 1).tensors[0], { batchSize: 0 })).toThrow('predict: batchSize must be a positive integer, got 0');
    expect(() => predict(net(), junk(xy()))).toThrow('predict: input must be a Tensor, a Dataset or a DataLoader, got an array');
  });

  it('predict gives an empty [0, outputs] result for an empty input, as PyTorch does', () => {
    const out = predict(net(), zeros([0, 2]));
    expect(out.shape).toEqual([0, 3]);
  });

  it('metrics refuse non-tensors, empty class dims and targets that are not class indices', () => {
    const out = tensor([
      [0.1, 0.7, 0.2],
      [0.5, 0.3, 0.2],
    ]);
    expect(() => new TopK(2).update(junk(undefined), tensor([0, 1]))).toThrow('top2.update: output must be a Tensor, got undefined');
    expect(() => new TopK(1).update(out, junk(true))).toThrow('accuracy.update: target must be a Tensor, got boolean true');
    expect(() => new TopK(1).update(zeros([2, 0]), tensor([0, 1]))).toThrow('accuracy.update: outputs [2, 0] have no classes');
    // A class past the outputs, or a fractional one, used to count as a silent miss (and read past the row for k > 1).
    expect(() => new TopK(2).update(out, tensor([0, 3]))).toThrow('top2.update: target 3 at row 1 is not a class index in [0, 3)');
    expect(() => new TopK(1).update(out, tensor([0.5, 1]))).toThrow('accuracy.update: target 0.5 at row 0 is not a class index in [0, 3)');
    expect(() => new TopK(junk(1e300))).toThrow('TopK: k must be a positive integer, got 1e+300');
    const cm = new ConfusionMatrix(3);
    expect(() => cm.update(junk({}), tensor([0, 1]))).toThrow('ConfusionMatrix.update: output must be a Tensor, got Object');
    expect(() => cm.update(zeros([2, 4]), tensor([0, 1]))).toThrow('ConfusionMatrix.update: outputs [2, 4] have 4 classes, the matrix has 3');
    expect(() => cm.update(out, tensor([0, 3]))).toThrow(/^ConfusionMatrix\.update: target 3 at row 1/);
    expect(cm.total).toBe(0);
    expect(() => new ConfusionMatrix(junk(1e300))).toThrow('ConfusionMatrix: numClasses must be an integer in [1, 4096], got 1e+300');
    expect(() => new ConfusionMatrix(2, junk(['a', 2]))).toThrow('ConfusionMatrix: classNames[1] must be a string, got 2');
    expect(() => confusionMatrix(tensor([1e30]), tensor([1]))).toThrow(/^confusionMatrix: cannot infer numClasses: the largest class index is 1\.0+\d*e\+30/);
    expect(() => confusionMatrix(zeros([0]), zeros([0]))).toThrow('confusionMatrix: cannot infer numClasses from empty outputs or targets; pass numClasses');
  });

  it('Ensemble checks its members, factory and options', async () => {
    expect(() => new Ensemble(junk(1e300))).toThrow('Ensemble: members must be an array of Modules, got 1e+300');
    expect(() => new Ensemble(junk(undefined))).toThrow('Ensemble: members must be an array of Modules, got undefined');
    expect(() => new Ensemble([net(), junk(3)])).toThrow('Ensemble: member 1 is not a Module, got 3');
    await expect(Ensemble.train(1, junk([1, 'x']), { train: xy(), ...quiet })).rejects.toThrow('Ensemble.train: create must be a function (index) => Module, got an array');
    await expect(Ensemble.train(1, junk(() => 5), { train: xy(), ...quiet })).rejects.toThrow('Ensemble.train: create(0) must return a Module, got 5');
    await expect(Ensemble.train(1, () => net(), { train: xy(), seed: junk('1'), ...quiet })).rejects.toThrow("Ensemble.train: seed must be an integer, got string '1'");
    await expect(new Ensemble([net()]).evaluate(xy(), junk(-Infinity))).rejects.toThrow('Ensemble.evaluate: options must be an object, got -Infinity');
    // seed and onMemberEnd are Ensemble.train's own; fit, which refuses unknown options, never sees them.
    let ended = 0;
    const r = await Ensemble.train(2, () => net(), { train: xy(), seed: 4, onMemberEnd: () => void ended++, ...quiet });
    expect(r.histories).toHaveLength(2);
    expect(ended).toBe(2);
  });

  it('formatEpoch checks the log and leaves out the fields a hand-made log lacks', () => {
    expect(formatEpoch(junk({ epoch: 3, loss: 0, metrics: {}, valMetrics: {}, lr: 0.1 }), 6)).toBe('epoch 3/6  loss 0.0000  lr 0.100');
    expect(() => formatEpoch(junk({ epoch: 2, loss: 1, valLoss: '0.1', metrics: {}, valMetrics: {} }), 8)).toThrow("formatEpoch: log.valLoss is string '0.1', expected a number");
    expect(() => formatEpoch(junk({ epoch: 2, loss: 1, metrics: {}, valMetrics: {}, lr: {} }), 8)).toThrow('formatEpoch: log.lr is Object, expected a number');
    expect(() => formatEpoch(junk({ epoch: 2, loss: 1, metrics: { accuracy: 'x' } }), 8)).toThrow("formatEpoch: log.metrics.accuracy is string 'x', expected a number");
    expect(() => formatEpoch(junk({ epoch: [], loss: null }), 3)).toThrow('formatEpoch: log.epoch is an array, expected a finite number');
    expect(() => formatEpoch(junk(null), 3)).toThrow(/^formatEpoch: log must be an epoch log object/);
    expect(() => formatEpoch(junk({ epoch: 1, loss: 1 }), junk(1n))).toThrow('formatEpoch: epochs must be a positive integer (the run\'s epoch count), got bigint 1n');
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
