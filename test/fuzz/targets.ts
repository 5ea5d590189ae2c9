/**
 * The fuzz targets: one entry per public function, constructor, method and getter, each with an
 * arbitrary of its arguments (as specs) and a call that runs in a child process. The coverage test
 * in test/fuzz.test.ts fails when an export or method has no target here and is not on SKIP.
 *
 * Names: `fn` for a function, `new C` for a constructor, `C#m` for a method or getter, `C.m` for a
 * static, `init.fn` for the init namespace.
 */
import * as tg from '../../src/index.js';
import {
  type A,
  arr,
  broadcastPair,
  brokenTensor,
  c,
  dimArb,
  fc,
  input3,
  intArb,
  junk,
  modelArb,
  model3to2,
  obj,
  opt,
  orJunk,
  paramsWithGrads,
  raw,
  realArb,
  reductionOpts,
  ref,
  shapeArb,
  shapeArg,
  tensorAndDim,
  tensorArb,
  tensorOptions,
  tOf,
} from './gen.js';
import { type Spec, fillValues } from './spec.js';

/** Arguments are deliberately ill-typed (that is the point), so calls take `any`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Call = (...a: any[]) => unknown;

export interface Target {
  name: string;
  /** Words an error message must contain one of to name the op. */
  names: string[];
  args: fc.Arbitrary<Spec[]>;
  call: Call;
  /** Relative number of runs (default 1; slow targets less). */
  weight?: number;
  /** Compare string results exactly across backends (default true). */
  strings?: boolean;
  /** Compare results across backends at all (default true). */
  compare?: boolean;
  /** May return normally even with broken inputs (it does not read tensor data). */
  poisonOk?: boolean;
}

export const TARGETS: Target[] = [];

function add(name: string, names: string[], args: fc.Arbitrary<Spec[]>, call: Call, extra: Partial<Target> = {}): void {
  if (TARGETS.some((t) => t.name === name)) throw new Error(`fuzz: duplicate target ${name}`);
  // A method's subject is built from generated arguments too: its class's own errors name the op.
  const cls = /^(?:new )?(\w+)[#.]?/.exec(name)?.[1];
  const all = cls && /^[A-Z]/.test(cls) && !names.includes(cls) && name !== cls ? [...names, cls] : names;
  TARGETS.push({ name, names: all, args, call, ...extra });
}

const tuple = (...a: A[]): fc.Arbitrary<Spec[]> => fc.tuple(...a).map((x) => x as Spec[]);

/** A subject tensor for methods: real Tensors only (broken ones included, fakes not). */
const subject = (o: Parameters<typeof tensorArb>[0] = {}): A => tensorArb({ ...o, fakes: false });

/** Registers `fn` and `Tensor#fn` with the same arguments (the method needs a Tensor first). */
function fnAndMethod(fnName: string, args: fc.Arbitrary<Spec[]>, fn: Call, method: Call, extra: Partial<Target> = {}): void {
  add(fnName, [fnName], args, fn, extra);
  add(`Tensor#${fnName}`, [fnName], args.filter((a) => a[0]!.k === 't'), method, extra);
}

function grads(...ts: unknown[]): unknown {
  return ts.map((t) => (t instanceof tg.Tensor ? t.grad : null));
}

/** Runs f, then (if the result requires grad) back-propagates a fixed upstream gradient: forward and backward both checked. */
function withBackward(f: () => unknown, ...inputs: unknown[]): unknown {
  const out = f();
  if (out instanceof tg.Tensor && out.requiresGrad) {
    const g = new tg.Tensor(fillValues(out.size, 7, 'normal'), out.shape);
    out.backward(g);
    return [out, grads(...inputs)];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// creation

const nestedData: A = fc.oneof(
  { weight: 4, arbitrary: shapeArb(0, 3).chain((shape) => fc.integer({ min: 1, max: 1e6 }).map((s) => raw(nest(shape, fillValues(shape.reduce((a, b) => a * b, 1), s, 'mix'))))) },
  { weight: 1, arbitrary: fc.constantFrom([[1, 2], [3]], [[1, 2], 3], [1, 'a'], [1, 2n], [[[]]], [null], [undefined], [Number.NaN, Infinity], [[1], [2, 3]]).map(raw) },
  { weight: 2, arbitrary: fc.constantFrom('f32', 'f64', 'i32', 'u8', 'i64').chain((type) => fc.array(fc.integer({ min: -5, max: 5 }), { maxLength: 6 }).map((values) => ({ k: 'typed', type, values }) as Spec)) },
  { weight: 1, arbitrary: junk },
);

function nest(shape: number[], values: Float32Array): unknown {
  let k = 0;
  const build = (d: number): unknown => (d === shape.length ? values[k++] : Array.from({ length: shape[d]! }, () => build(d + 1)));
  return build(0);
}

add('tensor', ['tensor'], tuple(nestedData, opt(shapeArg), tensorOptions), (d, s, o) => tg.tensor(d, s, o));
add(
  'new Tensor',
  ['Tensor'],
  tuple(
    fc.oneof(
      fc.integer({ min: 0, max: 8 }).map((n) => ({ k: 'typed', type: 'f32', values: Array.from({ length: n }, (_, i) => i - 2) }) as Spec),
      nestedData,
    ),
    orJunk(shapeArb(0, 3).map(raw)),
    opt(fc.boolean().map(raw)),
  ),
  (d, s, rg) => new tg.Tensor(d, s, rg),
);
for (const f of ['zeros', 'ones', 'rand', 'randn'] as const) add(f, [f], tuple(shapeArg, tensorOptions), (s, o) => tg[f](s, o));
add('full', ['full'], tuple(shapeArg, orJunk(realArb(-5, 5)), tensorOptions), (s, v, o) => tg.full(s, v, o));
add('arange', ['arange'], tuple(realArb(-10, 10), opt(realArb(-20, 20)), opt(fc.oneof({ weight: 6, arbitrary: fc.constantFrom(1, 2, 0.5, 0.25, -1, -0.5, 3).map(raw) }, { weight: 1, arbitrary: c(0) }, { weight: 1, arbitrary: junk })), tensorOptions), (a, b, s, o) => tg.arange(a, b, s, o));
add('eye', ['eye'], tuple(intArb(0, 6), opt(intArb(0, 6)), tensorOptions), (n, m, o) => tg.eye(n, m, o));
for (const f of ['zerosLike', 'onesLike'] as const) add(f, [f], tuple(tensorArb(), tensorOptions), (x, o) => tg[f](x, o));
add('manualSeed', ['manualSeed', 'seed'], tuple(orJunk(fc.integer().map(raw))), (s) => {
  tg.manualSeed(s);
  return tg.rand([3]);
});
add('backendInfo', ['backendInfo'], tuple(), () => tg.backendInfo(), { compare: false });
add('emptyCache', ['emptyCache'], tuple(), () => tg.emptyCache());
add('setNumThreads', ['setNumThreads'], tuple(intArb(1, 4)), (n) => {
  try {
    return tg.setNumThreads(n);
  } finally {
    tg.setNumThreads(2);
  }
});
add('noGrad', ['noGrad'], tuple(orJunk(c('fn'), 1, 3)), (f) => tg.noGrad(f === 'fn' ? () => [tg.isGradEnabled(), tg.tensor([1], { requiresGrad: true }).mul(2)] : f));
add('isGradEnabled', ['isGradEnabled'], tuple(), () => tg.isGradEnabled());

// Generator
const genSeed: A = orJunk(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }).map(raw));
add('new Generator', ['Generator', 'seed'], tuple(opt(genSeed)), (s) => {
  const g = new tg.Generator(s);
  return [g.nextUint32(), g.nextDouble()];
});
add('Generator#seed', ['seed'], tuple(genSeed), (s) => {
  const g = new tg.Generator(1);
  g.seed(s);
  return g.nextUint32();
});
for (const m of ['nextUint32', 'nextFloat', 'nextDouble', 'nextNormal'] as const) {
  add(`Generator#${m}`, [m], tuple(fc.integer().map(raw)), (s) => {
    const g = new tg.Generator(s);
    return [g[m](), g[m](), g[m]()];
  });
}
add('Generator#nextGamma', ['nextGamma', 'shape'], tuple(realArb(0.01, 10)), (a) => new tg.Generator(3).nextGamma(a));
add('Generator#nextBeta', ['nextBeta'], tuple(realArb(0.01, 10), realArb(0.01, 10)), (a, b) => new tg.Generator(3).nextBeta(a, b));
add('Generator#randint', ['randint'], tuple(intArb(1, 2 ** 32)), (n) => new tg.Generator(3).randint(n));
add('Generator#getState', ['getState'], tuple(fc.integer().map(raw)), (s) => new tg.Generator(s).getState());
add(
  'Generator#setState',
  ['setState'],
  tuple(fc.oneof(fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 32 }), { minLength: 5, maxLength: 5 }).map(raw), fc.constant(raw([0, 0, 0, 0, Number.NaN])), fc.constant(raw([1, 2, 3])), fc.constant(raw(['a', 1, 2, 3, 4])), junk)),
  (st) => {
    const g = new tg.Generator(1);
    g.setState(st);
    return [g.nextUint32(), g.nextNormal()];
  },
);

// ---------------------------------------------------------------------------------------------
// elementwise, activations

for (const f of ['add', 'sub', 'mul', 'div'] as const) {
  fnAndMethod(f, broadcastPair(), (a, b) => withBackward(() => tg[f](a, b), a, b), (a, b) => withBackward(() => a[f](b), a, b));
}
const unaryArg: A = fc.oneof({ weight: 10, arbitrary: tensorArb() }, { weight: 1, arbitrary: fc.double().map(raw) }, { weight: 1, arbitrary: junk });
for (const f of ['neg', 'sqrt', 'exp', 'log', 'abs', 'relu', 'sigmoid', 'tanh'] as const) {
  fnAndMethod(f, tuple(unaryArg), (x) => withBackward(() => tg[f](x), x), (x) => withBackward(() => x[f](), x));
}
fnAndMethod('pow', tuple(unaryArg, orJunk(fc.oneof(fc.integer({ min: -3, max: 4 }), fc.constantFrom(0.5, 1.5, -0.5, 2.5)).map(raw))), (x, e) => withBackward(() => tg.pow(x, e), x), (x, e) => withBackward(() => x.pow(e), x));
const clampBound: A = fc.oneof({ weight: 3, arbitrary: realArb(-3, 3) }, { weight: 1, arbitrary: c(undefined) }, { weight: 1, arbitrary: c(null) });
fnAndMethod('clamp', tuple(unaryArg, clampBound, clampBound), (x, a, b) => withBackward(() => tg.clamp(x, a, b), x), (x, a, b) => withBackward(() => x.clamp(a, b), x));
fnAndMethod('leakyRelu', tuple(unaryArg, opt(realArb(-1, 1))), (x, s) => withBackward(() => tg.leakyRelu(x, s), x), (x, s) => withBackward(() => x.leakyRelu(s), x));
fnAndMethod('gelu', tuple(unaryArg, opt(fc.constantFrom('none', 'tanh', 'exact', 'TANH').map(raw))), (x, a) => withBackward(() => tg.gelu(x, a), x), (x, a) => withBackward(() => x.gelu(a), x));
for (const f of ['softmax', 'logSoftmax'] as const) {
  fnAndMethod(f, tensorAndDim().map((a) => a as Spec[]), (x, d) => withBackward(() => tg[f](x, d), x), (x, d) => withBackward(() => x[f](d), x));
}

// matmul, linear
const matmulPair: fc.Arbitrary<Spec[]> = fc
  .record({ n: fc.integer({ min: 0, max: 4 }), k: fc.integer({ min: 0, max: 4 }), m: fc.integer({ min: 1, max: 4 }), batch: shapeArb(0, 2), form: fc.integer({ min: 0, max: 7 }), rg: fc.boolean(), off: fc.integer({ min: 0, max: 8 }) })
  .chain(({ n, k, m, batch, form, rg, off }) => {
    const k2 = off === 0 ? k + 1 : k;
    const shapes: [number[], number[]][] = [
      [[n, k], [k2, m]],
      [[...batch, n, k], [k2, m]],
      [[...batch, n, k], [...batch, k2, m]],
      [[k], [k2, m]],
      [[n, k], [k2]],
      [[k], [k2]],
      [[...batch, n, k], [k2]],
      [[n, k], [...batch, k2, m]],
    ];
    const [sa, sb] = shapes[form]!;
    return fc.tuple(tOf(sa, { rg }), fc.oneof({ weight: 12, arbitrary: tOf(sb, { rg: !rg }) }, { weight: 1, arbitrary: brokenTensor(0, 3, false) }, { weight: 1, arbitrary: junk }));
  });
