/**
 * Random fills driven by the library's xoshiro128** stream (src/random.ts), for loops too long to
 * run draw by draw through the Generator object: uniform init and dropout masks. `state` holds the
 * generator's four 32-bit words; the kernel advances it by one draw per element, exactly as that
 * many nextFloat() calls would. The native kernels (native/kernels/random.cc) give the same bits.
 */

const TWO_POW_MINUS_24 = 1 / 16777216;

/** Runs `draw(u)` for n draws u = nextFloat() of the stream in `state`, then stores the state. */
function stream(state: Uint32Array, n: number, draw: (i: number, u: number) => void): void {
  let s0 = state[0]! | 0;
  let s1 = state[1]! | 0;
  let s2 = state[2]! | 0;
  let s3 = state[3]! | 0;
  for (let i = 0; i < n; i++) {
    const x = Math.imul(s1, 5);
    const result = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    draw(i, (result >>> 8) * TWO_POW_MINUS_24);
  }
  state[0] = s0;
  state[1] = s1;
  state[2] = s2;
  state[3] = s3;
}

/** See Backend.fillUniform. */
export function fillUniform(state: Uint32Array, lo: number, hi: number, out: Float32Array): void {
  const w = hi - lo;
  stream(state, out.length, (i, u) => {
    out[i] = lo + w * u;
  });
}

/** See Backend.dropoutMask. */
export function dropoutMask(state: Uint32Array, keep: number, scale: number, out: Float32Array): void {
  stream(state, out.length, (i, u) => {
    out[i] = u < keep ? scale : 0;
  });
}
