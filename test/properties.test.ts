import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { Generator } from '../src/random.js';
import { broadcastShapes } from '../src/shape.js';
import { describeBackends } from './helpers/backends.js';
import { broadcastShape, permuteRef, ref } from './helpers/reference.js';

const shape = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 5 });

describe('broadcasting shape rules', () => {
  it('match NumPy: align right, equal or 1, result is the max', () => {
    fc.assert(
      fc.property(shape, shape, (a, b) => {
        const expected = broadcastShape(a, b);
        if (expected === null) {
          expect(() => broadcastShapes('add', a, b)).toThrow(/cannot be broadcast/);
        } else {
          expect(broadcastShapes('add', a, b)).toEqual(expected);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('are symmetric, and broadcasting with the result is idempotent', () => {
    fc.assert(
      fc.property(shape, shape, (a, b) => {
        const ab = broadcastShape(a, b);
        expect(broadcastShape(b, a)).toEqual(ab);
        if (ab === null) {
          expect(() => broadcastShapes('mul', b, a)).toThrow(/cannot be broadcast/);
        } else {
          expect(broadcastShapes('mul', b, a)).toEqual(ab);
          expect(broadcastShapes('mul', ab, a)).toEqual(ab);
          expect(broadcastShapes('mul', b, ab)).toEqual(ab);
        }
      }),
      { numRuns: 300 },
    );
  });
});

const smallShape = fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 });

describeBackends('reshape / transpose round trips', () => {
  it('reshape to any factorisation and back keeps row-major order', () => {
    fc.assert(
      fc.property(smallShape, smallShape, fc.integer(), (s, t, seed) => {
        const n = s.reduce((a, b) => a * b, 1);
        // Distinct values, compared with a copy taken before any reshape: reshape shares the
        // buffer, so comparing a view's data with its base's would compare an array with itself.
        const gen = new Generator(seed);
        const values = Array.from({ length: n }, () => Math.fround(gen.nextDouble()));
        const x = tg.tensor(values).reshape(s);
        expect(x.shape).toEqual(s);
        expect((x.toArray() as number[]).flat(s.length)).toEqual(values);
        const flat = x.reshape(-1);
        expect(flat.shape).toEqual([n]);
        expect(flat.toArray()).toEqual(values);
        // Any shape with the same size works; t fixes the leading dim, -1 takes the rest.
        const lead = t.find((d) => n % d === 0) ?? 1;
        const y = x.reshape([lead, -1]);
        expect(y.shape).toEqual([lead, n / lead]);
        const rows = y.toArray() as number[][];
        rows.forEach((row, i) => expect(row).toEqual(values.slice(i * (n / lead), (i + 1) * (n / lead))));
        const back = y.reshape(s);
        expect(back.shape).toEqual(s);
        expect((back.toArray() as number[]).flat(s.length)).toEqual(values);
      }),
      { numRuns: 200 },
    );
  });

  it('transposing twice is the identity, and permute matches the reference', () => {
    fc.assert(
      fc.property(smallShape.filter((s) => s.length >= 2), fc.nat(), fc.nat(), (s, i, j) => {
        const n = s.reduce((a, b) => a * b, 1);
        const x = tg.arange(n).reshape(s);
        const d0 = i % s.length;
        const d1 = j % s.length;
        const back = x.transpose(d0, d1).transpose(d0, d1);
        expect(back.shape).toEqual(s);
        expect(Array.from(back.data)).toEqual(Array.from(x.data));
        const axes = s.map((_, k) => k).reverse();
        const p = x.permute(...axes);
        expect(Array.from(p.data)).toEqual(Array.from(permuteRef(ref(x.data, s), axes).data));
        const inverse = axes.map((_, k) => axes.indexOf(k));
        expect(Array.from(p.permute(...inverse).data)).toEqual(Array.from(x.data));
      }),
      { numRuns: 200 },
    );
  });

  it('T of T is the identity for matrices', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 70 }), (r, c) => {
        const x = tg.arange(r * c).reshape(r, c);
        expect(x.T.shape).toEqual([c, r]);
        expect(x.T.data[1 % (r * c)]).toBe(r > 1 ? c : r * c > 1 ? 1 : 0);
        expect(Array.from(x.T.T.data)).toEqual(Array.from(x.data));
      }),
      { numRuns: 100 },
    );
  });
});
