// node --import tsx bench/serve.ts — the model service (examples/server/server.mjs) over loopback.
// Saves an untrained 784-512-ReLU-256-ReLU-10 MLP (speed does not depend on the weights), starts
// the server on it as two child processes (one with micro-batching, one with --no-batching), and
// drives it with a bounded load generator of its own (node:http, one keep-alive socket per
// client): `c` clients each send POST /predict with one digit ({"input": [784 numbers]}, real
// rows of the embedded digits) and send the next as soon as the answer is in, for --duration
// seconds, at each concurrency. Then one client sends batch requests of 256 rows
// ({"inputs": [...]}). Every answer is checked (status 200; every 64th body parsed and its
// probabilities counted); anything else is an error. The server's /metrics is read before and
// after each run, so the micro-batch sizes are those of that run.
//
// Client and server share the machine's cores: on a small machine the numbers include the
// client's own cost (parsing, JSON), as an autocannon run on the same box would.
//
// The server runs the built package (dist/: npm run build:ts first). Options: --duration S per
// run (default 3), --reps N (runs per row, alternating between the two servers; the median is
// reported; default 3), --concurrency 1,16,64, --quick (1 s runs, 1 rep).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tg from '../src/index.js';
import { fmt, int, machine, machineLine, quantile, table } from './embed-common.mjs';

const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string' },
    concurrency: { type: 'string', default: '1,16,64' },
    reps: { type: 'string' },
    quick: { type: 'boolean', default: false },
  },
});
const duration = Number(opts.duration ?? (opts.quick ? 1 : 3));
const reps = Number(opts.reps ?? (opts.quick ? 1 : 3));
if (!(Number.isSafeInteger(reps) && reps >= 1 && reps <= 20)) {
  console.error(`--reps must be an integer in [1, 20], got '${opts.reps}'`);
  process.exit(2);
}
if (!(duration > 0 && duration <= 600)) {
  console.error(`--duration must be seconds in (0, 600], got '${opts.duration}'`);
  process.exit(2);
}
const levels = opts.concurrency.split(',').map(Number);
if (!levels.every((c) => Number.isSafeInteger(c) && c >= 1 && c <= 1024)) {
  console.error(`--concurrency must be a comma-separated list of integers in [1, 1024], got '${opts.concurrency}'`);
  process.exit(2);
}
const BATCH_ROWS = 256;
const root = fileURLToPath(new URL('..', import.meta.url));

const m = machine(tg.backendInfo());
const dir = mkdtempSync(join(tmpdir(), 'tensorgrad-serve-bench-'));
const modelFile = join(dir, 'mlp.safetensors');
tg.manualSeed(0);
const spec = { inputs: 784, hidden: [512, 256], outputs: 10 };
await tg.saveModel(tg.mlp(spec), modelFile, { spec, classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], preprocess: null });

// Request bodies, serialised once: real digits (mostly zeros, so bodies are ~3 KB, as a client's
// would be), three decimals as a browser canvas would send.
const digits = tg.loadDigits().test.tensors[0];
const pixels = digits.data;
const rowJson = (i: number): string => {
  const r = pixels.subarray(i * 784, (i + 1) * 784);
  return `[${Array.from(r, (v) => (v === 0 ? '0' : String(Math.round(v * 1000) / 1000))).join(',')}]`;
};
const singleBodies = Array.from({ length: 64 }, (_, i) => Buffer.from(`{"input":${rowJson(i)}}`));
const batchBody = Buffer.from(`{"inputs":[${Array.from({ length: BATCH_ROWS }, (_, i) => rowJson(i)).join(',')}]}`);

interface Server {
  child: ChildProcess;
  base: string;
  banner: string;
}

async function startServer(batching: boolean): Promise<Server> {
  const args = [join(root, 'examples/server/server.mjs'), '--model', modelFile, '--port', '0'];
  if (!batching) args.push('--no-batching');
  const env = { ...process.env };
  delete env['NODE_OPTIONS'];
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`serve bench: the server did not start in 30 s: ${out}${err}`));
    }, 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const hit = /listening on (http:\/\/\S+)/.exec(out);
      if (hit) {
        clearTimeout(timer);
        resolve({ child, base: hit[1]!, banner: out.split('\n')[0]! });
      }
    });
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`serve bench: the server exited (${code ?? sig}) before listening: ${out}${err}`));
    });
  });
}

async function stopServer(s: Server): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  const gone = new Promise((r) => s.child.once('exit', r));
  s.child.kill('SIGTERM');
  await Promise.race([gone, sleep(10_000).then(() => s.child.kill('SIGKILL'))]);
}

interface Reply {
  status: number;
  body: string;
}

function post(agent: Agent, url: URL, body: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': body.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function getJson(base: string, path: string): Promise<Record<string, unknown>> {
  const r = await fetch(new URL(path, base));
  if (!r.ok) throw new Error(`serve bench: GET ${path} answered ${r.status}`);
  return (await r.json()) as Record<string, unknown>;
}

interface MicroBatches {
  count: number;
  rows: number;
  maxSize: number;
}
async function microBatches(base: string): Promise<MicroBatches> {
  const mb = (await getJson(base, '/metrics'))['microBatches'] as MicroBatches;
  return { count: mb.count, rows: mb.rows, maxSize: mb.maxSize };
}

