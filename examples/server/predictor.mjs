/**
 * The served model: predictions (with micro-batching of single-sample requests) and retraining in
 * a worker with an atomic swap. The HTTP layer (routes.mjs) hands it validated rows only.
 */
import { Worker } from 'node:worker_threads';
import { backendInfo, FASHION_MNIST_CLASSES, predictAsync, softmax, Tensor, trainInWorker } from 'tensorgrad';

export const DATASETS = ['digits', 'fashion-mnist'];

/** The classes of a built-in dataset, without loading it. */
const DATASET_CLASSES = { digits: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], 'fashion-mnist': FASHION_MNIST_CLASSES };

function countParameters(model) {
  return model.parameters().reduce((n, p) => n + p.size, 0);
}

export class Predictor {
  /**
   * @param loaded what loadModel() returned
   * @param options.batching micro-batch concurrent single-sample requests (default true)
   * @param options.maxBatch most rows in one micro-batch
   */
  constructor(loaded, { batching = true, maxBatch = 256, source = 'file' } = {}) {
    this.batching = batching;
    this.maxBatch = maxBatch;
    /**
     * Everything one prediction needs, replaced by ONE assignment on a swap, so a prediction that
     * read it keeps a consistent model, classes and scaling to the end.
     */
    this.current = Object.freeze({
      model: loaded.model.eval(),
      spec: loaded.spec,
      members: loaded.members,
      classes: loaded.classes,
      scaler: loaded.scaler,
      parameters: countParameters(loaded.model),
      version: 0,
      loadedAt: new Date().toISOString(),
      source,
    });
    this.pending = [];
    this.flushScheduled = false;
    /** Micro-batches whose forward pass is running. */
    this.inFlight = 0;
    this.onBatch = () => {};
    this.retrainState = { status: 'idle' };
    this.retrainAbort = null;
    this.retrainDone = Promise.resolve();
  }

  get inputs() {
    return this.current.spec.inputs;
  }

  modelInfo() {
    const c = this.current;
    return { spec: c.spec, members: c.members, classes: c.classes, parameters: c.parameters, version: c.version, loadedAt: c.loadedAt, source: c.source, backend: backendInfo().backend };
  }

  /**
   * Probabilities for `b` rows packed in `rows` (Float32Array [b × inputs]), from one model
   * snapshot: { version, classes, probs (Float32Array [b × classes]) }.
   */
  async run(rows, b) {
    const m = this.current;
    let x = new Tensor(rows, [b, m.spec.inputs]);
    if (m.scaler !== null) x = m.scaler.transform(x);
    // One pass over the whole micro-batch: one GEMM per layer.
    const out = await predictAsync(m.model, x, { batchSize: b });
    return { version: m.version, classes: m.classes, probs: softmax(out, 1).data };
  }

