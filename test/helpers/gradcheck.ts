import { expect } from 'vitest';
import { Tensor } from '../../src/index.js';
import { Generator } from '../../src/random.js';
import { type Ref, size } from './reference.js';

export interface Input {
  data: number[];
  shape: number[];
}

/** Random values in ±scale, kept at least `gap` away from zero (the kink of relu, abs, …). */
export function randomInput(gen: Generator, shape: number[], opts: { scale?: number; gap?: number; positive?: boolean } = {}): Input {
  const scale = opts.scale ?? 1;
  const gap = opts.gap ?? 0;
  const data: number[] = [];
  for (let i = 0; i < size(shape); i++) {
    let v = gap + (scale - gap) * gen.nextDouble();
    if (!opts.positive && gen.nextUint32() & 1) v = -v;
    data.push(Math.fround(v));
  }
  return { data, shape };
}

export interface GradcheckOptions {
  /** Relative tolerance on the float32 analytic gradient. */
  rtol?: number;
  /** Absolute tolerance (added to rtol·|reference|). */
  atol?: number;
  /** Inputs that get no gradient check (e.g. constants). */
  skip?: number[];
}

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const tol = atol + rtol * Math.abs(e);
    if (!(Math.abs(a - e) <= tol)) {
      expect.fail(`${what}[${i}]: got ${a}, expected ${e} (tolerance ${tol.toExponential(2)})`);
    }
  }
}

/**
 * Checks a library op against its float64 reference: the forward values, and the gradients of
 * L = Σ w ⊙ f(inputs) (w random, so every output element matters) against central finite
 * differences of the reference computed in float64 (step 1e-6 relative to each value).
 */
export function gradcheck(
  lib: (xs: Tensor[]) => Tensor,
  reference: (xs: Ref[]) => Ref,
  inputs: Input[],
  opts: GradcheckOptions = {},
): void {
  const rtol = opts.rtol ?? 2e-3;
  const atol = opts.atol ?? 2e-4;
  const gen = new Generator(1234);
  const ts = inputs.map((x) => new Tensor(Float32Array.from(x.data), x.shape, !(opts.skip ?? []).includes(inputs.indexOf(x))));
  const refs: Ref[] = inputs.map((x) => ({ data: Float64Array.from(Float32Array.from(x.data)), shape: [...x.shape] }));

  const expected = reference(refs);
  const out = lib(ts);
  expect(out.shape, 'forward shape').toEqual(expected.shape);
  const scale = Math.max(1, ...expected.data.map(Math.abs));
  close(out.data, expected.data, 1e-4, 1e-5 * scale, 'forward');

  const w = Float64Array.from({ length: out.size }, () => gen.nextDouble() * 2 - 1);
  const wt = new Tensor(Float32Array.from(w), out.shape);
  out.mul(wt).sum().backward();

  const loss = (rs: Ref[]): number => {
    const y = reference(rs).data;
    let s = 0;
    for (let i = 0; i < y.length; i++) s += w[i]! * y[i]!;
    return s;
  };
  inputs.forEach((_, i) => {
    if ((opts.skip ?? []).includes(i)) return;
    const r = refs[i]!;
    const numeric = new Float64Array(r.data.length);
    for (let j = 0; j < r.data.length; j++) {
      const v = r.data[j]!;
      const h = 1e-6 * Math.max(1, Math.abs(v));
      r.data[j] = v + h;
      const up = loss(refs);
      r.data[j] = v - h;
      const down = loss(refs);
      r.data[j] = v;
      numeric[j] = (up - down) / (2 * h);
    }
    const g = ts[i]!.grad;
    expect(g, `input ${i} received no gradient`).not.toBeNull();
    expect(g!.shape).toEqual(ts[i]!.shape);
    const gscale = Math.max(1, ...numeric.map(Math.abs));
    close(g!.data, numeric, rtol, atol * gscale, `grad of input ${i}`);
  });
}
