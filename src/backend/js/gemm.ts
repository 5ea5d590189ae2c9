/**
 * Pure-TypeScript SGEMM: C = alpha·op(A)·op(B) + beta·C, row-major (see Backend.gemm).
 *
 * Goto/BLIS structure: op(B) is packed KC×NC at a time into NR-wide micro-panels, op(A) MC×KC at a
 * time into MR-tall micro-panels, and a register-tiled microkernel multiplies one A micro-panel by
 * one B micro-panel into an MR×NR tile. Packing absorbs the transposes (it reads through strides),
 * so NN, NT, TN and TT all run the same kernel at the same speed.
 *
 * What makes V8 fast here (measured with bench/gemm-js.ts shapes on Node 20 / V8 11.3, Zen3):
 * - Panels are packed as float64 into one module-level `const` plain Array of doubles, not a
 *   Float32Array. Float64 values are loaded as they are, where a Float32Array costs a conversion per
 *   load in the kernel (≈ -30%). A plain Array rather than a Float64Array because TurboFan guards
 *   every typed-array load with an "is the buffer detached?" check once anything in the process has
 *   detached an ArrayBuffer (a transfer, structuredClone, web streams; loading tfjs does it), which
 *   costs ≈ 25% here and cannot be avoided, while a packed double Array needs one map check and one
 *   length load per loop iteration. It is `const` and grows in place (push) on demand, so the kernel,
 *   a function created once, is compiled against that one array (a reassigned `let` costs ≈ 15%).
 * - A small 3×2 tile, not unrolled along k. TurboFan has about 15 allocatable XMM registers and
 *   schedules all of a step's multiplies before its adds, so larger tiles (4×3, 4×4, 4×8, 6×8, 8×8)
 *   spill accumulators to the stack and run slower despite fewer loads per multiply-add. Measured
 *   in cache on the Intel Xeon (AVX-512) VM, Node 20: 3×2 8.6 GFLOP/s, 3×3 8.1, 4×2 7.7 (7.2
 *   unrolled twice along k, the earlier choice, measured on Zen3), 5×2 7.5, 4×3 7.0, 2×4 6.5.
 * - The kernel has no branches besides its loop: it leaves the tile in TILE and the caller writes
 *   it back. A rarely taken branch inside a hot function deoptimizes it the first time it runs.
 *
 * Accumulation is in float64 (JS numbers); C is rounded to float32 once per K block.
 */

/**
 * Register tile: rows of op(A) × columns of op(B) per kernel call. kernel(), TILE and the full-tile
 * write-back in macroKernel() are written out for 3×2. Every element of C is still one float64
 * sum over p in increasing order, so the tile shape does not change any result.
 */
const MR = 3;
const NR = 2;
/** k-unroll of the kernel; packed panels are zero-padded to a multiple of it. */
const KU = 1;
/**
 * Cache blocks: a KC×NR B micro-panel (4 KiB of doubles) stays in L1 while the MC×KC A block
 * (256 KiB) streams from L2; the KC×NC B block (2 MiB) sits in L3. MC is a multiple of MR, NC of NR.
 */
const KC = 256;
const MC = 126;
const NC = 1024;
/** Columns per sweep in packAlongX (a multiple of MR and NR). */
const PACK_XB = 126;
/**
 * Below this many multiply-adds (m·n·k), or with op(A) or op(B) this thin, packing costs more than
 * it saves: a single row pays for packing all of B, and the kernel computes MR rows to keep one.
 */
const DIRECT_MAX_MNK = 32;
const DIRECT_MAX_SIDE = 2;
/** Columns of C accumulated at a time by the direct path (8 KiB of doubles, within L1). */
const DIRECT_NB = 1024;

/**
 * Packing scratch: the B block, then the A block. Starts as a double literal so its elements kind is
 * packed doubles from the first call (zeros pushed later keep it so); never shrinks.
 */
const PACK: number[] = [0.5];
const TILE: number[] = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5]; // MR·NR

function reserve(size: number): void {
  while (PACK.length < size) PACK.push(0);
}

export function gemm(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  b: Float32Array,
  beta: number,
  c: Float32Array,
): void {
  gemmAt(transA, transB, m, n, k, alpha, a, 0, transA ? m : k, b, 0, transB ? k : n, beta, c, 0, n);
}