fnAndMethod('matmul', matmulPair, (a, b) => withBackward(() => tg.matmul(a, b), a, b), (a, b) => withBackward(() => a.matmul(b), a, b));

const linearArgs: fc.Arbitrary<Spec[]> = fc
  .record({ n: fc.integer({ min: 0, max: 4 }), i: fc.integer({ min: 1, max: 4 }), o: fc.integer({ min: 1, max: 4 }), lead: shapeArb(0, 1), wrong: fc.integer({ min: 0, max: 10 }), bias: fc.integer({ min: 0, max: 5 }) })
  .chain(({ n, i, o, lead, wrong, bias }) => {
    const x = tOf(wrong === 0 ? [n, i + 1] : [...lead, n, i], { rg: true });
    const w = wrong === 1 ? junk : wrong === 2 ? brokenTensor(2, 2) : tOf(wrong === 3 ? [o] : [o, i], { rg: true });
    const b = bias === 0 ? c(undefined) : bias === 1 ? c(null) : bias === 2 ? orJunk(tOf([o + 1]), 1, 1) : tOf([o], { rg: true });
    return fc.tuple(x, w, b);
  });
for (const f of ['linear', 'linearRelu'] as const) add(f, [f], linearArgs, (x, w, b) => withBackward(() => tg[f](x, w, b), x, w, b));

// ---------------------------------------------------------------------------------------------
// shape ops

/** A tensor with a shape argument whose product matches (sometimes with -1), or does not. */
const reshapeArgs: fc.Arbitrary<Spec[]> = tensorArb({ fakes: false })
  .chain((t) => {
    const shape = t.k === 't' ? t.shape : [2];
    const n = shape.reduce((a, b) => a * b, 1);
    const good = fc.constantFrom([n], [1, n], [n, 1], n > 0 ? [-1] : [0], [...shape].reverse(), n % 2 === 0 && n > 0 ? [2, -1] : [n], []);
    const bad = fc.constantFrom([n + 1], [-1, -1], [-2], [0.5], [Number.NaN], [2 ** 53], ['2'], [n, 0, -1]);
    return fc.tuple(fc.constant(t), fc.oneof({ weight: 4, arbitrary: good.map(raw) }, { weight: 1, arbitrary: bad.map(raw) }, { weight: 1, arbitrary: junk }), fc.boolean().map(raw));
  })
  .map((x) => x as Spec[]);
fnAndMethod(
  'reshape',
  reshapeArgs,
  (x, s, spread) => withBackward(() => (spread && Array.isArray(s) ? tg.reshape(x, ...(s as number[])) : tg.reshape(x, s)), x),
  (x, s, spread) => withBackward(() => (spread && Array.isArray(s) ? x.reshape(...(s as number[])) : x.reshape(s)), x),
);
const twoDims: fc.Arbitrary<Spec[]> = subject().chain((t) => {
  const r = t.k === 't' ? t.shape.length : 2;
  return fc.tuple(fc.constant(t), opt(dimArb(r)), opt(dimArb(r)));
});
fnAndMethod('flatten', twoDims, (x, a, b) => withBackward(() => tg.flatten(x, a, b), x), (x, a, b) => withBackward(() => x.flatten(a, b), x));
fnAndMethod('transpose', twoDims, (x, a, b) => withBackward(() => tg.transpose(x, a, b), x), (x, a, b) => withBackward(() => x.transpose(a, b), x));
const permuteArgs: fc.Arbitrary<Spec[]> = subject().chain((t) => {
  const r = t.k === 't' ? t.shape.length : 2;
  const perm = fc.shuffledSubarray([...Array(r).keys()], { minLength: r, maxLength: r }).map(raw);
  const bad = fc.constantFrom([...Array(r).keys(), r], [0, 0], [-1], [0.5], [Number.NaN], []).map(raw);
  return fc.tuple(fc.constant(t), fc.oneof({ weight: 5, arbitrary: perm }, { weight: 1, arbitrary: bad }, { weight: 1, arbitrary: junk }));
});
add('permute', ['permute'], permuteArgs, (x, p) => withBackward(() => tg.permute(x, p), x));
add('Tensor#permute', ['permute'], permuteArgs, (x, p) => withBackward(() => (Array.isArray(p) ? x.permute(...(p as number[])) : x.permute(p)), x));
const oneDim = (optional: boolean): fc.Arbitrary<Spec[]> =>
  subject().chain((t) => {
    const r = t.k === 't' ? t.shape.length : 2;
    return fc.tuple(fc.constant(t), optional ? opt(dimArb(r)) : dimArb(r + 1));
  });
add('squeeze', ['squeeze'], oneDim(true), (x, d) => withBackward(() => tg.squeeze(x, d), x));
add('unsqueeze', ['unsqueeze'], oneDim(false), (x, d) => withBackward(() => tg.unsqueeze(x, d), x));
add('Tensor#squeeze', ['squeeze'], oneDim(true), (x, d) => withBackward(() => x.squeeze(d), x));
add('Tensor#unsqueeze', ['unsqueeze'], oneDim(false), (x, d) => withBackward(() => x.unsqueeze(d), x));
add('Tensor#T', ['T', 'transpose'], tuple(subject({ minRank: 0, maxRank: 3 })), (x) => withBackward(() => x.T, x));

// reductions
const keepdim: A = opt(fc.boolean().map(raw));
const reduceArgs: fc.Arbitrary<Spec[]> = tensorAndDim().chain(([t, d]) => keepdim.map((k) => [t, d, k]));
for (const f of ['sum', 'mean', 'max', 'min'] as const) {
  fnAndMethod(f, reduceArgs, (x, d, k) => withBackward(() => tg[f](x, d, k), x), (x, d, k) => withBackward(() => x[f](d, k), x));
}
for (const f of ['argmax', 'argmin'] as const) fnAndMethod(f, reduceArgs, (x, d, k) => tg[f](x, d, k), (x, d, k) => x[f](d, k));
const indicesArgs: fc.Arbitrary<Spec[]> = tensorAndDim().map(([t, d]) => [t, d]);
for (const f of ['argmaxIndices', 'argminIndices'] as const) fnAndMethod(f, indicesArgs, (x, d) => tg[f](x, d), (x, d) => x[f](d));

// indexing
const indexArgs: fc.Arbitrary<Spec[]> = subject({ minRank: 1 }).chain((t) => {
  const rows = t.k === 't' && t.shape.length > 0 ? t.shape[0]! : 2;
  const ints = fc.array(fc.integer({ min: -1, max: rows }), { maxLength: 5 });
  const good = fc.array(fc.integer({ min: 0, max: Math.max(rows - 1, 0) }), { maxLength: 5 }).filter((a) => rows > 0 || a.length === 0);
  const idx = fc.oneof(
    { weight: 3, arbitrary: good.map(raw) },
    { weight: 2, arbitrary: good.map((values) => ({ k: 'typed', type: 'i32', values }) as Spec) },
    { weight: 2, arbitrary: good.chain((values) => tOf([values.length], { dist: 'int', classes: Math.max(rows, 1) })) },
    { weight: 1, arbitrary: ints.map(raw) },
    { weight: 1, arbitrary: fc.constantFrom([0.5], [Number.NaN], ['0'], [2 ** 31], [-(2 ** 53)], [1n]).map(raw) },
    { weight: 1, arbitrary: fc.constantFrom([2, 2], [1]).chain((s) => tOf([...s], { dist: 'int' })) },
    { weight: 1, arbitrary: junk },
  );
  return fc.tuple(fc.constant(t), idx);
});
fnAndMethod('indexSelect', indexArgs, (x, i) => withBackward(() => tg.indexSelect(x, i), x), (x, i) => withBackward(() => x.indexSelect(i), x));
const sliceArgs: fc.Arbitrary<Spec[]> = tuple(subject({ minRank: 0 }), intArb(-5, 5), opt(intArb(-5, 5)));
fnAndMethod('slice', sliceArgs, (x, a, b) => withBackward(() => tg.slice(x, a, b), x), (x, a, b) => withBackward(() => x.slice(a, b), x));
const catArgs: fc.Arbitrary<Spec[]> = fc
  .record({ shape: shapeArb(0, 3), count: fc.integer({ min: 0, max: 3 }), vary: fc.integer({ min: 0, max: 5 }), rg: fc.boolean() })
  .chain(({ shape, count, vary, rg }) => {
    const r = shape.length;
    const list = fc.tuple(...Array.from({ length: count }, (_, i) => (i === 1 && vary === 0 ? tOf(shape.map((d) => d + 1), { rg }) : i === 1 && vary === 1 ? orJunk(brokenTensor(), 1, 1) : tOf(shape, { rg }))));
    return fc.tuple(fc.oneof({ weight: 8, arbitrary: list.map((l) => arr(l)) }, { weight: 1, arbitrary: junk }), opt(dimArb(r + 1)));
  })
  .map((x) => x as Spec[]);
for (const f of ['concat', 'stack'] as const) {
  add(f, [f], catArgs, (ts, d) => {
    const out = tg[f](ts, d);
    return withBackward(() => out, ...(Array.isArray(ts) ? ts : []));
  });
}
add('dropout', ['dropout'], tuple(tensorArb(), opt(realArb(0, 1)), opt(fc.boolean().map(raw))), (x, p, t) => withBackward(() => tg.dropout(x, p, t), x));

// ---------------------------------------------------------------------------------------------
// Tensor's own methods

