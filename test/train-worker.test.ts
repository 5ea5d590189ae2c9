import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { _workerCounts, trainInWorker, type TrainInWorkerOptions, type TrainProgress } from '../src/train/worker.js';
import { describeBackends } from './helpers/backends.js';
// @ts-expect-error -- a plain .mjs test helper without type declarations
import tanhNet from './helpers/mlp-factory.mjs';

// trainInWorker starts dist/esm/train/worker-main.js: `npm test` builds dist first.
const factory = join(dirname(fileURLToPath(import.meta.url)), 'helpers/mlp-factory.mjs');
const threadCount = (): number => readdirSync('/proc/self/task').length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const bytesEqual = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));

/** Synthetic classification data: `n` rows of `features` normal features, labels from the first features. */
function synthetic(n: number, features: number, classes: number, seed: number): [tg.Tensor, tg.Tensor] {
  tg.manualSeed(seed);
  const x = tg.randn([n, features]);
  const y = tg.argmax(x.matmul(tg.randn([features, classes])), 1);
  return [x, y];
}

/** The serial equivalent trainInWorker documents, on the calling thread. */
async function serial(seed: number, build: () => tg.Module, x: tg.Tensor, y: tg.Tensor, epochs: number, lr: number): Promise<Uint8Array> {
  tg.manualSeed(seed);
  const model = build();
  await tg.fit(model, { train: [x, y], epochs, batchSize: 32, optimizer: (m) => new tg.Adam(m.parameters(), { lr }), progress: 'none' });
  return tg.serialize(model);
}

