/**
 * The HTTP side of the model service: routing, body limits, validation and JSON answers. Bad
 * input always gets a 4xx with {"error": "<one line>"}; only a bug of ours can give a 500.
 */
import { readFileSync } from 'node:fs';
import { DATASETS } from './predictor.mjs';

const F32_MAX = 3.4028234663852886e38;
const utf8 = new TextDecoder('utf-8', { fatal: true });

class HttpError extends Error {
  constructor(status, message, headers = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}
const bad = (message) => new HttpError(400, message);
/** The client went away before its request was complete: nobody to answer. */
class ClientGone extends Error {}

/** A short description of a JSON value for error messages (never echoes a long string). */
function describe(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 20 ? `${v.slice(0, 17)}...` : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

function requireOnly(body, allowed, what) {
  if (!isObject(body)) throw bad(`${what}: the body must be a JSON object, got ${describe(body)}`);
  const unknown = Object.keys(body).find((k) => !allowed.includes(k));
  if (unknown !== undefined) throw bad(`${what}: unknown field ${JSON.stringify(unknown.slice(0, 40))} (allowed: ${allowed.join(', ')})`);
}

/** Checks one sample and copies it into `out` at `offset`. */
function readRow(what, v, n, out, offset) {
  if (!Array.isArray(v)) throw bad(`predict: ${what} must be an array of ${n} numbers, got ${describe(v)}`);
  if (v.length !== n) throw bad(`predict: ${what} must have ${n} numbers, got ${v.length}`);
  for (let j = 0; j < n; j++) {
    const x = v[j];
    if (typeof x !== 'number') throw bad(`predict: ${what}[${j}] must be a number, got ${describe(x)}`);
    // JSON has no NaN/Infinity, but 1e999 parses to Infinity and 1e39 overflows float32.
    if (!(Math.abs(x) <= F32_MAX)) throw bad(`predict: ${what}[${j}] must be a finite float32, got ${x}`);
    out[offset + j] = x;
  }
}

/**
 * Inputs that are valid float32 but huge (say 3e38) overflow the layers to ±Infinity and the
 * softmax to NaN, which JSON would send as null probabilities with a meaningless class.
 */
function requireFinite(prediction, what) {
  if (!prediction.probabilities.every(Number.isFinite)) {
    throw bad(`predict: ${what} drives the model's outputs to infinity (values too large?); got no finite probabilities`);
  }
}

/** A /predict body → { single: Float32Array } or { rows: Float32Array, count }. */
export function parsePredict(body, n, maxRows) {
  requireOnly(body, ['input', 'inputs'], 'predict');
  const hasOne = body.input !== undefined;
  const hasMany = body.inputs !== undefined;
  if (hasOne && hasMany) throw bad('predict: give either "input" (one sample) or "inputs" (a batch), not both');
  if (!hasOne && !hasMany) throw bad('predict: missing "input" (one sample) or "inputs" (a batch)');
  if (hasOne) {
    const single = new Float32Array(n);
    readRow('input', body.input, n, single, 0);
    return { single };
  }
  const list = body.inputs;
  if (!Array.isArray(list)) throw bad(`predict: inputs must be an array of rows, got ${describe(list)}`);
  if (list.length === 0) throw bad('predict: inputs is empty; send at least one row');
  if (list.length > maxRows) throw bad(`predict: inputs has ${list.length} rows, at most ${maxRows} per request`);
  const rows = new Float32Array(list.length * n);
  list.forEach((row, i) => readRow(`inputs[${i}]`, row, n, rows, i * n));
  return { rows, count: list.length };
}

/** A /retrain body → the options of Predictor.startRetrain. */
export function parseRetrain(body) {
  requireOnly(body, ['dataset', 'epochs', 'lr', 'batchSize', 'limit', 'seed'], 'retrain');
  if (!DATASETS.includes(body.dataset)) throw bad(`retrain: dataset must be one of ${DATASETS.map((d) => `"${d}"`).join(', ')}, got ${describe(body.dataset)}`);
  const int = (key, min, max, dflt) => {
    const v = body[key];
    if (v === undefined) return dflt;
    if (!Number.isInteger(v) || v < min || v > max) throw bad(`retrain: ${key} must be an integer in [${min}, ${max}], got ${describe(v)}`);
    return v;
  };
  const lr = body.lr ?? 1e-3;
  if (typeof lr !== 'number' || !(lr > 0 && lr <= 1)) throw bad(`retrain: lr must be a number in (0, 1], got ${describe(body.lr)}`);
  return {
    dataset: body.dataset,
    epochs: int('epochs', 1, 20, 1),
    batchSize: int('batchSize', 1, 1024, 64),
    limit: int('limit', 1, 60000, undefined),
    seed: int('seed', 0, 2 ** 31 - 1, 0),
    lr,
  };
}

/**
 * The body of a JSON request, read with a byte limit enforced while it streams in (a
 * Content-Length over the limit is refused before reading anything).
 */
function readJson(req, limit, budget) {
  // Media type and parameter names are case-insensitive and a value may be quoted (RFC 9110
  // 8.3.1), so `Application/JSON; Charset="UTF-8"` is as good as `application/json`.
  const type = (req.headers['content-type'] ?? '').split(';');
  const params = new Map(
    type.slice(1).map((p) => {
      const eq = p.indexOf('=');
      return [p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase()];
    }),
  );
  const charset = params.get('charset');
  if (type[0].trim().toLowerCase() !== 'application/json' || (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')) {
    throw new HttpError(415, `expected Content-Type: application/json (UTF-8), got ${JSON.stringify((req.headers['content-type'] ?? '(none)').slice(0, 60))}`);
  }
  // We do not inflate bodies: a gzip body would be read as (invalid) JSON text, or worse, a
  // plain body labelled gzip would be accepted. RFC 7694: 415 for an unsupported coding.
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity' && encoding !== '') {
    throw new HttpError(415, `Content-Encoding ${JSON.stringify(encoding.slice(0, 40))} is not supported; send the JSON uncompressed`, { 'Accept-Encoding': 'identity' });
  }
  // Too large: answer and close the connection rather than read (and discard) the rest.
  const tooLarge = () => new HttpError(413, `body over the limit of ${limit} bytes`, { Connection: 'close' });
  const declared = Number(req.headers['content-length']);
  if (declared > limit) throw tooLarge();
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    let held = 0; // bytes of this body counted in budget.used
    const release = () => {
      budget.used -= held;
      held = 0;
    };
    const onData = (chunk) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        chunks.length = 0;
        release();
        reject(tooLarge());
        return;
      }
      // All bodies being read share one budget: --max-body bounds one request, this bounds many
      // slow uploads at once (each connection may hold up to --max-body until its timeout).
      if (budget.used + chunk.length > budget.limit) {
        req.off('data', onData);
        chunks.length = 0;
        release();
        reject(new HttpError(503, 'server busy reading other requests; retry shortly', { 'Retry-After': '1', Connection: 'close' }));
        return;
      }
      budget.used += chunk.length;
      held += chunk.length;
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => {
      release();
      if (size > limit) return;
      let text;
      try {
        text = utf8.decode(Buffer.concat(chunks));
      } catch {
        return reject(bad('the body is not valid UTF-8'));
      }
      if (text.trim() === '') return reject(bad('the body is empty; expected JSON'));
      try {
        resolve(JSON.parse(text));
      } catch (e) {
        reject(bad(`bad JSON: ${String(e.message).split('\n')[0].slice(0, 120)}`));
      }
    });
    // node:http errors a request whose connection broke mid-body ("aborted"): the client's doing.
    req.on('error', () => {
      release();
      reject(new ClientGone());
    });
    // A client that goes away mid-body gets no answer; this only settles the promise.
    req.on('close', () => {
      release();
      if (!req.complete) reject(new ClientGone());
    });
  });
}

