import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend/backend.js';
import { availableBackends } from '../src/backend/index.js';
import { jsBackend } from '../src/backend/js/index.js';
import { loadAddon } from '../src/backend/native.js';
import { Generator } from '../src/random.js';

// indexSelect, concat, the max/min backward and gradient clipping keep no element loop of their
// own: they call these kernels. Each kernel is checked here against a direct loop, on each backend,
// and the two backends against each other bit for bit.

const native = availableBackends().find((b) => b.name === 'native');
const backends: Backend[] = native ? [jsBackend, native] : [jsBackend];
const each = backends.map((b) => [b.name, b] as const);

function values(n: number, seed: number): Float32Array {
  const gen = new Generator(seed);
  return Float32Array.from({ length: n }, () => (gen.nextFloat() - 0.5) * 8);
}

describe('gather and scatter kernels', () => {
  it.each(each)('%s: gatherRows and scatterAddRows match direct loops (repeated indices accumulate in order)', (_, be) => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 0, max: 7 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.nat(),
        (rows, row, raw, seed) => {
          const idx = Int32Array.from(raw, (v) => v % rows);
          const x = values(rows * row, seed);
          const out = new Float32Array(idx.length * row).fill(-7);
          be.gatherRows(x, row, idx, out);
          const want = new Float32Array(idx.length * row);
          for (let i = 0; i < idx.length; i++) for (let j = 0; j < row; j++) want[i * row + j] = x[idx[i]! * row + j]!;
          expect(out).toEqual(want);

          const g = values(idx.length * row, seed + 1);
          const start = values(rows * row, seed + 2);
          const gx = start.slice();
          be.scatterAddRows(g, row, idx, gx);
          const wantGx = start.slice();
          for (let i = 0; i < idx.length; i++) for (let j = 0; j < row; j++) wantGx[idx[i]! * row + j]! += g[i * row + j]!;
          expect(gx).toEqual(wantGx);
        },
      ),
      { numRuns: 150 },
    );
  });

  it.each(each)('%s: copyBlocks copies each row of the block and leaves the gaps alone', (_, be) => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 5 }), fc.nat({ max: 4 }), fc.nat({ max: 4 }), fc.nat(), (rows, width, gapS, gapD, seed) => {
        const ss = width + gapS;
        const ds = width + gapD;
        const src = values(rows * ss, seed);
        const dst = new Float32Array(rows * ds).fill(42);
        be.copyBlocks(src, ss, dst, ds, rows, width);
        const want = new Float32Array(rows * ds).fill(42);
        for (let r = 0; r < rows; r++) for (let j = 0; j < width; j++) want[r * ds + j] = src[r * ss + j]!;
        expect(dst).toEqual(want);
      }),
      { numRuns: 150 },
    );
  });

  it.each(each)('%s: scatterArg puts each gradient where arg points; shareEqual splits among ties and NaNs', (_, be) => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 4 }), fc.nat(), (outer, n, inner, seed) => {
        const gen = new Generator(seed);
        const arg = Float64Array.from({ length: outer * inner }, () => Math.floor(gen.nextFloat() * n));
        const g = values(outer * inner, seed);
        const gx = new Float32Array(outer * n * inner);
        be.scatterArg(g, arg, outer, n, inner, gx);
        const want = new Float32Array(outer * n * inner);
        for (let o = 0; o < outer; o++) for (let j = 0; j < inner; j++) want[(o * n + arg[o * inner + j]!) * inner + j] = g[o * inner + j]!;
        expect(gx).toEqual(want);
      }),
      { numRuns: 100 },
    );
    const x = new Float32Array([1, 5, 2, 5, Number.NaN, 5, -5]);
    const gx = new Float32Array(7);
    expect(be.shareEqual(x, 5, 1, gx)).toBe(3);
    expect(Array.from(gx)).toEqual([0, Math.fround(1 / 3), 0, Math.fround(1 / 3), 0, Math.fround(1 / 3), 0]);
    const gn = new Float32Array(7);
    expect(be.shareEqual(x, Number.NaN, 2, gn)).toBe(1);
    expect(Array.from(gn)).toEqual([0, 0, 0, 0, 2, 0, 0]);
    expect(be.shareEqual(x, 3, 2, new Float32Array(7))).toBe(0);
  });

  it.each(each)('%s: normPart sums in the documented order (four running sums) and takes max |x| for Infinity', (_, be) => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40 }), fc.nat(), (n, seed) => {
        const x = values(n, seed);
        for (const ord of [1, 2]) {
          const s = [0, 0, 0, 0];
          for (let i = 0; i < n; i++) {
            const a = Math.abs(x[i]!);
            s[i < n - (n % 4) ? i % 4 : 0]! += ord === 2 ? a * a : a;
          }
          expect(be.normPart(x, ord)).toBe(s[0]! + s[1]! + (s[2]! + s[3]!));
        }
        let direct3 = 0;
        for (let i = 0; i < n; i++) direct3 += Math.abs(x[i]!) ** 3;
        expect(be.normPart(x, 3)).toBeCloseTo(direct3, 9);
        expect(be.normPart(x, Infinity)).toBe(x.reduce((m, v) => Math.max(m, Math.abs(v)), 0));
      }),
      { numRuns: 100 },
    );
    expect(be.normPart(new Float32Array([1, Number.NaN, 9]), Infinity)).toBeNaN();
    expect(be.normPart(new Float32Array([1, Number.NaN, 9]), 2)).toBeNaN();
  });
});

