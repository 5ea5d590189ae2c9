// Markdown tables and an SVG chart from a SuiteResult (the JSON file is the result itself). Pure
// functions of the result, so a test can feed them a fake one.
import { scaleBand, scaleLog } from 'd3-scale';
import { MFLOP_PER_SAMPLE, SYSTEM_LABELS, median, type GemmShape, type Measurement, type SuiteResult, type SystemId } from './common.js';

const int = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—');
const fix = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '—');
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Lookup of one measurement's values. */
class Index {
  private readonly map = new Map<string, Measurement>();
  constructor(ms: readonly Measurement[]) {
    for (const m of ms) this.map.set(Index.id(m.part, m.system, m.threads, m.key, m.metric), m);
  }
  static id(part: string, system: string, threads: number, key: string, metric: string): string {
    return `${part}|${system}|${threads}|${key}|${metric}`;
  }
  get(part: Measurement['part'], system: SystemId, threads: number, key: string, metric: Measurement['metric']): number[] | undefined {
    return this.map.get(Index.id(part, system, threads, key, metric))?.values;
  }
  med(part: Measurement['part'], system: SystemId, threads: number, key: string, metric: Measurement['metric']): number {
    const v = this.get(part, system, threads, key, metric);
    return v && v.length ? median(v) : NaN;
  }
}

/** "median (min–max)" when there are several repetitions, else the value. */
function cell(values: number[] | undefined, f: (x: number) => string = int): string {
  if (!values || values.length === 0) return '—';
  const m = f(median(values));
  if (values.length === 1) return m;
  return `${m} (${f(Math.min(...values))}–${f(Math.max(...values))})`;
}

const ratio = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : '—');

export function threadsOf(r: SuiteResult): number[] {
  return [...new Set(r.measurements.map((m) => m.threads))].sort((a, b) => a - b);
}

/**
 * The batch-512 training step's GEMM time at the kernel's own speed (FLOP-weighted over the
 * step's GEMMs) and the samples/s that bounds: 512 ÷ Σ flops_i ÷ GFLOP/s_i.
 */
export function gemmBound(r: SuiteResult, threads: number): { limit: number; gflops: number } | null {
  const idx = new Index(r.measurements);
  let seconds = 0;
  let flops = 0;
  for (const s of r.gemmShapes.filter((x) => x.step512)) {
    const g = idx.med('gemm', 'tg-kernel', threads, s.name, 'gflops');
    if (!Number.isFinite(g)) return null;
    const f = 2 * s.m * s.n * s.k;
    flops += f;
    seconds += f / (g * 1e9);
  }
  if (flops === 0) return null;
  return { limit: 512 / seconds, gflops: flops / seconds / 1e9 };
}

function contextLine(r: SuiteResult): string {
  const c = r.context;
  const v = Object.entries(c.versions)
    .map(([k, x]) => `${k} ${x}`)
    .join(', ');
  return (
    `${c.cpu}, ${c.logicalCores} logical cores, ISA ${c.isa}; Node ${c.node}; ${v}; ` +
    `load average ${c.loadStart.map((x) => x.toFixed(2)).join('/')} at start, ${c.loadEnd.map((x) => x.toFixed(2)).join('/')} at end; ` +
    (c.foreignCores === undefined ? '' : `other processes used ${c.foreignCores.toFixed(2)} cores on average during the run; `) +
    `${c.date}; ${fix(c.wallSeconds, 0)} s wall${c.quick ? '; QUICK run (few steps, 1 repetition: a smoke test, not a measurement)' : ''}`
  );
}