function send(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

/**
 * The path of a request target. Not `new URL(target, base)`: that reads "//health" as a host
 * named health and served the page for it. Absolute-form ("http://host/path") is legal and kept;
 * one trailing slash is dropped, so /predict/ is /predict.
 */
function requestPath(target = '/') {
  let path = target;
  if (/^https?:\/\//i.test(target)) {
    try {
      path = new URL(target).pathname;
    } catch {
      throw bad('bad request URL');
    }
  }
  path = path.split(/[?#]/, 1)[0];
  if (!path.startsWith('/')) throw bad(`bad request URL: ${JSON.stringify(path.slice(0, 40))} does not start with /`);
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

const STATIC = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/style.css': ['style.css', 'text/css; charset=utf-8'],
};

/**
 * The request handler for http.createServer.
 * @param predictor a Predictor
 * @param metrics a Metrics
 * @param options.maxBody body limit in bytes; options.maxRows rows per batch request;
 *   options.maxBuffered bytes of request bodies held at once over all requests (else 503)
 */
export function createHandler(predictor, metrics, { maxBody = 1 << 20, maxRows = 1024, maxBuffered = Math.max(64 << 20, 4 * maxBody), publicDir }) {
  const budget = { used: 0, limit: maxBuffered };
  const files = new Map();
  for (const [path, [name, type]] of Object.entries(STATIC)) files.set(path, { body: readFileSync(new URL(name, publicDir)), type });
  const page = (path) => (req, res) => {
    const f = files.get(path);
    res.writeHead(200, {
      'Content-Type': f.type,
      'Content-Length': f.body.length,
      'X-Content-Type-Options': 'nosniff',
      // Everything the page needs comes from this server.
      'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    });
    res.end(f.body);
  };

  /** path → method → handler */
  const routes = {
    '/health': { GET: (req, res) => send(res, 200, { status: 'ok', model: predictor.modelInfo() }) },
    '/metrics': {
      GET: (req, res) => send(res, 200, { ...metrics.toJSON(), batching: { enabled: predictor.batching, maxBatch: predictor.maxBatch }, model: predictor.modelInfo(), retrain: predictor.retrainState }),
    },
    '/predict': {
      POST: async (req, res) => {
        const parsed = parsePredict(await readJson(req, maxBody, budget), predictor.inputs, maxRows);
        if (parsed.single) {
          const { version, prediction } = await predictor.predictOne(parsed.single);
          requireFinite(prediction, 'input');
          send(res, 200, { ...prediction, modelVersion: version });
        } else {
          const { version, predictions } = await predictor.predictMany(parsed.rows, parsed.count);
          predictions.forEach((p, i) => requireFinite(p, `inputs[${i}]`));
          send(res, 200, { predictions, modelVersion: version });
        }
      },
    },
    '/retrain': {
      GET: (req, res) => send(res, 200, predictor.retrainState),
      POST: async (req, res) => {
        const options = parseRetrain(await readJson(req, maxBody, budget));
        if (predictor.retrainRunning) throw new HttpError(409, 'retrain: a retrain is already running; see GET /retrain');
        if (predictor.inputs !== 784) throw new HttpError(409, `retrain: the served model takes ${predictor.inputs} inputs; the built-in datasets have 784`);
        predictor.startRetrain(options);
        send(res, 202, { status: 'started', retrain: predictor.retrainState });
      },
    },
  };
  for (const path of Object.keys(STATIC)) routes[path] = { GET: page(path) };

  return async (req, res) => {
    const t0 = performance.now();
    let route = 'other';
    res.on('finish', () => metrics.request(route, res.statusCode, performance.now() - t0));
    try {
      // HTTP/1.1 requires Host; node:http's own check (off in server.mjs) answers without a body.
      if (req.headers.host === undefined && req.httpVersion !== '1.0') throw bad('missing Host header (required by HTTP/1.1)');
      if (req.url === '*' && req.method === 'OPTIONS') {
        res.writeHead(204, { Allow: 'GET, HEAD, POST, OPTIONS', 'Content-Length': 0 });
        res.end();
        return;
      }
      const path = requestPath(req.url);
      const methods = Object.hasOwn(routes, path) ? routes[path] : undefined;
      if (methods === undefined) throw new HttpError(404, `no such route: ${req.method} ${path.slice(0, 80)}`);
      const allow = [...Object.keys(methods), ...(methods.GET ? ['HEAD'] : []), 'OPTIONS'].join(', ');
      if (req.method === 'OPTIONS') {
        res.writeHead(204, { Allow: allow, 'Content-Length': 0 });
        res.end();
        return;
      }
      // HEAD is GET without the body (node:http drops the body itself).
      const handler = methods[req.method === 'HEAD' ? 'GET' : req.method];
      if (handler === undefined) {
        throw new HttpError(405, `${path} accepts ${allow}, not ${String(req.method).slice(0, 20)}`, { Allow: allow });
      }
      route = `${req.method} ${path}`;
      await handler(req, res);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof HttpError) {
        send(res, err.status, { error: err.message }, err.headers);
      } else if (!(err instanceof ClientGone)) {
        console.error(`server: internal error on ${req.method} ${req.url}:`, err);
        send(res, 500, { error: 'internal error' });
      }
    }
  };
}
