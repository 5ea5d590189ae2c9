import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { loadDigits, loadModel, manualSeed, mlp, predict, saveModel, softmax, type Tensor } from '../src/index.js';
import { describeBackends } from './helpers/backends.js';
import { type ServerProcess, startServer } from './helpers/server-process.js';

// The model service (examples/server/) as a user runs it: a child process on a loopback port, on
// the backend under test. Bursts of valid and invalid requests go in while a retrain runs in the
// background; every answer is checked.

const CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
const MAX_ROWS = 64; // --max-rows, small so "too many rows" is a 400 and not a 413
let dir = '';
let modelPath = '';
let rows: number[][] = []; // digits from the test split: the valid inputs
let x: Tensor;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tg-server-'));
  modelPath = join(dir, 'model.safetensors');
  manualSeed(7);
  const spec = { inputs: 784, hidden: [32], outputs: 10 };
  await saveModel(mlp(spec), modelPath, { spec, classes: CLASSES, preprocess: null });
  x = loadDigits().test.tensors[0].slice(0, 40);
  rows = x.toArray() as number[][];
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Reply {
  status: number;
  type: string;
  body: unknown;
  text: string;
}

/** One HTTP request with node:http; resolves on the response even if the upload is cut short (413). */
function send(url: string, method: string, path: string, body?: string | Buffer | Buffer[], headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL(path, url), { method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        let parsed: unknown = undefined;
        try {
          parsed = JSON.parse(text);
        } catch {
          /* not JSON: the page and its files */
        }
        resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body: parsed, text });
      });
      res.on('error', reject);
    });
    // After a 413 the server closes the connection while we may still be writing.
    req.on('error', (e: NodeJS.ErrnoException) => (['EPIPE', 'ECONNRESET'].includes(e.code ?? '') ? undefined : reject(e)));
    if (Array.isArray(body)) {
      // No Content-Length: chunked, so the limit must be enforced while streaming.
      for (const chunk of body) req.write(chunk);
      req.end();
    } else req.end(body);
  });
}

const json = { 'Content-Type': 'application/json' };
const post = (url: string, path: string, body: unknown): Promise<Reply> => send(url, 'POST', path, JSON.stringify(body), json);
const get = (url: string, path: string): Promise<Reply> => send(url, 'GET', path);

interface Prediction {
  probabilities: number[];
  class: number;
  label: string;
}

/** Checks one prediction's shape; returns its probabilities. */
function checkPrediction(p: unknown, what: string): number[] {
  const q = p as Prediction;
  expect(Object.keys(q).sort(), what).toEqual(['class', 'label', 'probabilities']);
  expect(q.probabilities, what).toHaveLength(10);
  for (const v of q.probabilities) expect(v >= 0 && v <= 1, `${what}: probability ${v}`).toBe(true);
  expect(Math.abs(q.probabilities.reduce((a, b) => a + b, 0) - 1), `${what}: sum of probabilities`).toBeLessThan(1e-5);
  const best = q.probabilities.indexOf(Math.max(...q.probabilities));
  expect(q.class, what).toBe(best);
  expect(q.label, what).toBe(CLASSES[best]);
  return q.probabilities;
}

function close(a: number[], b: number[], what: string): void {
  const worst = Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
  expect(worst, what).toBeLessThan(1e-5);
}

const row = (v: unknown): unknown[] => Array.from({ length: 784 }, () => v);
const bigBody = Buffer.alloc((1 << 20) + 10, 0x20); // over the 1 MiB limit (spaces: valid JSON padding)