function gemmTable(r: SuiteResult, idx: Index): string[] {
  const out = [
    '## GEMM (GFLOP/s; higher is better)',
    '',
    'kernel: the addon\'s gemm entry in the shape\'s own form on a reused output buffer; public: `a.matmul(b)` (NN) next to the kernel\'s NN form at the same m×n×k, its result disposed each call (`c.dispose()` or `using`: the array is recycled for the next call) and left to the garbage collector (a fresh array per call); after 1.5 s of warm-up products in each process, kernel, kernel NN and public-disposed are timed in alternating repetitions (the GC variant after them), on operands allocated as tensors are (64-byte aligned); numpy: `A @ B` in the shape\'s form (fresh output, freed at once). Ratios > 1 mean tensorgrad is faster.',
    '',
    '| shape | form | m×n×k | threads | kernel | kernel NN | public, disposed | ÷ kernel NN | public, left to GC | ÷ kernel NN | numpy | kernel ÷ numpy |',
    '|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const t of threadsOf(r)) {
    for (const s of r.gemmShapes) {
      const k = idx.get('gemm', 'tg-kernel', t, s.name, 'gflops');
      if (!k) continue;
      const kn = s.form === 'NN' ? k : idx.get('gemm', 'tg-kernel', t, `${s.name}:NN`, 'gflops');
      const p = idx.get('gemm', 'tg-native', t, s.name, 'gflops');
      const pd = idx.get('gemm', 'tg-native', t, s.name, 'gflops disposed');
      const np = idx.get('gemm', 'numpy', t, s.name, 'gflops');
      const m = (v: number[] | undefined): number => (v && v.length ? median(v) : NaN);
      out.push(
        `| ${s.name} | ${s.form} | ${s.m}×${s.n}×${s.k} | ${t} | ${cell(k, fix)} | ${cell(kn, fix)} | ${cell(pd, fix)} | ${ratio(m(pd), m(kn))} | ${cell(p, fix)} | ${ratio(m(p), m(kn))} | ${cell(np, fix)} | ${ratio(m(k), m(np))} |`,
      );
    }
  }
  return out;
}

const TRAIN_SYSTEMS: SystemId[] = ['tg-native', 'tg-ts', 'torch', 'tfjs-cpu', 'tfjs-wasm', 'brain'];
const INFER_SYSTEMS: SystemId[] = ['tg-native', 'tg-predict', 'tg-ts', 'torch', 'ort', 'tfjs-cpu', 'tfjs-wasm', 'brain'];

function trainTable(r: SuiteResult, idx: Index): string[] {
  const batches = [...new Set(r.measurements.filter((m) => m.part === 'train').map((m) => m.key))].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
  const peers: SystemId[] = ['torch', 'tfjs-cpu', 'tfjs-wasm'];
  const w = r.context.trainWarmup;
  // Reports written before the warm-up was recorded had 3 warm-up steps and no minimum time.
  const warmText = w === undefined ? '3 steps' : w.seconds > 0 ? `${w.seconds} s (and ${w.steps} steps)` : `${w.steps} steps`;
  const out = [
    '## Training (samples/s; higher is better)',
    '',
    `MLP 784-512-ReLU-256-ReLU-10, softmax cross-entropy, Adam lr 1e-3, the same batches and initial weights for every system; a whole step (forward, loss, zeroGrad, backward, step, loss read back) through each library's public API. Median (min–max) over repetitions, each in a fresh process that first trains for at least ${warmText} (a step's speed keeps rising for a second or two after a process starts; a training run spends its time in the steady state after), then times up to a few hundred steps. Ratios are tensorgrad ÷ peer: > 1 means tensorgrad is faster. The TS backend splits its GEMMs over worker threads (the rest of its step runs on one); tfjs and brain.js are single-threaded (tfjs-wasm has no wasm threads in Node) and appear in the 1-thread rows only, so the 2-thread rows' TS ÷ tfjs ratios (marked †) divide by tfjs's 1-thread figure. brain.js trains one sample at a time with MSE on a ReLU output (it offers no softmax cross-entropy and no batches), so it is listed, not compared.`,
    '',
    `| batch | threads | ${TRAIN_SYSTEMS.map((s) => SYSTEM_LABELS[s]).join(' | ')} | ${peers.map((p) => `native ÷ ${SYSTEM_LABELS[p]}`).join(' | ')} | TS ÷ tfjs cpu | TS ÷ tfjs wasm | % of GEMM-bound |`,
    `|---|--:|${TRAIN_SYSTEMS.map(() => '--:').join('|')}|${peers.map(() => '--:').join('|')}|--:|--:|--:|`,
  ];
  for (const b of batches) {
    for (const t of threadsOf(r)) {
      const v = (s: SystemId) => idx.get('train', s, t, b, 'samples/s');
      if (TRAIN_SYSTEMS.every((s) => !v(s))) continue;
      const m = (s: SystemId) => idx.med('train', s, t, b, 'samples/s');
      const bound = b === 'b512' ? gemmBound(r, t) : null;
      const pct = bound ? `${fix((100 * m('tg-native')) / bound.limit, 0)}%` : '—';
      // Single-threaded peers are measured on 1 thread only; other rows compare with that figure.
      const tsRatio = (p: SystemId): string => {
        if (idx.get('train', p, t, b, 'samples/s')) return ratio(m('tg-ts'), m(p));
        const r = ratio(m('tg-ts'), idx.med('train', p, 1, b, 'samples/s'));
        return r === '—' ? r : `${r}†`;
      };
      out.push(
        `| ${b.slice(1)} | ${t} | ${TRAIN_SYSTEMS.map((s) => cell(v(s))).join(' | ')} | ${peers.map((p) => ratio(m('tg-native'), m(p))).join(' | ')} | ${tsRatio('tfjs-cpu')} | ${tsRatio('tfjs-wasm')} | ${pct} |`,
      );
    }
  }
  const lines: string[] = [];
  for (const t of threadsOf(r)) {
    const bound = gemmBound(r, t);
    const sps = idx.med('train', 'tg-native', t, 'b512', 'samples/s');
    if (!bound || !Number.isFinite(sps)) continue;
    lines.push(
      `- ${t} thread${t === 1 ? '' : 's'}: the batch-512 step's GEMMs run at ${fix(bound.gflops)} GFLOP/s (FLOP-weighted, kernel on a reused buffer, this run), so GEMM alone bounds training at ${int(bound.limit)} samples/s; measured ${int(sps)} samples/s × ${MFLOP_PER_SAMPLE} MFLOP = ${fix((sps * MFLOP_PER_SAMPLE) / 1000)} GFLOP/s effective = ${fix((100 * sps) / bound.limit, 0)}% of the GEMM-bound limit.`,
    );
  }
  if (lines.length) out.push('', 'GEMM-bound limit at batch 512 (samples/s × 2.41 MFLOP ÷ the native GEMM\'s GFLOP/s at the step\'s shapes):', '', ...lines);
  return out;
}

