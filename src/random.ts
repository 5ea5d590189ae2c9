import { randomFillSync } from 'node:crypto';

/**
 * Seeded randomness. One generator drives every random choice in the library (init, rand/randn,
 * and later dropout, shuffling, MixUp), so `manualSeed(n)` makes a whole run reproducible.
 *
 * The generator is xoshiro128** (Blackman & Vigna): 128 bits of state, period 2^128 − 1, passes
 * BigCrush, and needs only 32-bit integer ops, which JS does exactly with Math.imul and `>>> 0`.
 * Seeds are expanded into the state with splitmix32 so that nearby seeds give unrelated streams.
 */

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

const TWO_POW_MINUS_24 = 1 / 16777216;

export class Generator {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  /** Box–Muller makes normals in pairs; the second waits here. */
  private spare: number | null = null;

  constructor(seed: number = 0) {
    this.seed(seed);
  }

  /** Resets the stream. Any finite number works; its integer part (mod 2^53) is used. */
  seed(seed: number): void {
    if (!Number.isFinite(seed)) throw new Error(`manualSeed: seed must be a finite number, got ${seed}`);
    const n = Math.trunc(Math.abs(seed));
    const lo = n % 4294967296;
    const hi = Math.floor(n / 4294967296);
    const st = { s: lo ^ (seed < 0 ? 0x5bd1e995 : 0) };
    this.s0 = splitmix32(st);
    this.s1 = splitmix32(st);
    this.s2 = splitmix32(st);
    this.s3 = splitmix32(st);
    if (hi !== 0) {
      // Seeds ≥ 2^32 put their high bits into the other half of the state, so 2^32 + k and k
      // differ; seeds below 2^32 keep the streams they always had.
      const h = { s: hi ^ 0x27d4eb2f };
      this.s2 ^= splitmix32(h);
      this.s3 ^= splitmix32(h);
    }
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
    this.spare = null;
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 24 random bits: exactly representable in float32, never 1. */
  nextFloat(): number {
    return (this.nextUint32() >>> 8) * TWO_POW_MINUS_24;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  nextDouble(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Standard normal (Box–Muller). */
  nextNormal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    // u1 in (0, 1] so the log is finite.
    const u1 = 1 - this.nextDouble();
    const u2 = this.nextDouble();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  /**
   * Gamma(shape, 1) by Marsaglia and Tsang's squeeze method (shape ≥ 1); for shape < 1 it draws
   * Gamma(shape + 1) and multiplies by U^(1/shape), which keeps the method exact.
   */
  nextGamma(shape: number): number {
    if (!(shape > 0) || !Number.isFinite(shape)) throw new Error(`nextGamma: shape must be a positive finite number, got ${shape}`);
    if (shape < 1) {
      const u = 1 - this.nextDouble(); // (0, 1]
      return this.nextGamma(shape + 1) * Math.pow(u, 1 / shape);
    }
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.nextNormal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.nextDouble();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /** Beta(a, b) as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b). */
  nextBeta(a: number, b: number): number {
    const x = this.nextGamma(a);
    const y = this.nextGamma(b);
    // Both can underflow to 0 for tiny shapes; the distribution then sits at the ends, split evenly.
    if (x + y === 0) return this.nextDouble() < a / (a + b) ? 1 : 0;
    return x / (x + y);
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling), for n ≤ 2^32. */
  randint(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 4294967296) throw new Error(`randint: n must be an integer in [1, 2^32], got ${n}`);
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** The full state, to save with a checkpoint and restore with setState. */
  getState(): number[] {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0, this.spare ?? Number.NaN];
  }

  setState(state: readonly number[]): void {
    if (state.length !== 5) throw new Error(`Generator.setState: expected 5 numbers, got ${state.length}`);
    this.s0 = state[0]! | 0;
    this.s1 = state[1]! | 0;
    this.s2 = state[2]! | 0;
    this.s3 = state[3]! | 0;
    this.spare = Number.isNaN(state[4]!) ? null : state[4]!;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

function initialSeed(): number {
  // Like PyTorch, an unseeded process gets a fresh seed; crypto, not Math.random.
  const buf = new Uint32Array(1);
  randomFillSync(buf);
  return buf[0]!;
}

/** The library-wide generator. */
export const defaultGenerator = new Generator(initialSeed());

/** Seeds the library-wide generator: same seed, same random numbers everywhere in tensorgrad. */
export function manualSeed(seed: number): void {
  defaultGenerator.seed(seed);
}