add('Tensor#ndim', ['ndim'], tuple(subject()), (x) => x.ndim, { poisonOk: true });
add('Tensor#size', ['size'], tuple(subject()), (x) => x.size, { poisonOk: true });
add('Tensor#isLeaf', ['isLeaf'], tuple(subject()), (x) => x.isLeaf, { poisonOk: true });
add('Tensor#item', ['item'], tuple(subject({ maxRank: 2 })), (x) => x.item());
add('Tensor#toArray', ['toArray'], tuple(subject()), (x) => x.toArray());
add('Tensor#toString', ['toString'], tuple(subject()), (x) => x.toString(), { strings: false });
add('Tensor#detach', ['detach'], tuple(subject()), (x) => x.detach());
add('Tensor#clone', ['clone'], tuple(subject()), (x) => x.clone());
add('Tensor#requiresGrad_', ['requiresGrad_'], tuple(subject(), opt(fc.boolean().map(raw))), (x, v) => x.requiresGrad_(v), { poisonOk: true });
add('Tensor#requiresGrad', ['requiresGrad'], tuple(subject(), fc.oneof(fc.boolean().map(raw), junk)), (x, v) => {
  x.requiresGrad = v as boolean;
  return x.requiresGrad;
}, { poisonOk: true });
add('Tensor#retainGrad', ['retainGrad'], tuple(subject()), (x) => {
  const y = x.retainGrad();
  const z = y.mul(y).sum();
  z.backward();
  return [y, y.grad];
});
const backwardOps: Record<string, Call> = {
  mul: (x, y) => x.mul(y),
  exp: (x) => x.exp(),
  matmulT: (x) => (x.ndim === 2 ? x.matmul(x.T) : x.mul(x)),
  softmax: (x) => x.softmax(-1),
  logSoftmax: (x) => x.logSoftmax(-1),
  max: (x) => x.max(),
  maxDim: (x) => (x.ndim > 0 ? x.max(0) : x),
  mean: (x) => x.mean(),
  gelu: (x) => x.gelu('tanh'),
  sqrt: (x) => x.abs().sqrt(),
  divSelf: (x, y) => y.div(x),
};
add(
  'Tensor#backward',
  // maxDim reduces over dim 0, which may be empty: max's own error is the right one there.
  ['backward', 'max'],
  fc
    .record({ shape: shapeArb(0, 3), op: fc.constantFrom(...Object.keys(backwardOps)), mode: fc.integer({ min: 0, max: 9 }), s: fc.integer({ min: 1, max: 1e6 }) })
    .chain(({ shape, op, mode, s }) => fc.tuple(tOf(shape, { rg: true, dist: 'normal' }), tOf(shape, { rg: mode % 2 === 0 }), c(op), c(mode), mode === 9 ? junk : c(s))),
  (x, y, op, mode, g) => {
    const out = backwardOps[op as string]!(x, y) as tg.Tensor;
    if (mode <= 3) out.sum().backward();
    else if (mode <= 6) out.backward(new tg.Tensor(fillValues(out.size, g, 'normal'), out.shape));
    else if (mode === 7) out.backward(new tg.Tensor(fillValues(out.size + 1, 1, 'normal'), [out.size + 1]));
    else if (mode === 8) out.backward(out.toArray() as never);
    else out.backward(g);
    return [out, x.grad, y.grad];
  },
);
add('Tensor#data', ['data'], tuple(subject()), (x) => x.data);
add('Tensor#version', ['version'], tuple(subject(), fc.integer({ min: 0, max: 2 }).map(raw)), (x, n: number) => {
  for (let i = 0; i < n; i++) x.markModified();
  return x.version;
}, { poisonOk: true });
add('Tensor#dispose', ['dispose', 'disposed'], tuple(subject(), fc.constantFrom('item', 'add', 'data', 'view', 'twice').map(raw)), (x: tg.Tensor, then: string) => {
  const view = x.detach();
  x.dispose();
  if (then === 'view') return view.clone();
  if (then === 'twice') return x.dispose();
  if (then === 'data') return x.data;
  return then === 'item' ? x.item() : x.add(1);
});
add('Tensor#[Symbol.dispose]', ['dispose', 'disposed'], tuple(subject()), (x: tg.Tensor) => {
  x[Symbol.dispose]();
  return x.sum();
});
add('Tensor#isDisposed', ['isDisposed'], tuple(subject(), fc.boolean().map(raw)), (x: tg.Tensor, d: boolean) => {
  if (d) x.dispose();
  return x.isDisposed;
});
add('Tensor#markModified', ['markModified'], tuple(subject()), (x) => x.markModified().version);
add(
  'Tensor#grad',
  ['grad'],
  fc.tuple(shapeArb(0, 3), fc.integer({ min: 0, max: 6 })).chain(([shape, w]) =>
    fc.tuple(tOf(shape, { rg: true }), w === 0 ? tOf([...shape, 2]) : w === 1 ? junk : w === 2 ? brokenTensor() : w === 3 ? c(null) : tOf(shape)),
  ),
  (x, g) => {
    x.grad = g;
    return x.grad;
  },
);
add('Tensor#fill_', ['fill_'], tuple(subject(), orJunk(realArb(-3, 3))), (x, v) => x.fill_(v));
add('Tensor#zero_', ['zero_'], tuple(subject()), (x) => x.zero_());
add(
  'Tensor#copy_',
  ['copy_'],
  fc.tuple(shapeArb(0, 3), fc.integer({ min: 0, max: 6 })).chain(([shape, w]) =>
    fc.tuple(tOf(shape, { rg: w === 6 }), w === 0 ? tOf([...shape, 2]) : w === 1 ? junk : w === 2 ? brokenTensor() : w === 3 ? tOf(shape.map(() => 1)) : w === 4 ? tOf(shape, { rg: true }) : tOf(shape)),
  ),
  (x, src) => x.copy_(src),
);
add(
  'Tensor#accumulateGrad',
  ['accumulateGrad', 'backward'],
  fc.tuple(shapeArb(0, 3), fc.integer({ min: 0, max: 5 })).chain(([shape, w]) =>
    fc.tuple(tOf(shape, { rg: true }), w === 0 ? tOf([...shape, 2]) : w === 1 ? junk : w === 2 ? brokenTensor() : tOf(shape), fc.boolean().map(raw)),
  ),
  (x, g, twice) => {
    x.accumulateGrad(g);
    if (twice) x.accumulateGrad(g);
    return x.grad;
  },
);

// ---------------------------------------------------------------------------------------------
// nn: modules

add('parameter', ['parameter'], tuple(fc.oneof(tensorArb(), tOf([2], { rg: true, via: 'nonleaf' }))), (t) => tg.parameter(t));
add('isParameter', ['isParameter'], tuple(orJunk(tensorArb())), (t) => tg.isParameter(t), { poisonOk: true });
add('new Linear', ['Linear'], tuple(intArb(0, 5), intArb(0, 5), opt(fc.constantFrom(obj({ bias: raw(false) }), obj({ bias: raw(true) }), obj({ bias: raw('no') })))), (i, o, op) => new tg.Linear(i, o, op));
const fwdInput = (feat: number): A =>
  fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 0, max: 4 }).chain((n) => tOf([n, feat], { dist: 'mix', rg: n % 2 === 0 })) },
    { weight: 1, arbitrary: tOf([feat]) },
    { weight: 1, arbitrary: tOf([2, 2, feat]) },
    { weight: 1, arbitrary: tOf([2, feat + 1]) },
    { weight: 1, arbitrary: brokenTensor(2, 2) },
    { weight: 1, arbitrary: junk },
  );
for (const m of ['forward', 'forwardRelu'] as const) {
  add(`Linear#${m}`, [m, 'Linear', 'linear', 'linearRelu'], tuple(fwdInput(3), fc.boolean().map(raw)), (x, bias) => {
    const l = new tg.Linear(3, 2, { bias });
    return withBackward(() => l[m](x), x, l.weight, l.bias);
  });
}
add('Linear#extraRepr', ['extraRepr'], tuple(intArb(1, 4), fc.boolean().map(raw)), (i, b) => new tg.Linear(i, 2, { bias: b }).extraRepr());
const layerKinds: Record<string, (a: unknown) => tg.Module> = {
  Identity: () => new tg.Identity(),
  Flatten: (a) => new tg.Flatten(a as number),
  ReLU: () => new tg.ReLU(),
  LeakyReLU: (a) => new tg.LeakyReLU(a as number),
  Sigmoid: () => new tg.Sigmoid(),
  Tanh: () => new tg.Tanh(),
  GELU: (a) => new tg.GELU(a as 'none'),
  Softmax: (a) => new tg.Softmax(a as number),
  LogSoftmax: (a) => new tg.LogSoftmax(a as number),
  Dropout: (a) => new tg.Dropout(a as number),
};
const layerArg: Record<string, A> = {
  Flatten: opt(dimArb(3)),
  LeakyReLU: opt(realArb(-1, 1)),
  GELU: opt(fc.constantFrom('none', 'tanh', 'fast').map(raw)),
  Softmax: opt(dimArb(3)),
  LogSoftmax: opt(dimArb(3)),
  Dropout: opt(realArb(0, 1)),
};
for (const [k, make] of Object.entries(layerKinds)) {
  const a = Object.hasOwn(layerArg, k) ? layerArg[k]! : c(undefined);
  add(`new ${k}`, [k], tuple(a), (x) => make(x));
  // Identity returns its argument whatever it is, as PyTorch's does.
  add(`${k}#forward`, [k, 'forward', k.toLowerCase(), k.charAt(0).toLowerCase() + k.slice(1)], tuple(a, fc.oneof({ weight: 6, arbitrary: tensorArb() }, { weight: 1, arbitrary: junk })), (x, t) => {
    const m = make(x);
    return withBackward(() => m.forward(t), t);
  }, { poisonOk: k === 'Identity' });
  if (Object.hasOwn(layerArg, k)) add(`${k}#extraRepr`, [k, 'extraRepr'], tuple(a), (x) => make(x).extraRepr());
}
add('new Sequential', ['Sequential'], fc.array(orJunk(modelArb, 1, 4), { maxLength: 4 }).map((l) => l), (...layers) => new tg.Sequential(...layers));
add('Sequential#at', ['at', 'Sequential'], tuple(intArb(-4, 4)), (i) => new tg.Sequential(new tg.Linear(3, 2), new tg.ReLU()).at(i));
add('Sequential#length', ['length'], tuple(fc.integer({ min: 0, max: 3 }).map(raw)), (n) => new tg.Sequential(...Array.from({ length: n as number }, () => new tg.ReLU())).length);
add('Sequential#namedChildren', ['namedChildren'], tuple(), () => [...new tg.Sequential(new tg.Linear(3, 2), new tg.ReLU()).namedChildren()].map(([k]) => k));
add('Sequential#forward', ['forward', 'Sequential', 'linear', 'linearRelu'], tuple(fwdInput(3), fc.constantFrom('seq', 'mlp', 'mlpDeep').map(raw)), (x, kind) => {
  const m = kind === 'seq' ? new tg.Sequential(new tg.Linear(3, 4), new tg.ReLU(), new tg.Linear(4, 2)) : tg.mlp(kind === 'mlp' ? { inputs: 3, hidden: [4], outputs: 2 } : { inputs: 3, hidden: [5, 4], outputs: 3, activation: 'gelu', dropout: 0.2 });
  return withBackward(() => m.forward(x), x);
});

// Module base methods on every kind of module
const moduleMethods: Record<string, Call> = {
  namedChildren: (m) => [...m.namedChildren()].map(([k]: [string]) => k),
  children: (m) => [...m.children()].length,
  namedModules: (m, a) => [...m.namedModules(a)].map(([k]: [string]) => k),
  namedParameters: (m, a) => [...m.namedParameters(a)],
  parameters: (m) => m.parameters(),
  train: (m, a) => m.train(a).training,
  eval: (m) => m.eval().training,
  zeroGrad: (m) => {
    for (const p of m.parameters()) p.grad = tg.onesLike(p);
    m.zeroGrad();
    return m.parameters().map((p: tg.Tensor) => p.grad);
  },
  stateDict: (m) => m.stateDict(),
  extraRepr: (m) => m.extraRepr(),
  toString: (m: tg.Module) => m.toString(),
};
const moduleArg: Record<string, A> = {
  namedModules: opt(fc.constantFrom('', 'net', 'a.b').map(raw)),
  namedParameters: opt(fc.constantFrom('', 'net').map(raw)),
  train: opt(fc.boolean().map(raw)),
};
for (const [m, f] of Object.entries(moduleMethods)) {
  add(`Module#${m}`, [m], tuple(modelArb, Object.hasOwn(moduleArg, m) ? moduleArg[m]! : c(undefined)), f, { poisonOk: m === 'train' || m === 'eval' });
}
add(
  'Module#loadStateDict',
  ['loadStateDict'],
  tuple(model3to2, fc.integer({ min: 0, max: 10 }).map(raw), opt(fc.boolean().map(raw)), junk),
  (m: tg.Module, mode: number, strict, j) => {
    const sd: Record<string, unknown> = { ...m.stateDict() };
    const keys = Object.keys(sd);
    const k0 = keys[0]!;
    const t0 = sd[k0] as tg.Tensor;
    switch (mode) {
      case 0:
      case 1:
        for (const k of keys) sd[k] = tg.onesLike(sd[k] as tg.Tensor);
        break;
      case 2:
        sd['extra.weight'] = tg.ones([1]);
        break;
      case 3:
        delete sd[k0];
        break;
      case 4:
        sd[k0] = tg.ones([t0.size + 1]);
        break;
      case 5:
        sd[k0] = { data: new Float32Array(1), shape: t0.shape, size: t0.size, ndim: t0.ndim };
        break;
      case 6: {
        const d = tg.onesLike(t0);
        structuredClone(d.data.buffer, { transfer: [d.data.buffer as ArrayBuffer] });
        sd[k0] = d;
        break;
      }
      case 7:
        sd[k0] = [1, 2, 3];
        break;
      case 8:
        sd['__proto__'] = tg.ones([1]);
        break;
      case 9:
        return m.loadStateDict(j, strict);
      case 10:
        return m.loadStateDict(null as never, strict);
    }
    return [m.loadStateDict(sd as Record<string, tg.Tensor>, strict), m];
  },
);