/**
 * gemm() on matrices inside larger arrays: op(A) element (i, p) is a[aOff + i·lda + p] (transA:
 * a[aOff + p·lda + i]), op(B) element (p, j) is b[bOff + p·ldb + j] (transB: b[bOff + j·ldb + p]), and
 * C element (i, j) is c[cOff + i·ldc + j]. A block of rows or columns of C computed this way has the
 * bits of the same block of the whole product, as long as it takes the same path (packed or direct:
 * see gemm-threads.ts, which splits products over worker threads through it).
 */
export function gemmAt(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  aOff: number,
  lda: number,
  b: Float32Array,
  bOff: number,
  ldb: number,
  beta: number,
  c: Float32Array,
  cOff: number,
  ldc: number,
): void {
  if (m === 0 || n === 0) return;
  const aRow = transA ? 1 : lda;
  const aCol = transA ? lda : 1;
  const bRow = transB ? 1 : ldb;
  const bCol = transB ? ldb : 1;
  if (k === 0 || alpha === 0) {
    scale(c, cOff, ldc, m, n, beta);
    return;
  }
  if (usesDirect(m, n, k)) {
    if (m <= DIRECT_MAX_SIDE || m * n * k <= DIRECT_MAX_MNK) {
      direct(m, n, k, alpha, a, aOff, aRow, aCol, b, bOff, transB, ldb, beta, c, cOff, ldc, 1);
    } else {
      // Cᵀ = op(B)ᵀ·op(A)ᵀ: the same row-at-a-time path with the operands swapped, writing C by columns.
      direct(n, m, k, alpha, b, bOff, bCol, bRow, a, aOff, !transA, lda, beta, c, cOff, 1, ldc);
    }
    return;
  }
  // With beta = 0 the first K block writes C without reading it (macroKernel's `first`).
  if (beta !== 0) scale(c, cOff, ldc, m, n, beta);
  // Equal K blocks: 784 = 4×196 rather than 3×256 + 16, whose last block would be mostly overhead.
  const kcMax = Math.ceil(k / Math.ceil(k / KC));
  const kcpMax = Math.ceil(kcMax / KU) * KU;
  const packA = kcpMax * Math.ceil(Math.min(n, NC) / NR) * NR;
  reserve(packA + kcpMax * Math.ceil(Math.min(m, MC) / MR) * MR);
  for (let jc = 0; jc < n; jc += NC) {
    const nc = Math.min(NC, n - jc);
    for (let pc = 0; pc < k; pc += kcMax) {
      const kc = Math.min(kcMax, k - pc);
      const kcp = Math.ceil(kc / KU) * KU;
      pack(b, bOff + pc * bRow + jc * bCol, bCol, bRow, nc, kc, kcp, NR, 0);
      for (let ic = 0; ic < m; ic += MC) {
        const mc = Math.min(MC, m - ic);
        pack(a, aOff + ic * aRow + pc * aCol, aRow, aCol, mc, kc, kcp, MR, packA);
        macroKernel(c, ldc, ic, cOff + jc, mc, nc, kcp, packA, alpha, beta === 0 && pc === 0);
      }
    }
  }
}

/**
 * Whether an m×n×k product (k > 0) takes the unpacked path, which sums each element over all of k
 * in float64 where the packed path rounds to float32 once per K block: the two paths' bits differ,
 * so a split of C must keep every piece on the whole product's path.
 */
export function usesDirect(m: number, n: number, k: number): boolean {
  return m * n * k <= DIRECT_MAX_MNK || m <= DIRECT_MAX_SIDE || n <= DIRECT_MAX_SIDE;
}

/** C *= beta, where beta = 0 overwrites (so NaN or garbage in C does not survive). */
function scale(c: Float32Array, cOff: number, ldc: number, m: number, n: number, beta: number): void {
  if (beta === 1) return;
  for (let i = 0; i < m; i++) {
    const r = cOff + i * ldc;
    if (beta === 0) c.fill(0, r, r + n);
    else for (let j = r; j < r + n; j++) c[j] *= beta;
  }
}