interface Run {
  requests: number;
  errors: number;
  firstError: string;
  seconds: number;
  latencies: number[];
  /** Micro-batches the server ran during this run: count, rows, largest (over the server's life). */
  batches: MicroBatches;
}

/** `clients` closed-loop clients, each on its own keep-alive socket, for `seconds`. */
async function load(s: Server, clients: number, seconds: number, bodies: readonly Buffer[], rowsPerBody: number): Promise<Run> {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const url = new URL('/predict', s.base);
  const before = await microBatches(s.base);
  const latencies: number[] = [];
  let errors = 0;
  let firstError = '';
  let requests = 0;
  const fail = (why: string): void => {
    errors++;
    if (firstError === '') firstError = why.slice(0, 200);
  };
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = c; performance.now() < end; i += clients) {
        const t = performance.now();
        try {
          const r = await post(agent, url, bodies[i % bodies.length]!);
          latencies.push(performance.now() - t);
          requests++;
          if (r.status !== 200) fail(`${r.status} ${r.body}`);
          else if (requests % 64 === 0) {
            const j = JSON.parse(r.body) as { probabilities?: number[]; predictions?: { probabilities: number[] }[] };
            const n = rowsPerBody === 1 ? (j.probabilities?.length === 10 ? 1 : 0) : (j.predictions?.filter((p) => p.probabilities.length === 10).length ?? 0);
            if (n !== rowsPerBody) fail(`a 200 whose body lacks ${rowsPerBody} rows of 10 probabilities: ${r.body.slice(0, 120)}`);
          }
        } catch (e) {
          requests++;
          fail(e instanceof Error ? e.message : String(e));
        }
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  agent.destroy();
  const after = await microBatches(s.base);
  return {
    requests,
    errors,
    firstError,
    seconds: elapsed,
    latencies,
    batches: { count: after.count - before.count, rows: after.rows - before.rows, maxSize: after.maxSize },
  };
}

const rows: string[][] = [];
const banners: string[] = [];
let totalErrors = 0;
function report(label: string, clients: number, r: Run, rowsPerBody: number): void {
  totalErrors += r.errors;
  const mb = r.batches.count === 0 ? '' : `${int(r.batches.count)} passes, mean ${fmt(r.batches.rows / r.batches.count, 1)} rows`;
  rows.push([
    label,
    String(clients),
    int(r.requests / r.seconds),
    rowsPerBody === 1 ? '' : int((r.requests * rowsPerBody) / r.seconds),
    fmt(quantile(r.latencies, 0.5), 2),
    fmt(quantile(r.latencies, 0.99), 2),
    String(r.errors),
    mb,
  ]);
  if (r.errors > 0) console.error(`${label} c=${clients}: ${r.errors} errors; first: ${r.firstError}`);
}

/** The run with the median requests/s of several. */
function medianRun(runs: Run[]): Run {
  const sorted = [...runs].sort((a, b) => a.requests / a.seconds - b.requests / b.seconds);
  return sorted[Math.floor(sorted.length / 2)]!;
}

try {
  // Both servers run side by side, and the runs alternate between them (on, off, on, off, …)
  // for `reps` rounds: a machine that warms up or gets busier mid-bench moves both alike. Each
  // row reports the run with the median requests/s.
  const servers = [await startServer(true), await startServer(false)];
  try {
    for (const s of servers) banners.push(s.banner.replace(modelFile, 'mlp.safetensors'));
    // Warm both servers' JIT and kernels, and this client's, outside the measured runs.
    for (const s of servers) await load(s, 16, Math.min(2, duration), singleBodies, 1);
    for (const s of servers) await load(s, 1, Math.min(1, duration), singleBodies, 1);
    for (const c of levels) {
      const runs: Run[][] = [[], []];
      for (let r = 0; r < reps; r++) for (let i = 0; i < 2; i++) runs[i]!.push(await load(servers[i]!, c, duration, singleBodies, 1));
      for (let i = 0; i < 2; i++) report(`single sample, micro-batching ${i === 0 ? 'on' : 'off'}`, c, medianRun(runs[i]!), 1);
    }
    const batchRuns: Run[] = [];
    for (let r = 0; r < reps; r++) batchRuns.push(await load(servers[0]!, 1, duration, [batchBody], BATCH_ROWS));
    report(`batch of ${BATCH_ROWS} rows (${(batchBody.length / 1024).toFixed(0)} KB)`, 1, medianRun(batchRuns), BATCH_ROWS);
  } finally {
    for (const s of servers) await stopServer(s);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

console.log(`\n### The model service over loopback (POST /predict; median of ${reps} runs of ${duration} s per row)\n`);
console.log(table(['request', 'clients', 'requests/s', 'rows/s', 'p50 (ms)', 'p99 (ms)', 'errors', 'server forward passes (/metrics)'], rows));
console.log(`\nserver: ${banners.join(' | ')}`);
console.log(`client: this process, node:http keep-alive, one socket per client; single-sample bodies ~${(singleBodies[0]!.length / 1024).toFixed(1)} KB`);
console.log(machineLine(m));
if (totalErrors > 0) {
  console.error(`serve bench: ${totalErrors} errors`);
  process.exitCode = 1;
}