describe('trainInWorker', () => {
  it('trains on digits: the loss falls, accuracy is far above chance, progress comes in order, the weights reload', async () => {
    const digits = tg.loadDigits();
    const [x, y] = digits.train.tensors;
    const [tx, ty] = digits.test.tensors;
    const train: [tg.Tensor, tg.Tensor] = [x.slice(0, 600), y.slice(0, 600)];
    const val: [tg.Tensor, tg.Tensor] = [tx.slice(0, 300), ty.slice(0, 300)];
    const spec = { inputs: 784, hidden: [32], outputs: 10 };
    const events: TrainProgress[] = [];
    const r = await trainInWorker({
      model: spec,
      data: { train, validation: val },
      fit: { epochs: 4, batchSize: 32, optimizer: { type: 'adam', lr: 3e-3 } },
      seed: 1,
      progressIntervalMs: 0,
      onProgress: (e) => events.push(e),
    });
    const losses = r.history.epochs.map((e) => e.loss);
    expect(losses).toHaveLength(4);
    expect(losses[3]!).toBeLessThan(losses[0]! * 0.5);
    expect(r.history.epochs[3]!.valMetrics['accuracy']).toBeGreaterThan(0.7);

    // Every step (600 rows / 32 = 19 steps), then the epoch's event, epoch after epoch.
    const expected: string[] = [];
    for (let e = 1; e <= 4; e++) {
      for (let s = 1; s <= 19; s++) expected.push(`step ${e}.${s}`);
      expected.push(`epoch ${e}`);
    }
    expect(events.map((e) => (e.type === 'step' ? `step ${e.epoch}.${e.step}` : `epoch ${e.epoch}`))).toEqual(expected);
    for (const e of events) {
      if (e.type === 'step') {
        expect(e.stepsPerEpoch).toBe(19);
        expect(Number.isFinite(e.loss) && e.samplesPerSecond > 0).toBe(true);
      } else {
        const log = r.history.epochs[e.epoch - 1]!;
        expect(e).toEqual({ type: 'epoch', epoch: log.epoch, epochs: 4, loss: log.loss, metrics: log.metrics, valLoss: log.valLoss, valMetrics: log.valMetrics, seconds: log.seconds });
      }
    }

    // The weights, as a state dict or as the file's bytes, give the model's own predictions.
    const want = tg.predict(r.model, val[0]).data;
    const fromDict = tg.mlp(spec);
    fromDict.loadStateDict(r.stateDict);
    expect(tg.predict(fromDict, val[0]).data).toEqual(want);
    const fromBytes = tg.mlp(spec);
    fromBytes.loadStateDict(tg.deserialize(r.safetensors).tensors);
    expect(tg.predict(fromBytes, val[0]).data).toEqual(want);
    expect(r.seconds).toBeGreaterThan(0);
  });

  it("loads a named dataset in the worker: the test split validates, or validationSplit holds out training rows", async () => {
    const run = async (validationSplit?: number) => {
      let steps = 0;
      const r = await trainInWorker({
        model: { inputs: 784, hidden: [8], outputs: 10 },
        data: 'digits',
        fit: validationSplit === undefined ? { batchSize: 256 } : { batchSize: 256, validationSplit },
        progressIntervalMs: 1e9,
        onProgress: (e) => void (e.type === 'step' && (steps = e.stepsPerEpoch)),
      });
      return { steps, valLoss: r.history.epochs[0]!.valLoss, valAccuracy: r.history.epochs[0]!.valMetrics['accuracy'] };
    };
    const [test, held, none] = await Promise.all([run(), run(0.1), run(0)]);
    expect(test.steps).toBe(Math.ceil(8004 / 256));
    expect(test.valLoss).toBeGreaterThan(0);
    expect(test.valAccuracy).toBeGreaterThan(0.3);
    expect(held.steps).toBe(Math.ceil((8004 - 800) / 256));
    expect(held.valLoss).toBeGreaterThan(0);
    expect(none.steps).toBe(Math.ceil(8004 / 256));
    expect(none.valLoss).toBeUndefined();
  });

  it('sends the first step event and then at most one per progressIntervalMs, and every epoch event', async () => {
    const [x, y] = synthetic(256, 8, 3, 2);
    const events: TrainProgress[] = [];
    await trainInWorker({ model: { inputs: 8, hidden: [8], outputs: 3 }, data: { train: [x, y] }, fit: { epochs: 3, batchSize: 8 }, progressIntervalMs: 1e9, onProgress: (e) => events.push(e) });
    expect(events.map((e) => `${e.type} ${e.epoch}`)).toEqual(['step 1', 'epoch 1', 'epoch 2', 'epoch 3']);
  });

  it('a factory module (path or file: URL, named export) trains like the serial run and leaves the caller’s random stream alone', async () => {
    const [x, y] = synthetic(192, 6, 3, 3);
    const args = { inputs: 6, hidden: 12, outputs: 3 };
    const options = (module: string | URL, exp?: string): TrainInWorkerOptions => ({
      model: exp === undefined ? { module, args } : { module, export: exp, args },
      data: { train: [x, y] },
      fit: { epochs: 2, batchSize: 32, optimizer: { type: 'adam', lr: 1e-2 } },
      seed: 4,
    });
    tg.manualSeed(11);
    const untouched = tg.randn([8]).data;
    tg.manualSeed(11);
    const byPath = await trainInWorker(options(factory));
    expect(tg.randn([8]).data).toEqual(untouched);

    const byUrl = await trainInWorker(options(pathToFileURL(factory), 'default'));
    const want = await serial(4, () => tanhNet(args, tg) as tg.Module, x, y, 2, 1e-2);
    expect(bytesEqual(byPath.safetensors, want)).toBe(true);
    expect(bytesEqual(byUrl.safetensors, want)).toBe(true);
    expect(byPath.model).toBeInstanceOf(tg.Sequential);
    expect(byPath.model.toString()).toContain('Tanh');
    expect(bytesEqual(tg.serialize(byPath.model), want)).toBe(true);
  });

  it('initialWeights (bytes or a state dict) come back unchanged after 0 epochs, and are where training starts', async () => {
    const spec = { inputs: 5, hidden: [7], outputs: 2 };
    const [x, y] = synthetic(64, 5, 2, 5);
    tg.manualSeed(123);
    const start = tg.mlp(spec);
    const bytes = tg.serialize(start);
    for (const initialWeights of [bytes, start.stateDict()]) {
      const r = await trainInWorker({ model: spec, data: { train: [x, y] }, fit: { epochs: 0 }, initialWeights, seed: 9 });
      expect(bytesEqual(r.safetensors, bytes)).toBe(true);
      expect(r.history.epochs).toEqual([]);
    }
    // The caller's bytes were copied, not transferred away (a Buffer's slice() would have been a view).
    expect(bytesEqual(bytes, tg.serialize(start))).toBe(true);
    const r = await trainInWorker({ model: spec, data: { train: [x, y] }, fit: { epochs: 1, optimizer: { type: 'adam', lr: 1e-2 } }, initialWeights: bytes, seed: 9 });
    const want = await serial(
      9,
      () => {
        const m = tg.mlp(spec);
        m.loadStateDict(tg.deserialize(bytes).tensors);
        return m;
      },
      x,
      y,
      1,
      1e-2,
    );
    expect(bytesEqual(r.safetensors, want)).toBe(true);
  });

  it('copies the data: changing the tensors right after the call does not change the training', async () => {
    const [x, y] = synthetic(128, 4, 2, 6);
    const [x0, y0] = [x.clone(), y.clone()];
    const spec = { inputs: 4, hidden: [6], outputs: 2 };
    const pending = trainInWorker({ model: spec, data: { train: [x, y] }, fit: { epochs: 1, optimizer: { type: 'adam', lr: 1e-2 } }, seed: 2 });
    x.data.fill(0);
    y.data.fill(1);
    const r = await pending;
    expect(bytesEqual(r.safetensors, await serial(2, () => tg.mlp(spec), x0, y0, 1, 1e-2))).toBe(true);
  });

  it("rejects with the worker's error: a NaN loss, a model that does not fit the data, a throwing onProgress", async () => {
    const [x, y] = synthetic(64, 4, 2, 7);
    const bad = x.clone();
    bad.data[5] = NaN;
    const spec = { inputs: 4, hidden: [4], outputs: 2 };
    const before = _workerCounts();
    await expect(trainInWorker({ model: spec, data: { train: [bad, y] } })).rejects.toThrow(/^trainInWorker: fit: the training loss became NaN at epoch 1, step \d+;/);
    await expect(trainInWorker({ model: { ...spec, inputs: 5 }, data: { train: [x, y] } })).rejects.toThrow(/^trainInWorker: linear(Relu)?: input \[32, 4\] and weight \[4, 5\] are incompatible/);
    await expect(
      trainInWorker({
        model: spec,
        data: { train: [x, y] },
        fit: { epochs: 50 },
        onProgress: () => {
          throw new Error('boom');
        },
      }),
    ).rejects.toThrow('trainInWorker: onProgress threw: boom');
    // An async listener that rejects: the rejection used to go unhandled, which ends the process.
    await expect(
      trainInWorker({
        model: spec,
        data: { train: [x, y] },
        fit: { epochs: 50 },
        onProgress: async () => {
          await Promise.resolve();
          throw new Error('async boom');
        },
      }),
    ).rejects.toThrow('trainInWorker: onProgress threw: async boom');
    const after = _workerCounts();
    expect(after.started - before.started).toBe(4);
    expect(after.exited - before.exited).toBe(4);
  });

  it('terminates a worker that does not stop within 2 s of the abort (stuck in a step)', async () => {
    const [x, y] = synthetic(16, 3, 2, 9);
    const ac = new AbortController();
    const before = _workerCounts();
    const started = new Int32Array(new SharedArrayBuffer(4));
    const p = trainInWorker({ model: { module: factory, export: 'stuckNet', args: { inputs: 3, hidden: 4, outputs: 2, started } }, data: { train: [x, y] }, signal: ac.signal });
    // Abort only once the worker is stuck in its first step (a loaded machine can take seconds to start it).
    for (let i = 0; i < 600 && Atomics.load(started, 0) === 0; i++) await sleep(50);
    expect(Atomics.load(started, 0)).toBe(1);
    const t0 = performance.now();
    ac.abort();
    await expect(p).rejects.toThrow(/aborted/);
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThan(1900);
    expect(waited).toBeLessThan(10_000);
    expect(_workerCounts().exited - before.exited).toBe(1);
  });

  it('rejects invalid options with a clear message before starting any worker', async () => {
    const [x, y] = synthetic(10, 4, 2, 8);
    const spec = { inputs: 4, hidden: [3], outputs: 2 };
    const data = { train: [x, y] as [tg.Tensor, tg.Tensor] };
    const cases: [unknown, RegExp][] = [
      [undefined, /^trainInWorker: options \{ model, data, fit\? \} are required/],
      [{ model: spec, data, epochs: 3 }, /^trainInWorker: unknown option 'epochs'/],
      [{ data }, /^trainInWorker: options.model .* is required/],
      [{ model: spec }, /^trainInWorker: options.data .* is required/],
      [{ model: { ...spec, inputs: 0 }, data }, /^trainInWorker: model: mlp: inputs must be a positive integer, got 0/],
      [{ model: spec, data: 'mnist' }, /^trainInWorker: data must be 'digits' or 'fashion-mnist', got string 'mnist'/],
      [{ model: spec, data: { train: [x, y.slice(0, 9)] } }, /^trainInWorker: data.train: x \[10, 4\] and y \[9\] must have the same number of rows/],
      [{ model: spec, data: { train: x } }, /^trainInWorker: data.train must be an \[x, y\] pair of tensors/],
      [{ model: spec, data: { train: [x, y], test: [x, y] } }, /^trainInWorker: data: unknown option 'test'/],
      [{ model: spec, data, fit: { epochs: -1 } }, /^trainInWorker: fit: epochs must be a non-negative integer, got -1/],
      [{ model: spec, data, fit: { batchSize: 0 } }, /^trainInWorker: fit: batchSize must be a positive integer, got 0/],
      [{ model: spec, data, fit: { lr: 0.1 } }, /^trainInWorker: fit: unknown option 'lr'/],
      [{ model: spec, data, fit: { loss: () => tg.zeros([]) } }, /^trainInWorker: fit: loss must be one of crossEntropy, .* \(a function cannot cross to a worker\)/],
      [{ model: spec, data, fit: { metrics: ['accuracy', 'nope'] } }, /^trainInWorker: fit: metric 'nope' is unknown/],
      [{ model: spec, data, fit: { optimizer: { type: 'adagrad' } } }, /^trainInWorker: fit: optimizer: type must be 'adam', 'adamw', 'sgd' or 'rmsprop', got string 'adagrad'/],
      [{ model: spec, data, fit: { optimizer: { type: 'sgd' } } }, /^trainInWorker: fit: optimizer: SGD: lr is required/],
      [{ model: spec, data, fit: { optimizer: { type: 'adam', lr: -1 } } }, /^trainInWorker: fit: optimizer: Adam: .*learning rate.*-1/],
      [{ model: spec, data, fit: { optimizer: { type: 'adam', momentum: 0.9 } } }, /^trainInWorker: fit: optimizer: Adam: unknown option 'momentum'/],
      [{ model: spec, data, fit: { clipGradNorm: 0 } }, /^trainInWorker: fit: clipGradNorm must be a positive number, got 0/],
      [{ model: spec, data, fit: { earlyStopping: { patience: -1 } } }, /^trainInWorker: fit: earlyStopping.patience must be a non-negative integer/],
      [{ model: spec, data, fit: { earlyStopping: { monitor: 'valLoss' } } }, /^trainInWorker: fit: cannot monitor 'valLoss'; available: loss, accuracy$/],
      [{ model: spec, data, fit: { restoreBest: 1 } }, /^trainInWorker: fit: restoreBest must be a boolean, got 1/],
      [{ model: spec, data, fit: { validationSplit: 1 } }, /^trainInWorker: fit: validationSplit must be a number in \[0, 1\), got 1/],
      [{ model: spec, data: { ...data, validation: [x, y] }, fit: { validationSplit: 0.5 } }, /^trainInWorker: give either data.validation or fit.validationSplit, not both/],
      [{ model: spec, data, seed: NaN }, /^trainInWorker: seed must be a finite number, got NaN/],
      [{ model: spec, data, threads: 0 }, /^trainInWorker: threads must be an integer in \[1, 1024\], got 0/],
      [{ model: spec, data, backend: 'gpu' }, /^trainInWorker: backend must be 'native' or 'js', got string 'gpu'/],
      [{ model: spec, data, onProgress: 3 }, /^trainInWorker: onProgress must be a function, got 3/],
      [{ model: spec, data, progressIntervalMs: -1 }, /^trainInWorker: progressIntervalMs must be a non-negative number, got -1/],
      [{ model: spec, data, signal: {} }, /^trainInWorker: signal must be an AbortSignal/],
      [{ model: spec, data, initialWeights: tg.mlp({ ...spec, hidden: [5] }).stateDict() }, /^trainInWorker: initialWeights: loadStateDict: size mismatch: 0.weight: expected \[3, 4\], got \[5, 4\]/],
      [{ model: spec, data, initialWeights: new Uint8Array(12) }, /^trainInWorker: initialWeights: deserialize: initialWeights: /],
      [{ model: spec, data, initialWeights: 'weights.safetensors' }, /^trainInWorker: initialWeights must be safetensors bytes/],
      [{ model: { module: join(dirname(factory), 'no-such-factory.mjs') }, data }, /^trainInWorker: model.module .*no-such-factory.mjs does not exist/],
      [{ model: { module: 'https://example.com/f.mjs' }, data }, /^trainInWorker: model.module must be a path or a file: URL/],
      [{ model: { module: factory, export: 'notAFunction' }, data }, /^trainInWorker: model.module .* has no function export 'notAFunction' \(it exports: .*notAModel.*\)/],
      [{ model: { module: factory, export: 'notAModel' }, data }, /^trainInWorker: the factory 'notAModel' of .* must return a Module/],
      [{ model: { module: factory, args: { f: () => 1 } }, data }, /^trainInWorker: model.args must be plain data/],
      [{ model: { module: factory, args: {} }, data }, /^trainInWorker: the factory 'default' of .* failed: Linear: /],
      [{ model: { module: factory, arg: {} }, data }, /^trainInWorker: model: unknown option 'arg'/],
    ];
    const before = _workerCounts().started;
    for (const [options, message] of cases) {
      await expect(trainInWorker(options as TrainInWorkerOptions), String(message)).rejects.toThrow(message);
    }
    const ac = new AbortController();
    const reason = new Error('not now');
    ac.abort(reason);
    await expect(trainInWorker({ model: spec, data, signal: ac.signal })).rejects.toBe(reason);
    expect(_workerCounts().started).toBe(before);
  });
});

