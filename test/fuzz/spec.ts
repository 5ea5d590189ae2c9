/**
 * Argument specs: what the parent process generates (with fast-check) and sends to a child, and
 * how the child turns them into real values. Specs are plain data sent with Node's "advanced"
 * (structured clone) IPC serialization, so NaN, ±Infinity, -0, bigint and undefined arrive intact;
 * tensors, fakes and models are described and built in the child, where each backend runs.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tg from '../../src/index.js';

/** How a tensor's values are drawn (deterministically from its seed, so both backends see the same). */
export type Dist = 'mix' | 'normal' | 'pos' | 'prob' | 'int' | 'bin' | 'zero';

/** How a tensor reaches the call: a leaf, an op's output, a view, or a broken one. */
export type Via = 'leaf' | 'nonleaf' | 'view' | 'detached' | 'shared';

export type Spec =
  | { k: 'v'; v: unknown }
  | { k: 't'; shape: number[]; seed: number; dist: Dist; classes?: number; rg?: boolean; via?: Via; grad?: 'ok' | 'wrong' }
  | { k: 'fake'; shape: unknown; n: number; junk?: boolean }
  | { k: 'arr'; items: Spec[] }
  | { k: 'obj'; e: [string, Spec][] }
  | { k: 'typed'; type: 'f32' | 'f64' | 'i32' | 'u8' | 'i64'; values: number[] }
  | { k: 'ref'; name: RefName; args: Spec[] };

export type RefName =
  | 'model'
  | 'dataset'
  | 'loader'
  | 'generator'
  | 'file'
  | 'lossFn'
  | 'metric'
  | 'history'
  | 'abortedSignal'
  | 'optimizerFactory';

/** Values that are wrong for almost any parameter. */
export const JUNK_VALUES: readonly unknown[] = [
  undefined,
  null,
  Number.NaN,
  Infinity,
  -Infinity,
  -1,
  0.5,
  -0,
  2 ** 32 + 1,
  2 ** 53,
  1e300,
  '0',
  'a',
  '',
  true,
  1n,
  2n ** 64n,
];

export interface Built {
  /** Reasons the inputs are broken in a way the call must notice (a result is then a failure). */
  poison: string[];
  tmp: string;
}

