// npm run bench — the benchmark suite: tensorgrad against every peer it can find, in one run.
//
//   npm run bench                      all parts (gemm, train, infer), 3 repetitions: ~10–15 min on 2 cores
//   npm run bench -- --quick           1 repetition of a few steps each: a smoke run under 2 minutes
//   npm run bench -- --part train      one part (repeatable: --part gemm --part infer)
//   npm run bench -- --reps 5          more repetitions
//   npm run bench -- --render bench/results/latest.json   redo the .md/.svg from a run's raw numbers
//
// Every configuration (system × threads × batch) runs in a fresh process: Node children
// (bench/suite/child.ts) for tensorgrad, tfjs, onnxruntime-node and brain.js; Python children
// (bench/peers/python_peer.py) for numpy and PyTorch. Repetitions rotate the configuration order.
// Writes bench/results/<name>.{md,json,svg} (name: latest for a full run, quick for --quick,
// latest-<parts> for a partial run) and prints the markdown on stdout; progress goes to stderr.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BATCHES, PARTS, RESULT_PREFIX, cpuTicks, foreignCores, gemmShapes, type Measurement, type Part, type SuiteResult, type SystemId, type Unavailable } from './common.js';
import type { GemmTask, InferTask, Task, TrainTask } from './child.js';
import { prepareData } from './data.js';
import { markdown, svg } from './report.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const childScript = join(here, 'child.ts');
const pyScript = join(root, 'bench', 'peers', 'python_peer.py');
const require = createRequire(import.meta.url);

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    part: { type: 'string', multiple: true },
    reps: { type: 'string' },
    out: { type: 'string' },
    threads: { type: 'string', default: '1,2' },
    render: { type: 'string' },
  },
});

// --render FILE.json: rewrite FILE's .md and .svg from its raw numbers (after a report change), measuring nothing.
if (opts.render) {
  const r = JSON.parse(readFileSync(opts.render, 'utf8')) as SuiteResult;
  const base = opts.render.replace(/\.json$/, '');
  writeFileSync(`${base}.md`, markdown(r));
  writeFileSync(`${base}.svg`, svg(r));
  process.stderr.write(`bench: rendered ${base}.{md,svg}\n`);
  process.exit(0);
}
const quick = opts.quick ?? false;
const parts: Part[] = (opts.part ?? [...PARTS]).flatMap((p) => p.split(',')) as Part[];
for (const p of parts) if (!PARTS.includes(p)) throw new Error(`bench: --part must be one of ${PARTS.join(', ')}, got '${p}'`);
const reps = opts.reps ? Number(opts.reps) : quick ? 1 : 3;
const threadCounts = opts.threads!.split(',').map(Number);
const log = (s: string): void => void process.stderr.write(`${s}\n`);

/** How long and how hard each part runs; --quick trades precision for a run under 2 minutes. */
const P = quick
  ? { train: { warmup: 2, warmSeconds: 0, minSteps: 1, maxSteps: 30, budget: 0.3 }, infer: { warmup: 1, minCalls: 2, budget: 0.25, latencyCalls: 200, latencyWarmSeconds: 0 }, gemm: { reps: 3, minTime: 0.008 } }
  : { train: { warmup: 3, warmSeconds: 1.5, minSteps: 3, maxSteps: 400, budget: 2.5 }, infer: { warmup: 5, minCalls: 5, budget: 1.5, latencyCalls: 2000, latencyWarmSeconds: 0.5 }, gemm: { reps: 5, minTime: 0.02 } };

interface ChildOut {
  ok: boolean;
  res: Record<string, unknown>;
}

function parseResult(stdout: string, stderr: string, status: number | null, signal: string | null): ChildOut {
  const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
  if (!line) {
    const why = signal ? `killed by ${signal}` : `exit ${status}`;
    return { ok: false, res: { error: `no result (${why}): ${stderr.trim().split('\n').slice(-2).join(' ').slice(0, 300)}` } };
  }
  const res = JSON.parse(line.slice(RESULT_PREFIX.length)) as Record<string, unknown>;
  return { ok: !('error' in res), res };
}