// init
add('init.calculateGain', ['calculateGain'], tuple(orJunk(fc.constantFrom('linear', 'conv1d', 'conv2d', 'conv3d', 'sigmoid', 'tanh', 'relu', 'leaky_relu', 'selu', 'gelu', 'Relu').map(raw)), opt(realArb(-1, 1))), (n, p) => tg.init.calculateGain(n, p));
add('init.calculateFans', ['calculateFans', 'fan'], tuple(tensorArb()), (t) => tg.init.calculateFans(t), { poisonOk: true });
const initSubject = fc.oneof({ weight: 5, arbitrary: shapeArb(2, 4).chain((s) => tOf(s)) }, { weight: 1, arbitrary: tensorArb() }, { weight: 1, arbitrary: junk });
add('init.uniform_', ['uniform_'], tuple(initSubject, opt(realArb(-2, 0)), opt(realArb(0, 2))), (t, a, b) => tg.init.uniform_(t, a, b));
add('init.normal_', ['normal_'], tuple(initSubject, opt(realArb(-2, 2)), opt(realArb(0, 2))), (t, a, b) => tg.init.normal_(t, a, b));
add('init.constant_', ['constant_'], tuple(initSubject, orJunk(realArb(-2, 2))), (t, v) => tg.init.constant_(t, v));
add('init.zeros_', ['zeros_'], tuple(initSubject), (t) => tg.init.zeros_(t));
add('init.ones_', ['ones_'], tuple(initSubject), (t) => tg.init.ones_(t));
add('init.xavierUniform_', ['xavierUniform_', 'init'], tuple(initSubject, opt(realArb(0, 3))), (t, g) => tg.init.xavierUniform_(t, g));
add('init.xavierNormal_', ['xavierNormal_', 'init'], tuple(initSubject, opt(realArb(0, 3))), (t, g) => tg.init.xavierNormal_(t, g));
const kaimingOpts: A = opt(
  fc.record({ a: opt(realArb(0, 1)), mode: opt(fc.constantFrom('fanIn', 'fanOut', 'fan_in').map(raw)), nonlinearity: opt(fc.constantFrom('relu', 'leaky_relu', 'tanh', 'bogus').map(raw)) }).map((r) => obj(r)),
);
add('init.kaimingUniform_', ['kaimingUniform_', 'init', 'calculateGain'], tuple(initSubject, kaimingOpts), (t, o) => tg.init.kaimingUniform_(t, o));
add('init.kaimingNormal_', ['kaimingNormal_', 'init', 'calculateGain'], tuple(initSubject, kaimingOpts), (t, o) => tg.init.kaimingNormal_(t, o));

// ---------------------------------------------------------------------------------------------
// losses

const sameShapePair = (dist: 'mix' | 'prob' | 'bin', tdist: 'mix' | 'prob' | 'bin'): fc.Arbitrary<Spec[]> =>
  fc.record({ shape: shapeArb(0, 3), w: fc.integer({ min: 0, max: 12 }), rgT: fc.integer({ min: 0, max: 4 }) }).chain(({ shape, w, rgT }) =>
    fc.tuple(
      w === 0 ? brokenTensor() : w === 1 ? junk : tOf(shape, { dist, rg: true }),
      w === 2 ? tOf([...shape, 2], { dist: tdist }) : w === 3 ? junk : w === 4 ? brokenTensor() : tOf(shape, { dist: tdist, rg: rgT === 0 }),
      reductionOpts,
    ),
  );
for (const f of ['mseLoss', 'l1Loss'] as const) add(f, [f], sameShapePair('mix', 'mix'), (a, b, o) => withBackward(() => tg[f](a, b, o), a, b));
add('bce', ['bce'], sameShapePair('prob', 'prob'), (a, b, o) => withBackward(() => tg.bce(a, b, o), a, b));
add(
  'bceWithLogits',
  ['bceWithLogits'],
  sameShapePair('mix', 'bin').chain(([a, b, o]) => {
    const dim = a!.k === 't' && a!.shape.length > 0 ? a!.shape[a!.shape.length - 1]! : 1;
    const last = dim > 4 ? 1 : dim; // not a real 2^31-element posWeight next to a huge-but-empty input
    const pw = fc.oneof({ weight: 3, arbitrary: c(undefined) }, { weight: 2, arbitrary: tOf([last], { dist: 'pos' }) }, { weight: 1, arbitrary: orJunk(tOf([last + 1]), 1, 1) });
    return pw.map((p) => [a!, b!, o!.k === 'obj' ? { ...o!, e: [...o!.e, ['posWeight', p]] } : p.k === 'v' ? o! : obj({ posWeight: p })] as Spec[]);
  }),
  (a, b, o) => withBackward(() => tg.bceWithLogits(a, b, o), a, b),
);
const classArgs: fc.Arbitrary<Spec[]> = fc
  .record({ n: fc.integer({ min: 0, max: 4 }), k: fc.integer({ min: 1, max: 4 }), form: fc.integer({ min: 0, max: 9 }), smooth: fc.integer({ min: 0, max: 4 }), ignore: fc.integer({ min: 0, max: 5 }) })
  .chain(({ n, k, form, smooth, ignore }) => {
    const logits = form === 9 ? tOf([n, k, 2], { rg: true }) : tOf([n, k], { rg: true });
    const target =
      form <= 4
        ? tOf([n], { dist: 'int', classes: k })
        : form === 5
          ? tOf([n, k], { dist: 'prob' })
          : form === 6
            ? tOf([n], { dist: 'mix' })
            : form === 7
              ? tOf([n + 1], { dist: 'int', classes: k })
              : orJunk(brokenTensor(1, 1), 1, 1);
    const opts = fc.record({
      reduction: fc.oneof({ weight: 3, arbitrary: c(undefined) }, { weight: 3, arbitrary: fc.constantFrom('mean', 'sum', 'none').map(raw) }, { weight: 1, arbitrary: c('avg') }),
      ignoreIndex: ignore === 0 ? intArb(-1, k, 3) : ignore === 1 ? fc.constantFrom('1', 0.5, Number.NaN).map(raw) : c(undefined),
      labelSmoothing: smooth === 0 ? realArb(0, 1) : smooth === 1 ? fc.constantFrom(-0.1, 1.5, Number.NaN, '0.1').map(raw) : c(undefined),
    });
    return fc.tuple(logits, target, fc.oneof({ weight: 6, arbitrary: opts.map((o) => obj(o)) }, { weight: 1, arbitrary: junk }));
  });
add('crossEntropy', ['crossEntropy'], classArgs, (x, t, o) => withBackward(() => tg.crossEntropy(x, t, o), x, t));
add('nllLoss', ['nllLoss'], classArgs, (x, t, o) => withBackward(() => tg.nllLoss(x, t, o), x, t));

add('summary', ['summary', 'linear', 'linearRelu'], tuple(orJunk(modelArb, 1, 5), orJunk(fc.constantFrom([1, 3], [3], [2, 3], [0, 3], [1, 4], [-1, 3], [2 ** 53, 3]).map(raw))), (m, s) => {
  const r = tg.summary(m, s);
  return [r.layers, r.totalParams];
});
const mlpSpec: A = fc
  .record({
    inputs: intArb(1, 4),
    hidden: orJunk(fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 2 }).map(raw)),
    outputs: intArb(1, 3),
    activation: opt(fc.constantFrom('relu', 'leakyRelu', 'gelu', 'tanh', 'sigmoid', 'swish').map(raw)),
    dropout: opt(realArb(0, 1)),
  })
  .map((r) => obj(r));
add('mlp', ['mlp'], tuple(orJunk(mlpSpec, 1, 8)), (s) => tg.mlp(s));

// ---------------------------------------------------------------------------------------------
// optimizers

const sgdOpts: A = fc
  .record({ lr: realArb(0, 1), momentum: opt(realArb(0, 1)), dampening: opt(realArb(0, 1)), weightDecay: opt(realArb(0, 0.1)), nesterov: opt(fc.boolean().map(raw)), maximize: opt(fc.boolean().map(raw)) })
  .map((r) => obj(r));
const adamOpts: A = fc
  .record({
    lr: opt(realArb(0, 1)),
    betas: opt(fc.oneof(fc.tuple(realArb(0, 0.99), realArb(0, 0.999)).map((b) => arr(b)), fc.constantFrom([5, -1], [0.9], [0.9, 0.999, 1], [1, 1]).map(raw))),
    eps: opt(realArb(0, 1e-3)),
    weightDecay: opt(realArb(0, 0.1)),
    amsgrad: opt(fc.boolean().map(raw)),
    maximize: opt(fc.boolean().map(raw)),
  })
  .map((r) => obj(r));
const rmsOpts: A = fc
  .record({
    lr: opt(realArb(0, 1)),
    alpha: opt(realArb(0, 1)),
    eps: opt(realArb(0, 1e-3)),
    weightDecay: opt(realArb(0, 0.1)),
    momentum: opt(realArb(0, 1)),
    centered: opt(fc.boolean().map(raw)),
    maximize: opt(fc.boolean().map(raw)),
  })
  .map((r) => obj(r));
type OptName = 'SGD' | 'Adam' | 'AdamW' | 'RMSprop';
const OPT_NAMES: OptName[] = ['SGD', 'Adam', 'AdamW', 'RMSprop'];
const OPTS: Record<OptName, A> = { SGD: sgdOpts, Adam: adamOpts, AdamW: adamOpts, RMSprop: rmsOpts };
const makeOpt = (n: OptName, params: unknown, o: unknown): tg.Optimizer => new tg[n](params as tg.Tensor[], o as never) as unknown as tg.Optimizer;
const paramsArg: A = fc.oneof({ weight: 8, arbitrary: paramsWithGrads }, { weight: 1, arbitrary: c([]) }, { weight: 1, arbitrary: tOf([2], { rg: true }) }, { weight: 1, arbitrary: junk }, { weight: 1, arbitrary: fc.constant(arr([raw(1)])) });
for (const n of Object.keys(OPTS) as OptName[]) {
  add(`new ${n}`, [n], tuple(paramsArg, orJunk(OPTS[n], 1, 8)), (p, o) => makeOpt(n, p, o).paramGroups.map((g) => ({ ...g, params: g.params.length })));
  add(`${n}#step`, [n, 'step'], tuple(paramsWithGrads, OPTS[n], fc.integer({ min: 1, max: 3 }).map(raw)), (p: tg.Tensor[], o, steps: number) => {
    const opt = makeOpt(n, p, o);
    for (let i = 0; i < steps; i++) opt.step();
    return [p, opt.stateDict()];
  });
}
const optName: fc.Arbitrary<OptName> = fc.constantFrom('SGD', 'Adam', 'AdamW', 'RMSprop');
const validOpt = optName.chain((n) => fc.tuple(fc.constant(raw(n)), OPTS[n]));
add('Optimizer#addParamGroup', ['addParamGroup', ...OPT_NAMES], validOpt.chain(([n, o]) => fc.tuple(fc.constant(n), fc.constant(o), fc.oneof(paramsWithGrads.map((p) => obj({ params: p, lr: raw(0.01) })), paramsWithGrads.map((p) => obj({ params: p, lr: raw(-1) })), junk))), (n, o, g) => {
  const opt = makeOpt(n, [tg.tensor([1, 2], { requiresGrad: true })], o);
  opt.addParamGroup(g);
  return opt.paramGroups.length;
});
add('Optimizer#zeroGrad', ['zeroGrad', ...OPT_NAMES], validOpt.chain(([n, o]) => fc.tuple(fc.constant(n), fc.constant(o), paramsWithGrads, opt(fc.boolean().map(raw)))), (n, o, p: tg.Tensor[], s) => {
  makeOpt(n, p, o).zeroGrad(s);
  return p.map((t) => t.grad);
});
add('Optimizer#step', ['step', ...OPT_NAMES], validOpt.chain(([n, o]) => fc.tuple(fc.constant(n), fc.constant(o), paramsWithGrads, orJunk(c('closure'), 1, 2))), (n, o, p: tg.Tensor[], cl) => {
  const opt = makeOpt(n, p, o);
  const r = opt.step(cl === 'closure' ? () => p[0]!.sum().item() : cl);
  return [r, p];
});
add('Optimizer#stateDict', ['stateDict', ...OPT_NAMES], validOpt.chain(([n, o]) => fc.tuple(fc.constant(n), fc.constant(o), paramsWithGrads)), (n, o, p: tg.Tensor[]) => {
  const opt = makeOpt(n, p, o);
  opt.step();
  return opt.stateDict();
});
const sdMutations = ['none', 'betas', 'expAvgArray', 'negStep', 'shortBuf', 'nanLr', 'extraGroup', 'badParamId', 'stringStep', 'null', 'junk', 'lrString', 'momentumNeg', 'dropState'] as const;
add(
  'Optimizer#loadStateDict',
  ['loadStateDict', ...OPT_NAMES],
  validOpt.chain(([n, o]) => fc.tuple(fc.constant(n), fc.constant(o), paramsWithGrads.filter((p) => p.k === 'arr' && p.items.every((i) => i.k === 't' && i.grad === 'ok')), fc.constantFrom(...sdMutations).map(raw), junk)),
  (n, o, p: tg.Tensor[], mut: (typeof sdMutations)[number], j) => {
    const src = makeOpt(n, p.map((t) => t.detach().clone().requiresGrad_()), o);
    src.paramGroups[0]!.params.forEach((t, i) => (t.grad = p[i]!.grad!.clone()));
    src.step();
    const sd = src.stateDict() as unknown as { state: Record<number, Record<string, unknown>>; paramGroups: Record<string, unknown>[] };
    const s0 = sd.state[0] ?? (sd.state[0] = {});
    switch (mut) {
      case 'betas':
        sd.paramGroups[0]!['betas'] = [5, -1];
        break;
      case 'expAvgArray':
        for (const k of Object.keys(s0)) if (s0[k] instanceof Float32Array) s0[k] = Array.from(s0[k] as Float32Array);
        break;
      case 'negStep':
        s0['step'] = -3;
        break;
      case 'shortBuf':
        for (const k of Object.keys(s0)) if (s0[k] instanceof Float32Array) s0[k] = new Float32Array(1);
        break;
      case 'nanLr':
        sd.paramGroups[0]!['lr'] = Number.NaN;
        break;
      case 'extraGroup':
        sd.paramGroups.push({ params: [99], lr: 0.1 });
        break;
      case 'badParamId':
        sd.state[42] = { step: 1 };
        break;
      case 'stringStep':
        s0['step'] = '1';
        break;
      case 'lrString':
        sd.paramGroups[0]!['lr'] = '0.1';
        break;
      case 'momentumNeg':
        sd.paramGroups[0]!['momentum'] = -1;
        break;
      case 'dropState':
        sd.state = {};
        break;
      default:
        break;
    }
    const dst = makeOpt(n, p, o);
    dst.loadStateDict(mut === 'null' ? (null as never) : mut === 'junk' ? j : (sd as never));
    dst.step();
    return [p, dst.stateDict()];
  },
);
const clipParams: A = fc.oneof({ weight: 6, arbitrary: paramsWithGrads }, { weight: 1, arbitrary: tOf([3], { rg: true, grad: 'ok' }) }, { weight: 1, arbitrary: junk });
add('clipGradNorm', ['clipGradNorm'], tuple(clipParams, realArb(0, 5), opt(fc.oneof(realArb(0.5, 3), c(Infinity), c(1), c(2))), opt(fc.boolean().map((b) => obj({ errorIfNonfinite: raw(b) })))), (p, m, t, o) => [tg.clipGradNorm(p, m, t, o), p]);
add('clipGradValue', ['clipGradValue'], tuple(clipParams, realArb(0, 5)), (p, v) => [tg.clipGradValue(p, v), p]);

