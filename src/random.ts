import { randomFillSync } from 'node:crypto';
import { getBackend } from './backend/index.js';
import { valueStr } from './shape.js';

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
/** The state handed to the backend's fill kernels (one at a time: JS is single-threaded). */
const WORDS = new Uint32Array(4);

/**
 * A seeded random stream (xoshiro128**). `defaultGenerator` is the one the library uses; pass your
 * own to DataLoader, randperm or randomSplit for a stream apart from it.
 * @example
 * ```ts
 * const g = new Generator(42);
 * const loader = new DataLoader(ds, { batchSize: 32, shuffle: true, generator: g });
 * ```
 * PyTorch: `torch.Generator`.
 */
export class Generator {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  /** Box–Muller makes normals in pairs; the second waits here. */
  private spare: number | null = null;

  /** @param seed - any finite number (default 0); see seed() */
  constructor(seed: number = 0) {
    this._reseed('Generator', seed);
  }

  /**
   * Resets the stream. Any finite number works; its integer part (mod 2^53) is used.
   * @param seed - the new seed
   */
  seed(seed: number): void {
    this._reseed('Generator.seed', seed);
  }

  /** @internal seed(), with the public function the user called named in its error. */
  _reseed(op: string, seed: number): void {
    if (typeof seed !== 'number' || !Number.isFinite(seed)) throw new Error(`${op}: seed must be a finite number, got ${valueStr(seed)}`);
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

  /**
   * @internal The stream's position, so library code that must draw (trainInWorker rebuilding a
   * model on the calling thread) can put the user's stream back where it was.
   */
  _getState(): readonly [number, number, number, number, number | null] {
    return [this.s0, this.s1, this.s2, this.s3, this.spare];
  }

  /** @internal Restores a position taken by _getState(). */
  _setState(state: readonly [number, number, number, number, number | null]): void {
    [this.s0, this.s1, this.s2, this.s3, this.spare] = state;
  }

  /**
   * @internal out[i] = lo + (hi − lo)·nextFloat() for every element, through the backend's kernel
   * (the same draws and bits as that many nextFloat() calls).
   */
  _fillUniform(out: Float32Array, lo: number, hi: number): void {
    const st = this.#words();
    getBackend().fillUniform(st, lo, hi, out);
    this.#store(st);
  }

  /** @internal out[i] = nextFloat() < keep ? scale : 0 for every element (a dropout mask). */
  _dropoutMask(out: Float32Array, keep: number, scale: number): void {
    const st = this.#words();
    getBackend().dropoutMask(st, keep, scale, out);
    this.#store(st);
  }

  /**
   * @internal out[i] = mean + std·nextNormal() (exactly nextNormal() for N(0, 1)). Not a backend
   * kernel: Box–Muller needs log, sin and cos, whose last bits differ between V8 and the C library,
   * and a seed must give the same weights on both backends.
   */
  _fillNormal(out: Float32Array, mean: number, std: number): void {
    const unit = mean === 0 && std === 1;
    for (let i = 0; i < out.length; i++) {
      const z = this.nextNormal();
      out[i] = unit ? z : mean + std * z;
    }
  }

  #words(): Uint32Array {
    const st = WORDS;
    st[0] = this.s0;
    st[1] = this.s1;
    st[2] = this.s2;
    st[3] = this.s3;
    return st;
  }

  #store(st: Uint32Array): void {
    this.s0 = st[0]! | 0;
    this.s1 = st[1]! | 0;
    this.s2 = st[2]! | 0;
    this.s3 = st[3]! | 0;
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
   * @param shape - a positive finite number
   */
  nextGamma(shape: number): number {
    if (typeof shape !== 'number' || !(shape > 0) || !Number.isFinite(shape)) {
      throw new Error(`nextGamma: shape must be a positive finite number, got ${valueStr(shape)}`);
    }
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

  /**
   * Beta(a, b) as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b).
   * @param a - a positive finite number
   * @param b - a positive finite number
   */
  nextBeta(a: number, b: number): number {
    // Checked here, not left to nextGamma, so the error names the method the user called.
    for (const [name, v] of [['a', a], ['b', b]] as const) {
      if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw new Error(`nextBeta: ${name} must be a positive finite number, got ${valueStr(v)}`);
    }
    const x = this.nextGamma(a);
    const y = this.nextGamma(b);
    // Both can underflow to 0 for tiny shapes; the distribution then sits at the ends, split evenly.
    if (x + y === 0) return this.nextDouble() < a / (a + b) ? 1 : 0;
    return x / (x + y);
  }

  /**
   * Uniform integer in [0, n), unbiased (rejection sampling), for n ≤ 2^32.
   * @param n - an integer in [1, 2^32]
   */
  randint(n: number): number {
    if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0 || n > 4294967296) throw new Error(`randint: n must be an integer in [1, 2^32], got ${valueStr(n)}`);
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

  /**
   * Restores a state from getState(): the stream continues exactly where it was.
   * @param state - what getState() returned
   */
  setState(state: readonly number[]): void {
    const want = 'an array of 5 numbers from getState() (4 integers in [-2^31, 2^32), then a number or NaN)';
    if (!Array.isArray(state) || state.length !== 5) {
      throw new Error(`Generator.setState: state must be ${want}, got ${Array.isArray(state) ? `${state.length} elements` : valueStr(state)}`);
    }
    state.forEach((v: unknown, i) => {
      const ok = typeof v === 'number' && (i < 4 ? Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 32 : !Number.isFinite(v) ? Number.isNaN(v) : true);
      if (!ok) throw new Error(`Generator.setState: state must be ${want}, got ${valueStr(v)} at position ${i}`);
    });
    // xoshiro's all-zero state is a fixed point: every later draw would be 0.
    if ((state[0]! | state[1]! | state[2]! | state[3]!) === 0) throw new Error('Generator.setState: the state words must not all be 0 (a fixed point of the generator)');
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

/**
 * `g` if it is a Generator, else the default one when `g` is undefined; anything else throws. A
 * look-alike object is refused rather than duck-typed: a run is only reproducible from a seeded
 * tensorgrad Generator.
 */
export function requireGenerator(op: string, name: string, g: unknown): Generator {
  if (g === undefined) return defaultGenerator;
  if (!(g instanceof Generator)) throw new Error(`${op}: ${name} must be a Generator, got ${valueStr(g)}`);
  return g;
}

/** The library-wide generator: init, rand/randn, dropout, shuffling and MixUp draw from it. */
export const defaultGenerator = new Generator(initialSeed());

/**
 * Seeds the library-wide generator: same seed, same random numbers everywhere in tensorgrad.
 * PyTorch: `torch.manual_seed`.
 * @param seed - any finite number
 */
export function manualSeed(seed: number): void {
  defaultGenerator._reseed('manualSeed', seed);
}