function inferTables(r: SuiteResult, idx: Index): string[] {
  const peers: SystemId[] = ['torch', 'ort', 'tfjs-cpu', 'tfjs-wasm'];
  const threads = threadsOf(r);
  const lw = r.context.latencyWarmup;
  // Reports written before this warm-up was recorded warmed up with 5 calls of each batch size.
  const latencyWarm = lw === undefined ? '5 calls' : lw.seconds > 0 ? `${lw.seconds} s (and at least ${lw.calls} calls)` : `${lw.calls} calls`;
  const out = [
    '## Inference',
    '',
    `The same MLP and weights in every system (onnxruntime gets them as an ONNX graph: Gemm+Relu nodes with the weights as initializers). One call: wrap a Float32Array in the library's tensor (without a copy where the library can: tensorgrad \`new Tensor(array, shape)\`, PyTorch \`torch.from_numpy\`, onnxruntime \`new ort.Tensor\`; tfjs copies in \`tf.tensor2d\`), forward without a graph, read the output back. tensorgrad native = \`model.forward\` under \`noGrad\`; predict() = \`predict(model, x)\`. Each system runs in a fresh process: batch-256 calls for the throughput, then, after ${latencyWarm} of calls at that size, the timed batch-1 calls, then the same for batch 4 (a served model answers in the steady state; its first few thousand small calls after the batch-256 phase run slower).`,
    '',
    '### Batch 256 throughput (samples/s; higher is better; ratio = tensorgrad native ÷ peer, > 1: tensorgrad faster)',
    '',
    `| threads | ${INFER_SYSTEMS.map((s) => SYSTEM_LABELS[s]).join(' | ')} | ${peers.map((p) => `native ÷ ${SYSTEM_LABELS[p]}`).join(' | ')} |`,
    `|--:|${INFER_SYSTEMS.map(() => '--:').join('|')}|${peers.map(() => '--:').join('|')}|`,
  ];
  for (const t of threads) {
    const v = (s: SystemId) => idx.get('infer', s, t, 'b256', 'samples/s');
    if (INFER_SYSTEMS.every((s) => !v(s))) continue;
    const m = (s: SystemId) => idx.med('infer', s, t, 'b256', 'samples/s');
    out.push(`| ${t} | ${INFER_SYSTEMS.map((s) => cell(v(s))).join(' | ')} | ${peers.map((p) => ratio(m('tg-native'), m(p))).join(' | ')} |`);
  }
  for (const [key, title] of [
    ['b1', 'Batch 1 latency'],
    ['b4', 'Batch 4 latency (4 consecutive rows per call, as a server batching the requests that arrive together)'],
  ] as const) {
    const rows: string[] = [];
    for (const t of threads) {
      const has = (s: SystemId) => idx.get('infer', s, t, key, 'latency median µs');
      if (INFER_SYSTEMS.every((s) => !has(s))) continue;
      const m = (s: SystemId) => idx.med('infer', s, t, key, 'latency median µs');
      const c = (s: SystemId): string => {
        if (!has(s)) return '—';
        return `${int(m(s))} / ${int(idx.med('infer', s, t, key, 'latency p99 µs'))}`;
      };
      rows.push(`| ${t} | ${INFER_SYSTEMS.map(c).join(' | ')} | ${peers.map((p) => ratio(m(p), m('tg-native'))).join(' | ')} |`);
    }
    // Results from before the batch-4 measurement existed have none: no empty table for them.
    if (rows.length === 0) continue;
    out.push(
      '',
      `### ${title} (µs, median / p99 over the calls; lower is better; ratio = peer ÷ tensorgrad native on the median, > 1: tensorgrad faster)`,
      '',
      `| threads | ${INFER_SYSTEMS.map((s) => SYSTEM_LABELS[s]).join(' | ')} | ${peers.map((p) => `${SYSTEM_LABELS[p]} ÷ native`).join(' | ')} |`,
      `|--:|${INFER_SYSTEMS.map(() => '--:').join('|')}|${peers.map(() => '--:').join('|')}|`,
      ...rows,
    );
  }
  return out;
}