// schedulers
const schedOpts: Record<string, A> = {
  StepLR: fc.record({ stepSize: intArb(1, 3), gamma: opt(realArb(0, 1)), lastEpoch: opt(intArb(-1, 2)) }).map((r) => obj(r)),
  MultiStepLR: fc.record({ milestones: orJunk(fc.array(fc.integer({ min: 1, max: 5 }), { maxLength: 3 }).map(raw)), gamma: opt(realArb(0, 1)) }).map((r) => obj(r)),
  ExponentialLR: fc.record({ gamma: realArb(0, 1) }).map((r) => obj(r)),
  CosineAnnealingLR: fc.record({ tMax: intArb(1, 5), etaMin: opt(realArb(0, 0.01)) }).map((r) => obj(r)),
  LinearLR: fc.record({ startFactor: opt(realArb(0, 1)), endFactor: opt(realArb(0, 1)), totalIters: opt(intArb(1, 5)) }).map((r) => obj(r)),
  OneCycleLR: fc
    .record({
      maxLr: orJunk(realArb(0, 1)),
      totalSteps: opt(intArb(1, 10)),
      epochs: opt(intArb(1, 3)),
      stepsPerEpoch: opt(intArb(1, 3)),
      pctStart: opt(realArb(0, 1)),
      annealStrategy: opt(fc.constantFrom('cos', 'linear', 'exp').map(raw)),
      cycleMomentum: opt(fc.boolean().map(raw)),
      divFactor: opt(realArb(1, 30)),
      finalDivFactor: opt(realArb(1, 1e4)),
      threePhase: opt(fc.boolean().map(raw)),
    })
    .map((r) => obj(r)),
  ReduceLROnPlateau: fc
    .record({
      mode: opt(fc.constantFrom('min', 'max', 'avg').map(raw)),
      factor: opt(realArb(0, 1)),
      patience: opt(intArb(0, 3)),
      threshold: opt(realArb(0, 0.1)),
      thresholdMode: opt(fc.constantFrom('rel', 'abs', 'x').map(raw)),
      cooldown: opt(intArb(0, 2)),
      minLr: opt(fc.oneof(realArb(0, 0.01), fc.constant(raw([0])), fc.constant(raw([0, 0])))),
      eps: opt(realArb(0, 1e-6)),
    })
    .map((r) => obj(r)),
};
type SchedName = 'StepLR' | 'MultiStepLR' | 'ExponentialLR' | 'CosineAnnealingLR' | 'LinearLR' | 'OneCycleLR' | 'ReduceLROnPlateau';
const schedName = fc.constantFrom(...(Object.keys(schedOpts) as SchedName[]));
const optFor = (kind: OptName): tg.Optimizer => makeOpt(kind, [tg.tensor([1, 2], { requiresGrad: true })], kind === 'SGD' ? { lr: 0.1, momentum: 0.9 } : { lr: 0.1 });
const makeSched = (n: SchedName, o: unknown, kind: OptName = 'SGD'): tg.LRScheduler | tg.ReduceLROnPlateau => new tg[n](optFor(kind), o as never);
for (const n of Object.keys(schedOpts) as SchedName[]) {
  add(`new ${n}`, [n], tuple(orJunk(schedOpts[n]!, 1, 8), optName.map(raw)), (o, k) => makeSched(n, o, k).getLastLr());
}
const schedArgs = schedName.chain((n) => fc.tuple(fc.constant(raw(n)), schedOpts[n]!, optName.map(raw)));
add('LRScheduler#step', ['step', ...Object.keys(schedOpts)], schedArgs.filter(([n]) => (n as { v: string }).v !== 'ReduceLROnPlateau').chain((a) => fc.tuple(...a.map((x) => fc.constant(x)), fc.integer({ min: 1, max: 12 }).map(raw))), (n, o, k, steps: number) => {
  const s = makeSched(n, o, k) as tg.LRScheduler;
  const lrs = [];
  for (let i = 0; i < steps; i++) {
    s.step();
    lrs.push(s.getLastLr());
  }
  return lrs;
});
add('LRScheduler#getLastLr', ['getLastLr', ...Object.keys(schedOpts)], schedArgs.filter(([n]) => (n as { v: string }).v !== 'ReduceLROnPlateau'), (n, o, k) => makeSched(n, o, k).getLastLr());
const schedSdMut = fc.constantFrom('none', 'null', 'junkEpoch', 'string', 'extra', 'array').map(raw);
const mutateSd = (sd: Record<string, unknown>, mut: string): unknown => {
  if (mut === 'null') return null;
  if (mut === 'string') return 'state';
  if (mut === 'array') return [sd];
  if (mut === 'junkEpoch') return { ...sd, lastEpoch: 'x', baseLrs: [Number.NaN] };
  if (mut === 'extra') return { ...sd, bogus: 1 };
  return sd;
};
add('LRScheduler#stateDict', ['stateDict', ...Object.keys(schedOpts)], schedArgs, (n, o, k) => makeSched(n, o, k).stateDict());
add('LRScheduler#loadStateDict', ['loadStateDict', ...Object.keys(schedOpts)], schedArgs.filter(([n]) => (n as { v: string }).v !== 'ReduceLROnPlateau').chain((a) => fc.tuple(...a.map((x) => fc.constant(x)), schedSdMut)), (n, o, k, mut) => {
  const a = makeSched(n, o, k) as tg.LRScheduler;
  a.step();
  const b = makeSched(n, o, k) as tg.LRScheduler;
  b.loadStateDict(mutateSd(a.stateDict(), mut) as never);
  b.step();
  return b.getLastLr();
});
const plateau = (o: unknown): tg.ReduceLROnPlateau => new tg.ReduceLROnPlateau(optFor('SGD'), o as never);
const metricArg: A = fc.oneof({ weight: 6, arbitrary: realArb(0, 3) }, { weight: 1, arbitrary: tOf([]) }, { weight: 1, arbitrary: tOf([2]) }, { weight: 1, arbitrary: junk });
add('ReduceLROnPlateau#step', ['step', 'ReduceLROnPlateau'], tuple(schedOpts['ReduceLROnPlateau']!, fc.array(metricArg, { minLength: 1, maxLength: 8 }).map(arr)), (o, ms: unknown[]) => {
  const s = plateau(o);
  return ms.map((m) => {
    s.step(m as number);
    return s.getLastLr()[0];
  });
});
add('ReduceLROnPlateau#getLastLr', ['getLastLr'], tuple(schedOpts['ReduceLROnPlateau']!), (o) => plateau(o).getLastLr());
add('ReduceLROnPlateau#stateDict', ['stateDict'], tuple(schedOpts['ReduceLROnPlateau']!), (o) => {
  const s = plateau(o);
  s.step(1);
  return s.stateDict();
});
add('ReduceLROnPlateau#loadStateDict', ['loadStateDict', 'ReduceLROnPlateau'], tuple(schedOpts['ReduceLROnPlateau']!, schedSdMut), (o, mut) => {
  const a = plateau(o);
  a.step(1);
  const b = plateau(o);
  b.loadStateDict(mutateSd(a.stateDict(), mut) as never);
  b.step(2);
  return b.getLastLr();
});

// ---------------------------------------------------------------------------------------------
// data

