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
const server = createServer(createHandler(predictor, metrics, { maxBody, maxRows, publicDir: new URL('./public/', import.meta.url) }));
// A client gets this long to send a whole request, and headers must come sooner.
server.requestTimeout = 30_000;
server.headersTimeout = 10_000;

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
