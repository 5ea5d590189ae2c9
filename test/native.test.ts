import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadAddon } from '../src/backend/native.js';
import { gemmRef } from './helpers/reference.js';
import { Generator } from '../src/random.js';

// These tests drive the addon directly. They run wherever it loads; .ci/run separately fails
// the build if it does not load on the CI machine, so a missing addon cannot hide here.
const addon = loadAddon();

function randomArray(gen: Generator, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = gen.nextFloat() * 2 - 1;
  return a;
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

describe.runIf(addon !== null)('native addon', () => {
  const a = addon!;

  describe('threads', () => {
    it('TENSORGRAD_NUM_THREADS and TENSORGRAD_ISA are honoured at load; setNumThreads changes the pool', () => {
      const probe = `const tg = require(${JSON.stringify(join(root, 'dist/cjs/index.js'))});
        const before = tg.backendInfo(); tg.setNumThreads(3); console.log(JSON.stringify([before, tg.backendInfo()]));`;
      const r = spawnSync(process.execPath, ['-e', probe], {
        env: { ...process.env, TENSORGRAD_BACKEND: 'native', TENSORGRAD_NUM_THREADS: '1', TENSORGRAD_ISA: 'scalar' },
        encoding: 'utf8',
      });
      expect(r.status, r.stderr).toBe(0);
      const [before, after] = JSON.parse(r.stdout) as { backend: string; isa: string; threads: number }[];
      expect(before).toEqual({ backend: 'native', isa: 'scalar', threads: 1 });
      expect(after!.threads).toBe(3);
    });

    it('an idle process does not burn CPU after threaded work', async () => {
      a.setIsa('auto');
      a.setNumThreads(2);
      const x = new Float32Array(512 * 512).fill(0.5);
      const c = new Float32Array(512 * 512);
      for (let i = 0; i < 5; i++) a.gemm(false, false, 512, 512, 512, 1, x, x, 0, c, null, false);
      await new Promise((r) => setTimeout(r, 50));
      const start = process.cpuUsage();
      await new Promise((r) => setTimeout(r, 500));
      const used = process.cpuUsage(start);
      // Spinning workers would burn ~500 ms each in this window; sleeping ones next to nothing.
      expect((used.user + used.system) / 1000).toBeLessThan(100);
    });
  });

  describe('rejects bad arguments with a JS error, never a crash', () => {
    const f = (n: number) => new Float32Array(n);
    it('gemm', () => {
      expect(() => a.gemm(false, false, 2, 3, 4, 1, f(7), f(12), 0, f(6), null, false)).toThrow(/gemm: a has 7 elements, expected 8/);
      expect(() => a.gemm(false, false, 2, 3, 4, 1, f(8), f(12), 0, f(5), null, false)).toThrow(/c has 5 elements/);
      expect(() => a.gemm(false, false, -2, 3, 4, 1, f(8), f(12), 0, f(6), null, false)).toThrow(/m must be a non-negative integer/);
      expect(() => a.gemm(false, false, 2.5, 3, 4, 1, f(8), f(12), 0, f(6), null, false)).toThrow(/non-negative integer/);
      expect(() => a.gemm(false, false, 1e20, 3, 4, 1, f(8), f(12), 0, f(6), null, false)).toThrow(/non-negative integer/);
      expect(() => a.gemm(false, false, 2 ** 31, 2 ** 31, 4, 1, f(8), f(12), 0, f(6), null, false)).toThrow(/elements|overflow/);
      expect(() => a.gemm(false, false, 2, 3, 4, 1, [1, 2] as unknown as Float32Array, f(12), 0, f(6), null, false)).toThrow(/a must be a Float32Array/);
      expect(() => a.gemm(false, false, 2, 3, 4, 1, new Float64Array(8) as unknown as Float32Array, f(12), 0, f(6), null, false)).toThrow(/Float32Array/);
      expect(() => a.gemm(false, false, 2, 3, 4, 1, f(8), f(12), 0, f(6), f(2), false)).toThrow(/bias has 2 elements, expected 3/);
      expect(() => (a.gemm as unknown as (...x: unknown[]) => void)(false, false, 2, 3)).toThrow(/expected 12 arguments/);
      expect(() => a.gemm('no' as unknown as boolean, false, 2, 3, 4, 1, f(8), f(12), 0, f(6), null, false)).toThrow(/transA must be a boolean/);
    });

    it('detached buffers', () => {
      const x = f(8);
      structuredClone(x.buffer, { transfer: [x.buffer] });
      expect(x.length).toBe(0);
      expect(() => a.gemm(false, false, 2, 3, 4, 1, x, f(12), 0, f(6), null, false)).toThrow(/a has 0 elements, expected 8/);
      expect(() => a.unary('relu', x, f(8), 0, 0)).toThrow(/out has 8 elements, expected 0/);
    });

    it('elementwise, reductions, softmax, permute', () => {
      expect(() => a.binary('add', f(6), [2, 3], f(4), [4], f(6), [2, 3])).toThrow(/broadcast/);
      expect(() => a.binary('add', f(6), [2, 3], f(3), [3], f(5), [2, 3])).toThrow(/out has 5 elements/);
      expect(() => a.binary('pow' as 'add', f(1), [1], f(1), [1], f(1), [1])).toThrow(/unknown op/);
      expect(() => a.binary('add', f(6), [2, -3], f(3), [3], f(6), [2, 3])).toThrow(/non-negative integer dims/);
      expect(() => a.unary('exp', f(4), f(3), 0, 0)).toThrow(/out has 3 elements, expected 4/);
      expect(() => a.unary('nope' as 'exp', f(4), f(4), 0, 0)).toThrow(/unknown op/);
      expect(() => a.unaryGrad('tanh', f(4), f(4), f(3), f(4), 0, 0)).toThrow(/gy has 3 elements/);
      expect(() => a.sumTo(f(6), [2, 3], f(2), [2, 1])).not.toThrow();
      expect(() => a.sumTo(f(6), [2, 3], f(3), [3, 1])).toThrow(/broadcast/);
      expect(() => a.reduce('sum', f(6), 2, 3, 1, f(3), null)).toThrow(/out has 3 elements, expected 2/);
      expect(() => a.reduce('max', f(0), 2, 0, 1, f(2), f(2))).toThrow(/empty/);
      const shared = f(8);
      expect(() => a.reduce('max', shared.subarray(0, 4), 1, 4, 1, shared.subarray(3, 4), null)).toThrow(/overlap/);
      expect(() => a.reduce('max', shared.subarray(0, 4), 1, 4, 1, shared.subarray(4, 5), null)).not.toThrow();
      expect(() => a.softmax(f(6), 2, 3, 1, f(5), false)).toThrow(/out has 5 elements/);
      expect(() => a.softmaxGrad(f(6), f(6), 2, 3, 1, f(7), true)).toThrow(/gx has 7 elements/);
      expect(() => a.permute(f(6), [2, 3], [0, 0], f(6))).toThrow(/permutation/);
      expect(() => a.permute(f(6), [2, 3], [1, 2], f(6))).toThrow(/permutation/);
      expect(() => a.permute(shared, [2, 4], [1, 0], shared)).toThrow(/overlap/);
      expect(() => a.crossEntropy(f(6), 2, 3, Float32Array.from([0, 3]), false, 0, -100, 1, null, null, null)).toThrow(/target 3.* at row 1/);
      expect(() => a.crossEntropy(f(6), 2, 3, Float32Array.from([0, 0.5]), false, 0, -100, 1, null, null, null)).toThrow(/not a class index/);
      expect(() => a.crossEntropy(f(6), 2, 3, f(2), true, 0, -100, 1, null, null, null)).toThrow(/targets has 2 elements, expected 6/);
      expect(() => a.crossEntropy(f(6), 2, 3, f(2), false, 1.5, -100, 1, null, null, null)).toThrow(/labelSmoothing/);
      expect(() => a.crossEntropy(f(0), 0, 0, f(0), false, 0, -100, 1, null, null, null)).toThrow(/classes must be at least 1/);
      expect(() => a.crossEntropy(shared.subarray(0, 6), 2, 3, f(2), false, 0, -100, 1, null, null, shared.subarray(1, 7))).toThrow(/overlap/);
      expect(() => a.adamStep(f(4), f(4), f(4), f(3), null, 1e-3, 0.9, 0.999, 1e-8, 0, false, false, 1)).toThrow(/v has 3 elements/);
      expect(() => a.adamStep(f(4), f(4), f(4), f(4), null, 1e-3, 0.9, 0.999, 1e-8, 0, false, true, 1)).toThrow(/amsgrad needs vmax/);
      expect(() => a.adamStep(f(4), f(4), f(4), f(4), null, 1e-3, 0.9, 0.999, 1e-8, 0, false, false, 0)).toThrow(/step must be at least 1/);
      expect(() => a.adamStep(shared.subarray(0, 4), shared.subarray(2, 6), f(4), f(4), null, 1e-3, 0.9, 0.999, 1e-8, 0, false, false, 1)).toThrow(/overlap/);
      const hp = [1e-3, 0.9, 0.999, 1e-8, 0, false, false] as const;
      const steps = (...s: number[]) => Float64Array.from(s);
      expect(() => a.adamSteps!(...hp, steps(1, 2), f(4), f(4), f(4), f(4), f(3), f(3), f(3), f(3))).not.toThrow();
      expect(() => a.adamSteps!(...hp, steps(1), f(4), f(4), f(4), f(4), f(3))).toThrow(/4 buffers for each of the 1 steps, got 5/);
      expect(() => a.adamSteps!(...hp, [1] as unknown as Float64Array, f(4), f(4), f(4), f(4))).toThrow(/steps must be a Float64Array/);
      expect(() => a.adamSteps!(...hp, steps(1, 1), f(4), f(4), f(4), f(4), f(3), f(3), f(2), f(3))).toThrow(/m of slot 1 has 2 elements, p has 3/);
      expect(() => a.adamSteps!(...hp, steps(1, 0), f(4), f(4), f(4), f(4), f(3), f(3), f(3), f(3))).toThrow(/step of slot 1 must be an integer/);
      expect(() => a.adamSteps!(...hp, steps(1.5), f(4), f(4), f(4), f(4))).toThrow(/step of slot 0 must be an integer/);
      expect(() => a.adamSteps!(...hp, steps(1), f(4), new Float64Array(4) as unknown as Float32Array, f(4), f(4))).toThrow(/g of slot 0 must be a Float32Array/);
      expect(() => a.adamSteps!(1e-3, 0.9, 0.999, 1e-8, 0, false, true, steps(1), f(4), f(4), f(4), f(4))).toThrow(/5 buffers/);
      // Across slots: a written buffer (p, m, v) may overlap nothing; two gradients may share memory.
      const big = f(16);
      expect(() => a.adamSteps!(...hp, steps(1, 1), big.subarray(0, 4), f(4), f(4), f(4), f(4), f(4), big.subarray(2, 6), f(4))).toThrow(/overlap/);
      expect(() => a.adamSteps!(...hp, steps(1, 1), f(4), big.subarray(0, 4), f(4), f(4), big.subarray(3, 7), f(4), f(4), f(4))).toThrow(/overlap/);
      expect(() => a.adamSteps!(...hp, steps(1, 1), f(4), big.subarray(8, 12), f(4), f(4), f(4), big.subarray(8, 12), f(4), f(4))).not.toThrow();
      expect(() => a.adamSteps!(...hp, steps(1), big.subarray(0, 4), big.subarray(4, 8), big.subarray(8, 12), big.subarray(12, 16))).not.toThrow();
      expect(() => a.adamSteps!(...hp, steps())).not.toThrow();
      expect(() => a.setNumThreads(0)).toThrow(/\[1, 1024\]/);
      expect(() => a.setIsa('sse9')).toThrow(/isa must be/);
    });

    it('random junk arguments to every entry point only ever throw', () => {
      const junk = fc.oneof(
        fc.constant(undefined),
        fc.constant(null),
        fc.boolean(),
        fc.integer({ min: -5, max: 40 }),
        fc.double(),
        fc.string({ maxLength: 3 }),
        fc.constantFrom('add', 'relu', 'sum', 'max'),
        fc.integer({ min: 0, max: 40 }).map((n) => new Float32Array(n)),
        fc.array(fc.integer({ min: -1, max: 5 }), { maxLength: 4 }),
        fc.constant(new Float64Array(4)),
        fc.constant(new Float64Array(1)), // adamSteps' steps for one slot: 12 arguments in all
        fc.constant(new Int32Array([0, 3, -1, 2 ** 31 - 1])),
        fc.constant({}),
      );
      const fns = [
        'gemm', 'binary', 'unary', 'unaryGrad', 'sumTo', 'reduce', 'softmax', 'softmaxGrad', 'permute', 'crossEntropy', 'adamStep', 'adamSteps',
        'gatherRows', 'scatterAddRows', 'copyBlocks', 'scatterArg', 'shareEqual', 'normPart',
      ] as const;
      fc.assert(
        fc.property(fc.constantFrom(...fns), fc.array(junk, { maxLength: 13 }), (name, args) => {
          try {
            (a[name] as unknown as (...x: unknown[]) => void)(...args);
          } catch (e) {
            expect(e).toBeInstanceOf(Error);
          }
        }),
        { numRuns: 3000 },
      );
    });
  });

  describe('GEMM parity with a float64 reference', () => {
    const sizes = [1, 7, 17, 255, 1000];
    // Each size in each of m, n, k, with the other two drawn from the small ones: covers 1000 in
    // every dimension without a 1000³ float64 reference.
    const shapes: [number, number, number][] = [];
    for (const s of sizes) for (const o of [[7, 17], [1, 255], [17, 1]]) {
      shapes.push([s, o[0]!, o[1]!], [o[0]!, s, o[1]!], [o[0]!, o[1]!, s]);
    }
    shapes.push([255, 255, 255], [128, 512, 784]);

    function check(isa: string, threads: number): void {
      expect(a.setIsa(isa)).toBe(isa === 'auto' ? a.info().detectedIsa : isa);
      a.setNumThreads(threads);
      const gen = new Generator(threads * 7 + isa.length);
      for (const [m, n, k] of shapes) {
        for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]] as const) {
          const x = randomArray(gen, m * k);
          const y = randomArray(gen, k * n);
          const c = new Float32Array(m * n).fill(Number.NaN);
          a.gemm(ta, tb, m, n, k, 1, x, y, 0, c, null, false);
          const ref = gemmRef(ta, tb, m, n, k, x, y);
          // |a|,|b| ≤ 1: the float32 dot-product error bound γ_k·Σ|a·b| is at most ~k·6e-8.
          const tol = (k + 2) * 1.2e-7;
          let worst = 0;
          for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(c[i]! - ref[i]!));
          if (!(worst <= tol)) expect.fail(`${isa}/${threads}t ${ta ? 'T' : 'N'}${tb ? 'T' : 'N'} ${m}x${n}x${k}: error ${worst} > ${tol}`);
        }
      }
    }
    it('the best available ISA, 1 thread', () => check('auto', 1));
    it('the best available ISA, 2 threads', () => check('auto', 2));
    // On an AVX-512 machine 'auto' is avx512, so AVX2 gets its own run; elsewhere it is skipped.
    const hasAvx512 = a.info().detectedIsa === 'avx512';
    it.skipIf(!hasAvx512)('avx2 on an AVX-512 machine, 2 threads', () => check('avx2', 2));
    it('scalar, 1 thread', () => check('scalar', 1));
    it('scalar, 2 threads', () => check('scalar', 2));

    it('1, 2 and 3 threads give bitwise identical results, with and without the fused epilogue', () => {
      a.setIsa('auto');
      const gen = new Generator(99);
      for (const [m, n, k] of [[128, 512, 784], [784, 512, 128], [300, 301, 97], [1000, 17, 255]] as const) {
        for (const [ta, tb] of [[false, false], [false, true], [true, false]] as const) {
          const x = randomArray(gen, m * k);
          const y = randomArray(gen, k * n);
          const bias = randomArray(gen, n);
          const results = [1, 2, 3].map((t) => {
            a.setNumThreads(t);
            const c = new Float32Array(m * n);
            a.gemm(ta, tb, m, n, k, 1, x, y, 0, c, bias, true);
            return c;
          });
          expect(Buffer.from(results[1]!.buffer).equals(Buffer.from(results[0]!.buffer))).toBe(true);
          expect(Buffer.from(results[2]!.buffer).equals(Buffer.from(results[0]!.buffer))).toBe(true);
        }
      }
      a.setNumThreads(2);
    });

    it('fused bias + ReLU epilogue equals relu(A·B + bias)', () => {
      a.setIsa('auto');
      const gen = new Generator(5);
      const [m, n, k] = [33, 70, 45];
      const x = randomArray(gen, m * k);
      const y = randomArray(gen, n * k);
      const bias = randomArray(gen, n);
      const c = new Float32Array(m * n);
      a.gemm(false, true, m, n, k, 1, x, y, 0, c, bias, true);
      const ref = gemmRef(false, true, m, n, k, x, y);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          const want = Math.max(0, ref[i * n + j]! + bias[j]!);
          expect(Math.abs(c[i * n + j]! - want)).toBeLessThan(1e-5);
        }
      }
    });
  });
});