const dsPair = (n: number, f = 3): fc.Arbitrary<[Spec, Spec]> => fc.tuple(tOf([n, f], { dist: 'normal' }), tOf([n], { dist: 'int', classes: 2 }));
add(
  'new TensorDataset',
  ['TensorDataset'],
  fc.array(fc.oneof({ weight: 6, arbitrary: tOf([3, 2]) }, { weight: 2, arbitrary: tOf([3]) }, { weight: 1, arbitrary: tOf([2, 2]) }, { weight: 1, arbitrary: tOf([]) }, { weight: 1, arbitrary: brokenTensor(1, 2) }, { weight: 1, arbitrary: junk }), { maxLength: 3 }),
  (...ts) => new tg.TensorDataset(...(ts as [tg.Tensor])).length,
);
const dsIndex = fc.integer({ min: 0, max: 4 }).chain((n) => fc.tuple(dsPair(n), intArb(-1, n)));
add('TensorDataset#get', ['get', 'TensorDataset'], dsIndex.map(([[x, y], i]) => [x, y, i]), (x, y, i) => new tg.TensorDataset(x, y).get(i));
add('TensorDataset#length', ['length'], dsIndex.map(([[x, y]]) => [x, y]), (x, y) => new tg.TensorDataset(x, y).length);
add('TensorDataset#rowStorage', ['rowStorage'], dsIndex.map(([[x, y]]) => [x, y]), (x, y) => new tg.TensorDataset(x, y).rowStorage());
const subsetArgs = fc.integer({ min: 0, max: 4 }).chain((n) =>
  fc.tuple(
    dsPair(n),
    fc.oneof({ weight: 5, arbitrary: fc.array(fc.integer({ min: 0, max: Math.max(n - 1, 0) }), { maxLength: 4 }).filter((a) => n > 0 || a.length === 0).map(raw) }, { weight: 1, arbitrary: fc.constantFrom([-1], [n], [0.5], [Number.NaN], ['0']).map(raw) }, { weight: 1, arbitrary: junk }),
    intArb(-1, 4),
  ),
);
add('new Subset', ['Subset'], subsetArgs.map(([[x, y], idx]) => [x, y, idx]), (x, y, idx) => new tg.Subset(new tg.TensorDataset(x, y), idx).indices);
add('Subset#get', ['get', 'Subset'], subsetArgs.map(([[x, y], idx, i]) => [x, y, idx, i]), (x, y, idx, i) => new tg.Subset(new tg.TensorDataset(x, y), idx).get(i));
add('Subset#length', ['length'], subsetArgs.map(([[x, y], idx]) => [x, y, idx]), (x, y, idx) => new tg.Subset(new tg.TensorDataset(x, y), idx).length);
add('Subset#rowStorage', ['rowStorage'], subsetArgs.map(([[x, y], idx]) => [x, y, idx]), (x, y, idx) => new tg.Subset(new tg.TensorDataset(x, y), idx).rowStorage());
add('randperm', ['randperm'], tuple(intArb(0, 10), opt(fc.integer({ min: 0, max: 99 }).map((s) => ref('generator', raw(s))))), (n, g) => tg.randperm(n, g));
add(
  'randomSplit',
  ['randomSplit'],
  fc.integer({ min: 0, max: 6 }).chain((n) =>
    fc.tuple(dsPair(n), fc.oneof(fc.constantFrom([0.5, 0.5], [0.7, 0.3], [1], [n], [n - 1, 1], [0.5, 0.6], [-1, n + 1], [Number.NaN], [], [0.25, 0.25, 0.5]).map(raw), junk), opt(fc.integer({ min: 0, max: 9 }).map((s) => ref('generator', raw(s))))),
  ).map(([[x, y], l, g]) => [x, y, l, g]),
  (x, y, l, g) => tg.randomSplit(new tg.TensorDataset(x, y), l, g).map((s) => s.indices),
);
const loaderOpts: A = opt(
  fc.record({ batchSize: opt(intArb(1, 4)), shuffle: opt(fc.boolean().map(raw)), dropLast: opt(fc.boolean().map(raw)), reuseBuffers: opt(fc.boolean().map(raw)) }).map((r) => obj(r)),
);
const loaderArgs = fc.integer({ min: 0, max: 6 }).chain((n) => fc.tuple(dsPair(n), loaderOpts)).map(([[x, y], o]) => [x, y, o]);
const loader = (x: tg.Tensor, y: tg.Tensor, o: unknown): tg.DataLoader => new tg.DataLoader(new tg.TensorDataset(x, y), o as never);
add('new DataLoader', ['DataLoader'], fc.oneof(loaderArgs, tuple(junk, c(undefined), loaderOpts)), (x, y, o) => (y === undefined ? new tg.DataLoader(x, o) : loader(x, y, o)).batchSize);
add('DataLoader#length', ['length'], loaderArgs, (x, y, o) => loader(x, y, o).length);
add('DataLoader#samplesPerEpoch', ['samplesPerEpoch'], loaderArgs, (x, y, o) => loader(x, y, o).samplesPerEpoch);
add('DataLoader#[Symbol.iterator]', ['DataLoader'], loaderArgs, (x, y, o) => [...loader(x, y, o)]);
add('DataLoader#transientBatches', ['transientBatches', 'DataLoader'], loaderArgs, (x, y, o) => {
  const out: unknown[] = [];
  for (const [bx, by] of loader(x, y, o).transientBatches()) out.push(bx.clone(), by.clone());
  return out;
});
add(
  'oneHot',
  ['oneHot'],
  fc.integer({ min: 0, max: 5 }).chain((k) => tuple(fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 4 }).chain((n) => tOf([n], { dist: 'int', classes: Math.max(k, 1) })) }, { weight: 1, arbitrary: tensorArb() }, { weight: 1, arbitrary: junk }), orJunk(c(k)))),
  (l, k) => tg.oneHot(l, k),
);
// scalers: constructor, fit, and the base class's methods
const scalerX: A = fc.oneof({ weight: 6, arbitrary: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 })).chain(([n, f]) => tOf([n, f])) }, { weight: 1, arbitrary: tOf([0, 2]) }, { weight: 1, arbitrary: tensorArb() }, { weight: 1, arbitrary: junk });
for (const S of ['StandardScaler', 'MinMaxScaler'] as const) {
  add(`new ${S}`, [S], tuple(), () => new tg[S]().fitted);
  add(`${S}#fit`, [S, 'fit'], tuple(scalerX), (x) => new tg[S]().fit(x).toJSON());
  add(`${S}#transform`, [S, 'transform'], tuple(scalerX, scalerX, fc.boolean().map(raw)), (x, z, fitFirst) => {
    const s = new tg[S]();
    if (fitFirst) s.fit(x);
    return s.transform(z);
  });
  add(`${S}#fitTransform`, [S, 'fitTransform'], tuple(scalerX), (x) => new tg[S]().fitTransform(x));
  add(`${S}#toJSON`, [S, 'toJSON'], tuple(scalerX, fc.boolean().map(raw)), (x, fitFirst) => {
    const s = new tg[S]();
    if (fitFirst) s.fit(x);
    return s.toJSON();
  });
  add(`${S}#fitted`, ['fitted'], tuple(scalerX), (x) => new tg[S]().fit(x).fitted);
}
const scalerState: A = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: orJunk(fc.constantFrom('standard', 'minmax').map(raw)), shift: orJunk(fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: 2, maxLength: 2 }).map(raw)), scale: orJunk(fc.constantFrom([1, 2], [0, 1], [-1, 1], [Number.NaN, 1], [1]).map(raw)) }).map((r) => obj(r)) },
  { weight: 1, arbitrary: junk },
);
add('scalerFromJSON', ['scalerFromJSON', 'Scaler'], tuple(scalerState, scalerX), (st, x) => tg.scalerFromJSON(st).transform(x));
for (const S of ['StandardScaler', 'MinMaxScaler'] as const) {
  add(`${S}#loadJSON`, [S, 'loadJSON'], tuple(scalerState, scalerX), (st, x) => new tg[S]().loadJSON(st).transform(x));
}
const mixupOpts: A = orJunk(
  fc.record({ alpha: realArb(0, 2), numClasses: opt(intArb(1, 4)), generator: opt(fc.integer({ min: 0, max: 9 }).map((s) => ref('generator', raw(s)))) }).map((r) => obj(r)),
  1,
  8,
);
const mixupXY = fc.integer({ min: 0, max: 4 }).chain((n) =>
  fc.tuple(fc.oneof({ weight: 6, arbitrary: tOf([n, 3]) }, { weight: 1, arbitrary: tensorArb() }, { weight: 1, arbitrary: junk }), fc.oneof({ weight: 3, arbitrary: tOf([n], { dist: 'int', classes: 3 }) }, { weight: 3, arbitrary: tOf([n, 3], { dist: 'prob' }) }, { weight: 1, arbitrary: tOf([n + 1]) }, { weight: 1, arbitrary: junk })),
);
add('mixup', ['mixup'], fc.tuple(mixupXY, mixupOpts).map(([[x, y], o]) => [x, y, o]), (x, y, o) => tg.mixup(x, y, o));
add('new MixUp', ['MixUp', 'mixup'], tuple(mixupOpts), (o) => new tg.MixUp(o).options);
add('MixUp#apply', ['MixUp', 'mixup', 'apply'], fc.tuple(mixupXY, mixupOpts, fc.boolean()).map(([[x, y], o, asArr]) => [asArr ? arr([x, y]) : x, o]), (b, o) => new tg.MixUp(o).apply(b));

// files: idx, csv, digits
const idxBytes: A = fc.oneof(
  fc.constant({ k: 'typed', type: 'u8', values: [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8] } as Spec),
  fc.constant({ k: 'typed', type: 'u8', values: [0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 0] } as Spec),
  fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 24 }).map((values) => ({ k: 'typed', type: 'u8', values: [0, 0, 8, values.length % 5, ...values] }) as Spec),
  fc.constantFrom([0, 0, 8, 2, 255, 255, 255, 255, 255, 255, 255, 255], [0, 0, 13, 1, 0, 0, 0, 1, 0, 0, 0, 0], [0, 0, 8, 17], [0x1f, 0x8b, 8, 0, 0]).map((values) => ({ k: 'typed', type: 'u8', values: [...values] }) as Spec),
  fc.constantFrom('idx', 'missing', 'dir', 'empty', 'garbage').map((k) => ref('file', raw(k))),
  junk,
);
add('readIdx', ['readIdx'], tuple(idxBytes, opt(obj({ name: raw('x') }))), (b, o) => tg.readIdx(b, o));
add('loadIdxTensor', ['loadIdxTensor'], tuple(idxBytes, opt(fc.record({ scale: opt(fc.boolean().map(raw)) }).map((r) => obj(r)))), (b, o) => tg.loadIdxTensor(b, o));
const pathArg: A = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('idx', 'missing', 'dir', 'empty', 'garbage', 'csv', 'safetensors').map((k) => ref('file', raw(k))) }, { weight: 1, arbitrary: junk });
add('loadIdxPair', ['loadIdxPair'], tuple(pathArg, pathArg, opt(obj({ flatten: raw(true) }))), (a, b, o) => tg.loadIdxPair(a, b, o));
add('loadIdxFolder', ['loadIdxFolder'], tuple(pathArg, opt(obj({ flatten: raw(false) }))), (d, o) => tg.loadIdxFolder(d, o));
const csvText: A = fc.oneof(
  fc.constantFrom('a,b,label\n1,2,0\n3,4,1\n', 'a,b\n1,2\n3', '"a",b\r\n"1,5",2\r\n', 'x\n0x10\n', 'a,b\n1\n', '', '\ufeffa;b\n1;2\n', 'a,b\n1e400,2\n', 'a,a\n1,2\n', 'l,x\ncat,1\ndog,2\n').map(raw),
  fc.string({ maxLength: 30 }).map(raw),
  junk,
);
const csvOpts: A = opt(
  fc.record({ labelColumn: opt(fc.constantFrom('label', 'l', 0, 1, -1, 5, 'nope').map(raw)), ignoreColumns: opt(fc.constantFrom([0], ['a'], [9], 'a').map(raw)), delimiter: opt(fc.constantFrom(',', ';', '"', '\n', ',,', '').map(raw)), header: opt(fc.boolean().map(raw)) }).map((r) => obj(r)),
);
add('parseCsv', ['parseCsv', 'csv'], tuple(csvText, csvOpts), (t, o) => tg.parseCsv(t, o));
add('loadCsv', ['loadCsv', 'csv'], tuple(pathArg, csvOpts), (p, o) => tg.loadCsv(p, o));
add('loadDigits', ['loadDigits'], tuple(), () => {
  const d = tg.loadDigits() as unknown as Record<string, unknown>;
  return Object.keys(d);
}, { weight: 0.1 });
add('loadFashionMnist', ['loadFashionMnist', 'Fashion'], tuple(opt(fc.oneof(pathArg.map((p) => obj({ dir: p })), junk))), (o) => tg.loadFashionMnist(o), { weight: 0.3 });

// ---------------------------------------------------------------------------------------------
// training utilities

