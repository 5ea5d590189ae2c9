import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsBackend } from '../src/backend/js/index.js';
import { maskRelu, relu32 } from '../src/backend/js/relu.js';

// The TypeScript backend's ReLU and ReLU gradient avoid a branch on each element's sign
// (src/backend/js/relu.ts). They must still give exactly the bits of the plain definitions,
// PyTorch's: relu(v) = v < 0 ? +0 : v (NaN and -0 pass), grad = x <= 0 ? +0 : g (NaN in x passes).

const SPECIAL = [0, -0, NaN, Infinity, -Infinity, 1e-45, -1e-45, 3.4028234663852886e38, -3.4028234663852886e38, 1, -1];

const reluRef = (v: number): number => (v < 0 ? 0 : v);

/** A Float32Array whose elements are these bit patterns (every NaN payload and sign included). */
function fromBits(bits: number[]): Float32Array {
  return new Float32Array(Int32Array.from(bits).buffer);
}

const sameBits = (a: Float32Array, b: Float32Array): boolean =>
  a.length === b.length && new Int32Array(a.buffer, a.byteOffset, a.length).every((x, i) => x === new Int32Array(b.buffer, b.byteOffset, b.length)[i]);

describe('branchless ReLU (TypeScript backend)', () => {
  it('relu32 matches v < 0 ? 0 : v on the special values, sign of zero included', () => {
    for (const v of SPECIAL) expect(Object.is(relu32(Math.fround(v)), reluRef(Math.fround(v))), `relu32(${v})`).toBe(true);
  });

  it('relu32 matches the definition on every kind of float32', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (bits) => {
        const v = fromBits([bits])[0]!;
        return Object.is(relu32(v), reluRef(v));
      }),
      { numRuns: 20000 },
    );
  });

  it('maskRelu gives the bits of x <= 0 ? 0 : g, also in place', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.constantFrom(...SPECIAL), fc.boolean()), { maxLength: 64 }),
        (rows) => {
          // x half the time a special value (the cases a mask gets wrong), else any bit pattern.
          const x = Float32Array.from(rows, ([b, s, special]) => (special ? s : fromBits([b])[0]!));
          const g = fromBits(rows.map(([b]) => b ^ 0x5a5a5a5a));
          // Built from g's bits: reading g as numbers would quiet its signalling NaNs, which the
          // mask keeps as they are.
          const want = fromBits(rows.map(([b], i) => (x[i]! <= 0 ? 0 : b ^ 0x5a5a5a5a)));
          const out = new Float32Array(x.length).fill(7);
          maskRelu(x, g, out, x.length);
          const inPlace = g.slice();
          maskRelu(x, inPlace, inPlace, x.length);
          return sameBits(out, want) && sameBits(inPlace, want);
        },
      ),
    );
  });

  it('the backend relu and its gradient match the definitions, NaN payloads and -0 included', () => {
    const x = Float32Array.from([...SPECIAL, ...SPECIAL.map((v) => -v)]);
    const g = Float32Array.from(x, (_, i) => [NaN, -0, Infinity, -2.5, 0][i % 5]!);
    const y = new Float32Array(x.length);
    jsBackend.unary('relu', x, y, 0, 0);
    expect(sameBits(y, Float32Array.from(x, reluRef))).toBe(true);
    const gx = new Float32Array(x.length).fill(7);
    jsBackend.unaryGrad('relu', x, y, g, gx, 0, 0);
    expect(sameBits(gx, Float32Array.from(x, (v, i) => (v <= 0 ? 0 : g[i]!)))).toBe(true);
  });

  it("linear's bias + ReLU epilogue matches the GEMM followed by the plain definition", () => {
    // x = identity rows, so C = W·I = Wᵀ's rows exactly: the pre-activation is w + bias, which the
    // special values make -0, ±Infinity, NaN or an overflow to Infinity in float32.
    const n = 11;
    const m = n;
    const k = n;
    const x = new Float32Array(m * k);
    for (let i = 0; i < m; i++) x[i * k + i] = 1;
    const w = new Float32Array(n * k);
    const bias = new Float32Array(n);
    for (let j = 0; j < n; j++) {
      bias[j] = SPECIAL[j]!;
      for (let p = 0; p < k; p++) w[j * k + p] = SPECIAL[(j + 3 * p) % SPECIAL.length]!;
    }
    for (const [b, relu] of [
      [bias, true],
      [null, true],
      [bias, false],
    ] as const) {
      const got = new Float32Array(m * n).fill(7);
      jsBackend.linear(m, n, k, x, w, b, relu, got);
      const want = new Float32Array(m * n);
      jsBackend.gemm(false, true, m, n, k, 1, x, w, 0, want);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          const c = want[i * n + j]!;
          const v = b ? Math.fround(c + b[j]!) : c;
          want[i * n + j] = relu ? reluRef(v) : v;
        }
      }
      // Object.is: -0 is told from +0, but not one NaN from another (V8 may flip a NaN's sign
      // bit in Math.fround, which the old loop did not call).
      expect(Array.from(got).every((v, i) => Object.is(v, want[i])), `bias ${b ? 'yes' : 'no'}, relu ${relu}`).toBe(true);
    }
  });
});