/** Every kind of bad request, with the status it must get. */
function invalidRequests(url: string): Array<[string, number, () => Promise<Reply>]> {
  const good = rows[0]!;
  const p = (body: unknown) => () => post(url, '/predict', body);
  return [
    ['text/plain', 415, () => send(url, 'POST', '/predict', JSON.stringify({ input: good }), { 'Content-Type': 'text/plain' })],
    ['no content type', 415, () => send(url, 'POST', '/predict', JSON.stringify({ input: good }))],
    ['latin-1 charset', 415, () => send(url, 'POST', '/predict', JSON.stringify({ input: good }), { 'Content-Type': 'application/json; charset=latin1' })],
    ['bad JSON', 400, () => send(url, 'POST', '/predict', '{"input": [1,', json)],
    ['empty body', 400, () => send(url, 'POST', '/predict', '', json)],
    ['invalid UTF-8', 400, () => send(url, 'POST', '/predict', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), json)],
    ['over the limit (Content-Length)', 413, () => send(url, 'POST', '/predict', bigBody, json)],
    ['over the limit (chunked)', 413, () => send(url, 'POST', '/predict', [bigBody.subarray(0, 600_000), bigBody.subarray(600_000)], json)],
    ['body is an array', 400, p([good])],
    ['body is null', 400, p(null)],
    ['missing input', 400, p({})],
    ['both input and inputs', 400, p({ input: good, inputs: [good] })],
    ['unknown field', 400, p({ input: good, extra: 1 })],
    ['wrong length', 400, p({ input: good.slice(1) })],
    ['too long', 400, p({ input: [...good, 0] })],
    ['string number', 400, p({ input: [...good.slice(1), '0.5'] })],
    ['"NaN" string', 400, p({ input: row('NaN') })],
    ['null entries', 400, p({ input: row(null) })],
    ['Infinity via 1e999', 400, () => send(url, 'POST', '/predict', `{"input":[${row(0).join(',').replace(/^0/, '1e999')}]}`, json)],
    ['float32 overflow', 400, p({ input: [1e39, ...good.slice(1)] })],
    ['input is a number', 400, p({ input: 3 })],
    ['input nested one level too deep', 400, p({ input: [good] })],
    ['inputs is flat', 400, p({ inputs: good })],
    ['inputs with a short row', 400, p({ inputs: [good, good.slice(2)] })],
    ['inputs nested too deep', 400, p({ inputs: [[good]] })],
    ['inputs with an object row', 400, p({ inputs: [good, { 0: 1 }] })],
    ['empty batch', 400, p({ inputs: [] })],
    ['too many rows', 400, p({ inputs: Array.from({ length: MAX_ROWS + 1 }, () => row(0)) })],
    ['retrain: unknown dataset', 400, () => post(url, '/retrain', { dataset: 'cifar10' })],
    ['retrain: too many epochs', 400, () => post(url, '/retrain', { dataset: 'digits', epochs: 21 })],
    ['retrain: fractional epochs', 400, () => post(url, '/retrain', { dataset: 'digits', epochs: 1.5 })],
    ['retrain: bad lr', 400, () => post(url, '/retrain', { dataset: 'digits', lr: 'fast' })],
    ['retrain: unknown field', 400, () => post(url, '/retrain', { dataset: 'digits', steps: 5 })],
    ['unknown route', 404, () => get(url, '/predictions')],
    ['GET /predict', 405, () => get(url, '/predict')],
    ['DELETE /health', 405, () => send(url, 'DELETE', '/health')],
    ['POST /metrics', 405, () => post(url, '/metrics', {})],
  ];
}

function checkError(r: Reply, status: number, what: string): void {
  expect(r.status, `${what}: ${r.text}`).toBe(status);
  expect(r.type, what).toMatch(/^application\/json/);
  const error = (r.body as { error?: unknown } | undefined)?.error;
  expect(typeof error, `${what}: ${r.text}`).toBe('string');
  expect(error as string, what).not.toMatch(/\n/);
  expect(Object.keys(r.body as object), what).toEqual(['error']);
}

