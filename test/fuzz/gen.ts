/**
 * fast-check arbitraries of argument specs: valid values mixed with boundary values and junk, so a
 * target sees mostly calls that should work (and must match across backends) and some that must
 * fail with an error naming the op.
 */
import fc from 'fast-check';
import { type Dist, JUNK_VALUES, type RefName, type Spec, type Via } from './spec.js';

export type A = fc.Arbitrary<Spec>;

export const raw = (v: unknown): Spec => ({ k: 'v', v });
export const c = (v: unknown): A => fc.constant(raw(v));
export const ref = (name: RefName, ...args: Spec[]): Spec => ({ k: 'ref', name, args });
export const arr = (items: Spec[]): Spec => ({ k: 'arr', items });
export const obj = (e: Record<string, Spec | undefined>): Spec => ({
  k: 'obj',
  e: Object.entries(e).filter((x): x is [string, Spec] => x[1] !== undefined),
});

const seed = fc.integer({ min: 1, max: 2 ** 30 });

/** A tensor spec of a given shape. */
export function tOf(shape: number[], o: { dist?: Dist; rg?: boolean; via?: Via; grad?: 'ok' | 'wrong'; classes?: number } = {}): fc.Arbitrary<Spec> {
  return seed.map((s) => ({ k: 't', shape, seed: s, dist: o.dist ?? 'mix', rg: o.rg, via: o.via, grad: o.grad, classes: o.classes }) as Spec);
}

/** Dims mostly 1–4, sometimes 0 (empty tensors). */
export const smallDim = fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.constant(0) });

export function shapeArb(minRank = 0, maxRank = 4): fc.Arbitrary<number[]> {
  return fc.array(smallDim, { minLength: minRank, maxLength: maxRank });
}

/** Shapes whose size is 0 but whose dims are huge: must neither allocate nor loop over them. */
// Dims past 2^32 (a Float32Array's limit): any non-empty result of them must be refused, not
// allocated, so a valid-but-huge 2^31 (8 GB, slow rather than wrong) stays out of the fuzz.
export const hugeEmptyShape: fc.Arbitrary<number[]> = fc.constantFrom([2 ** 50, 0], [0, 2 ** 33], [2 ** 40, 0, 3], [0, 2 ** 53]).map((s) => [...s]);

export interface TensorOpts {
  minRank?: number;
  maxRank?: number;
  dist?: Dist;
  /** Probability-like weight of requiresGrad (default: sometimes). */
  rg?: boolean | 'sometimes';
  /** Include broken tensors (detached buffers, fakes) now and then. Default true. */
  broken?: boolean;
  /** Broken ones may be plain objects posing as tensors (not for method subjects). Default true. */
  fakes?: boolean;
  classes?: number;
}

function viaArb(rg: boolean): fc.Arbitrary<Via> {
  return fc.oneof(
    { weight: 10, arbitrary: fc.constant<Via>('leaf') },
    { weight: rg ? 3 : 0, arbitrary: fc.constant<Via>('nonleaf') },
    { weight: 2, arbitrary: fc.constant<Via>('view') },
    { weight: 1, arbitrary: fc.constant<Via>('shared') },
  );
}

/** A tensor (any rank in range, values by dist), now and then with its gradient required. */
export function tensorArb(o: TensorOpts = {}): A {
  const rgArb = o.rg === 'sometimes' || o.rg === undefined ? fc.boolean() : fc.constant(o.rg);
  const good = fc
    .record({ shape: shapeArb(o.minRank ?? 0, o.maxRank ?? 4), rg: rgArb, seed })
    .chain(({ shape, rg, seed: s }) =>
      viaArb(rg).map((via) => ({ k: 't', shape, seed: s, dist: o.dist ?? 'mix', rg, via, classes: o.classes }) as Spec),
    );
  if (o.broken === false) return good;
  return fc.oneof({ weight: 24, arbitrary: good }, { weight: 1, arbitrary: brokenTensor(o.minRank ?? 0, o.maxRank ?? 4, o.fakes ?? true) });
}

