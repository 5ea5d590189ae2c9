// Broadcasting forward and backward, checked exactly: every broadcast binary op result is one
// float32 rounding of the float64 result (both backends promise bit-identical arithmetic), and
// every operand's gradient is a plain sum over the broadcast dims, computed here by index
// arithmetic (no finite differences, so an off-by-one in an index update cannot hide in a
// tolerance).
import fc from 'fast-check';
import { expect, it } from 'vitest';
import * as tg from '../src/index.js';
import type { BinaryOp } from '../src/backend/backend.js';
import { Generator } from '../src/random.js';
import { describeBackends } from './helpers/backends.js';
import { binaryRef, broadcastShape, ref, size } from './helpers/reference.js';

const OPS: BinaryOp[] = ['add', 'sub', 'mul', 'div'];

/** Float32 values in ±[0.5, 2): away from zero so div and its gradient stay well scaled. */
function values(gen: Generator, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => {
    const v = 0.5 + 1.5 * gen.nextDouble();
    return gen.nextUint32() & 1 ? -v : v;
  });
}

/** Multi-index of flat position i in shape. */
function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return idx;
}

/** Flat position in `shape` (right-aligned under `out`) that output index idx reads. */
function source(idx: readonly number[], shape: readonly number[]): number {
  const off = idx.length - shape.length;
  let flat = 0;
  for (let d = 0; d < shape.length; d++) flat = flat * shape[d]! + (shape[d] === 1 ? 0 : idx[off + d]!);
  return flat;
}

/**
 * Float64 gradients of L = Σ w ⊙ (a op b) with respect to a and b: each output element's partial
 * derivative added into the operand element it read.
 */
function gradRef(op: BinaryOp, a: Float32Array, aShape: number[], b: Float32Array, bShape: number[], w: Float32Array, outShape: number[]) {
  const ga = new Float64Array(a.length);
  const gb = new Float64Array(b.length);
  for (let i = 0; i < size(outShape); i++) {
    const idx = unravel(i, outShape);
    const ia = source(idx, aShape);
    const ib = source(idx, bShape);
    const x = a[ia]!;
    const y = b[ib]!;
    const [dx, dy] = op === 'add' ? [1, 1] : op === 'sub' ? [1, -1] : op === 'mul' ? [y, x] : [1 / y, -x / (y * y)];
    ga[ia] += w[i]! * dx;
    gb[ib] += w[i]! * dy;
  }
  return { ga, gb };
}

function expectNear(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    // Float32 sums of a few terms of size ≤ 8: 1e-5 relative to the largest term is ample, and
    // an element summed into the wrong place is off by a whole term.
    if (!(Math.abs(actual[i]! - e) <= 1e-5 * Math.max(1, Math.abs(e)))) expect.fail(`${what}[${i}]: got ${actual[i]}, want ${e}`);
  }
}

/** Output shape and two operand shapes that broadcast to it: dims kept, set to 1, or dropped. */
const broadcastCase = fc
  .array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 4 })
  .chain((out) =>
    fc.record({
      out: fc.constant(out),
      a: fc.tuple(fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }), fc.nat({ max: out.length })),
      b: fc.tuple(fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }), fc.nat({ max: out.length })),
      seed: fc.integer(),
    }),
  )
  .map(({ out, a, b, seed }) => ({
    aShape: out.map((d, i) => (a[0][i] ? d : 1)).slice(a[1]),
    bShape: out.map((d, i) => (b[0][i] ? d : 1)).slice(b[1]),
    seed,
  }));

