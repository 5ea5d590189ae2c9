/**
 * Σ bits[i]·(2i+1) mod 2^32 over the float32 bit patterns. Every weight is odd, hence invertible
 * mod 2^32, so changing any single element always changes the result (and a swap of two unequal
 * elements does too); autograd compares it before and after to catch writes to saved tensors.
 * Bit patterns, not values: NaN payloads and -0 count as changes.
 */
export function fingerprint(x: Float32Array): number {
  // (A detached buffer reads as length 0, and a view over it could not be built.)
  if (x.length === 0) return 0;
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const n = u.length;
  // Four lanes keep the multiply-adds independent; each lane's weight steps by 8.
  let h0 = 0;
  let h1 = 0;
  let h2 = 0;
  let h3 = 0;
  let w = 1;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    h0 = (h0 + Math.imul(u[i]!, w)) | 0;
    h1 = (h1 + Math.imul(u[i + 1]!, (w + 2) | 0)) | 0;
    h2 = (h2 + Math.imul(u[i + 2]!, (w + 4) | 0)) | 0;
    h3 = (h3 + Math.imul(u[i + 3]!, (w + 6) | 0)) | 0;
    w = (w + 8) | 0;
  }
  for (; i < n; i++) {
    h0 = (h0 + Math.imul(u[i]!, w)) | 0;
    w = (w + 2) | 0;
  }
  return (h0 + h1 + h2 + h3) >>> 0;
}
