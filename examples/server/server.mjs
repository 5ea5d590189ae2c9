#!/usr/bin/env node
/**
 * The model service: serves a model file made by `tensorgrad train --save` over HTTP, with a web
 * page to draw digits on. Only node:http, no framework.
 *
 *   node examples/server/server.mjs --model demo/digits.safetensors [--port 8080] [--host 127.0.0.1]
 *
 * Endpoints: POST /predict, GET /health, GET /metrics, POST|GET /retrain, GET / (the page).
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { backendInfo, loadModel } from 'tensorgrad';
import { Metrics } from './metrics.mjs';
import { Predictor } from './predictor.mjs';
import { createHandler } from './routes.mjs';

const USAGE = `usage: node examples/server/server.mjs --model <file.safetensors> [options]

  --model <file>     a model written by \`tensorgrad train --save\` (required)
  --port <n>         port to listen on; 0 picks a free one (default 8080)
  --host <addr>      address to listen on (default 127.0.0.1, this machine only)
  --max-batch <n>    most single-sample requests joined into one forward pass (default 256)
  --max-rows <n>     most rows in one {"inputs": [...]} request (default 1024)
  --max-body <bytes> largest request body (default 1048576 = 1 MiB, about 200 rows
                     of 784 numbers with 4 decimals; raise it with --max-rows)
  --max-connections <n>  most open connections (default 4096); all bodies being read at
                     once share max(64 MiB, 4 × --max-body), over it a 503
  --no-batching      answer each single-sample request with its own forward pass
  --help             this text
`;

function fail(message) {
  process.stderr.write(`server: ${message}\n`);
  process.exit(2);
}

function intFlag(name, value, min, max) {
  const n = Number(value);
  if (!/^\d+$/.test(String(value)) || n < min || n > max) fail(`--${name} must be an integer in [${min}, ${max}], got '${value}'`);
  return n;
}

let args;
try {
  args = parseArgs({
    options: {
      model: { type: 'string' },
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      'max-batch': { type: 'string', default: '256' },
      'max-rows': { type: 'string', default: '1024' },
      'max-body': { type: 'string', default: String(1 << 20) },
      'max-connections': { type: 'string', default: '4096' },
      'no-batching': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  }).values;
} catch (e) {
  fail(`${e.message}\n\n${USAGE}`);
}
if (args.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (args.model === undefined) {
  fail(
    '--model <file.safetensors> is required. Make one with `npm run demo` (writes demo/digits.safetensors) ' +
      'or `npx tensorgrad train --data digits --save model.safetensors`, then run\n' +
      '  npm run serve -- --model demo/digits.safetensors',
  );
}
const port = intFlag('port', args.port, 0, 65535);
const maxBatch = intFlag('max-batch', args['max-batch'], 1, 4096);
const maxRows = intFlag('max-rows', args['max-rows'], 1, 65536);
const maxBody = intFlag('max-body', args['max-body'], 1024, 1 << 30);
const maxConnections = intFlag('max-connections', args['max-connections'], 1, 1 << 20);

let loaded;
try {
  loaded = await loadModel(args.model);
} catch (e) {
  process.stderr.write(`server: ${e.message}\n`);
  process.exit(1);
}

const metrics = new Metrics();
const predictor = new Predictor(loaded, { batching: !args['no-batching'], maxBatch, source: args.model });
predictor.onBatch = (size) => metrics.batch(size);
const handle = createHandler(predictor, metrics, { maxBody, maxRows, publicDir: new URL('./public/', import.meta.url) });
/** socket → request → a promise settled when its response is done (see clientError below) */
const owed = new WeakMap();
const server = createServer(
  {
    // A client gets 30 s to send a whole request, and headers must come within 10 s. node:http
    // checks these every connectionsCheckingInterval (30 s by default, so a trickled body held a
    // connection for up to 60 s); every second keeps them close to what they say.
    requestTimeout: 30_000,
    headersTimeout: 10_000,
    connectionsCheckingInterval: 1_000,
    // routes.mjs checks Host itself, so a request without one gets a JSON reason like any other.
    requireHostHeader: false,
  },
  (req, res) => {
    const socket = req.socket;
    if (!owed.has(socket)) owed.set(socket, new Map());
    const pending = owed.get(socket);
    pending.set(req, new Promise((resolve) => res.once('close', resolve)).then(() => pending.delete(req)));
    handle(req, res);
  },
);
// Bodies being read share a byte budget (routes.mjs); this bounds the sockets themselves. Over
// it, node:http drops new connections at once.
server.maxConnections = maxConnections;

/**
 * Requests node:http refuses before our handler sees them (malformed HTTP, headers too large, a
 * request or headers timeout) get the same one-line JSON error as everything else, not an empty
 * body. The connection is closed: after a parse error its framing cannot be trusted.
 */
const CLIENT_ERRORS = {
  HPE_HEADER_OVERFLOW: [431, 'request headers too large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'request not received in time'],
  HPE_HEADERS_TIMEOUT: [408, 'request headers not received in time'],
};
server.on('clientError', (err, socket) => {
  if (!socket.writable || socket.writableEnded || err.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const [status, reason] = CLIENT_ERRORS[err.code] ?? [400, `malformed HTTP request (${String(err.code ?? 'parse error')})`];
  const body = JSON.stringify({ error: reason });
  const text = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' }[status];
  const answer = () => socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  // Complete requests pipelined before the broken one may still be being answered: ours goes
  // after theirs, or it would be read as their answer. (An incomplete one is the broken request
  // itself, cut off inside its body: ours is its answer, and its handler sees the client gone.)
  const before = [...(owed.get(socket) ?? new Map())].filter(([req]) => req.complete).map(([, done]) => done);
  if (before.length === 0) return answer();
  const timer = setTimeout(() => socket.destroy(), 10_000);
  void Promise.all(before).then(() => {
    clearTimeout(timer);
    if (!socket.destroyed) answer();
  });
});
// An Expect other than 100-continue: 417 as node:http would, with a reason.
server.on('checkExpectation', (req, res) => {
  const body = JSON.stringify({ error: `unsupported Expect: ${JSON.stringify(String(req.headers.expect).slice(0, 40))} (only 100-continue)` });
  res.writeHead(417, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
  res.end(body);
});

server.on('error', (e) => {
  process.stderr.write(`server: cannot listen on ${args.host}:${port}: ${e.message}\n`);
  process.exit(1);
});
server.listen(port, args.host, () => {
  const { address, port: actual } = server.address();
  const host = address.includes(':') ? `[${address}]` : address;
  const { spec } = loaded;
  const info = backendInfo();
  process.stdout.write(
    `model ${args.model}: MLP ${[spec.inputs, ...spec.hidden, spec.outputs].join('-')}, ${info.backend} backend (${info.isa}, ${info.threads} threads), micro-batching ${predictor.batching ? `on (≤ ${maxBatch})` : 'off'}\n` +
      `listening on http://${host}:${actual}\n`,
  );
});

let stopping = false;
async function shutdown(signal) {
  if (stopping) {
    process.stderr.write(`server: ${signal} again, exiting now\n`);
    process.exit(1);
  }
  stopping = true;
  process.stdout.write(`server: ${signal}, shutting down\n`);
  // Stop accepting; idle keep-alive connections close now, busy ones after their response.
  const closed = new Promise((resolve) => server.close(resolve));
  server.closeIdleConnections();
  const force = setTimeout(() => server.closeAllConnections(), 5000);
  await Promise.all([closed, predictor.stopRetrain()]);
  clearTimeout(force);
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