  /**
   * One sample's prediction. With nothing in flight it starts at once (no wait at low load);
   * otherwise it joins the requests that arrive in the same event-loop turn, which share one
   * forward pass (so under load the batches grow by themselves).
   */
  predictOne(row) {
    if (!this.batching) {
      this.onBatch(1);
      return this.run(row, 1).then((r) => entry(r, 0));
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ row, resolve, reject });
      if (this.inFlight === 0 || this.pending.length >= this.maxBatch) this.flush();
      else if (!this.flushScheduled) {
        this.flushScheduled = true;
        // setImmediate runs after the poll phase, so every request whose body completed in this
        // I/O round joins the batch.
        setImmediate(() => this.flush());
      }
    });
  }

  flush() {
    this.flushScheduled = false;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    const n = this.inputs;
    const rows = new Float32Array(batch.length * n);
    batch.forEach((p, i) => rows.set(p.row, i * n));
    this.onBatch(batch.length);
    this.inFlight++;
    this.run(rows, batch.length)
      .finally(() => this.inFlight--)
      .then(
        (r) => batch.forEach((p, i) => p.resolve(entry(r, i))),
        (err) => batch.forEach((p) => p.reject(err)),
      );
  }

  /** Predictions for a batch request: one forward pass, no micro-batching. */
  async predictMany(rows, b) {
    const r = await this.run(rows, b);
    return { version: r.version, predictions: Array.from({ length: b }, (_, i) => entry(r, i).prediction) };
  }

  get retrainRunning() {
    return this.retrainState.status === 'running';
  }

  /**
   * Starts a retrain (the caller checked the request): a fresh MLP of the served shape is trained
   * in a worker; when it succeeds it replaces the served model in one assignment.
   */
  startRetrain({ dataset, epochs, lr, batchSize, limit, seed }) {
    const spec = { ...this.current.spec, outputs: DATASET_CLASSES[dataset].length };
    const controller = new AbortController();
    this.retrainAbort = controller;
    const startedAt = new Date();
    const state = { status: 'running', dataset, epochs, lr, batchSize, limit: limit ?? null, seed, startedAt: startedAt.toISOString(), progress: null, epochsDone: [], error: null };
    this.retrainState = state;
    const onProgress = (ev) => {
      if (ev.type === 'step') state.progress = { epoch: ev.epoch, step: ev.step, stepsPerEpoch: ev.stepsPerEpoch, loss: ev.loss, samplesPerSecond: ev.samplesPerSecond };
      else state.epochsDone.push({ epoch: ev.epoch, loss: ev.loss, metrics: ev.metrics, valLoss: ev.valLoss, valMetrics: ev.valMetrics, seconds: ev.seconds });
    };
    this.retrainDone = (async () => {
      try {
        const data = limit === undefined ? dataset : await limitedData(dataset, limit, controller.signal);
        const result = await trainInWorker({
          model: spec,
          data,
          fit: { epochs, batchSize, loss: 'crossEntropy', metrics: ['accuracy'], optimizer: { type: 'adamw', lr } },
          seed,
          onProgress,
          progressIntervalMs: 100,
          signal: controller.signal,
        });
        const prev = this.current;
        // The swap: one assignment. Predictions already running hold `prev` and finish on it.
        this.current = Object.freeze({
          model: result.model.eval(),
          spec,
          members: 1,
          classes: DATASET_CLASSES[dataset],
          scaler: null, // the built-in datasets are images in [0, 1], trained on unscaled
          parameters: countParameters(result.model),
          version: prev.version + 1,
          loadedAt: new Date().toISOString(),
          source: `retrain:${dataset}`,
        });
        Object.assign(state, { status: 'done', seconds: result.seconds, version: this.current.version });
      } catch (err) {
        Object.assign(state, { status: controller.signal.aborted ? 'cancelled' : 'failed', error: String(err?.message ?? err).split('\n')[0] });
      } finally {
        state.finishedAt = new Date().toISOString();
        this.retrainAbort = null;
      }
    })();
  }

  /** Stops a running retrain (at shutdown) and waits for the worker to be gone. */
  async stopRetrain() {
    this.retrainAbort?.abort(new Error('server shutting down'));
    await this.retrainDone;
  }
}

/** Row i of a run's result as the API reports it. */
function entry({ version, classes, probs }, i) {
  const k = classes.length;
  const p = Array.from(probs.subarray(i * k, (i + 1) * k));
  let best = 0;
  for (let j = 1; j < k; j++) if (p[j] > p[best]) best = j;
  return { version, prediction: { probabilities: p, class: best, label: classes[best] } };
}

/**
 * The first `limit` training rows (and as many test rows for validation) of a built-in dataset,
 * for quick retrains, or the dataset's name when `limit` covers it all. Loaded in a worker
 * (dataset-worker.mjs): on this thread, Fashion-MNIST held every request up for 1-3 s.
 */
function limitedData(dataset, limit, signal) {
  return new Promise((resolve, reject) => {
    signal.throwIfAborted();
    const worker = new Worker(new URL('./dataset-worker.mjs', import.meta.url), { workerData: { dataset, limit } });
    const onAbort = () => void worker.terminate();
    signal.addEventListener('abort', onAbort, { once: true });
    let settled = false;
    const settle = (fn, value) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      fn(value);
    };
    worker.once('message', (m) => {
      if (m.whole) return settle(resolve, dataset);
      const t = ({ data, shape }) => new Tensor(data, shape);
      settle(resolve, { train: m.train.map(t), validation: m.validation.map(t) });
    });
    worker.once('error', (err) => settle(reject, err));
    worker.once('exit', () => settle(reject, signal.aborted ? signal.reason : new Error(`loading ${dataset} stopped unexpectedly`)));
  });
}