/**
 * Packs nx rows (rows of op(A), or columns of op(B)) × kc of a strided matrix, element (x, p) at
 * src[s0 + x·sx + p·sp], into R-wide micro-panels at PACK[dst0...]: panel q holds rows qR..qR+R-1
 * with the R values of each p adjacent, so the kernel reads it sequentially. Rows past nx and p past
 * kc (up to kcp) are zero, which lets edge tiles run the full kernel; only the valid part of the tile
 * is written back. One of sx, sp is always 1; the loop order follows the contiguous one.
 */
function pack(
  src: Float32Array,
  s0: number,
  sx: number,
  sp: number,
  nx: number,
  kc: number,
  kcp: number,
  R: number,
  dst0: number,
): void {
  if (sp === 1) packAlongP(src, s0, sx, nx, kc, kcp, R, dst0);
  else packAlongX(src, s0, sp, nx, kc, kcp, R, dst0);
}

/**
 * pack() for sources contiguous along p. Whole panels (R = 2 and 3, NR and MR) read their R source
 * rows side by side and write the panel in order: one loop iteration per R elements, where a row at
 * a time cost one per element, each paying the loop's own checks (TurboFan reloads PACK's map,
 * elements and length every iteration). The four batch-128 MLP products, both versions alternating
 * in one process on the Intel Xeon VM: 51.4-51.7 -> 50.6-50.9 ms, the same bits.
 */
function packAlongP(
  src: Float32Array,
  s0: number,
  sx: number,
  nx: number,
  kc: number,
  kcp: number,
  R: number,
  dst0: number,
): void {
  const full = nx - (nx % R);
  let x = 0;
  if (R === 2) {
    for (; x < full; x += 2) {
      let d = dst0 + x * kcp;
      const a = s0 + x * sx;
      const b = a + sx;
      for (let p = 0; p < kc; p++) {
        PACK[d] = src[a + p]!;
        PACK[d + 1] = src[b + p]!;
        d += 2;
      }
    }
  } else if (R === 3) {
    for (; x < full; x += 3) {
      let d = dst0 + x * kcp;
      const a = s0 + x * sx;
      const b = a + sx;
      const c = b + sx;
      for (let p = 0; p < kc; p++) {
        PACK[d] = src[a + p]!;
        PACK[d + 1] = src[b + p]!;
        PACK[d + 2] = src[c + p]!;
        d += 3;
      }
    }
  }
  // Zero padding past kc in the panels done above; then the rest (a partial last panel, or any R)
  // a row at a time.
  if (kc < kcp) for (let z = 0; z < x; z += R) PACK.fill(0, dst0 + z * kcp + kc * R, dst0 + (z + R) * kcp);
  const nxp = Math.ceil(nx / R) * R;
  for (; x < nxp; x++) {
    const r = x % R;
    let d = dst0 + (x - r) * kcp + r;
    let p = 0;
    if (x < nx) {
      const s = s0 + x * sx;
      for (; p < kc; p++) {
        PACK[d] = src[s + p]!;
        d += R;
      }
    }
    for (; p < kcp; p++) {
      PACK[d] = 0;
      d += R;
    }
  }
}

/**
 * pack() for sources contiguous along x (op(B) not transposed, op(A) transposed): reads each source
 * row sequentially and scatters R values per panel. Walking PACK_XB columns at a time keeps the
 * panels written per source row within the L1 TLB; the R = 2 and 3 loops (NR, MR) are unrolled.
 */