/**
 * A warning when the machine was busy: with other processes on the cores, multi-threaded runs
 * lose most (OpenMP peers spin at barriers and collapse by 10-50×), so their ratios mean nothing.
 */
export function loadWarning(r: SuiteResult): string | null {
  const c = r.context;
  // The suite's own processes raise the load average; where /proc tells, count only the others.
  if (c.foreignCores !== undefined) {
    if (c.foreignCores <= 0.1) return null;
    return `**Warning: the machine was busy**: other processes used ${c.foreignCores.toFixed(2)} of the ${c.logicalCores} logical cores on average during the run, so these numbers (multi-threaded ones above all) are not a clean measurement. Rerun on an idle machine.`;
  }
  const worst = Math.max(c.loadStart[0] ?? 0, c.loadEnd[0] ?? 0);
  if (worst <= c.logicalCores / 2) return null;
  return `**Warning: the machine was busy** (1-minute load average ${(c.loadStart[0] ?? 0).toFixed(2)} at start, ${(c.loadEnd[0] ?? 0).toFixed(2)} at end, on ${c.logicalCores} logical cores): other processes shared the cores, so these numbers (multi-threaded ones above all) are not a measurement. Rerun on an idle machine.`;
}

export function markdown(r: SuiteResult): string {
  const idx = new Index(r.measurements);
  const out: string[] = ['# tensorgrad benchmark suite', '', contextLine(r), '', `Command: \`${r.context.command}\`. Data: ${r.context.dataset}.`, ''];
  const warning = loadWarning(r);
  if (warning) out.push(warning, '');
  const systems = [...new Set(r.measurements.map((m) => m.system))];
  out.push('## Systems', '', '| system | status |', '|---|---|');
  for (const s of systems) {
    const parts = [...new Set(r.measurements.filter((m) => m.system === s).map((m) => m.part))];
    const details = [...new Set(r.measurements.filter((m) => m.system === s).flatMap((m) => m.runs.map((x) => x['detail'])).filter((x): x is string => typeof x === 'string'))];
    out.push(`| ${SYSTEM_LABELS[s]} | ran (${parts.join(', ')})${details.length ? `: ${details.slice(0, 2).join('; ')}` : ''} |`);
  }
  for (const u of r.unavailable) out.push(`| ${SYSTEM_LABELS[u.system]} | not run${u.part === 'all' ? '' : ` (${u.part})`}: ${u.reason.replace(/\|/g, '\\|')} |`);
  out.push('');
  if (r.parts.includes('gemm')) out.push(...gemmTable(r, idx), '');
  if (r.parts.includes('train')) out.push(...trainTable(r, idx), '');
  if (r.parts.includes('infer')) out.push(...inferTables(r, idx), '');
  if (r.notes.length) out.push('## Notes', '', ...r.notes.map((n) => `- ${n}`), '');
  return out.join('\n');
}