describeBackends('broadcasting', (backend) => {
  it('a [3,4] operand broadcast over [2,3,4] gets the sum over the broadcast dim, for every op', () => {
    const gen = new Generator(5);
    for (const op of OPS) {
      for (const [aShape, bShape] of [
        [[2, 3, 4], [3, 4]],
        [[3, 4], [2, 3, 4]],
        [[2, 3, 4], [3, 1]],
        [[2, 1, 4], [3, 1]],
        [[2, 3, 1], [1, 3, 4]],
        [[4], [2, 3, 4]],
        [[2, 3, 4], []],
        [[], [2, 3, 1]],
      ]) {
        const out = broadcastShape(aShape!, bShape!)!;
        const a = values(gen, size(aShape!));
        const b = values(gen, size(bShape!));
        const w = values(gen, size(out));
        const x = tg.tensor(Array.from(a), { requiresGrad: true }).reshape(aShape!);
        const y = tg.tensor(Array.from(b), { requiresGrad: true }).reshape(bShape!);
        x.retainGrad();
        y.retainGrad();
        const z = tg[op](x, y);
        expect(z.shape).toEqual(out);
        expect(Array.from(z.data)).toEqual(Array.from(Float32Array.from(binaryRef(op, ref(a, aShape!), ref(b, bShape!)).data)));
        z.mul(tg.tensor(Array.from(w)).reshape(out)).sum().backward();
        const { ga, gb } = gradRef(op, a, aShape!, b, bShape!, w, out);
        expectNear(x.grad!.data, ga, `${op} ${JSON.stringify(aShape)}·${JSON.stringify(bShape)} grad a`);
        expectNear(y.grad!.data, gb, `${op} ${JSON.stringify(aShape)}·${JSON.stringify(bShape)} grad b`);
      }
    }
  });

  it('a [3,4] operand added over [2,3,4] with upstream ones gets 2 in every element (not all 1s)', () => {
    const x = tg.zeros([2, 3, 4]);
    const y = tg.zeros([3, 4], { requiresGrad: true });
    x.add(y).sum().backward();
    expect(Array.from(y.grad!.data)).toEqual(new Array(12).fill(2));
    const y2 = tg.zeros([3, 4], { requiresGrad: true });
    // Distinct upstream values per output element: the sum must pair each with its own element.
    x.sub(y2).backward(tg.arange(24).reshape(2, 3, 4));
    expect(Array.from(y2.grad!.data)).toEqual(Array.from({ length: 12 }, (_, i) => -(i + (i + 12))));
  });

  it('property: backend binary equals the float64 result rounded once, for all ops and broadcast shapes', () => {
    fc.assert(
      fc.property(broadcastCase, fc.constantFrom(...OPS), ({ aShape, bShape, seed }, op) => {
        const gen = new Generator(seed);
        const out = broadcastShape(aShape, bShape)!;
        const a = values(gen, size(aShape));
        const b = values(gen, size(bShape));
        const want = Float32Array.from(binaryRef(op, ref(a, aShape), ref(b, bShape)).data);
        const got = new Float32Array(size(out)).fill(NaN);
        backend().binary(op, a, aShape, b, bShape, got, out);
        expect(Array.from(got)).toEqual(Array.from(want));
      }),
      { numRuns: 300 },
    );
  });

  it('property: binary in place over the operand with the output shape gives the out-of-place result', () => {
    fc.assert(
      fc.property(broadcastCase, fc.constantFrom(...OPS), fc.boolean(), ({ aShape, bShape, seed }, op, intoA) => {
        const out = broadcastShape(aShape, bShape)!;
        // The aliased operand must have the output's shape (the documented contract).
        const [sa, sb] = intoA ? [out, bShape] : [aShape, out];
        const gen = new Generator(seed);
        const a = values(gen, size(sa));
        const b = values(gen, size(sb));
        const want = new Float32Array(size(out));
        backend().binary(op, a, sa, b, sb, want, out);
        const target = intoA ? a : b;
        backend().binary(op, a, sa, b, sb, target, out);
        expect(Array.from(target)).toEqual(Array.from(want));
      }),
      { numRuns: 300 },
    );
  });

  it('in place with a row-broadcast operand: each row reads its own, unmodified input', () => {
    for (const op of OPS) {
      for (const [aShape, bShape, intoA] of [
        [[3, 4], [4], true],
        [[3, 4], [3, 1], true],
        [[3, 1], [3, 4], false],
        [[4], [3, 4], false],
        [[2, 3, 4], [3, 4], true],
        [[2, 1, 4], [2, 3, 4], false],
      ] as [number[], number[], boolean][]) {
        const out = broadcastShape(aShape, bShape)!;
        const a = Float32Array.from({ length: size(aShape) }, (_, i) => i + 1);
        const b = Float32Array.from({ length: size(bShape) }, (_, i) => 2 * i + 3);
        const want = Float32Array.from(binaryRef(op, ref(a, aShape), ref(b, bShape)).data);
        const target = intoA ? a : b;
        backend().binary(op, a, aShape, b, bShape, target, out);
        expect(Array.from(target), `${op} ${JSON.stringify(aShape)} ${JSON.stringify(bShape)}`).toEqual(Array.from(want));
      }
    }
  });

  it('sumTo sums exactly the broadcast dims, for any pattern of kept dims', () => {
    fc.assert(
      fc.property(broadcastCase, ({ aShape, bShape, seed }) => {
        // The gradient case: an output of the broadcast shape summed down to one operand's shape.
        const full = broadcastShape(aShape, bShape)!;
        const padded = new Array<number>(full.length - aShape.length).fill(1).concat(aShape);
        const gen = new Generator(seed);
        const x = Float32Array.from({ length: size(full) }, () => gen.randint(9) - 4);
        const want = new Float64Array(size(padded));
        for (let i = 0; i < x.length; i++) want[source(unravel(i, full), padded)] += x[i]!;
        const got = new Float32Array(size(padded)).fill(NaN);
        backend().sumTo(x, full, got, padded);
        expect(Array.from(got)).toEqual(Array.from(want));
      }),
      { numRuns: 200 },
    );
    // Every dim reduced, and a 0-d target.
    const x = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const one = new Float32Array(1);
    backend().sumTo(x, [2, 3], one, [1, 1]);
    expect(one[0]).toBe(21);
    const scalar = Float32Array.of(7);
    const out = new Float32Array(1);
    backend().sumTo(scalar, [], out, []);
    expect(out[0]).toBe(7);
  });

  it('sumTo of an empty tensor gives zeros', () => {
    const out = Float32Array.from([5, 5, 5]);
    backend().sumTo(new Float32Array(0), [0, 3], out, [1, 3]);
    expect(Array.from(out)).toEqual([0, 0, 0]);
  });

  it('empty outputs write nothing', () => {
    const out = new Float32Array(0);
    backend().binary('add', new Float32Array(0), [0, 3], Float32Array.from([1, 2, 3]), [3], out, [0, 3]);
    expect(tg.add(tg.zeros([0, 3]), tg.ones([3])).shape).toEqual([0, 3]);
  });
});
