export function softmax(
  x: Float32Array,
  outer: number,
  n: number,
  inner: number,
  out: Float32Array,
  log: boolean,
): void {
  // Nothing to do for an empty tensor, however large `outer` is ([2^50, 0] must not loop).
  if (outer === 0 || n === 0 || inner === 0) return;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * n * inner + j;
      // Subtracting the max keeps exp finite for large logits.
      let mx = -Infinity;
      for (let i = 0; i < n; i++) {
        const v = x[base + i * inner]!;
        if (v > mx) mx = v;
      }
      if (log) {
        // As the native kernel: the terms equal to the max count 1 each and stay apart from the
        // rest, so log Σ = log(ones) + log1p(rest / ones) keeps full relative precision (~1e-20 in
        // a confident row), and out = (x − max) − log Σ never forms max + log Σ, which rounds to
        // max for large logits (3e38 + log 2 = 3e38) and would lose log Σ entirely.
        let ones = 0;
        let rest = 0;
        for (let i = 0; i < n; i++) {
          const v = x[base + i * inner]!;
          if (v === mx) ones++;
          else rest += Math.exp(v - mx);
        }
        const ls = mx === Infinity ? NaN : Math.log(ones) + Math.log1p(rest / ones);
        for (let i = 0; i < n; i++) out[base + i * inner] = x[base + i * inner]! - mx - ls;
      } else {
        let s = 0;
        for (let i = 0; i < n; i++) s += Math.exp(x[base + i * inner]! - mx);
        const inv = 1 / s;
        for (let i = 0; i < n; i++) out[base + i * inner] = Math.exp(x[base + i * inner]! - mx) * inv;
      }
    }
  }
}

export function softmaxGrad(
  y: Float32Array,
  gy: Float32Array,
  outer: number,
  n: number,
  inner: number,
  gx: Float32Array,
  log: boolean,
): void {
  if (outer === 0 || n === 0 || inner === 0) return;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * n * inner + j;
      if (log) {
        // d logsoftmax: gx = gy - softmax · Σ gy
        let s = 0;
        for (let i = 0; i < n; i++) s += gy[base + i * inner]!;
        for (let i = 0; i < n; i++) {
          const k = base + i * inner;
          gx[k] = gy[k]! - Math.exp(y[k]!) * s;
        }
      } else {
        // d softmax: gx = y · (gy - Σ gy·y)
        let s = 0;
        for (let i = 0; i < n; i++) s += gy[base + i * inner]! * y[base + i * inner]!;
        for (let i = 0; i < n; i++) {
          const k = base + i * inner;
          gx[k] = y[k]! * (gy[k]! - s);
        }
      }
    }
  }
}