interface Bar {
  group: string;
  label: string;
  value: number;
  ours: boolean;
}

/** The bars of one chart panel: each system at its best thread count (the single-threaded ones at 1). */
function panelBars(r: SuiteResult, part: 'train' | 'infer', metric: Measurement['metric'], keys: string[], systems: SystemId[]): Bar[] {
  const idx = new Index(r.measurements);
  const bars: Bar[] = [];
  for (const key of keys) {
    for (const s of systems) {
      const options = threadsOf(r)
        .map((t) => ({ t, v: idx.med(part, s, t, key, metric) }))
        .filter((o) => Number.isFinite(o.v));
      if (!options.length) continue;
      const lowerBetter = metric.startsWith('latency');
      const best = options.reduce((a, b) => ((lowerBetter ? b.v < a.v : b.v > a.v) ? b : a));
      bars.push({ group: key, label: `${SYSTEM_LABELS[s]} (${best.t}T)`, value: best.v, ours: s.startsWith('tg-') });
    }
  }
  return bars;
}

/** A horizontal bar chart, one panel per workload, log-scaled (values span four decades). */
export function svg(r: SuiteResult): string {
  const panels: { title: string; bars: Bar[]; unit: string }[] = [];
  if (r.parts.includes('train')) {
    const keys = ['b32', 'b128', 'b512'];
    panels.push({ title: 'Training, samples/s (higher is better)', unit: 'samples/s', bars: panelBars(r, 'train', 'samples/s', keys, TRAIN_SYSTEMS) });
  }
  if (r.parts.includes('infer')) {
    panels.push({ title: 'Inference batch 256, samples/s (higher is better)', unit: 'samples/s', bars: panelBars(r, 'infer', 'samples/s', ['b256'], INFER_SYSTEMS) });
    panels.push({ title: 'Inference batch 1, median latency µs (lower is better)', unit: 'µs', bars: panelBars(r, 'infer', 'latency median µs', ['b1'], INFER_SYSTEMS) });
  }
  const width = 860;
  const labelW = 300;
  const barH = 16;
  const parts: string[] = [];
  let y = 30;
  parts.push(`<text x="10" y="20" font-size="15" font-weight="bold">tensorgrad vs peers — ${esc(r.context.cpu)}, ${esc(r.context.date)}${r.context.quick ? ' (quick run)' : ''}</text>`);
  for (const p of panels) {
    if (!p.bars.length) continue;
    y += 16;
    parts.push(`<text x="10" y="${y}" font-size="13" font-weight="bold">${esc(p.title)}</text>`);
    y += 8;
    const values = p.bars.map((b) => b.value);
    const x = scaleLog()
      .domain([Math.min(...values) / 2, Math.max(...values) * 1.5])
      .range([labelW, width - 90]);
    const groups = [...new Set(p.bars.map((b) => b.group))];
    for (const g of groups) {
      const gb = p.bars.filter((b) => b.group === g);
      const band = scaleBand<string>()
        .domain(gb.map((b) => b.label))
        .range([y + (groups.length > 1 ? 16 : 0), y + (groups.length > 1 ? 16 : 0) + gb.length * (barH + 3)]);
      if (groups.length > 1) parts.push(`<text x="10" y="${y + 12}" font-size="12" font-style="italic">batch ${esc(g.slice(1))}</text>`);
      for (const b of gb) {
        const by = band(b.label)!;
        const x0 = x.range()[0]!;
        parts.push(
          `<text x="${labelW - 6}" y="${by + barH - 4}" font-size="11" text-anchor="end">${esc(b.label)}</text>`,
          `<rect x="${x0}" y="${by}" width="${Math.max(1, x(b.value) - x0).toFixed(1)}" height="${barH}" fill="${b.ours ? '#d9480f' : '#868e96'}"/>`,
          `<text x="${(x(b.value) + 4).toFixed(1)}" y="${by + barH - 4}" font-size="11">${esc(int(b.value))} ${esc(p.unit)}</text>`,
        );
      }
      y = band.range()[1]! + 6;
    }
  }
  y += 10;
  parts.push(`<text x="10" y="${y}" font-size="10" fill="#555">log scale; each system at its best thread count; median of repetitions; every repetition in the .json file of the same name</text>`);
  const height = y + 10;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${parts.join('\n')}\n</svg>\n`;
}

export type { GemmShape };