function threadEnv(threads: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const v of ['TENSORGRAD_NUM_THREADS', 'OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS']) env[v] = String(threads);
  // Each configuration names its backend; a TENSORGRAD_BACKEND from the caller's shell would
  // otherwise decide the probe (and so whether native runs at all).
  delete env['TENSORGRAD_BACKEND'];
  // Set by some shells for other benchmarks; they would pin OpenBLAS's kernel choice.
  delete env['OPENBLAS_CORETYPE'];
  delete env['OPENBLAS_L2_SIZE'];
  return env;
}

function runNode(task: Task, threads: number, extraEnv: Record<string, string> = {}, timeoutS = 300): ChildOut {
  const r = spawnSync(process.execPath, ['--import', 'tsx', childScript, JSON.stringify(task)], {
    cwd: root,
    env: { ...threadEnv(threads), ...extraEnv },
    encoding: 'utf8',
    timeout: timeoutS * 1000,
    maxBuffer: 64 << 20,
  });
  return parseResult(r.stdout ?? '', r.stderr ?? '', r.status, r.signal);
}

function runPython(python: string, task: Record<string, unknown>, threads: number, timeoutS = 300): ChildOut {
  const r = spawnSync(python, [pyScript, JSON.stringify(task)], { cwd: root, env: threadEnv(threads), encoding: 'utf8', timeout: timeoutS * 1000, maxBuffer: 64 << 20 });
  if (r.error) return { ok: false, res: { error: `${python}: ${r.error.message}` } };
  return parseResult(r.stdout ?? '', r.stderr ?? '', r.status, r.signal);
}

// ---- Context and availability ----------------------------------------------------------------

function cpuInfo(): { cpu: string; isa: string } {
  let cpu = cpus()[0]?.model ?? 'unknown CPU';
  let isa = 'unknown';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    cpu = /^model name\s*:\s*(.+)$/m.exec(info)?.[1] ?? cpu;
    const f = ` ${/^flags\s*:\s*(.+)$/m.exec(info)?.[1] ?? ''} `;
    isa = ['avx2', 'fma', 'avx512f'].map((x) => `${x} ${f.includes(` ${x} `) ? 'yes' : 'no'}`).join(', ');
  } catch {
    // Not Linux: os.cpus() is all there is.
  }
  return { cpu, isa };
}

const unavailable: Unavailable[] = [];
const versions: Record<string, string> = {};
const notes: string[] = [];

function nodePeer(system: SystemId, pkgs: string[]): boolean {
  for (const p of pkgs) {
    try {
      const v = (require(`${p}/package.json`) as { version: string }).version;
      versions[p] = v;
    } catch {
      unavailable.push({ system, part: 'all', reason: `not installed (npm package ${p} not found; it is a devDependency: run npm install)` });
      return false;
    }
  }
  return true;
}

/** The first interpreter that imports `module`, and what the others said. */
function findPython(module: 'numpy' | 'torch'): { python: string | null; why: string; probe?: Record<string, unknown> } {
  // TG_BENCH_PYTHON names the one interpreter to use; otherwise the first of these that imports it.
  const pinned = process.env['TG_BENCH_PYTHON'];
  const candidates = pinned ? [pinned] : ['python3', '/usr/bin/python3', 'python'];
  const whys: string[] = [];
  for (const py of candidates) {
    const r = runPython(py, { kind: 'probe' }, 1, 60);
    if (!r.ok) {
      whys.push(`${py}: ${String(r.res['error']).slice(0, 120)}`);
      continue;
    }
    if (typeof r.res[module] === 'string') return { python: py, why: '', probe: r.res };
    whys.push(`${py} (${String(r.res['executable'])}): ${String(r.res[`${module}Error`] ?? 'no module')}`);
  }
  return { python: null, why: `no python with ${module}: ${whys.join('; ')}` };
}

