// Types and small helpers shared by the suite's orchestrator (main.ts), its child processes
// (child.ts) and the report builder (report.ts).
import { readFileSync } from 'node:fs';

export type Part = 'gemm' | 'train' | 'infer';
export const PARTS: readonly Part[] = ['gemm', 'train', 'infer'];

/** Every system the suite knows, in table order. */
export type SystemId = 'tg-kernel' | 'tg-native' | 'tg-predict' | 'tg-ts' | 'numpy' | 'torch' | 'tfjs-cpu' | 'tfjs-wasm' | 'ort' | 'brain' | 'tfjs-node';

export const SYSTEM_LABELS: Record<SystemId, string> = {
  'tg-kernel': 'tensorgrad kernel (reused output)',
  'tg-native': 'tensorgrad native',
  'tg-predict': 'tensorgrad predict()',
  'tg-ts': 'tensorgrad TS backend',
  numpy: 'numpy (OpenBLAS)',
  torch: 'PyTorch',
  'tfjs-cpu': 'tfjs cpu (pure JS)',
  'tfjs-wasm': 'tfjs wasm (XNNPACK)',
  ort: 'onnxruntime-node',
  brain: 'brain.js',
  'tfjs-node': '@tensorflow/tfjs-node',
};

/** One measured configuration: every repetition's value, plus what each run said about itself. */
export interface Measurement {
  part: Part;
  system: SystemId;
  threads: number;
  /** Shape name (gemm), `b<batch>` (train), `b256` / `b1` (infer). */
  key: string;
  metric: 'gflops' | 'gflops disposed' | 'samples/s' | 'latency median µs' | 'latency p99 µs';
  values: number[];
  /** Per repetition: steps, losses, detail strings. */
  runs: Record<string, unknown>[];
}

/** A system that could not run (or failed) in a part, and why. */
export interface Unavailable {
  system: SystemId;
  part: Part | 'all';
  reason: string;
}

export interface Context {
  date: string;
  cpu: string;
  isa: string;
  logicalCores: number;
  node: string;
  versions: Record<string, string>;
  loadStart: number[];
  loadEnd: number[];
  /**
   * CPU time that processes outside the suite used during the run, in cores on average (the
   * machine's busy time from /proc/stat less the suite's own and its children's); absent where
   * /proc is not readable. Unlike the load average, the suite's own work does not count.
   */
  foreignCores?: number;
  dataset: string;
  command: string;
  quick: boolean;
  /** Each training process's warm-up: at least this many steps and seconds before the timed steps. */
  trainWarmup?: { steps: number; seconds: number };
  /** Each inference process's warm-up before its timed batch-1 (and batch-4) calls. */
  latencyWarmup?: { calls: number; seconds: number };
  wallSeconds: number;
}

export interface SuiteResult {
  context: Context;
  parts: Part[];
  measurements: Measurement[];
  unavailable: Unavailable[];
  /** Shapes of the gemm part, in table order. */
  gemmShapes: GemmShape[];
  notes: string[];
}

export interface GemmShape {
  name: string;
  form: 'NN' | 'NT' | 'TN';
  m: number;
  n: number;
  k: number;
  /** One training step of batch 512 runs this GEMM once (the GEMM-bound limit uses these). */
  step512?: boolean;
}

/** MLP layers (batch, in, out) of 784-512-256-10: forward X·Wᵀ (NT), dW = Gᵀ·X (TN), dX = G·W (NN). */
export const DIMS = [784, 512, 256, 10] as const;
export const BATCHES = [32, 128, 512] as const;
/** One training sample: forward 2·Σ in·out, backward twice that (dW and dX; the first layer's dX is skipped). */
export const MFLOP_PER_SAMPLE = 2.41;

export function gemmShapes(quick: boolean): GemmShape[] {
  const out: GemmShape[] = [];
  for (const b of BATCHES) {
    for (let l = 0; l + 1 < DIMS.length; l++) {
      const k = DIMS[l]!;
      const n = DIMS[l + 1]!;
      const tag = `mlp${b}x${k}x${n}`;
      const step512 = b === 512;
      out.push({ name: `${tag}_fwd_nt`, form: 'NT', m: b, n, k, step512 });
      out.push({ name: `${tag}_wgrad_tn`, form: 'TN', m: n, n: k, k: b, step512 });
      // The first layer's input gradient is never computed (the input needs no gradient).
      if (l > 0) out.push({ name: `${tag}_igrad_nn`, form: 'NN', m: b, n: k, k: n, step512 });
    }
  }
  for (const s of quick ? [256, 512, 1024] : [256, 512, 1024, 2048]) out.push({ name: `sq${s}`, form: 'NN', m: s, n: s, k: s });
  return out;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The q-quantile (0..1) by nearest rank on sorted data. */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** The line a child prints its result on (stdout may also carry library chatter). */
export const RESULT_PREFIX = 'RESULT ';

/** Busy CPU ticks of the whole machine and of this process with its waited-for children (Linux). */
export function cpuTicks(): { machine: number; own: number } | null {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait
    const machine = cpu.slice(0, 8).reduce((a, b) => a + b, 0) - (cpu[3] ?? 0) - (cpu[4] ?? 0);
    // /proc/self/stat: fields after the command name; utime stime cutime cstime are fields 14-17
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const own = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    return Number.isFinite(machine) && Number.isFinite(own) ? { machine, own } : null;
  } catch {
    return null;
  }
}

/** Average cores that other processes kept busy between two cpuTicks() readings (USER_HZ = 100). */
export function foreignCores(a: { machine: number; own: number } | null, b: { machine: number; own: number } | null, seconds: number): number | undefined {
  if (a === null || b === null || seconds <= 0) return undefined;
  return Math.max(0, b.machine - a.machine - (b.own - a.own)) / 100 / seconds;
}