function packAlongX(
  src: Float32Array,
  s0: number,
  sp: number,
  nx: number,
  kc: number,
  kcp: number,
  R: number,
  dst0: number,
): void {
  const step = kcp * R;
  const full = nx - (nx % R);
  for (let xc = 0; xc < full; xc += PACK_XB) {
    const xe = Math.min(xc + PACK_XB, full);
    for (let p = 0; p < kc; p++) {
      const row = s0 + p * sp;
      let d = dst0 + xc * kcp + p * R;
      if (R === 2) {
        for (let x = row + xc, e = row + xe; x < e; x += 2) {
          PACK[d] = src[x];
          PACK[d + 1] = src[x + 1];
          d += step;
        }
      } else if (R === 3) {
        for (let x = row + xc, e = row + xe; x < e; x += 3) {
          PACK[d] = src[x];
          PACK[d + 1] = src[x + 1];
          PACK[d + 2] = src[x + 2];
          d += step;
        }
      } else {
        for (let x = xc; x < xe; x += R) {
          for (let r = 0; r < R; r++) PACK[d + r] = src[row + x + r];
          d += step;
        }
      }
    }
  }
  if (full < nx) {
    const tail = dst0 + full * kcp;
    for (let p = 0; p < kc; p++) {
      const row = s0 + p * sp + full;
      for (let r = 0; r < R; r++) PACK[tail + p * R + r] = full + r < nx ? src[row + r] : 0;
    }
  }
  if (kc < kcp) {
    for (let x = 0; x < nx; x += R) PACK.fill(0, dst0 + x * kcp + kc * R, dst0 + (x + R) * kcp);
  }
}

/**
 * C += alpha · (packed A block at PACK[packA...]) · (packed B block at PACK[0...]); with `first`
 * (the first K block of a beta = 0 product) C = 0 + alpha · (...) instead, which is the bits of
 * zero-filling C and adding (0 + x turns -0 into +0 as the fill's zero did), without the fill or
 * a read of C: the four batch-128 MLP products, alternating in one process on the Intel Xeon VM,
 * 50.8-51.0 -> 50.3-50.6 ms. The full tile's two forms are written out separately: one form with
 * `(first ? 0 : c[i]) + ...` per element, the same bits, ran those products 0.7-1% slower.
 * C's element (ic + i, j) is c[(ic + i)·ldc + jc + j]: gemmAt passes C's offset inside jc, as the
 * same expression with a precomputed start (c0 + i·ldc + j) ran those products 2% slower.
 */
function macroKernel(
  c: Float32Array,
  ldc: number,
  ic: number,
  jc: number,
  mc: number,
  nc: number,
  kcp: number,
  packA: number,
  alpha: number,
  first: boolean,
): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = Math.min(NR, nc - jr);
    const pb = jr * kcp;
    for (let ir = 0; ir < mc; ir += MR) {
      const mr = Math.min(MR, mc - ir);
      kernel(kcp, packA + ir * kcp, pb);
      let ci = (ic + ir) * ldc + jc + jr;
      if (mr === MR && nr === NR) {
        if (first) {
          c[ci] = 0 + alpha * TILE[0]!;
          c[ci + 1] = 0 + alpha * TILE[1]!;
          ci += ldc;
          c[ci] = 0 + alpha * TILE[2]!;
          c[ci + 1] = 0 + alpha * TILE[3]!;
          ci += ldc;
          c[ci] = 0 + alpha * TILE[4]!;
          c[ci + 1] = 0 + alpha * TILE[5]!;
        } else {
          c[ci] += alpha * TILE[0]!;
          c[ci + 1] += alpha * TILE[1]!;
          ci += ldc;
          c[ci] += alpha * TILE[2]!;
          c[ci + 1] += alpha * TILE[3]!;
          ci += ldc;
          c[ci] += alpha * TILE[4]!;
          c[ci + 1] += alpha * TILE[5]!;
        }
      } else {
        for (let i = 0; i < mr; i++) {
          for (let j = 0; j < nr; j++) c[ci + j] = (first ? 0 : c[ci + j]!) + alpha * TILE[i * NR + j]!;
          ci += ldc;
        }
      }
    }
  }
}

/**
 * TILE = (A micro-panel at pa) · (B micro-panel at pb) over kcp steps (a multiple of KU).
 * Accumulators are locals so they live in registers; `| 0` keeps index arithmetic in int32 without
 * overflow checks. The loop runs on the A index itself: a separate step counter (`p++`) cost an
 * add, an overflow check and a compare per step, and the kernel, about 46 instructions a step,
 * ran 7-8% faster without it (the four batch-128 MLP products, both kernels alternating in one
 * process on the Intel VM, Node 20: 55.6-55.9 -> 51.0-51.9 ms; the same bits).
 */
