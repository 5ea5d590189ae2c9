import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend/backend.js';
import { availableBackends } from '../src/backend/index.js';
import { jsBackend } from '../src/backend/js/index.js';
import { loadAddon } from '../src/backend/native.js';
import { Generator } from '../src/random.js';

// The loss and random-fill loops are backend kernels (nn/losses.ts, ops/dropout.ts and the init
// functions only call them). Random fills must give the same bits on both backends, and the same
// bits as drawing nextFloat() one at a time; the losses compute the same double expressions, where
// only the C library's and V8's exp/log may differ in a double's last bit.

const native = availableBackends().find((b) => b.name === 'native');
const backends: Backend[] = native ? [jsBackend, native] : [jsBackend];

const words = fc.tuple(fc.integer({ min: 1, max: 2 ** 32 - 1 }), fc.nat({ max: 2 ** 32 - 1 }), fc.nat({ max: 2 ** 32 - 1 }), fc.nat({ max: 2 ** 32 - 1 }));

/** A generator at exactly these four state words. */
function generatorAt(w: readonly number[]): Generator {
  const g = new Generator(0);
  g.setState([w[0]!, w[1]!, w[2]!, w[3]!, Number.NaN]);
  return g;
}

/** Distance in units in the last place between two float32 values (0 when both are NaN). */
function ulps(a: number, b: number): number {
  if (Number.isNaN(a) && Number.isNaN(b)) return 0;
  if (a === b) return 0;
  const f = new Float32Array([a, b]);
  const i = new Int32Array(f.buffer);
  const key = (v: number): number => (v < 0 ? -2147483648 - v : v);
  return Math.abs(key(i[0]!) - key(i[1]!));
}

function maxUlps(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, ulps(a[i]!, b[i]!));
  return m;
}