describe.runIf(native !== undefined)('gather kernels: native and TypeScript give the same bits (needs the native addon)', () => {
  it('on large random inputs', () => {
    const be = native!;
    const x = values(50_000, 3);
    const idx = Int32Array.from({ length: 700 }, (_, i) => (i * 7919) % 100);
    const row = 500;
    const outs = [jsBackend, be].map((b) => {
      const out = new Float32Array(idx.length * row);
      b.gatherRows(x, row, idx, out);
      const gx = new Float32Array(x.length);
      b.scatterAddRows(out, row, idx, gx);
      return [out, gx];
    });
    expect(outs[1]![0]).toEqual(outs[0]![0]);
    expect(outs[1]![1]).toEqual(outs[0]![1]);
    for (const ord of [1, 2, Infinity]) expect(be.normPart(x, ord)).toBe(jsBackend.normPart(x, ord));
    expect(be.normPart(x, 1.5)).toBeCloseTo(jsBackend.normPart(x, 1.5), 6);
  });

  it('the addon refuses out-of-range indices and positions, short blocks, overlaps and bad orders', () => {
    const a = loadAddon()!;
    const f = (n: number): Float32Array => new Float32Array(n);
    expect(() => a.gatherRows!(f(6), 2, new Int32Array([0, 3]), f(4))).toThrow(/gatherRows: idx\[1\] = 3 is outside \[0, 3\)/);
    expect(() => a.gatherRows!(f(6), 2, new Int32Array([-1]), f(2))).toThrow(/idx\[0\] = -1/);
    expect(() => a.gatherRows!(f(6), 2, new Int32Array([0]), f(3))).toThrow(/out has 3 elements, expected 2/);
    expect(() => a.gatherRows!(f(7), 2, new Int32Array([0]), f(2))).toThrow(/not a whole number of rows/);
    expect(() => a.gatherRows!(f(6), 2, [0] as unknown as Int32Array, f(2))).toThrow(/idx must be a Int32Array/);
    expect(() => a.scatterAddRows!(f(2), 2, new Int32Array([3]), f(6))).toThrow(/scatterAddRows: idx\[0\] = 3/);
    const shared = f(8);
    expect(() => a.scatterAddRows!(shared.subarray(0, 2), 2, new Int32Array([0]), shared.subarray(1, 7))).toThrow(/must not overlap/);
    expect(() => a.copyBlocks!(f(5), 3, f(6), 3, 2, 3)).toThrow(/src is too short/);
    expect(() => a.copyBlocks!(f(6), 3, f(5), 3, 2, 3)).toThrow(/dst is too short/);
    expect(() => a.copyBlocks!(f(6), 2, f(6), 3, 2, 3)).toThrow(/stride is smaller than the width/);
    expect(() => a.copyBlocks!(shared.subarray(0, 4), 2, shared.subarray(3), 2, 2, 2)).toThrow(/must not overlap/);
    expect(() => a.scatterArg!(f(2), new Float64Array([0, 3]), 1, 3, 2, f(6))).toThrow(/arg\[1\] is not an integer in \[0, 3\)/);
    expect(() => a.scatterArg!(f(2), new Float64Array([0, 0.5]), 1, 3, 2, f(6))).toThrow(/arg\[1\]/);
    expect(() => a.scatterArg!(f(2), new Float64Array([0]), 1, 3, 2, f(6))).toThrow(/arg has 1 elements, expected 2/);
    expect(() => a.scatterArg!(f(2), new Float64Array([0, 0]), 1, 3, 2, f(5))).toThrow(/gx has 5 elements, expected 6/);
    expect(() => a.shareEqual!(f(3), 0, 1, f(2))).toThrow(/gx has 2 elements/);
    expect(() => a.normPart!(f(3), 0)).toThrow(/ord must be a positive number/);
    expect(() => a.normPart!(f(3), Number.NaN)).toThrow(/ord must be a positive number/);
  });
});