/** Tensors that exist but must not be computed with: detached buffers, fakes, huge-but-empty. */
export function brokenTensor(minRank = 0, maxRank = 4, fakes = true): A {
  const fake: A = fc.record({ shape: shapeArb(minRank, maxRank), n: fc.integer({ min: 0, max: 3 }) }).map(({ shape, n }) => ({ k: 'fake', shape, n }) as Spec);
  return fc.oneof(
    fc.record({ shape: shapeArb(Math.max(minRank, 1), Math.max(maxRank, 1)), s: seed }).map(
      ({ shape, s }) => ({ k: 't', shape, seed: s, dist: 'mix', via: 'detached' }) as Spec,
    ),
    fakes ? fake : hugeEmptyShape.chain((shape) => tOf(shape)),
    hugeEmptyShape.chain((shape) => tOf(shape)),
  );
}

/** One of the junk values, or a junk object. */
export const junk: A = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...JUNK_VALUES).map(raw) },
  { weight: 1, arbitrary: fc.constant(obj({})) },
  { weight: 1, arbitrary: fc.constant(arr([])) },
  { weight: 1, arbitrary: fc.constant(arr([raw(1), raw('x')])) },
  { weight: 1, arbitrary: fc.constant<Spec>({ k: 'fake', shape: [2], n: 2, junk: true }) },
);

/** An arbitrary, or a fixed spec made into one. */
export function lift(a: A | Spec): A {
  return 'k' in a ? fc.constant(a) : a;
}

/** Mostly a (from the valid arbitrary), sometimes junk. */
export function orJunk(a: A | Spec, junkWeight = 1, validWeight = 6): A {
  return fc.oneof({ weight: validWeight, arbitrary: lift(a) }, { weight: junkWeight, arbitrary: junk });
}

/** Like orJunk, and sometimes the parameter is left out (undefined). */
export function opt(a: A | Spec): A {
  return fc.oneof({ weight: 5, arbitrary: lift(a) }, { weight: 2, arbitrary: c(undefined) }, { weight: 1, arbitrary: junk });
}

/** A dim index valid for rank r (both signs), or an out-of-range / non-integer one. */
export function dimArb(r: number): A {
  const valid = r > 0 ? fc.integer({ min: -r, max: r - 1 }).map(raw) : fc.constantFrom(0, -1).map(raw);
  return fc.oneof(
    { weight: 8, arbitrary: valid },
    { weight: 1, arbitrary: fc.constantFrom(r, -r - 1, 0.5, 2 ** 31, -(2 ** 53), Number.NaN, Infinity, '0', '-1', null, 1n).map(raw) },
  );
}

/** Integers in [min, max], boundaries, and junk. */
export function intArb(min: number, max: number, junkWeight = 1): A {
  return fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min, max }).map(raw) },
    // Not 2^31: as a size it is valid (if huge) and would only measure the machine's memory.
    { weight: junkWeight, arbitrary: fc.constantFrom(min - 1, max + 1, 0, -1, 0.5, 2 ** 53, 1e300, Number.NaN, Infinity, -Infinity, '2', 2n).map(raw) },
  );
}

/** Reals in [min, max], boundaries, and junk. */
export function realArb(min: number, max: number, junkWeight = 1): A {
  return fc.oneof(
    { weight: 8, arbitrary: fc.double({ min, max, noNaN: true }).map(raw) },
    { weight: 2, arbitrary: fc.constantFrom(min, max).map(raw) },
    { weight: junkWeight, arbitrary: fc.constantFrom(Number.NaN, Infinity, -Infinity, -1, -1e-9, 1e300, '0.1', null, 1n).map(raw) },
  );
}

/** A tensor together with a rank-valid dim argument. */
export function tensorAndDim(o: TensorOpts = {}, dimOptional = true): fc.Arbitrary<[Spec, Spec]> {
  return tensorArb(o).chain((t) => {
    const r = t.k === 't' ? t.shape.length : 2;
    const d = dimOptional ? fc.oneof({ weight: 5, arbitrary: dimArb(r) }, { weight: 1, arbitrary: c(undefined) }, { weight: 1, arbitrary: c(null) }) : dimArb(r);
    return d.map((dim) => [t, dim] as [Spec, Spec]);
  });
}

