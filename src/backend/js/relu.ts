/**
 * ReLU and its gradient without a branch on the sign of each element. A ReLU layer's inputs are
 * negative about half the time in no pattern the CPU can learn, so `v < 0 ? 0 : v` compiles
 * (TurboFan, Node 20) to a conditional jump mispredicted on about every other element: on the Intel
 * Xeon VM, the bias+ReLU pass over a 128×512 layer output took 484 µs with it and 147 µs with
 * relu32, and the masked gradient 424 µs against 115 µs with maskRelu's bit mask. Same bits.
 */

/**
 * max(v, 0) for a float32 value v, as PyTorch's ReLU: NaN and -0 pass through, every negative
 * (and -Infinity) gives +0. For finite nonzero v, v + |v| is exactly 2v or +0 in float64 (a
 * float32 cannot overflow it) and the halving is exact. -0 and -Infinity, which that formula would
 * get wrong, and NaN (which fails the first test), take the second branch, which real data almost
 * never reaches, so it predicts well.
 */
export function relu32(v: number): number {
  return v > -Infinity && v !== 0 ? (v + Math.abs(v)) * 0.5 : v < 0 ? 0 : v;
}

/** The float32 array's elements as their bit patterns (the same memory). */
export function bitsOf(a: Float32Array): Int32Array {
  return new Int32Array(a.buffer, a.byteOffset, a.length);
}

/**
 * out[i] = x[i] <= 0 ? +0 : g[i] for i < n, bit for bit (NaN in x passes g, as PyTorch's
 * threshold_backward), through the elements' bits: `-!(x <= 0)` is 0 or -1 with no jump (a
 * ternary yielding those two ints compiled to one). out may be g.
 */
export function maskRelu(x: Float32Array, g: Float32Array, out: Float32Array, n: number): void {
  const gb = bitsOf(g);
  const ob = bitsOf(out);
  for (let i = 0; i < n; i++) ob[i] = gb[i]! & -!(x[i]! <= 0);
}