describe('random-fill kernels', () => {
  it.each(backends.map((b) => [b.name, b] as const))('%s: fillUniform and dropoutMask draw exactly what nextFloat() draws, and advance the state as far', (_, be) => {
    fc.assert(
      fc.property(
        words,
        fc.integer({ min: 0, max: 3000 }),
        fc.double({ min: -5, max: 5, noNaN: true }),
        fc.double({ min: 0, max: 7, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (w, n, lo, width, keep) => {
          const hi = lo + width;
          const ref = generatorAt(w);
          const want = new Float32Array(n);
          for (let i = 0; i < n; i++) want[i] = lo + (hi - lo) * ref.nextFloat();
          const state = Uint32Array.from(w);
          const out = new Float32Array(n);
          be.fillUniform(state, lo, hi, out);
          expect(out).toEqual(want);
          expect(Array.from(state)).toEqual(ref.getState().slice(0, 4));

          const scale = keep === 0 ? 0 : 1 / keep;
          const ref2 = generatorAt(w);
          const wantMask = new Float32Array(n);
          for (let i = 0; i < n; i++) wantMask[i] = ref2.nextFloat() < keep ? scale : 0;
          const state2 = Uint32Array.from(w);
          const mask = new Float32Array(n);
          be.dropoutMask(state2, keep, scale, mask);
          expect(mask).toEqual(wantMask);
          expect(Array.from(state2)).toEqual(ref2.getState().slice(0, 4));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('the Generator methods that use them keep the stream: fills then draws equal draws alone', () => {
    const a = new Generator(123);
    const b = new Generator(123);
    const out = new Float32Array(1000);
    a._fillUniform(out, -1, 1);
    a._dropoutMask(new Float32Array(77), 0.25, 4);
    for (let i = 0; i < 1077; i++) b.nextFloat();
    expect(a.nextUint32()).toBe(b.nextUint32());
    expect(out.every((v) => v >= -1 && v < 1)).toBe(true);
  });
});

/** Inputs for the loss kernels: logits of every magnitude, probabilities including 0 and 1. */
function lossInputs(n: number, seed: number): { x: Float32Array; p: Float32Array; y: Float32Array; g: Float32Array } {
  const gen = new Generator(seed);
  const x = Float32Array.from({ length: n }, (_, i) => (gen.nextFloat() - 0.5) * (i % 7 === 0 ? 200 : 12));
  const p = Float32Array.from({ length: n }, (_, i) => (i % 11 === 0 ? i % 2 : gen.nextFloat()));
  const y = Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? gen.nextFloat() : i % 2));
  const g = Float32Array.from({ length: n }, () => gen.nextFloat() * 2 - 1);
  return { x, p, y, g };
}

describe.runIf(native !== undefined)('loss kernels: native and TypeScript agree', () => {
  const be = native!;

  it('nllLoss and its gradient: same values, same ignored rows, same first bad row', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 2 ** 31 }), fc.boolean(), (rows, classes, seed, perRow) => {
        const gen = new Generator(seed);
        const logp = Float32Array.from({ length: rows * classes }, () => -gen.nextFloat() * 9);
        const target = Float32Array.from({ length: rows }, () => (gen.nextFloat() < 0.1 ? -100 : gen.randint(classes)));
        const run = (b: Backend): [Float32Array, Float64Array, Float32Array] => {
          const loss = new Float32Array(rows).fill(Number.NaN);
          const stats = new Float64Array(2);
          expect(b.nllLoss(logp, rows, classes, target, -100, loss, stats)).toBe(-1);
          const g = Float32Array.from({ length: rows }, (_, i) => i / 7 - 3);
          const gx = new Float32Array(rows * classes);
          b.nllLossGrad(rows, classes, target, -100, perRow ? g : null, perRow ? 0 : 1 / 3, gx);
          return [loss, stats, gx];
        };
        const [l1, s1, g1] = run(jsBackend);
        const [l2, s2, g2] = run(be);
        expect(l2).toEqual(l1);
        expect(s2).toEqual(s1);
        expect(g2).toEqual(g1);
        expect(s1[1]).toBe(target.filter((t) => t !== -100).length);
        if (rows > 0) {
          const bad = Math.floor(rows / 2);
          const t2 = target.slice();
          t2[bad] = [classes, -1, 0.5, Number.NaN][seed % 4]!;
          for (const b of [jsBackend, be]) expect(b.nllLoss(logp, rows, classes, t2, -100, new Float32Array(rows), new Float64Array(2))).toBe(bad);
        }
      }),
      { numRuns: 80 },
    );
  });

  it('bce and bceWithLogits (with and without posWeight) and their gradients, within 1 ulp', () => {
    for (const [n, last] of [[0, 1], [1, 1], [37, 37], [600, 12], [4096, 64]] as const) {
      const { x, p, y, g } = lossInputs(n, n + 5);
      const pws = [null, new Float32Array([2.5]), Float32Array.from({ length: last }, (_, i) => 0.5 + i / 10)];
      for (const logits of [true, false]) {
        for (const pw of logits ? pws : [null]) {
          const input = logits ? x : p;
          const out = (b: Backend): Float32Array[] => {
            const loss = new Float32Array(n);
            expect(b.bceLoss(logits, input, y, pw, last, loss)).toBe(-1);
            const gx = new Float32Array(n);
            const gy = new Float32Array(n);
            b.bceLossGrad(logits, input, y, pw, last, g, gx, gy);
            return [loss, gx, gy];
          };
          const a = out(jsBackend);
          const b = out(be);
          for (let k = 0; k < 3; k++) expect(maxUlps(a[k]!, b[k]!), `n ${n} logits ${logits} pw ${pw?.length} output ${k}`).toBeLessThanOrEqual(1);
        }
      }
      if (n > 2) {
        const bad = p.slice();
        bad[n - 2] = 1.5;
        for (const b of [jsBackend, be]) expect(b.bceLoss(false, bad, y, null, last, new Float32Array(n))).toBe(n - 2);
      }
    }
  });

  it('the addon refuses wrong lengths, types, overlaps and posWeight shapes', () => {
    const a = loadAddon()!;
    const f = (n: number): Float32Array => new Float32Array(n);
    const st = new Uint32Array([1, 2, 3, 4]);
    expect(() => a.fillUniform!(new Uint32Array(3), 0, 1, f(4))).toThrow(/state must have 4 elements/);
    expect(() => a.fillUniform!(new Int32Array(4) as unknown as Uint32Array, 0, 1, f(4))).toThrow(/state must be a Uint32Array/);
    expect(() => a.dropoutMask!(st, 0.5, 2, new Float64Array(4) as unknown as Float32Array)).toThrow(/out must be a Float32Array/);
    expect(() => a.nllLoss!(f(6), 2, 3, f(3), -100, f(2), new Float64Array(2))).toThrow(/target has 3 elements, expected 2/);
    expect(() => a.nllLoss!(f(6), 2, 3, f(2), -100, f(2), new Float64Array(1))).toThrow(/stats must have 2 elements/);
    expect(() => a.nllLoss!(f(6), 2, 3, f(2), 0.5, f(2), new Float64Array(2))).toThrow(/ignoreIndex must be an integer/);
    const shared = f(8);
    expect(() => a.nllLoss!(shared.subarray(0, 6), 2, 3, f(2), -100, shared.subarray(5, 7), new Float64Array(2))).toThrow(/must not overlap/);
    expect(() => a.nllLossGrad!(2, 3, f(2), -100, f(3), 0, f(6))).toThrow(/g has 3 elements, expected 2/);
    expect(() => a.bceLoss!(true, f(6), f(6), f(2), 3, f(6))).toThrow(/posWeight must have 1 or last/);
    expect(() => a.bceLoss!(true, f(6), f(5), null, 3, f(6))).toThrow(/y has 5 elements/);
    expect(() => a.bceLossGrad!(true, f(6), f(6), null, 3, f(6), shared, null)).toThrow(/gx has 8 elements/);
    const x = f(6);
    expect(() => a.bceLossGrad!(false, x, f(6), null, 3, f(6), x, null)).toThrow(/must not overlap/);
  });
});
