import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
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

/**
 * Bytes straight onto a TCP connection (for requests node:http cannot make: malformed, pipelined,
 * cut off); resolves with everything the server sent once it closes, or after `ms`.
 */
function raw(url: string, data: string, { ms = 3000, abortAfterWrite = false } = {}): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    let out = '';
    const socket = connect(Number(port), hostname, () => {
      socket.write(data);
      if (abortAfterWrite) socket.destroy();
    });
    const timer = setTimeout(() => socket.destroy(), ms);
    socket.on('data', (d: Buffer) => (out += d.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

/** The [status, JSON body] of each response in a raw HTTP/1.1 byte stream. */
function rawResponses(text: string): Array<[number, unknown]> {
  const out: Array<[number, unknown]> = [];
  let rest = text;
  while (rest.length > 0) {
    const m = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n/.exec(rest);
    if (m === null) throw new Error(`not an HTTP response: ${JSON.stringify(rest.slice(0, 200))}`);
    const length = Number(/content-length: *(\d+)/i.exec(m[2]!)?.[1] ?? 0);
    const body = rest.slice(m[0].length, m[0].length + length);
    out.push([Number(m[1]), body === '' ? undefined : JSON.parse(body)]);
    rest = rest.slice(m[0].length + length);
  }
  return out;
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

  it('takes unusual but legal requests, and answers malformed HTTP and overflowing inputs with a JSON reason', async () => {
    server = await startServer(['--model', modelPath], backend().name);
    const { url } = server;
    const input = rows[0]!;
    const body = JSON.stringify({ input });
    const ok = (r: Reply, what: string): void => {
      expect(r.status, `${what}: ${r.text}`).toBe(200);
      const { modelVersion, ...prediction } = r.body as Prediction & { modelVersion: number };
      expect(modelVersion, what).toBe(0);
      checkPrediction(prediction, what);
    };
    // Media type and parameter names are case-insensitive, values may be quoted, "utf8" is UTF-8.
    ok(await send(url, 'POST', '/predict', body, { 'Content-Type': 'Application/JSON; Charset="UTF-8"' }), 'quoted charset');
    ok(await send(url, 'POST', '/predict', body, { 'Content-Type': 'application/json;charset=utf8' }), 'charset=utf8');
    ok(await send(url, 'POST', '/predict/?source=test', body, json), 'trailing slash and query');
    const options = await send(url, 'OPTIONS', '/predict');
    expect(options.status).toBe(204);
    // "//health" is a path, not a host named health (it served the page).
    const [[status, reply]] = rawResponses(await raw(url, 'GET //health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')) as [[number, unknown]];
    expect(status, JSON.stringify(reply)).toBe(404);
    // A coding we do not undo: refused, not read as JSON (a plain body labelled gzip was accepted).
    checkError(await send(url, 'POST', '/predict', body, { ...json, 'Content-Encoding': 'gzip' }), 415, 'gzip body');
    // Finite float32 inputs that overflow the layers: NaN probabilities went out as null with a 200.
    // ±3e38 with the signs of hidden unit 0's weights: its pre-activation is surely +Infinity.
    const w0 = ((await loadModel(modelPath)).model.parameters()[0]!.toArray() as number[][])[0]!;
    const huge = w0.map((v) => (v >= 0 ? 3e38 : -3e38));
    checkError(await post(url, '/predict', { input: huge }), 400, 'overflowing input');
    checkError(await post(url, '/predict', { inputs: [input, huge] }), 400, 'overflowing batch row');

    // What node:http refuses before the handler: a JSON reason now, not an empty body.
    const head = (extra: string): string => `POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${extra}\r\n`;
    const refused = async (data: string, status: number, what: string): Promise<void> => {
      const replies = rawResponses(await raw(url, data));
      expect(replies.length, what).toBeGreaterThan(0);
      const [code, reply] = replies.at(-1)!;
      expect(code, `${what}: ${JSON.stringify(reply)}`).toBe(status);
      expect(reply, what).toEqual({ error: expect.any(String) });
    };
    await refused('HELLO\r\n\r\n', 400, 'not HTTP');
    await refused(head('Content-Length: 5\r\nContent-Length: 6\r\n') + '{}', 400, 'two Content-Lengths');
    await refused(head('Transfer-Encoding: chunked\r\n') + 'zz\r\n{}\r\n0\r\n\r\n', 400, 'bad chunk size');
    await refused(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'huge header');
    await refused('GET /health HTTP/1.1\r\nConnection: close\r\n\r\n', 400, 'no Host');
    // Content-Length shorter than the body: that request is answered, then the rest is refused.
    const pipelined = rawResponses(await raw(url, head('Content-Length: 10\r\n') + body));
    expect(pipelined.map(([code]) => code)).toEqual([400, 400]);
    expect((pipelined[0]![1] as { error: string }).error).toMatch(/^bad JSON/);
    // Pipelined good requests are answered in order.
    const three = head(`Content-Length: ${body.length}\r\n`) + body;
    expect(rawResponses(await raw(url, three + three + 'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).map(([code]) => code)).toEqual([200, 200, 200]);
    // Clients that leave mid-body or before the answer: nothing to answer, nothing logged (a
    // broken-off body used to be logged as an internal error, with a 500 attempt).
    await Promise.all(Array.from({ length: 20 }, (_, i) => raw(url, head(`Content-Length: ${body.length}\r\n`) + body.slice(0, i % 2 ? 100 : body.length), { abortAfterWrite: true })));
    await raw(url, head(`Content-Length: ${body.length + 100}\r\n`) + body, { abortAfterWrite: true });
    ok(await post(url, '/predict', { input }), 'after the aborted clients');
    const metrics = (await get(url, '/metrics')).body as { requests: Record<string, Record<string, number>> };
    for (const [route, byStatus] of Object.entries(metrics.requests)) expect(Object.keys(byStatus), route).not.toContain('500');
    expect(server.stderr()).toBe('');
    expect(await server.stop()).toBe(0);
    server = undefined;
  }, 30_000);
});

it('the server without --model says how to make one and exits 2', async () => {
  await expect(startServer([], 'js', 10_000)).rejects.toThrow(/exited with code 2[\s\S]*npm run demo/);
});
