import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Backend, RmspropHyper, SgdHyper } from '../src/backend/backend.js';
import { availableBackends } from '../src/backend/index.js';
import { jsBackend } from '../src/backend/js/index.js';
import { loadAddon } from '../src/backend/native.js';

// The SGD and RMSprop steps are backend kernels (the optimizers only pick the buffers). Both
// backends perform the same operations with the same rounding, so they must agree bit for bit,
// for every option, on sizes that cross the native thread split (65,536 elements).

const native = availableBackends().find((b) => b.name === 'native');

function arrays(n: number, seed: number): Float32Array[] {
  let s = seed >>> 0;
  const next = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
  return [0, 1, 2, 3, 4].map((k) => Float32Array.from({ length: n }, () => (k === 2 ? Math.abs(next()) : next()) * (k === 1 ? 3 : 1)));
}

function runSgd(be: Backend, n: number, seed: number, hp: SgdHyper, momentum: boolean, steps: number): Float32Array[] {
  const [p, g, , buf] = arrays(n, seed);
  for (let t = 0; t < steps; t++) be.sgdStep(p!, g!, momentum ? buf! : null, { ...hp, first: hp.first && t === 0 });
  return [p!, buf!];
}

function runRmsprop(be: Backend, n: number, seed: number, hp: RmspropHyper, centered: boolean, momentum: boolean, steps: number): Float32Array[] {
  const [p, g, sq, ga, buf] = arrays(n, seed);
  for (let t = 0; t < steps; t++) be.rmspropStep(p!, g!, sq!, centered ? ga! : null, momentum ? buf! : null, hp);
  return [p!, sq!, ga!, buf!];
}

/** The first [array, element] whose bits differ, or null (a loop: toEqual on 200k elements is slow). */
function firstDifference(a: Float32Array[], b: Float32Array[]): [number, number] | null {
  for (let k = 0; k < a.length; k++) {
    const x = new Uint32Array(a[k]!.buffer);
    const y = new Uint32Array(b[k]!.buffer);
    if (x.length !== y.length) return [k, -1];
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return [k, i];
  }
  return null;
}

describe.runIf(native !== undefined)('SGD and RMSprop kernels: native and TypeScript agree bit for bit', () => {
  it('SGD, every option, small and threaded sizes', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 7, 1000, 65_536 + 37, 200_001),
        fc.record({
          lr: fc.constantFrom(0.1, 1e-3, 0.37),
          momentum: fc.constantFrom(0, 0.9, 0.5),
          dampening: fc.constantFrom(0, 0.1),
          weightDecay: fc.constantFrom(0, 1e-2),
          nesterov: fc.boolean(),
          maximize: fc.boolean(),
          first: fc.boolean(),
        }),
        fc.boolean(),
        fc.integer({ min: 1, max: 1000 }),
        (n, hp, momentum, seed) => {
          const a = runSgd(jsBackend, n, seed, hp, momentum, 3);
          const b = runSgd(native!, n, seed, hp, momentum, 3);
          expect(firstDifference(a, b)).toBeNull();
        },
      ),
      { numRuns: 25 },
    );
  });

  it('RMSprop, every option, small and threaded sizes', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 9, 1000, 65_536 + 3, 150_000),
        fc.record({
          lr: fc.constantFrom(0.01, 1e-3),
          alpha: fc.constantFrom(0.99, 0.9),
          eps: fc.constantFrom(1e-8, 1e-3),
          weightDecay: fc.constantFrom(0, 1e-2),
          momentum: fc.constantFrom(0, 0.9),
          maximize: fc.boolean(),
        }),
        fc.boolean(),
        fc.integer({ min: 1, max: 1000 }),
        (n, hp, centered, seed) => {
          const a = runRmsprop(jsBackend, n, seed, hp, centered, hp.momentum > 0, 3);
          const b = runRmsprop(native!, n, seed, hp, centered, hp.momentum > 0, 3);
          expect(firstDifference(a, b)).toBeNull();
        },
      ),
      { numRuns: 25 },
    );
  });

  it('the addon refuses wrong lengths, overlapping buffers and wrong types', () => {
    const a = loadAddon()!;
    const p = new Float32Array(8);
    const g = new Float32Array(8);
    expect(() => a.sgdStep!(p, new Float32Array(7), null, 0.1, 0, 0, 0, false, false, false)).toThrow(/sgdStep: g has 7 elements, expected 8/);
    expect(() => a.sgdStep!(p, g, p.subarray(2), 0.1, 0.9, 0, 0, false, false, false)).toThrow(/sgdStep: buf has 6 elements/);
    expect(() => a.sgdStep!(p, p, null, 0.1, 0, 0, 0, false, false, false)).toThrow(/sgdStep: p, g and buf must not overlap/);
    expect(() => a.sgdStep!(p, g, null, '0.1' as unknown as number, 0, 0, 0, false, false, false)).toThrow(/sgdStep: lr must be a number/);
    expect(() => a.rmspropStep!(p, g, new Float32Array(8), g, null, 0.01, 0.99, 1e-8, 0, 0, false)).toThrow(/rmspropStep: p, g, sq, gradAvg and buf must not overlap/);
    expect(() => a.rmspropStep!(p, g, new Float32Array(3), null, null, 0.01, 0.99, 1e-8, 0, 0, false)).toThrow(/rmspropStep: sq has 3 elements, expected 8/);
    expect(() => (a.rmspropStep as unknown as (...x: unknown[]) => void)(p, g)).toThrow(/rmspropStep: expected 11 arguments/);
  });
});