/** A model's forward failing on the data names its layer's op: that is the op that failed. */
const FORWARD_NAMES = ['linear', 'linearRelu'];
/** A loss the user named (or the default crossEntropy) naming itself in an error names the op too. */
const LOSS_NAMES = ['crossEntropy', 'nllLoss', 'mseLoss', 'l1Loss', 'bceWithLogits', ...FORWARD_NAMES, 'aborted by the fuzz harness'];
const xyData = fc.integer({ min: 1, max: 6 }).chain((n) => dsPair(n));
const dataArg: A = fc.oneof(
  { weight: 4, arbitrary: xyData.map(([x, y]) => arr([x, y])) },
  { weight: 2, arbitrary: xyData.map(([x, y]) => ref('dataset', x, y)) },
  { weight: 2, arbitrary: fc.tuple(xyData, fc.integer({ min: 1, max: 3 })).map(([[x, y], b]) => ref('loader', x, y, raw(b))) },
  { weight: 1, arbitrary: fc.tuple(tOf([3, 3]), tOf([2], { dist: 'int', classes: 2 })).map(([x, y]) => arr([x, y])) },
  { weight: 1, arbitrary: fc.tuple(tOf([3, 4]), tOf([3], { dist: 'int', classes: 2 })).map(([x, y]) => arr([x, y])) },
  { weight: 1, arbitrary: fc.tuple(tOf([3, 3]), tOf([3], { dist: 'mix' })).map(([x, y]) => arr([x, y])) },
  { weight: 1, arbitrary: junk },
);
const lossArg: A = opt(fc.oneof(fc.constantFrom('crossEntropy', 'nll', 'mse', 'l1', 'bceWithLogits', 'hinge').map(raw), fc.constant(ref('lossFn'))));
const metricsArg: A = opt(fc.oneof(fc.constantFrom(['accuracy'], ['top1'], ['top5'], ['f1'], []).map(raw), fc.constant(arr([ref('metric')]))));
add(
  'evaluate',
  ['evaluate', ...LOSS_NAMES],
  tuple(orJunk(model3to2, 1, 8), dataArg, opt(fc.record({ loss: lossArg, metrics: metricsArg, batchSize: opt(intArb(1, 4)), confusionMatrix: opt(fc.boolean().map(raw)), signal: fc.oneof({ weight: 6, arbitrary: c(undefined) }, { weight: 1, arbitrary: fc.constant(ref('abortedSignal')) }) }).map((r) => obj(r)))),
  (m, d, o) => tg.evaluate(m, d, o),
  { weight: 0.5 },
);
add('predictAsync', ['predictAsync', ...FORWARD_NAMES, 'aborted by the fuzz harness'], tuple(orJunk(model3to2, 1, 8), fc.oneof(input3, dataArg), opt(fc.record({ batchSize: opt(intArb(1, 4)), signal: fc.oneof({ weight: 6, arbitrary: c(undefined) }, { weight: 1, arbitrary: fc.constant(ref('abortedSignal')) }) }).map((r) => obj(r)))), (m, x, o) => tg.predictAsync(m, x, o));
add('Module#predictAsync', ['predictAsync', ...FORWARD_NAMES], tuple(model3to2, fc.oneof(input3, dataArg), opt(fc.record({ batchSize: opt(intArb(1, 4)) }).map((r) => obj(r)))), (m: tg.Module, x, o) => m.predictAsync(x, o));
add(
  'evaluateAsync',
  ['evaluateAsync', ...LOSS_NAMES],
  tuple(orJunk(model3to2, 1, 8), dataArg, opt(fc.record({ loss: lossArg, metrics: metricsArg, batchSize: opt(intArb(1, 4)), signal: fc.oneof({ weight: 6, arbitrary: c(undefined) }, { weight: 1, arbitrary: fc.constant(ref('abortedSignal')) }) }).map((r) => obj(r)))),
  (m, d, o) => tg.evaluateAsync(m, d, o),
  { weight: 0.5 },
);
add('Module#evaluateAsync', ['evaluateAsync', ...LOSS_NAMES], tuple(model3to2, dataArg, opt(fc.record({ loss: lossArg }).map((r) => obj(r)))), (m: tg.Module, d, o) => m.evaluateAsync(d, o), { weight: 0.5 });
// Mostly refused options (checked before any worker starts); the valid ones train a 3-2-2 MLP on
// three rows in a worker for 0 or 1 epoch.
const workerData: A = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(tOf([3, 3]), tOf([3], { dist: 'int', classes: 2 })).map(([x, y]) => obj({ train: arr([x, y]) })) },
  { weight: 1, arbitrary: fc.constantFrom('digits-typo', 'mnist').map(raw) },
  { weight: 1, arbitrary: junk },
);
add(
  'trainInWorker',
  ['trainInWorker', 'aborted by the fuzz harness'],
  tuple(
    fc.oneof(
      { weight: 1, arbitrary: junk },
      {
        weight: 4,
        arbitrary: fc
          .record({
            model: fc.oneof({ weight: 4, arbitrary: fc.constant(raw({ inputs: 3, hidden: [2], outputs: 2 })) }, { weight: 1, arbitrary: junk }),
            data: workerData,
            fit: opt(fc.record({ epochs: opt(intArb(0, 1)), batchSize: opt(intArb(1, 3)), optimizer: opt(fc.oneof(fc.constant(raw({ type: 'sgd', lr: 0.1 })), junk)) }).map((r) => obj(r))),
            seed: opt(fc.oneof(intArb(0, 3), junk)),
            threads: opt(fc.oneof(intArb(1, 2), junk)),
            signal: fc.oneof({ weight: 6, arbitrary: c(undefined) }, { weight: 1, arbitrary: fc.constant(ref('abortedSignal')) }),
          })
          .map((r) => obj(r)),
      },
    ),
  ),
  (o) => tg.trainInWorker(o).then((r) => r.history.epochs.length),
  { weight: 0.3 },
);
add('predict', ['predict', ...FORWARD_NAMES], tuple(orJunk(model3to2, 1, 8), fc.oneof(input3, dataArg), opt(fc.record({ batchSize: opt(intArb(1, 4)) }).map((r) => obj(r)))), (m, x, o) => tg.predict(m, x, o));
const fitOpts: A = fc
  .record({
    train: dataArg,
    validation: opt(dataArg),
    epochs: opt(intArb(0, 2)),
    batchSize: opt(intArb(1, 4)),
    optimizer: opt(realArb(0, 0.5).map((lr) => ref('optimizerFactory', lr))),
    loss: lossArg,
    metrics: metricsArg,
    earlyStopping: opt(fc.oneof(fc.boolean().map(raw), fc.record({ monitor: opt(fc.constantFrom('loss', 'valLoss', 'accuracy', 'bogus').map(raw)), patience: opt(intArb(0, 2)) }).map((r) => obj(r)))),
    restoreBest: opt(fc.boolean().map(raw)),
    clipGradNorm: opt(realArb(0, 2)),
    progress: fc.oneof({ weight: 8, arbitrary: c('none') }, { weight: 1, arbitrary: c('bogus') }),
    stopOnNaN: opt(fc.boolean().map(raw)),
    signal: fc.oneof({ weight: 8, arbitrary: c(undefined) }, { weight: 1, arbitrary: fc.constant(ref('abortedSignal')) }),
  })
  .map((r) => obj(r));
add('fit', ['fit', ...LOSS_NAMES], tuple(orJunk(model3to2, 1, 8), orJunk(fitOpts, 1, 10)), async (m, o) => [await tg.fit(m, o), m], { weight: 0.5 });
add('accuracy', ['accuracy'], tuple(), () => tg.accuracy().compute());
const metricBatch = fc.integer({ min: 0, max: 4 }).chain((n) =>
  fc.tuple(
    fc.oneof({ weight: 5, arbitrary: tOf([n, 4]) }, { weight: 1, arbitrary: tOf([n], { dist: 'int', classes: 4 }) }, { weight: 1, arbitrary: tensorArb() }, { weight: 1, arbitrary: junk }),
    fc.oneof({ weight: 5, arbitrary: tOf([n], { dist: 'int', classes: 4 }) }, { weight: 1, arbitrary: tOf([n, 4], { dist: 'prob' }) }, { weight: 1, arbitrary: tOf([n + 1], { dist: 'int', classes: 4 }) }, { weight: 1, arbitrary: tOf([n], { dist: 'mix' }) }, { weight: 1, arbitrary: junk }),
  ),
);
add('topK', ['topK', 'TopK', 'accuracy', 'top'], tuple(intArb(1, 5)), (k) => tg.topK(k).compute());
add('new TopK', ['TopK'], tuple(intArb(1, 5)), (k) => new tg.TopK(k).k);
for (const m of ['reset', 'update', 'compute'] as const) {
  add(`TopK#${m}`, ['TopK', m, 'accuracy', 'top'], fc.tuple(intArb(1, 5), metricBatch).map(([k, [o, t]]) => [k, o, t]), (k, o, t) => {
    const metric = new tg.TopK(k);
    metric.update(o, t);
    if (m === 'reset') metric.reset();
    return metric.compute();
  });
}
const cmArgs = fc.tuple(intArb(1, 4), metricBatch, opt(fc.constantFrom(['a', 'b', 'c', 'd'], ['a'], []).map(raw))).map(([k, [o, t], names]) => [k, o, t, names]);
add('new ConfusionMatrix', ['ConfusionMatrix'], tuple(intArb(1, 4), opt(fc.constantFrom(['a', 'b', 'c', 'd'], ['a'], [], 'abcd').map(raw))), (k, n) => new tg.ConfusionMatrix(k, n).matrix);
const cmMethods: Record<string, Call> = {
  update: (cm) => cm.matrix,
  total: (cm) => cm.total,
  accuracy: (cm) => cm.accuracy,
  perClass: (cm) => cm.perClass(),
  toString: (cm: tg.ConfusionMatrix) => cm.toString(),
};
for (const [m, f] of Object.entries(cmMethods)) {
  add(`ConfusionMatrix#${m}`, ['ConfusionMatrix', m], cmArgs, (k, o, t, names) => {
    const cm = new tg.ConfusionMatrix(4, names ?? undefined);
    void k;
    cm.update(o, t);
    return f(cm);
  });
}
add('confusionMatrix', ['confusionMatrix', 'ConfusionMatrix'], cmArgs, (k, o, t, names) => tg.confusionMatrix(o, t, k, names).matrix);
const ensembleMembers: A = fc.oneof(
  { weight: 5, arbitrary: fc.array(fc.constantFrom('linear', 'mlp', 'seq').map((k) => ref('model', raw(k))), { minLength: 1, maxLength: 3 }).map(arr) },
  { weight: 1, arbitrary: c([]) },
  { weight: 1, arbitrary: fc.constant(arr([ref('model', raw('linear')), raw(3)])) },
  { weight: 1, arbitrary: junk },
);
add('new Ensemble', ['Ensemble'], tuple(ensembleMembers), (m) => new tg.Ensemble(m));
add('Ensemble#forward', ['Ensemble', 'forward', 'logSoftmax', 'softmax', 'linear'], tuple(ensembleMembers, input3), (m, x) => withBackward(() => new tg.Ensemble(m).forward(x), x));
add('Ensemble#predictProba', ['Ensemble', 'predictProba', 'softmax', 'linear'], tuple(ensembleMembers, input3), (m, x) => new tg.Ensemble(m).predictProba(x));
add('Ensemble#namedChildren', ['namedChildren'], tuple(ensembleMembers), (m) => [...new tg.Ensemble(m).namedChildren()].map(([k]) => k));
add('Ensemble#evaluate', ['Ensemble', 'evaluate', ...LOSS_NAMES], tuple(ensembleMembers, dataArg, opt(fc.record({ loss: lossArg, metrics: metricsArg }).map((r) => obj(r)))), (m, d, o) => new tg.Ensemble(m).evaluate(d, o), { weight: 0.5 });
add(
  'Ensemble.train',
  ['Ensemble', 'fit', ...LOSS_NAMES],
  tuple(intArb(1, 2), orJunk(fc.constantFrom('linear', 'mlp').map(raw), 1, 5), orJunk(fitOpts, 1, 8)),
  async (count, kind, o) => {
    const create = typeof kind === 'string' ? () => buildModel(kind) : kind;
    const r = await tg.Ensemble.train(count, create, o);
    return [r.ensemble, r.histories];
  },
  { weight: 0.3 },
);
function buildModel(kind: string): tg.Module {
  return kind === 'linear' ? new tg.Linear(3, 2) : tg.mlp({ inputs: 3, hidden: [4], outputs: 2 });
}
const epochLog: A = fc
  .record({ epoch: orJunk(fc.integer({ min: 1, max: 9 }).map(raw)), loss: realArb(0, 3), valLoss: opt(realArb(0, 3)), metrics: orJunk(fc.constantFrom({}, { accuracy: 0.5 }, { accuracy: Number.NaN }).map(raw)), valMetrics: opt(fc.constantFrom({}, { accuracy: 0.4 }).map(raw)), lr: orJunk(realArb(0, 1)) })
  .map((r) => obj(r));