// ---- Measurements -----------------------------------------------------------------------------

const measurements: Measurement[] = [];

function record(m: Omit<Measurement, 'values' | 'runs'>, value: number, run: Record<string, unknown>): void {
  let e = measurements.find((x) => x.part === m.part && x.system === m.system && x.threads === m.threads && x.key === m.key && x.metric === m.metric);
  if (!e) {
    e = { ...m, values: [], runs: [] };
    measurements.push(e);
  }
  e.values.push(value);
  e.runs.push(run);
}

const failed = new Set<string>();
function fail(system: SystemId, part: Part, what: string, res: Record<string, unknown>): void {
  const reason = `${what}: ${String(res['error'])}`;
  log(`  FAILED ${reason}`);
  const key = `${system}|${part}|${reason}`;
  if (failed.has(key)) return;
  failed.add(key);
  unavailable.push({ system, part, reason: `failed (${reason})` });
}

interface Config {
  label: string;
  run: () => void;
}

function runRotated(part: Part, configs: Config[]): void {
  for (let r = 0; r < reps; r++) {
    for (let k = 0; k < configs.length; k++) {
      const c = configs[(k + r) % configs.length]!;
      const t0 = performance.now();
      c.run();
      log(`[${part}] rep ${r + 1}/${reps} ${c.label} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    }
  }
}

function fmtShort(x: unknown): string {
  return typeof x === 'number' ? Math.round(x).toLocaleString('en-US') : String(x);
}

// ---- Main ---------------------------------------------------------------------------------------

const t0 = performance.now();
const loadStart = loadavg();
const ticksStart = cpuTicks();
const { cpu, isa } = cpuInfo();
const dataDir = mkdtempSync(join(tmpdir(), 'tensorgrad-bench-'));
try {
  log(`bench: parts ${parts.join(', ')}; ${reps} repetition(s)${quick ? ' (quick)' : ''}; threads ${threadCounts.join(', ')}; data in ${dataDir}`);
  const dataset = await prepareData(dataDir);
  if (!dataset.startsWith('Fashion')) notes.push(`Fashion-MNIST was not found, so the batches come from ${dataset}.`);

  const tgProbe = runNode({ kind: 'probe' }, 1);
  const tgBackend = String(tgProbe.res['tensorgrad'] ?? 'unknown');
  versions['tensorgrad'] = `${(require(join(root, 'package.json')) as { version: string }).version} (${tgBackend})`;
  const nativeOk = tgBackend.startsWith('native');
  if (!nativeOk) unavailable.push({ system: 'tg-native', part: 'all', reason: `the native addon did not load (backend: ${tgBackend}); build it with npm install or npm run build:native` });
  const tfjsCpu = nodePeer('tfjs-cpu', ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu']);
  const tfjsWasm = nodePeer('tfjs-wasm', ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-wasm']);
  const ortOk = nodePeer('ort', ['onnxruntime-node']);
  const brainOk = nodePeer('brain', ['brain.js']);
  unavailable.push({
    system: 'tfjs-node',
    part: 'all',
    reason:
      'not installable here: its install script downloads libtensorflow from storage.googleapis.com (outside the npm registry), which this machine cannot reach; tfjs cpu and wasm stand in for it',
  });
  const np = parts.includes('gemm') ? findPython('numpy') : { python: null, why: '' };
  const th = parts.includes('train') || parts.includes('infer') ? findPython('torch') : { python: null, why: '' };
  if (parts.includes('gemm')) {
    if (np.python) {
      versions['numpy'] = `${String(np.probe!['numpy'])} (${np.python}; BLAS ${(np.probe!['numpyBlas'] as string[]).map((p) => p.split('/').pop()).join(', ') || 'unknown'})`;
    } else unavailable.push({ system: 'numpy', part: 'gemm', reason: np.why });
  }
  if (parts.includes('train') || parts.includes('infer')) {
    if (th.python) {
      versions['torch'] = `${String(th.probe!['torch'])} (${th.python}, Python ${String(th.probe!['python'])}; BLAS ${(th.probe!['torchBlas'] as string[]).map((p) => p.split('/').slice(-2).join('/')).join(', ') || 'unknown'})`;
    } else unavailable.push({ system: 'torch', part: 'all', reason: th.why });
  }

  // ---- gemm ----
  const shapes = gemmShapes(quick);
  if (parts.includes('gemm')) {
    const configs: Config[] = [];
    for (const t of threadCounts) {
      if (nativeOk) {
        configs.push({
          label: `tensorgrad kernel + public matmul, ${t}T`,
          run: () => {
            const task: GemmTask = { kind: 'gemm', threads: t, shapes, ...P.gemm };
            const r = runNode(task, t, { TENSORGRAD_BACKEND: 'native' }, 900);
            if (!r.ok) return fail('tg-native', 'gemm', `${t} threads`, r.res);
            for (const row of r.res['rows'] as { name: string; kernel: number; kernelNN: number; public: number; disposed: number }[]) {
              const s = shapes.find((x) => x.name === row.name)!;
              record({ part: 'gemm', system: 'tg-kernel', threads: t, key: row.name, metric: 'gflops' }, row.kernel, { detail: r.res['detail'] });
              if (s.form !== 'NN') record({ part: 'gemm', system: 'tg-kernel', threads: t, key: `${row.name}:NN`, metric: 'gflops' }, row.kernelNN, {});
              record({ part: 'gemm', system: 'tg-native', threads: t, key: row.name, metric: 'gflops' }, row.public, { detail: 'a.matmul(b)' });
              record({ part: 'gemm', system: 'tg-native', threads: t, key: row.name, metric: 'gflops disposed' }, row.disposed, {});
            }
          },
        });
      }
      if (np.python) {
        configs.push({
          label: `numpy, ${t}T`,
          run: () => {
            const r = runPython(np.python!, { kind: 'gemm', threads: t, shapes: shapes.map((s) => [s.name, s.form, s.m, s.n, s.k]), ...P.gemm }, t, 900);
            if (!r.ok) return fail('numpy', 'gemm', `${t} threads`, r.res);
            for (const row of r.res['rows'] as { name: string; gflops: number }[]) {
              record({ part: 'gemm', system: 'numpy', threads: t, key: row.name, metric: 'gflops' }, row.gflops, { detail: `numpy ${String(r.res['numpy'])}` });
            }
          },
        });
      }
    }
    runRotated('gemm', configs);
  }

  // ---- train ----
  if (parts.includes('train')) {
    const configs: Config[] = [];
    const base = (batch: number): Omit<TrainTask, 'system'> => ({ kind: 'train', data: dataDir, batch, ...P.train });
    const add = (system: SystemId, batch: number, t: number, go: () => ChildOut): void => {
      configs.push({
        label: `${system} b${batch} ${t}T`,
        run: () => {
          const r = go();
          if (!r.ok) return fail(system, 'train', `batch ${batch}, ${t} threads`, r.res);
          record({ part: 'train', system, threads: t, key: `b${batch}`, metric: 'samples/s' }, r.res['samplesPerSecond'] as number, r.res);
          log(`  ${fmtShort(r.res['samplesPerSecond'])} samples/s, ${String(r.res['steps'])} steps, first loss ${Number(r.res['firstLoss']).toFixed(5)}`);
        },
      });
    };
    for (const b of BATCHES) {
      for (const t of threadCounts) {
        if (nativeOk) add('tg-native', b, t, () => runNode({ ...base(b), system: 'tg' }, t, { TENSORGRAD_BACKEND: 'native' }));
        if (th.python) add('torch', b, t, () => runPython(th.python!, { ...base(b), threads: t }, t));
        // The TS backend splits its GEMMs over worker threads.
        add('tg-ts', b, t, () => runNode({ ...base(b), system: 'tg' }, t, { TENSORGRAD_BACKEND: 'js' }));
      }
      // Single-threaded systems (tfjs-wasm has no threads in Node): 1 thread only.
      if (tfjsCpu) add('tfjs-cpu', b, 1, () => runNode({ ...base(b), system: 'tfjs-cpu' }, 1, { TENSORGRAD_BACKEND: 'js' }));
      if (tfjsWasm) add('tfjs-wasm', b, 1, () => runNode({ ...base(b), system: 'tfjs-wasm' }, 1, { TENSORGRAD_BACKEND: 'js' }));
    }
    // brain.js has no batches (it trains per sample): measured once, shown in the batch-32 row.
    if (brainOk) add('brain', 32, 1, () => runNode({ ...base(32), system: 'brain' }, 1, { TENSORGRAD_BACKEND: 'js' }));
    runRotated('train', configs);
    const firsts = measurements
      .filter((m) => m.part === 'train' && m.system !== 'brain')
      .map((m) => ({ s: m.system, b: m.key, v: Number(m.runs[0]!['firstLoss']) }))
      .filter((x) => Number.isFinite(x.v));
    for (const b of new Set(firsts.map((x) => x.b))) {
      const vs = firsts.filter((x) => x.b === b).map((x) => x.v);
      const spread = Math.max(...vs) - Math.min(...vs);
      notes.push(`Same data and weights check, batch ${b.slice(1)}: the first step's loss is ${Math.min(...vs).toFixed(5)}–${Math.max(...vs).toFixed(5)} across ${vs.length} configurations (spread ${spread.toExponential(1)}).`);
    }
  }

  // ---- infer ----
  if (parts.includes('infer')) {
    const configs: Config[] = [];
    const base: Omit<InferTask, 'system' | 'threads'> = { kind: 'infer', data: dataDir, batch: 256, ...P.infer };
    const add = (system: SystemId, t: number, go: () => ChildOut): void => {
      configs.push({
        label: `${system} ${t}T`,
        run: () => {
          const r = go();
          if (!r.ok) return fail(system, 'infer', `${t} threads`, r.res);
          record({ part: 'infer', system, threads: t, key: 'b256', metric: 'samples/s' }, r.res['throughput'] as number, r.res);
          record({ part: 'infer', system, threads: t, key: 'b1', metric: 'latency median µs' }, r.res['latencyMedianUs'] as number, {});
          record({ part: 'infer', system, threads: t, key: 'b1', metric: 'latency p99 µs' }, r.res['latencyP99Us'] as number, {});
          record({ part: 'infer', system, threads: t, key: 'b4', metric: 'latency median µs' }, r.res['latency4MedianUs'] as number, {});
          record({ part: 'infer', system, threads: t, key: 'b4', metric: 'latency p99 µs' }, r.res['latency4P99Us'] as number, {});
          log(
            `  b256 ${fmtShort(r.res['throughput'])} samples/s; b1 median ${fmtShort(r.res['latencyMedianUs'])} µs, p99 ${fmtShort(r.res['latencyP99Us'])} µs; ` +
              `b4 median ${fmtShort(r.res['latency4MedianUs'])} µs, p99 ${fmtShort(r.res['latency4P99Us'])} µs`,
          );
        },
      });
    };
    for (const t of threadCounts) {
      if (nativeOk) {
        add('tg-native', t, () => runNode({ ...base, system: 'tg', threads: t }, t, { TENSORGRAD_BACKEND: 'native' }));
        add('tg-predict', t, () => runNode({ ...base, system: 'tg', threads: t }, t, { TENSORGRAD_BACKEND: 'native', TG_BENCH_PREDICT: '1' }));
      }
      if (th.python) add('torch', t, () => runPython(th.python!, { ...base, threads: t }, t));
      if (ortOk) add('ort', t, () => runNode({ ...base, system: 'ort', threads: t }, t, { TENSORGRAD_BACKEND: 'js' }));
      add('tg-ts', t, () => runNode({ ...base, system: 'tg', threads: t }, t, { TENSORGRAD_BACKEND: 'js' }));
    }
    if (tfjsCpu) add('tfjs-cpu', 1, () => runNode({ ...base, system: 'tfjs-cpu', threads: 1 }, 1, { TENSORGRAD_BACKEND: 'js' }));
    if (tfjsWasm) add('tfjs-wasm', 1, () => runNode({ ...base, system: 'tfjs-wasm', threads: 1 }, 1, { TENSORGRAD_BACKEND: 'js' }));
    if (brainOk) add('brain', 1, () => runNode({ ...base, system: 'brain', threads: 1 }, 1, { TENSORGRAD_BACKEND: 'js' }));
    runRotated('infer', configs);
    // Every system must compute the same function (brain.js excepted: its output layer is ReLU'd).
    const checks = measurements
      .filter((m) => m.part === 'infer' && m.metric === 'samples/s' && m.system !== 'brain')
      .map((m) => ({ s: m.system, c: m.runs[0]!['check'] as number[] }))
      .filter((x) => Array.isArray(x.c));
    if (checks.length > 1) {
      let worst = 0;
      for (const x of checks) for (let i = 0; i < x.c.length; i++) worst = Math.max(worst, Math.abs(x.c[i]! - checks[0]!.c[i]!));
      notes.push(`Same weights check: the first logits agree across ${checks.length} inference configurations to ${worst.toExponential(1)} (max abs difference).`);
    }
  }

  if (quick) notes.push('Quick run: 1 repetition of a few steps/calls, 200 latency calls, squares up to 1024: a smoke test of the suite, not a measurement.');
  const result: SuiteResult = {
    context: {
      date: new Date().toISOString().replace('T', ' ').slice(0, 16) + ' UTC',
      cpu,
      isa,
      logicalCores: cpus().length,
      node: process.version,
      versions,
      loadStart: [...loadStart],
      loadEnd: [...loadavg()],
      foreignCores: foreignCores(ticksStart, cpuTicks(), (performance.now() - t0) / 1000),
      dataset,
      // The C allocator's settings pass to every child and change what fresh memory costs (on a VM
      // whose page faults are slow, PyTorch's step most of all), so they are part of the command.
      command: [
        ...Object.entries(process.env)
          .filter(([k]) => k.startsWith('MALLOC_'))
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, v]) => `${k}=${v}`),
        'npm run bench',
        ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : []),
      ].join(' '),
      quick,
      trainWarmup: { steps: P.train.warmup, seconds: P.train.warmSeconds },
      latencyWarmup: { calls: P.infer.warmup, seconds: P.infer.latencyWarmSeconds },
      wallSeconds: (performance.now() - t0) / 1000,
    },
    parts,
    measurements,
    unavailable,
    gemmShapes: shapes,
    notes,
  };
  const outDir = join(root, 'bench', 'results');
  const name = opts.out ?? (quick ? 'quick' : parts.length === PARTS.length ? 'latest' : `latest-${parts.join('-')}`);
  mkdirSync(outDir, { recursive: true });
  const md = markdown(result);
  writeFileSync(join(outDir, `${name}.md`), md);
  writeFileSync(join(outDir, `${name}.json`), `${JSON.stringify(result, null, 1)}\n`);
  writeFileSync(join(outDir, `${name}.svg`), svg(result));
  process.stdout.write(md);
  log(`bench: wrote ${relative(process.cwd(), join(outDir, name))}.{md,json,svg} in ${result.context.wallSeconds.toFixed(0)} s`);
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
