import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tg from '../src/index.js';
import { availableBackends, getBackend, setBackend } from '../src/backend/index.js';
import { loadAddon } from '../src/backend/native.js';

// A whole training run through the public API on each instruction set this CPU has (the addon's
// setIsa switches the kernel table process-wide). AVX-512 promises AVX2's bits in every kernel it
// has (GEMM, the vector maps, softmax, the cross-entropy passes), so the two runs must agree bit
// for bit; the scalar path computes the maps in double with libm, so it agrees within rounding.

const native = availableBackends().find((b) => b.name === 'native');
const addon = native ? loadAddon() : null;
const detected = addon?.info().detectedIsa ?? 'none';

/** Three Adam steps of a small net that goes through GELU (erf), Tanh, Sigmoid and softmax-xent. */
function run(isa: string): Float32Array[] {
  expect(addon!.setIsa(isa)).toBe(isa);
  tg.manualSeed(7);
  const model = new tg.Sequential(
    new tg.Linear(37, 64),
    new tg.GELU(),
    new tg.Linear(64, 48),
    new tg.Tanh(),
    new tg.Linear(48, 33),
    new tg.Sigmoid(),
    new tg.Linear(33, 10),
  );
  const opt = new tg.Adam(model.parameters(), { lr: 1e-2 });
  const x = tg.randn([70, 37]);
  const y = tg.tensor(Float32Array.from({ length: 70 }, (_, i) => (i * 7) % 10), [70]);
  const losses: number[] = [];
  for (let step = 0; step < 3; step++) {
    const loss = tg.crossEntropy(model.forward(x), y);
    opt.zeroGrad();
    loss.backward();
    opt.step();
    losses.push(loss.item());
  }
  const logp = tg.noGrad(() => model.forward(x).logSoftmax(1));
  return [Float32Array.from(losses), ...model.parameters().map((p) => Float32Array.from(p.data as Float32Array)), Float32Array.from(logp.data as Float32Array)];
}

function sameBits(a: Float32Array[], b: Float32Array[]): boolean {
  return a.length === b.length && a.every((x, i) => Buffer.from(x.buffer).equals(Buffer.from(b[i]!.buffer)));
}

describe.runIf(native !== undefined)('the same training run on every instruction set (needs the native addon)', () => {
  // In beforeAll, not the describe body: vitest collects the body even when runIf skips it.
  let previous = getBackend();
  beforeAll(() => {
    previous = getBackend();
    setBackend(native!);
  });
  afterAll(() => {
    addon!.setIsa('auto');
    setBackend(previous);
  });

  it.skipIf(detected !== 'avx512')('AVX-512 and AVX2 give the same bits (skipped: this CPU has no AVX-512)', () => {
    expect(sameBits(run('avx512'), run('avx2'))).toBe(true);
  });

  it.skipIf(detected !== 'avx512' && detected !== 'avx2')('AVX2 and scalar agree within rounding (skipped: no AVX2 here)', () => {
    const simd = run('avx2');
    const scalar = run('scalar');
    simd.forEach((s, i) => {
      for (let j = 0; j < s.length; j++) expect(Math.abs(s[j]! - scalar[i]![j]!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(scalar[i]![j]!)));
    });
  });

  it.skipIf(detected !== 'neon')('NEON and scalar agree within rounding (skipped: not an arm64 CPU)', () => {
    const simd = run('neon');
    const scalar = run('scalar');
    simd.forEach((s, i) => {
      for (let j = 0; j < s.length; j++) expect(Math.abs(s[j]! - scalar[i]![j]!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(scalar[i]![j]!)));
    });
  });
});