/** Two tensors whose shapes broadcast (now and then they don't), sometimes a number instead. */
export function broadcastPair(o: TensorOpts = {}): fc.Arbitrary<[Spec, Spec]> {
  return fc
    .record({
      shape: shapeArb(0, 4),
      keep: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 4, maxLength: 4 }),
      drop: fc.integer({ min: 0, max: 4 }),
      swap: fc.boolean(),
      mismatch: fc.integer({ min: 0, max: 12 }),
      scalar: fc.integer({ min: 0, max: 10 }),
      rgA: fc.boolean(),
      rgB: fc.boolean(),
    })
    .chain(({ shape, keep, drop, swap, mismatch, scalar, rgA, rgB }) => {
      let other = shape.slice(Math.min(drop, shape.length)).map((d, i) => (keep[i] === 0 ? 1 : d));
      if (mismatch === 0 && other.length > 0) other = other.map((d) => d + 2);
      const a: A = fc.oneof({ weight: 20, arbitrary: tOf(shape, { dist: o.dist ?? 'mix', rg: rgA }) }, { weight: 1, arbitrary: brokenTensor() });
      const b: A =
        scalar === 0
          ? fc.oneof(fc.double({ min: -4, max: 4, noNaN: true }), fc.constantFrom(Number.NaN, Infinity, 0)).map(raw)
          : scalar === 1
            ? junk
            : scalar === 2
              ? brokenTensor()
              : tOf(other, { dist: o.dist ?? 'mix', rg: rgB });
      return fc.tuple(a, b).map(([x, y]) => (swap ? [y, x] : [x, y]) as [Spec, Spec]);
    });
}

/** A shape argument: an array of dims (valid, negative, fractional, huge) or a number or junk. */
export const shapeArg: A = fc.oneof(
  { weight: 6, arbitrary: shapeArb(0, 4).map(raw) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 5 }).map(raw) },
  { weight: 1, arbitrary: fc.constantFrom([-1], [2.5], [2 ** 31, 2 ** 31], [2 ** 53], [Number.NaN], ['2'], [2 ** 50, 0], [1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2], [Infinity]).map(raw) },
  { weight: 1, arbitrary: junk },
);

/** TensorOptions: {}, {requiresGrad}, or junk. */
export const tensorOptions: A = fc.oneof(
  c(undefined),
  fc.boolean().map((b) => obj({ requiresGrad: raw(b) })),
  c({ requiresGrad: 'yes' }),
  junk,
);

/** Reduction options for the losses. */
export const reductionOpts: A = fc.oneof(
  { weight: 3, arbitrary: c(undefined) },
  { weight: 4, arbitrary: fc.constantFrom('mean', 'sum', 'none').map((r) => obj({ reduction: raw(r) })) },
  { weight: 1, arbitrary: fc.constantFrom('avg', 1, null, '').map((r) => obj({ reduction: raw(r) })) },
  { weight: 1, arbitrary: junk },
);

/** A module (valid ones of a few kinds). */
export const modelArb: A = fc.constantFrom('linear', 'linearNoBias', 'mlp', 'mlpDeep', 'seq', 'ensemble', 'relu', 'identity', 'flatten', 'dropout').map((k) => ref('model', raw(k)));

/** A model taking 3 features with 2 outputs (the ones fit/evaluate/save can use). */
export const model3to2: A = fc.constantFrom('linear', 'mlp', 'seq').map((k) => ref('model', raw(k)));

/** An input batch for model3to2: [n, 3] mostly, other shapes sometimes. */
export const input3: A = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 5 }).chain((n) => tOf([n, 3], { dist: 'normal' })) },
  { weight: 1, arbitrary: fc.constantFrom([0, 3], [3], [2, 4], [2, 3, 3]).chain((s) => tOf([...s])) },
  { weight: 1, arbitrary: tensorArb() },
  { weight: 1, arbitrary: junk },
);

/** Parameters with gradients: an array of leaf tensors requiring grad, their grads set (sometimes wrong). */
export const paramsWithGrads: A = fc
  .array(
    fc.record({ shape: shapeArb(1, 3), grad: fc.oneof({ weight: 12, arbitrary: fc.constant<'ok'>('ok') }, { weight: 1, arbitrary: fc.constant<'wrong'>('wrong') }), s: seed }),
    { minLength: 1, maxLength: 3 },
  )
  .map((ps) => arr(ps.map(({ shape, grad, s }) => ({ k: 't', shape, seed: s, dist: 'normal', rg: true, grad }) as Spec)));

export { fc };