function kernel(kcp: number, pa: number, pb: number): void {
  let c00 = 0;
  let c01 = 0;
  let c10 = 0;
  let c11 = 0;
  let c20 = 0;
  let c21 = 0;
  const end = (pa + MR * kcp) | 0;
  for (; pa < end; pa = (pa + 3) | 0) {
    const a0 = PACK[pa];
    const a1 = PACK[(pa + 1) | 0];
    const a2 = PACK[(pa + 2) | 0];
    let b = PACK[pb];
    c00 += a0 * b;
    c10 += a1 * b;
    c20 += a2 * b;
    b = PACK[(pb + 1) | 0];
    c01 += a0 * b;
    c11 += a1 * b;
    c21 += a2 * b;
    pb = (pb + 2) | 0;
  }
  TILE[0] = c00;
  TILE[1] = c01;
  TILE[2] = c10;
  TILE[3] = c11;
  TILE[4] = c20;
  TILE[5] = c21;
}

/**
 * Unpacked path for products too small or too thin for packing to pay off. Row i of C is built
 * DIRECT_NB columns at a time in float64 in PACK[0..nb): with B's rows contiguous (not transB) as
 * axpys over four rows of B at a time, otherwise as dot products of four columns at a time, so each
 * accumulator update or element of A serves four products. C is written through (cRow, cCol), so
 * the caller can hand in the transposed problem.
 */
function direct(
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  aOff: number,
  aRow: number,
  aCol: number,
  b: Float32Array,
  bOff: number,
  transB: boolean,
  ldb: number,
  beta: number,
  c: Float32Array,
  cOff: number,
  cRow: number,
  cCol: number,
): void {
  reserve(Math.min(n, DIRECT_NB));
  const k4 = k - (k & 3);
  for (let i = 0; i < m; i++) {
    const ai = aOff + i * aRow;
    for (let j0 = 0; j0 < n; j0 += DIRECT_NB) {
      const nb = Math.min(DIRECT_NB, n - j0);
      if (!transB) {
        PACK.fill(0, 0, nb);
        let p = 0;
        for (; p < k4; p += 4) {
          const a0 = a[ai + p * aCol];
          const a1 = a[ai + (p + 1) * aCol];
          const a2 = a[ai + (p + 2) * aCol];
          const a3 = a[ai + (p + 3) * aCol];
          const r0 = bOff + p * ldb + j0;
          const r1 = r0 + ldb;
          const r2 = r1 + ldb;
          const r3 = r2 + ldb;
          for (let j = 0; j < nb; j++) {
            PACK[j] += a0 * b[r0 + j] + a1 * b[r1 + j] + a2 * b[r2 + j] + a3 * b[r3 + j];
          }
        }
        for (; p < k; p++) {
          const ap = a[ai + p * aCol];
          const r = bOff + p * ldb + j0;
          for (let j = 0; j < nb; j++) PACK[j] += ap * b[r + j];
        }
      } else {
        const nb4 = nb - (nb & 3);
        let j = 0;
        for (; j < nb4; j += 4) {
          const b0 = bOff + (j0 + j) * ldb;
          const b1 = b0 + ldb;
          const b2 = b1 + ldb;
          const b3 = b2 + ldb;
          let s0 = 0;
          let s1 = 0;
          let s2 = 0;
          let s3 = 0;
          for (let p = 0; p < k; p++) {
            const ap = a[ai + p * aCol];
            s0 += ap * b[b0 + p];
            s1 += ap * b[b1 + p];
            s2 += ap * b[b2 + p];
            s3 += ap * b[b3 + p];
          }
          PACK[j] = s0;
          PACK[j + 1] = s1;
          PACK[j + 2] = s2;
          PACK[j + 3] = s3;
        }
        for (; j < nb; j++) {
          const bj = bOff + (j0 + j) * ldb;
          let s = 0;
          for (let p = 0; p < k; p++) s += a[ai + p * aCol] * b[bj + p];
          PACK[j] = s;
        }
      }
      let ci = cOff + i * cRow + j0 * cCol;
      if (beta === 0) {
        for (let j = 0; j < nb; j++, ci += cCol) c[ci] = alpha * PACK[j];
      } else {
        for (let j = 0; j < nb; j++, ci += cCol) c[ci] = alpha * PACK[j] + beta * c[ci];
      }
    }
  }
}
