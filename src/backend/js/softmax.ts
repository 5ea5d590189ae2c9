export function softmax(
  x: Float32Array,
  outer: number,
  n: number,
  inner: number,
  out: Float32Array,
  log: boolean,
): void {
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * n * inner + j;
      // Subtracting the max keeps exp finite for large logits.
      let mx = -Infinity;
      for (let i = 0; i < n; i++) {
        const v = x[base + i * inner]!;
        if (v > mx) mx = v;
      }
      let s = 0;
      for (let i = 0; i < n; i++) s += Math.exp(x[base + i * inner]! - mx);
      if (log) {
        const lse = mx + Math.log(s);
        for (let i = 0; i < n; i++) out[base + i * inner] = x[base + i * inner]! - lse;
      } else {
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