add('formatEpoch', ['formatEpoch'], tuple(orJunk(epochLog, 1, 6), orJunk(intArb(1, 9))), (l, e) => tg.formatEpoch(l, e));
const chartOpts: A = opt(fc.record({ title: opt(fc.constantFrom('t', '<b>&', '').map(raw)), width: opt(fc.constantFrom(600, 100, 239, Number.NaN, '600', 1e9).map(raw)), height: opt(fc.constantFrom(400, 10, Infinity).map(raw)) }).map((r) => obj(r)));
const historyArg: A = fc.oneof({ weight: 4, arbitrary: realArb(0, 3).map((l) => ref('history', l)) }, { weight: 2, arbitrary: fc.array(epochLog, { maxLength: 3 }).map((e) => obj({ epochs: arr(e) })) }, { weight: 1, arbitrary: junk });
add('historyChart', ['historyChart'], tuple(historyArg, chartOpts), (h, o) => tg.historyChart(h, o));
const fnData: A = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 6 }).chain((n) => fc.tuple(fc.array(fc.double({ min: -3, max: 3 }), { minLength: n, maxLength: n }), fc.array(fc.double({ min: -3, max: 3 }), { minLength: n, maxLength: n }), fc.constantFrom(n, n + 1, 0))).map(([x, y, m]) => obj({ x: raw(x), target: raw(y), predictions: obj({ model: raw(y.slice(0, m)) }) })) },
  { weight: 1, arbitrary: fc.constantFrom({ x: [], target: [], predictions: {} }, { x: [1, 2], target: [1] }, { x: [Number.NaN, Infinity], target: [1, 2], predictions: {} }, { x: new Float32Array(2), target: [1, 2], predictions: {}, trainPoints: { x: [1], y: [] } }).map(raw) },
  { weight: 1, arbitrary: junk },
);
add('functionChart', ['functionChart'], tuple(fnData, chartOpts), (d, o) => tg.functionChart(d, o));
add('writeSvg', ['writeSvg'], tuple(fc.oneof({ weight: 4, arbitrary: fc.constantFrom('out', 'dir', 'missing').map((k) => ref('file', raw(k))) }, { weight: 1, arbitrary: fc.constantFrom('/proc/nope/x.svg', '').map(raw) }, { weight: 1, arbitrary: junk }), orJunk(fc.constant(raw('<svg/>')))), (p, s) => tg.writeSvg(p, s));

// ---------------------------------------------------------------------------------------------
// io

const saveable: A = fc.oneof(
  { weight: 4, arbitrary: modelArb },
  { weight: 2, arbitrary: fc.tuple(tOf([2, 3]), tOf([])).map(([a, b]) => obj({ 'w.weight': a, b })) },
  { weight: 1, arbitrary: fc.constant(obj({})) },
  { weight: 1, arbitrary: fc.tuple(brokenTensor(1, 2)).map(([a]) => obj({ a })) },
  { weight: 1, arbitrary: fc.constant(obj({ a: raw([1, 2]) })) },
  { weight: 1, arbitrary: fc.constantFrom('', '\u0000', 'a'.repeat(300), '__metadata__', '__proto__').chain((k) => tOf([2]).map((t) => obj({ [k]: t }))) },
  { weight: 1, arbitrary: junk },
);
const saveOpts: A = opt(fc.oneof(fc.constant(obj({ metadata: obj({ a: raw('b') }) })), fc.constant(obj({ metadata: obj({ a: raw(1) }) })), fc.constant(obj({ metadata: raw('x') }))));
add('serialize', ['serialize'], tuple(saveable, saveOpts), (o, opts) => tg.deserialize(tg.serialize(o, opts)));
/** Valid safetensors bytes, then mutated: a byte overwritten, truncated, or grown. */
const bytesArg: A = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(modelArb, fc.constantFrom('none', 'set', 'truncate', 'append', 'header'), fc.nat(), fc.integer({ min: 0, max: 255 })).map(([m, how, pos, val]) => obj({ model: m, how: raw(how), pos: raw(pos), val: raw(val) })) },
  { weight: 1, arbitrary: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 40 }).map((values) => ({ k: 'typed', type: 'u8', values }) as Spec) },
  { weight: 1, arbitrary: junk },
);
function bytesOf(spec: unknown): unknown {
  if (spec === null || typeof spec !== 'object' || !('how' in spec)) return spec;
  const { model, how, pos, val } = spec as { model: tg.Module; how: string; pos: number; val: number };
  const b = tg.serialize(model);
  const headerLen = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
  switch (how) {
    case 'set':
      b[pos % b.length] = val;
      return b;
    case 'header':
      b[8 + (pos % headerLen)] = val;
      return b;
    case 'truncate':
      return b.subarray(0, pos % b.length);
    case 'append':
      return Uint8Array.from([...b, val]);
    default:
      return b;
  }
}
add('deserialize', ['deserialize'], tuple(bytesArg, opt(obj({ name: raw('x.safetensors') }))), (b, o) => tg.deserialize(bytesOf(b) as Uint8Array, o));
add('loadModelFromBuffer', ['loadModelFromBuffer'], tuple(bytesArg, opt(fc.record({ activation: opt(fc.constantFrom('relu', 'gelu', 'bogus').map(raw)) }).map((r) => obj(r)))), (b, o) => {
  const r = tg.loadModelFromBuffer(bytesOf(b) as Uint8Array, o);
  return [r.model, r.spec, r.inferred];
});
add('inferMlp', ['inferMlp'], tuple(fc.oneof({ weight: 3, arbitrary: model3to2 }, { weight: 1, arbitrary: saveable }), opt(fc.constantFrom('relu', 'tanh', 'bogus').map(raw)), opt(c('file'))), (m, a, f) => {
  const r = tg.inferMlp(m instanceof tg.Module ? m.stateDict() : m, a, f);
  return [r.model, r.spec];
});
const outPath: A = fc.oneof({ weight: 4, arbitrary: fc.constant(ref('file', raw('out'))) }, { weight: 1, arbitrary: fc.constantFrom('dir', 'missing').map((k) => ref('file', raw(k))) }, { weight: 1, arbitrary: fc.constantFrom('/proc/nope/x', '').map(raw) }, { weight: 1, arbitrary: junk });
add('saveSync', ['saveSync'], tuple(saveable, outPath, saveOpts), (o, p, opts) => {
  tg.saveSync(o, p, opts);
  return tg.loadSync(p);
});
add('save', ['save'], tuple(saveable, outPath, saveOpts), async (o, p, opts) => {
  await tg.save(o, p, opts);
  return tg.loadSync(p);
});
const inPath: A = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('safetensors', 'missing', 'dir', 'empty', 'garbage', 'csv').map((k) => ref('file', raw(k))) }, { weight: 1, arbitrary: junk });
add('load', ['load'], tuple(inPath), (p) => tg.load(p));
add('loadSync', ['loadSync'], tuple(inPath), (p) => tg.loadSync(p));
add('loadFile', ['loadFile'], tuple(inPath), (p) => tg.loadFile(p));
add('loadFileSync', ['loadFileSync'], tuple(inPath), (p) => tg.loadFileSync(p));
const modelInfo: A = fc.oneof(
  { weight: 4, arbitrary: fc.record({ spec: fc.constant(raw({ inputs: 3, hidden: [4], outputs: 2 })), classes: orJunk(fc.constantFrom(['a', 'b'], ['a'], []).map(raw)), preprocess: opt(fc.constantFrom(null, { kind: 'standard', shift: [0, 0, 0], scale: [1, 1, 1] }, { kind: 'x' }).map(raw)), extra: opt(fc.constantFrom({ a: 'b' }, { a: 1 }).map(raw)) }).map((r) => obj(r)) },
  { weight: 1, arbitrary: junk },
);
add('saveModel', ['saveModel'], tuple(fc.oneof(fc.constant(ref('model', raw('mlp'))), modelArb, junk), outPath, modelInfo), async (m, p, info) => {
  await tg.saveModel(m, p, info);
  const r = await tg.loadModel(p);
  return [r.model, r.classes, r.spec];
}, { weight: 0.5 });
add('loadModel', ['loadModel'], tuple(inPath, opt(fc.record({ activation: opt(fc.constantFrom('relu', 'bogus').map(raw)) }).map((r) => obj(r)))), async (p, o) => {
  const r = await tg.loadModel(p, o);
  return [r.model, r.spec];
});

// Targets that misbehave on purpose, for the test that checks the harness catches crashes and
// hangs. Only registered in children started with FUZZ_SELFTEST (never in the fuzz run itself).
if (process.env['FUZZ_SELFTEST']) {
  add('selftest.ok', ['ok'], tuple(), () => 1);
  add('selftest.abort', ['abort'], tuple(), () => process.abort());
  add('selftest.hang', ['hang'], tuple(), () => {
    for (;;);
  });
  add('selftest.uncaught', ['uncaught'], tuple(), () => {
    setImmediate(() => {
      throw new Error('thrown from a callback');
    });
    return 1;
  });
}

/**
 * Exports and methods deliberately without a target, with the reason. Anything else the export
 * walk finds must have a target.
 */
export const SKIP: Record<string, string> = {
  defaultGenerator: 'an instance of Generator: every Generator method has a target (on fresh generators)',
  activationNames: 'a constant array of names (mlp() is fuzzed with them and with bogus ones)',
  FASHION_MNIST_CLASSES: 'a constant array of class names',
  'Sequential.fuse': 'a static boolean flag, not a function',
  // TypeScript-protected/private members: not public API, reached through the public methods
  'Optimizer#stateOf': 'protected in TypeScript; exercised by every optimizer step',
  'SGD#update': 'protected in TypeScript; exercised by SGD#step',
  'RMSprop#update': 'protected in TypeScript; exercised by RMSprop#step',
  'LRScheduler#initialStep': 'protected in TypeScript; run by every scheduler constructor',
  'LRScheduler#currentLrs': 'protected in TypeScript; run by every scheduler step',
  'StepLR#getLr': 'protected in TypeScript; exercised by LRScheduler#step',
  'MultiStepLR#getLr': 'protected in TypeScript; exercised by LRScheduler#step',
  'ExponentialLR#getLr': 'protected in TypeScript; exercised by LRScheduler#step',
  'CosineAnnealingLR#getLr': 'protected in TypeScript; exercised by LRScheduler#step',
  'LinearLR#getLr': 'protected in TypeScript; exercised by LRScheduler#step',
  'OneCycleLR#getLr': 'protected in TypeScript; exercised by LRScheduler#step',
  'OneCycleLR#anneal': 'private in TypeScript; exercised by LRScheduler#step',
  'ReduceLROnPlateau#isBetter': 'private in TypeScript; exercised by ReduceLROnPlateau#step',
  'DataLoader#epoch': 'private in TypeScript; exercised by iteration',
  'DataLoader#fromRows': 'private in TypeScript; exercised by iteration',
  'DataLoader#collate': 'private in TypeScript; exercised by iteration',
  'DataLoader#outputs': 'private in TypeScript; exercised by iteration',
  'Tensor#[tensorgrad.copy]': 'not a method: a value on the prototype that tells this copy of the library from another one (test/package.test.ts loads both)',
  'new Module': 'abstract; its methods are fuzzed on every kind of module (Module#…)',
  'new Optimizer': 'abstract; fuzzed through SGD, Adam, AdamW and RMSprop',
  'new LRScheduler': 'abstract; fuzzed through every scheduler',
  'Optimizer#checkGroup': 'private in TypeScript; run by constructors, addParamGroup and loadStateDict',
  'Optimizer#checkStep': 'private in TypeScript; run by every step',
  'Optimizer#parseState': 'private in TypeScript; run by loadStateDict',
  'Adam#update': 'protected in TypeScript; exercised by Adam#step',
  'AdamW#update': 'protected in TypeScript; exercised by AdamW#step',
  'LRScheduler#schema': 'protected in TypeScript; used by constructors and loadStateDict',
  'StepLR#schema': 'protected in TypeScript; used by constructors and loadStateDict',
  'MultiStepLR#schema': 'protected in TypeScript; used by constructors and loadStateDict',
  'ExponentialLR#schema': 'protected in TypeScript; used by constructors and loadStateDict',
  'CosineAnnealingLR#schema': 'protected in TypeScript; used by constructors and loadStateDict',
  'LinearLR#schema': 'protected in TypeScript; used by constructors and loadStateDict',
  'ReduceLROnPlateau#schema': 'protected in TypeScript; used by its constructor and loadStateDict',
  'OneCycleLR#schema': 'protected in TypeScript; used by its constructor and loadStateDict',
  'StandardScaler#setStats': 'protected in TypeScript; run by fit and loadJSON',
  'MinMaxScaler#setStats': 'protected in TypeScript; run by fit and loadJSON',
};