describeBackends('model service (examples/server)', (backend) => {
  let server: ServerProcess | undefined;
  // After each test, so a failed test never leaves its server running.
  afterEach(async () => {
    await server?.stop().catch(() => undefined);
    server = undefined;
  });

  it('answers bursts of valid and invalid requests during a retrain, swaps the model once, and exits cleanly', async () => {
    server = await startServer(['--model', modelPath, '--max-rows', String(MAX_ROWS)], backend().name);
    const { url } = server;
    const loaded = await loadModel(modelPath);
    const before = (softmax(predict(loaded.model, x), 1).toArray() as number[][]).map((r) => r.map(Number));

    const health = await get(url, '/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', model: { version: 0, classes: CLASSES, spec: { inputs: 784, hidden: [32], outputs: 10 }, parameters: 784 * 32 + 32 + 32 * 10 + 10, backend: backend().name } });

    // Two retrains at once: exactly one starts (training takes far longer than the two requests apart).
    const [r1, r2] = await Promise.all([post(url, '/retrain', { dataset: 'digits', epochs: 1, limit: 6000, batchSize: 8 }), post(url, '/retrain', { dataset: 'digits', epochs: 1 })]);
    expect([r1.status, r2.status].sort()).toEqual([202, 409]);
    expect((r1.status === 202 ? r1 : r2).body).toMatchObject({ status: 'started' });
    checkError(r1.status === 409 ? r1 : r2, 409, 'second retrain');

    const v1: Map<number, number[]> = new Map(); // input index → probabilities from the retrained model
    let sawRunning = false;
    let waves = 0;
    const wave = async (): Promise<string> => {
      waves++;
      const singles = Array.from({ length: 200 }, (_, k) => k % rows.length);
      const batches = [0, 10, 20].map((start) => rows.slice(start, start + 20));
      const invalid = invalidRequests(url);
      const state = await get(url, '/retrain'); // the burst starts while the retrain is in this state
      const [single, batch, bad] = await Promise.all([
        Promise.all(singles.map((i) => post(url, '/predict', { input: rows[i] }))),
        Promise.all(batches.map((b) => post(url, '/predict', { inputs: b }))),
        Promise.all(invalid.map(([, , go]) => go())),
      ]);
      const check = (probs: number[], version: unknown, i: number, what: string): void => {
        expect([0, 1], what).toContain(version);
        if (version === 0) close(probs, before[i]!, `${what}: old model vs predict()`);
        else if (v1.has(i)) close(probs, v1.get(i)!, `${what}: new model, same input`);
        else v1.set(i, probs);
      };
      single.forEach((r, k) => {
        expect(r.status, r.text).toBe(200);
        const b = r.body as Prediction & { modelVersion: number };
        const { modelVersion, ...prediction } = b;
        check(checkPrediction(prediction, `single ${k}`), modelVersion, singles[k]!, `single ${k}`);
      });
      batch.forEach((r, n) => {
        expect(r.status, r.text).toBe(200);
        const b = r.body as { predictions: unknown[]; modelVersion: number };
        expect(Object.keys(b).sort()).toEqual(['modelVersion', 'predictions']);
        expect(b.predictions).toHaveLength(20);
        b.predictions.forEach((p, j) => check(checkPrediction(p, `batch ${n} row ${j}`), b.modelVersion, n * 10 + j, `batch ${n} row ${j}`));
      });
      bad.forEach((r, k) => checkError(r, invalid[k]![1], invalid[k]![0]));
      const status = (state.body as { status: string }).status;
      if (status === 'running') sawRunning = true;
      return status;
    };

    // Waves until the retrain has finished (and one more on the new model).
    let status = await wave();
    const deadline = Date.now() + 20_000;
    while (status === 'running' && Date.now() < deadline) status = await wave();
    expect(status, JSON.stringify((await get(url, '/retrain')).body)).toBe('done');
    await wave();
    expect(sawRunning, 'the first wave ran while the retrain was running').toBe(true);
    expect(v1.size, 'answers from the retrained model').toBe(rows.length);

    // The new model answers a batch exactly as it answered single requests.
    const after = await post(url, '/predict', { inputs: rows });
    expect((after.body as { modelVersion: number }).modelVersion).toBe(1);
    (after.body as { predictions: Prediction[] }).predictions.forEach((p, i) => close(p.probabilities, v1.get(i)!, `row ${i}: batch vs single (new model)`));
    // It learned something: 1 epoch on 6000 digits beats chance on these 40 by far.
    const right = (after.body as { predictions: Prediction[] }).predictions.filter((p, i) => p.class === Number((loadDigits().test.tensors[1].toArray() as number[])[i])).length;
    expect(right).toBeGreaterThan(24);

    const metrics = (await get(url, '/metrics')).body as {
      requests: Record<string, Record<string, number>>;
      latencyMs: Record<string, { count: number; p50: number; p90: number; p99: number }>;
      microBatches: { count: number; rows: number; maxSize: number };
      model: { version: number; source: string };
      retrain: { status: string; epochsDone: unknown[]; error: null };
    };
    expect(metrics.model.version, 'swapped exactly once').toBe(1);
    expect(metrics.model.source).toBe('retrain:digits');
    expect(metrics.retrain).toMatchObject({ status: 'done', error: null });
    expect(metrics.retrain.epochsDone).toHaveLength(1);
    expect(metrics.microBatches.maxSize, 'concurrent single requests shared a forward pass').toBeGreaterThan(1);
    expect(metrics.microBatches.rows).toBe(200 * waves);
    expect(metrics.microBatches.count).toBeLessThan(metrics.microBatches.rows);
    expect(metrics.requests['POST /predict']!['200']).toBe(waves * 203 + 1);
    expect(metrics.requests['POST /retrain']).toMatchObject({ '202': 1, '409': 1 });
    for (const [route, byStatus] of Object.entries(metrics.requests)) expect(Object.keys(byStatus), route).not.toContain('500');
    const lat = metrics.latencyMs['POST /predict']!;
    expect(lat.p50).toBeGreaterThan(0);
    expect(lat.p50).toBeLessThanOrEqual(lat.p90);
    expect(lat.p90).toBeLessThanOrEqual(lat.p99);

    // Still alive, then a clean exit on SIGTERM.
    expect(server.child.exitCode).toBeNull();
    expect((await get(url, '/health')).status).toBe(200);
    expect(server.stderr()).toBe('');
    expect(await server.stop()).toBe(0);
    server = undefined;
  }, 60_000);

  it('serves the page, and with --no-batching answers each request on its own', async () => {
    server = await startServer(['--model', modelPath, '--no-batching'], backend().name);
    const { url } = server;
    const before = (softmax(predict((await loadModel(modelPath)).model, x), 1).toArray() as number[][]).map((r) => r.map(Number));
    for (const [path, type] of [['/', 'text/html'], ['/app.js', 'text/javascript'], ['/style.css', 'text/css']] as const) {
      const r = await get(url, path);
      expect(r.status, path).toBe(200);
      expect(r.type, path).toContain(type);
      expect(r.text, `${path} is self-contained`).not.toMatch(/https?:\/\//);
    }
    const replies = await Promise.all(rows.map((input) => post(url, '/predict', { input })));
    replies.forEach((r, i) => {
      const { modelVersion, ...prediction } = r.body as Prediction & { modelVersion: number };
      expect(modelVersion).toBe(0);
      close(checkPrediction(prediction, `row ${i}`), before[i]!, `row ${i} vs predict()`);
    });
    const metrics = (await get(url, '/metrics')).body as { microBatches: { count: number; maxSize: number }; batching: { enabled: boolean } };
    expect(metrics.batching.enabled).toBe(false);
    expect(metrics.microBatches).toMatchObject({ count: rows.length, maxSize: 1 });
    expect(await server.stop()).toBe(0);
    server = undefined;
  }, 30_000);
});

it('the server without --model says how to make one and exits 2', async () => {
  await expect(startServer([], 'js', 10_000)).rejects.toThrow(/exited with code 2[\s\S]*npm run demo/);
});