/** mulberry32: a tiny deterministic PRNG for tensor contents. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// No pair that cancels exactly at a huge magnitude (1e30 and -1e30): a sum of it is 0 or the rest
// depending on the summation order, both fair float32 answers, so the backends could not be compared.
const SPECIALS = [Number.NaN, Infinity, -Infinity, 0, -0, 1e30, -3e38, 1e-40, 100, -100, 88.7, -104];

export function fillValues(n: number, seed: number, dist: Dist, classes = 3): Float32Array {
  const r = prng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = r();
    switch (dist) {
      case 'zero':
        out[i] = 0;
        break;
      case 'normal':
        out[i] = (u - 0.5) * 8;
        break;
      case 'pos':
        out[i] = 0.05 + u * 4;
        break;
      case 'prob':
        out[i] = 0.02 + u * 0.96;
        break;
      case 'int':
        out[i] = Math.floor(u * classes);
        break;
      case 'bin':
        out[i] = u < 0.5 ? 0 : 1;
        break;
      case 'mix':
        out[i] = u < 0.12 ? SPECIALS[Math.floor(r() * SPECIALS.length)]! : Math.round((r() - 0.5) * 800) / 100;
        break;
    }
  }
  return out;
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function buildTensor(s: Extract<Spec, { k: 't' }>, ctx: Built): tg.Tensor {
  const n = sizeOf(s.shape);
  const values = fillValues(n, s.seed, s.dist, s.classes);
  let data = values;
  if (s.via === 'shared') {
    data = new Float32Array(new SharedArrayBuffer(n * 4));
    data.set(values);
  }
  let t = new tg.Tensor(data, s.shape, s.rg === true);
  if (s.via === 'nonleaf' && s.rg) t = t.mul(1);
  if (s.via === 'view' && n > 0) t = t.reshape(n).reshape(s.shape);
  if (s.grad === 'ok') t.grad = new tg.Tensor(fillValues(n, s.seed + 1, 'normal'), s.shape);
  if (s.grad === 'wrong') {
    try {
      t.grad = new tg.Tensor(fillValues(n + 2, s.seed + 1, 'normal'), [n + 2]);
      ctx.poison.push('wrong-shaped grad');
    } catch {
      // The grad setter refuses it (Tensor#grad has its own target): step with a valid one.
      t.grad = new tg.Tensor(fillValues(n, s.seed + 1, 'normal'), s.shape);
    }
  }
  if (s.via === 'detached') {
    structuredClone(t.data.buffer, { transfer: [t.data.buffer as ArrayBuffer] });
    // An empty tensor's buffer holds nothing to lose: reading it as empty is right.
    if (n > 0) ctx.poison.push('detached buffer');
  }
  return t;
}

let fileCounter = 0;

/** Small files the io/data targets read: each kind is written once per child on first use. */
function file(kind: string, ctx: Built): string {
  const dir = join(ctx.tmp, 'files');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${kind}-${fileCounter++}`);
  switch (kind) {
    case 'missing':
      // In a folder that does not exist either, so writers fail on it too.
      return join(dir, 'no-such-folder', `missing-${fileCounter++}`);
    case 'dir':
      mkdirSync(path);
      return path;
    case 'empty':
      writeFileSync(path, new Uint8Array(0));
      return path;
    case 'garbage':
      writeFileSync(path, Buffer.from('\x08\x00\x00\x00\x00\x00\x00\x00{"a":1}garbage!!'));
      return path;
    case 'safetensors': {
      const m = tg.mlp({ inputs: 3, hidden: [4], outputs: 2 });
      tg.saveSync(m, path);
      return path;
    }
    case 'csv':
      writeFileSync(path, 'a,b,label\n1,2,0\n3,4,1\n5,6,0\n');
      return path;
    case 'idx': {
      // 2 images of 2x2 bytes
      writeFileSync(path, Buffer.from([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8]));
      return path;
    }
    case 'out':
      return join(dir, `written-${fileCounter++}.bin`);
    default:
      throw new Error(`fuzz harness: unknown file kind ${kind}`);
  }
}

function buildRef(name: RefName, args: unknown[], ctx: Built): unknown {
  switch (name) {
    case 'model': {
      const kind = args[0] as string;
      switch (kind) {
        case 'linear':
          return new tg.Linear(3, 2);
        case 'linearNoBias':
          return new tg.Linear(3, 2, { bias: false });
        case 'mlp':
          return tg.mlp({ inputs: 3, hidden: [4], outputs: 2 });
        case 'mlpDeep':
          return tg.mlp({ inputs: 3, hidden: [5, 4], outputs: 3, activation: 'gelu', dropout: 0.2 });
        case 'seq':
          return new tg.Sequential(new tg.Linear(3, 4), new tg.ReLU(), new tg.Linear(4, 2));
        case 'ensemble':
          return new tg.Ensemble([tg.mlp({ inputs: 3, hidden: [4], outputs: 2 }), tg.mlp({ inputs: 3, hidden: [4], outputs: 2 })]);
        case 'relu':
          return new tg.ReLU();
        case 'identity':
          return new tg.Identity();
        case 'flatten':
          return new tg.Flatten();
        case 'dropout':
          return new tg.Dropout(0.5);
        default:
          throw new Error(`fuzz harness: unknown model ${kind}`);
      }
    }
    case 'dataset': {
      const [x, y] = args as [tg.Tensor, tg.Tensor];
      return new tg.TensorDataset(x, y);
    }
    case 'loader': {
      const [x, y, bs] = args as [tg.Tensor, tg.Tensor, number];
      return new tg.DataLoader(new tg.TensorDataset(x, y), { batchSize: bs });
    }
    case 'generator':
      return new tg.Generator(args[0] as number);
    case 'file':
      return file(args[0] as string, ctx);
    case 'lossFn':
      return (o: tg.Tensor, t: tg.Tensor) => tg.mseLoss(o, t);
    case 'metric':
      return tg.accuracy();
    case 'history':
      return {
        epochs: [
          { epoch: 1, loss: 1, metrics: { accuracy: 0.5 }, valMetrics: {}, lr: 0.1, valLoss: 1.2 },
          { epoch: 2, loss: args[0] as number, metrics: { accuracy: 0.6 }, valMetrics: {}, lr: 0.1 },
        ],
        bestEpoch: 1,
      };
    case 'abortedSignal':
      return AbortSignal.abort(new Error('aborted by the fuzz harness'));
    case 'optimizerFactory':
      return (m: tg.Module) => new tg.SGD(m.parameters(), { lr: args[0] as number });
  }
}

/** Builds the value a spec describes, noting in ctx.poison what is broken about it. */
export function build(s: Spec, ctx: Built): unknown {
  switch (s.k) {
    case 'v':
      return s.v;
    case 't':
      return buildTensor(s, ctx);
    case 'fake':
      // As junk (an options object, a shape…) a fake is just an odd object; in a tensor's place it must be refused.
      if (!s.junk) ctx.poison.push('plain object posing as a tensor');
      return { data: new Float32Array(s.n), shape: s.shape, ndim: Array.isArray(s.shape) ? s.shape.length : 0, size: s.n, requiresGrad: false, grad: null };
    case 'arr':
      return s.items.map((i) => build(i, ctx));
    case 'obj': {
      const o: Record<string, unknown> = {};
      for (const [k, v] of s.e) o[k] = build(v, ctx);
      return o;
    }
    case 'typed':
      switch (s.type) {
        case 'f32':
          return Float32Array.from(s.values);
        case 'f64':
          return Float64Array.from(s.values);
        case 'i32':
          return Int32Array.from(s.values);
        case 'u8':
          return Uint8Array.from(s.values);
        case 'i64':
          return BigInt64Array.from(s.values.map((v) => BigInt(Math.trunc(v))));
      }
      break;
    case 'ref':
      return buildRef(s.name, s.args.map((a) => build(a, ctx)), ctx);
  }
  throw new Error('fuzz harness: bad spec');
}

/** A short human-readable form of a spec, for failure reports (one line per case). */
export function showSpec(s: Spec): string {
  switch (s.k) {
    case 'v':
      return showValue(s.v);
    case 't': {
      let out = `T[${s.shape.join(',')}]`;
      if (s.dist !== 'mix') out += `:${s.dist}`;
      if (s.rg) out += '(rg)';
      if (s.via && s.via !== 'leaf') out += `{${s.via}}`;
      if (s.grad) out += `{grad:${s.grad}}`;
      return out;
    }
    case 'fake':
      return `fake{shape:${showValue(s.shape)},n:${s.n}}`;
    case 'arr':
      return `[${s.items.map(showSpec).join(', ')}]`;
    case 'obj':
      return `{${s.e.map(([k, v]) => `${/^\w+$/.test(k) ? k : JSON.stringify(k)}: ${showSpec(v)}`).join(', ')}}`;
    case 'typed':
      return `${s.type}[${s.values.slice(0, 8).join(',')}${s.values.length > 8 ? ',…' : ''}]`;
    case 'ref':
      return `${s.name}(${s.args.map(showSpec).join(', ')})`;
  }
}

function showValue(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (Object.is(v, -0)) return '-0';
  if (Array.isArray(v)) return `[${v.map(showValue).join(',')}]`;
  return String(v);
}

// ---------------------------------------------------------------------------------------------
// results: what a child sends back, and how the two backends' results are compared

export type Summary =
  | { k: 'tensor'; shape: number[]; data: Float32Array; rg: boolean | string; grad: Summary | null }
  | { k: 'num'; v: number }
  | { k: 'prim'; v: string | boolean | null | undefined | bigint }
  | { k: 'str'; len: number; text: string }
  | { k: 'typed'; type: string; data: Float64Array }
  | { k: 'arr'; items: Summary[] }
  | { k: 'obj'; cls: string; e: [string, Summary][] }
  | { k: 'fn' }
  | { k: 'cut' };

const MAX_ITEMS = 64;
const TIMING_KEYS = new Set(['seconds', 'samplesPerSecond']);
const MAX_ELEMENTS = 1 << 14;

/** A structured-clonable description of a result (tensors as shape + values). */
export function summarize(v: unknown, depth = 0, seen = new Set<object>()): Summary {
  if (depth > 6) return { k: 'cut' };
  if (typeof v === 'number') return { k: 'num', v };
  if (v === null || v === undefined || typeof v === 'boolean' || typeof v === 'bigint') return { k: 'prim', v };
  if (typeof v === 'string') return { k: 'str', len: v.length, text: v.slice(0, 2000) };
  if (typeof v === 'function') return { k: 'fn' };
  if (typeof v === 'symbol') return { k: 'prim', v: String(v) };
  if (seen.has(v)) return { k: 'cut' };
  seen.add(v);
  if (v instanceof tg.Tensor) {
    const n = Math.min(v.data.length, MAX_ELEMENTS);
    return {
      k: 'tensor',
      shape: [...v.shape],
      data: v.data.slice(0, n),
      rg: typeof v.requiresGrad === 'boolean' ? v.requiresGrad : `non-boolean ${String(v.requiresGrad)}`,
      grad: v.grad === null ? null : summarize(v.grad, depth + 1, seen),
    };
  }
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    const arr = v as unknown as ArrayLike<number | bigint>;
    const n = Math.min(arr.length, MAX_ELEMENTS);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = Number(arr[i]);
    return { k: 'typed', type: v.constructor.name, data: out };
  }
  if (Array.isArray(v)) return { k: 'arr', items: v.slice(0, MAX_ITEMS).map((x) => summarize(x, depth + 1, seen)) };
  if (v instanceof tg.Module) {
    const e: [string, Summary][] = Object.entries(v.stateDict()).map(([k, t]) => [k, summarize(t, depth + 1, seen)]);
    e.push(['training', { k: 'prim', v: v.training }]);
    return { k: 'obj', cls: v.constructor.name, e };
  }
  if (v instanceof Map) {
    return { k: 'obj', cls: 'Map', e: [...v.entries()].slice(0, MAX_ITEMS).map(([a, b]) => [String(a), summarize(b, depth + 1, seen)]) };
  }
  if (typeof (v as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function' && !(v instanceof tg.DataLoader)) {
    // generators (namedParameters, children…): take what they yield, boundedly
    const items: unknown[] = [];
    for (const x of v as Iterable<unknown>) {
      items.push(x);
      if (items.length >= MAX_ITEMS) break;
    }
    return { k: 'arr', items: items.map((x) => summarize(x, depth + 1, seen)) };
  }
  const cls = (v as object).constructor?.name ?? 'Object';
  const e: [string, Summary][] = [];
  for (const [k, x] of Object.entries(v as object).slice(0, MAX_ITEMS)) {
    // Wall-clock measurements (fit's epoch logs) differ run to run: keep the key, not the value.
    e.push([k, TIMING_KEYS.has(k) ? { k: 'cut' } : summarize(x, depth + 1, seen)]);
  }
  return { k: 'obj', cls, e };
}

/** Values agree when both are NaN, equal, or within a relative/absolute tolerance. */
export function close(a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (a === b) return true;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return false;
  return Math.abs(a - b) <= 1e-4 + 2e-3 * Math.max(Math.abs(a), Math.abs(b));
}

/** Where two summaries differ (a path and what), or null when they match. */
export function diff(a: Summary, b: Summary, strings: boolean, path = '$'): string | null {
  if (a.k !== b.k) return `${path}: ${a.k} vs ${b.k}`;
  switch (a.k) {
    case 'tensor': {
      const t = b as typeof a;
      if (a.shape.join(',') !== t.shape.join(',')) return `${path}: shape [${a.shape}] vs [${t.shape}]`;
      if (a.rg !== t.rg) return `${path}: requiresGrad ${a.rg} vs ${t.rg}`;
      if (a.data.length !== t.data.length) return `${path}: ${a.data.length} vs ${t.data.length} elements`;
      for (let i = 0; i < a.data.length; i++) {
        if (!close(a.data[i]!, t.data[i]!)) return `${path}[${i}]: ${a.data[i]} vs ${t.data[i]}`;
      }
      if ((a.grad === null) !== (t.grad === null)) return `${path}.grad: ${a.grad === null ? 'null' : 'set'} vs ${t.grad === null ? 'null' : 'set'}`;
      return a.grad && t.grad ? diff(a.grad, t.grad, strings, `${path}.grad`) : null;
    }
    case 'num':
      return close(a.v, (b as typeof a).v) ? null : `${path}: ${a.v} vs ${(b as typeof a).v}`;
    case 'prim':
      return a.v === (b as typeof a).v ? null : `${path}: ${String(a.v)} vs ${String((b as typeof a).v)}`;
    case 'str': {
      const s = b as typeof a;
      if (!strings) return null;
      return a.text === s.text ? null : `${path}: strings differ (${JSON.stringify(a.text.slice(0, 60))} vs ${JSON.stringify(s.text.slice(0, 60))})`;
    }
    case 'typed': {
      const t = b as typeof a;
      if (a.type !== t.type || a.data.length !== t.data.length) return `${path}: ${a.type}(${a.data.length}) vs ${t.type}(${t.data.length})`;
      for (let i = 0; i < a.data.length; i++) if (!close(a.data[i]!, t.data[i]!)) return `${path}[${i}]: ${a.data[i]} vs ${t.data[i]}`;
      return null;
    }
    case 'arr': {
      const t = b as typeof a;
      if (a.items.length !== t.items.length) return `${path}: length ${a.items.length} vs ${t.items.length}`;
      for (let i = 0; i < a.items.length; i++) {
        const d = diff(a.items[i]!, t.items[i]!, strings, `${path}[${i}]`);
        if (d) return d;
      }
      return null;
    }
    case 'obj': {
      const t = b as typeof a;
      if (a.cls !== t.cls) return `${path}: ${a.cls} vs ${t.cls}`;
      const keysA = a.e.map(([k]) => k).join(',');
      const keysB = t.e.map(([k]) => k).join(',');
      if (keysA !== keysB) return `${path}: keys {${keysA}} vs {${keysB}}`;
      for (let i = 0; i < a.e.length; i++) {
        const d = diff(a.e[i]![1], t.e[i]![1], strings, `${path}.${a.e[i]![0]}`);
        if (d) return d;
      }
      return null;
    }
    default:
      return null;
  }
}