describeBackends('trainInWorker', (backend) => {
  it('two workers at once give, bit for bit, the weights of the serial run with the same seed and threads', async () => {
    const [x, y] = synthetic(320, 24, 5, 10);
    const spec = { inputs: 24, hidden: [32, 16], outputs: 5, dropout: 0.1 };
    const threads = backend().info().threads;
    const run = (seed: number) =>
      trainInWorker({ model: spec, data: { train: [x, y] }, fit: { epochs: 2, batchSize: 32, optimizer: { type: 'adam', lr: 1e-2 } }, seed, threads, backend: backend().name });
    const [a, b] = await Promise.all([run(5), run(6)]);
    expect(bytesEqual(a.safetensors, await serial(5, () => tg.mlp(spec), x, y, 2, 1e-2))).toBe(true);
    expect(bytesEqual(b.safetensors, await serial(6, () => tg.mlp(spec), x, y, 2, 1e-2))).toBe(true);
    expect(bytesEqual(a.safetensors, b.safetensors)).toBe(false);
  });

  it('cancelled mid-epoch 50 times in a row: each call rejects with the abort reason, every worker exits, no thread leaks', async () => {
    const [x, y] = synthetic(2000, 16, 4, 12);
    const options = (signal: AbortSignal, onFirstStep: () => void): TrainInWorkerOptions => ({
      model: { inputs: 16, hidden: [64], outputs: 4 },
      data: { train: [x, y] },
      fit: { epochs: 100, batchSize: 8 },
      backend: backend().name,
      progressIntervalMs: 0,
      signal,
      onProgress: (e) => e.type === 'step' && onFirstStep(),
    });
    const settle = async (limit: number): Promise<number> => {
      // A worker's 'exit' comes as its thread ends; give the kernel a moment to drop the task.
      for (let t = 0; t < 40 && threadCount() > limit; t++) await sleep(50);
      return threadCount();
    };
    // One run first, so threads the process starts once (libuv's pool) are there before counting.
    const warm = new AbortController();
    await expect(trainInWorker(options(warm.signal, () => warm.abort()))).rejects.toThrow();
    const threadsBefore = await settle(0);
    const before = _workerCounts();
    for (let i = 0; i < 50; i++) {
      const ac = new AbortController();
      const reason = i % 2 === 0 ? undefined : new Error(`stop ${i}`);
      let steps = 0;
      const p = trainInWorker(options(ac.signal, () => (steps++, ac.abort(reason))));
      const e = await p.then(
        () => null,
        (err: unknown) => err,
      );
      expect(steps).toBeGreaterThanOrEqual(1);
      if (reason === undefined) expect((e as Error).name).toBe('AbortError');
      else expect(e).toBe(reason);
    }
    const after = _workerCounts();
    expect(after.started - before.started).toBe(50);
    expect(after.exited - before.exited).toBe(50);
    const threadsAfter = await settle(threadsBefore + 2);
    expect(threadsAfter).toBeLessThanOrEqual(threadsBefore + 2);
  });
});
