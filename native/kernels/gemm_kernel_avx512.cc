// AVX-512 GEMM microkernels and their packing, one template for two tile shapes:
//   12x32: 24 zmm accumulators, two B vectors and a broadcast (27 of the 32 registers): the kernel;
//   16x16: 16 accumulators, one B vector and a broadcast: the narrow kernel, for products at most
//          16 columns wide (the 10-class layer), which would fill 16 of the 32-column tile's lanes
//          or fewer. AVX2's 6x16 kernel did those before: 16 lanes of ymm, half this width.
//          (24 rows run no faster, each FMA still needing its own broadcast load, and a batch of
//          32 then pads to 48 rows.) 32x10x256 NT on one Zen 5 core: 3.4 -> 1.9 us; 512x10x256:
//          49 -> 23 us.
// Compiled with -mavx512f -mavx512bw -mavx512dq -mavx512vl (see CMakeLists.txt) and reached only
// through kernels_avx512() and kernels_avx512_narrow(), in the AVX-512 table (isa_avx512.cc), which
// cpu.cc makes active only when the CPU and OS support AVX-512.
//
// Written with intrinsics: with 32 vector registers GCC keeps every accumulator in a register
// (unlike the 16-register AVX2 kernel, whose k loop is inline assembly). The one exception is the
// narrow kernel's k loop over 16 rows of A read in place (k_run), which is assembly outside
// sanitizer builds. The driver (gemm.cc) is shared with the other ISAs: same blocking logic, same
// threading split, so results are bitwise identical for any thread count here too. Every element
// of C is one FMA chain over k, as in the AVX2 kernel, so the ISAs and both tile shapes agree to
// the last bit except where the K blocking differs (it does not: kc is the same).
// GCC 12 warns "'__Y' may be used uninitialized" inside its own AVX-512 headers, where
// _mm512_max_ps passes _mm512_undefined_ps() as the unused merge source: a false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstring>

#include "gemm_blocking.h"
#include "simd_avx512.h"

namespace tg {
namespace gemm {
namespace {

static_assert(kBlockingAvx512.mr == 12 && kBlockingAvx512.nr == 32, "the kernel is instantiated for 12x32");
static_assert(kBlockingAvx512Narrow.mr == 16 && kBlockingAvx512Narrow.nr == 16, "the narrow kernel is 16x16");

using avx2::transpose8x8;
using avx512::part16;

// How the store step combines the accumulators with C (as in gemm_kernel_avx2.cc).
enum StoreKind { kPlain, kAccumulate, kGeneral };

// kNV: 16-lane vectors per row of the tile (2 for 32 columns, 1 for 16).
template <int kNV>
struct StoreParams {
  __m512 alpha, beta, bias[kNV];
  __mmask16 mask[kNV];  // valid columns of each 16-lane part
  bool scale, readc, bias_on, relu, c_far;
  const float* b_next;  // Tile::b_next
};

template <int kNV, StoreKind kKind, bool kMasked>
inline __attribute__((always_inline)) void store_row(float* cr, __m512 (&x)[kNV], const StoreParams<kNV>& sp) {
#pragma GCC unroll 2
  for (int v = 0; v < kNV; ++v) {
    float* c = cr + 16 * v;
    if (kKind == kAccumulate || (kKind == kGeneral && sp.readc)) {
      const __m512 o = kMasked ? _mm512_maskz_loadu_ps(sp.mask[v], c) : _mm512_loadu_ps(c);
      if (kKind == kAccumulate) {
        x[v] = _mm512_add_ps(o, x[v]);
      } else {
        if (sp.scale) x[v] = _mm512_mul_ps(x[v], sp.alpha);
        x[v] = _mm512_fmadd_ps(sp.beta, o, x[v]);
      }
    } else if (kKind == kGeneral && sp.scale) {
      x[v] = _mm512_mul_ps(x[v], sp.alpha);
    }
    if (kKind == kGeneral) {
      if (sp.bias_on) x[v] = _mm512_add_ps(x[v], sp.bias[v]);
      // max(0, x) returns x when x is NaN (the second operand)
      if (sp.relu) x[v] = _mm512_max_ps(_mm512_setzero_ps(), x[v]);
    }
    if (kMasked) {
      _mm512_mask_storeu_ps(c, sp.mask[v], x[v]);
    } else {
      _mm512_storeu_ps(c, x[v]);
    }
  }
}

// One k step of the tile: kMR broadcasts of op(A)(i, p) times the kNV vectors of B's row p.
template <int kMR, int kNV, bool kRows>
inline __attribute__((always_inline)) void k_step(__m512 (&acc)[kMR][kNV], const float* a, int64_t as, const float* bp,
                                                  int64_t p) {
  __m512 bv[kNV];
  for (int v = 0; v < kNV; ++v) bv[v] = _mm512_loadu_ps(bp + 16 * v);
#pragma GCC unroll 24
  for (int i = 0; i < kMR; ++i) {
    const __m512 av = _mm512_set1_ps(kRows ? a[i * as + p] : a[p * as + i]);
    for (int v = 0; v < kNV; ++v) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
  }
}

// k steps [p0, p1) of the tile, each one k_step (in assembly for one case where TG_GEMM_ASM, see
// gemm_blocking.h).
template <int kMR, int kNV, bool kRows>
inline __attribute__((always_inline)) void k_run(__m512 (&acc)[kMR][kNV], const float* a, int64_t as, const float* b,
                                                 int64_t bs, int64_t p0, int64_t p1) {
#if TG_GEMM_ASM
  if constexpr (kMR == 16 && kNV == 1 && kRows) {
    // The narrow kernel reading 16 rows of A in place (the 10-class layer's forward): written with
    // intrinsics, GCC keeps 10 of the 16 row pointers in registers and reloads the other 6 from
    // the stack every k step (23 loads for 16 FMAs). Here every row is reached from three base
    // pointers (rows 0, 2 and 7) and two strides (one and three rows), with scaled addressing:
    // 0 b0, 1 b0+S, 2 b2, 3 b0+S3, 4 b0+4S, 5 b2+S3, 6 b0+2S3, 7 b7, 8 b0+8S, 9 b7+2S, 10 b2+8S,
    // 11 b7+4S, 12 b0+4S3, 13 b7+2S3, 14 b2+4S3, 15 b7+8S. The same FMAs in the same order, so the
    // same bits. A microbenchmark of the loop on one core of the Intel VM: 3.78 -> 3.25 ns a step.
    if (p1 <= p0) return;
    const float* r0 = a + p0;
    const float* r2 = a + 2 * as + p0;
    const float* r7 = a + 7 * as + p0;
    const float* bp = b + p0 * bs;
    int64_t n = p1 - p0;
    const int64_t S = as * 4, S3 = 3 * S, BS = bs * 4;
    // Sixteen read-write vector operands would exceed GCC's 30 asm operands, so the accumulators
    // travel through memory once per call (zmm0-15 inside, zmm16 holds the B row).
    float* const accp = reinterpret_cast<float*>(&acc[0][0]);
    __asm__ volatile(
        "vmovups 0(%[acc]), %%zmm0\n\t"
        "vmovups 64(%[acc]), %%zmm1\n\t"
        "vmovups 128(%[acc]), %%zmm2\n\t"
        "vmovups 192(%[acc]), %%zmm3\n\t"
        "vmovups 256(%[acc]), %%zmm4\n\t"
        "vmovups 320(%[acc]), %%zmm5\n\t"
        "vmovups 384(%[acc]), %%zmm6\n\t"
        "vmovups 448(%[acc]), %%zmm7\n\t"
        "vmovups 512(%[acc]), %%zmm8\n\t"
        "vmovups 576(%[acc]), %%zmm9\n\t"
        "vmovups 640(%[acc]), %%zmm10\n\t"
        "vmovups 704(%[acc]), %%zmm11\n\t"
        "vmovups 768(%[acc]), %%zmm12\n\t"
        "vmovups 832(%[acc]), %%zmm13\n\t"
        "vmovups 896(%[acc]), %%zmm14\n\t"
        "vmovups 960(%[acc]), %%zmm15\n\t"
        "1:\n\t"
        "vmovups (%[bp]), %%zmm16\n\t"
        "vfmadd231ps (%[r0])%{1to16%}, %%zmm16, %%zmm0\n\t"
        "vfmadd231ps (%[r0],%[S],1)%{1to16%}, %%zmm16, %%zmm1\n\t"
        "vfmadd231ps (%[r2])%{1to16%}, %%zmm16, %%zmm2\n\t"
        "vfmadd231ps (%[r0],%[S3],1)%{1to16%}, %%zmm16, %%zmm3\n\t"
        "vfmadd231ps (%[r0],%[S],4)%{1to16%}, %%zmm16, %%zmm4\n\t"
        "vfmadd231ps (%[r2],%[S3],1)%{1to16%}, %%zmm16, %%zmm5\n\t"
        "vfmadd231ps (%[r0],%[S3],2)%{1to16%}, %%zmm16, %%zmm6\n\t"
        "vfmadd231ps (%[r7])%{1to16%}, %%zmm16, %%zmm7\n\t"
        "vfmadd231ps (%[r0],%[S],8)%{1to16%}, %%zmm16, %%zmm8\n\t"
        "vfmadd231ps (%[r7],%[S],2)%{1to16%}, %%zmm16, %%zmm9\n\t"
        "vfmadd231ps (%[r2],%[S],8)%{1to16%}, %%zmm16, %%zmm10\n\t"
        "vfmadd231ps (%[r7],%[S],4)%{1to16%}, %%zmm16, %%zmm11\n\t"
        "vfmadd231ps (%[r0],%[S3],4)%{1to16%}, %%zmm16, %%zmm12\n\t"
        "vfmadd231ps (%[r7],%[S3],2)%{1to16%}, %%zmm16, %%zmm13\n\t"
        "vfmadd231ps (%[r2],%[S3],4)%{1to16%}, %%zmm16, %%zmm14\n\t"
        "vfmadd231ps (%[r7],%[S],8)%{1to16%}, %%zmm16, %%zmm15\n\t"
        "add %[BS], %[bp]\n\t"
        "add $4, %[r0]\n\t"
        "add $4, %[r2]\n\t"
        "add $4, %[r7]\n\t"
        "dec %[n]\n\t"
        "jnz 1b\n\t"
        "vmovups %%zmm0, 0(%[acc])\n\t"
        "vmovups %%zmm1, 64(%[acc])\n\t"
        "vmovups %%zmm2, 128(%[acc])\n\t"
        "vmovups %%zmm3, 192(%[acc])\n\t"
        "vmovups %%zmm4, 256(%[acc])\n\t"
        "vmovups %%zmm5, 320(%[acc])\n\t"
        "vmovups %%zmm6, 384(%[acc])\n\t"
        "vmovups %%zmm7, 448(%[acc])\n\t"
        "vmovups %%zmm8, 512(%[acc])\n\t"
        "vmovups %%zmm9, 576(%[acc])\n\t"
        "vmovups %%zmm10, 640(%[acc])\n\t"
        "vmovups %%zmm11, 704(%[acc])\n\t"
        "vmovups %%zmm12, 768(%[acc])\n\t"
        "vmovups %%zmm13, 832(%[acc])\n\t"
        "vmovups %%zmm14, 896(%[acc])\n\t"
        "vmovups %%zmm15, 960(%[acc])\n\t"
        : [r0] "+r"(r0), [r2] "+r"(r2), [r7] "+r"(r7), [bp] "+r"(bp), [n] "+r"(n)
        : [acc] "r"(accp), [S] "r"(S), [S3] "r"(S3), [BS] "r"(BS)
        : "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
          "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16");
    return;
  }
#endif
  for (int64_t p = p0; p < p1; ++p) k_step<kMR, kNV, kRows>(acc, a, as, b + p * bs, p);
}

// The millikernel: mp row panels of kMR against one (16·kNV)-column B micro-panel. Panel q reads
// a + q*a_ps; within it a(i, p) is a[p*a_s + i] (kRows false) or a[i*a_s + p] (kRows true). Only
// the first `rows` rows of the last panel are stored, and the columns the masks allow.
// c_after, after_rows: the C rows that follow this call's last panel (an edge panel run by another
// instantiation, or the next B micro-panel's first panel), for the far-C prefetch below.
template <int kMR, int kNV, bool kRows, StoreKind kKind, bool kMasked>
void milli(int64_t mp, int rows, int64_t kc, const float* a, int64_t a_ps, int64_t as, const float* b, int64_t bs,
           float* c, int64_t ldc, const StoreParams<kNV>& sp, const float* c_after, int after_rows) {
  // The store step reads C (every K block after the first, or beta != 0). Its rows are prefetched
  // during the last kMR k steps, one row per step, not before the k loop: a prefetch made ~3000
  // cycles ahead was evicted again by the A and B panels streaming through L1, and the store step
  // then waited on C, most where C is large (15% of the kernel's time at 2048^3, 3% at 512^3).
  // Measured on one Zen 5 core, both versions alternating in one process (21-25 rounds): the
  // kernel +1.1-1.7% at 1024^3, +2.3-2.9% at 2048^3, +1-2% at 128x512x784 NN, +2.1% at 2048^3 on
  // 2 threads, none slower; a.matmul(b) through two addon builds +2.9% at 1024^3, +5.2% at 2048^3.
  // Prefetching C this way for the first block too (stores only) measured no better.
  //
  // That late prefetch only hides a trip to L2. Where C lives further out (2048^3: C is 16 MiB and
  // every K block reads and writes all of it; on a 2-vCPU Sapphire Rapids-class Xeon, whose L3 reads
  // at about 25 GB/s from one core, the kernel waited on it), the next tile's rows are also fetched
  // into L2 (T1, so they do not evict the panels from L1) during the first kMR k steps of this
  // one, some 3000 cycles ahead: the next row panel's, or after the last panel the first panel's
  // rows of the next B micro-panel (the driver's next call when the columns go on). Written C
  // needs its lines as much as read C (write-allocate), so this is done for every store kind.
  // Only where the driver says C is far (Tile::c_far, 4 MiB and up) and the K block has at least
  // 64 steps: with C in L2 the prefetches only cost issue slots (the MLP shapes, 128x256x512 to
  // 128x784x512, lost 1-2.5%), and a short K block is store-bound (128x256x10 lost 6%).
  // Measured on that Xeon, both versions alternating in one process (7-21 rounds): 2048^3 +8-12% on
  // 1 thread, +4-10% on 2 (a.matmul(b) through two addon builds: +11%, +4%); 1024^3 unchanged.
  const bool reads_c = kKind == kAccumulate || (kKind == kGeneral && sp.readc);
  const int64_t kmain = !reads_c ? kc : kc > kMR ? kc - kMR : 0;
  const int64_t kpre = !sp.c_far || kc < 64 ? 0 : kmain < kMR ? kmain : kMR;
  const float* const b_next = sp.b_next;
  for (int64_t q = 0; q < mp; ++q, a += a_ps, c += kMR * ldc) {
    const int nrows = q + 1 < mp ? kMR : rows;
    __m512 acc[kMR][kNV];
    for (int i = 0; i < kMR; ++i)
      for (int v = 0; v < kNV; ++v) acc[i][v] = _mm512_setzero_ps();
    const float* const c_next = q + 1 < mp ? c + kMR * ldc : c_after;
    const int next_rows = q + 1 == mp ? after_rows : q + 2 == mp ? rows : kMR;
    for (int64_t p = 0; p < kpre; ++p) {
      if (p < next_rows) {
        const float* cr = c_next + p * ldc;
        for (int v = 0; v < kNV; ++v) _mm_prefetch(reinterpret_cast<const char*>(cr + 16 * v), _MM_HINT_T1);
        _mm_prefetch(reinterpret_cast<const char*>(cr + 16 * kNV - 1), _MM_HINT_T1);
      }
      k_step<kMR, kNV, kRows>(acc, a, as, b + p * bs, p);
    }
    if (q == 0 && b_next != nullptr) {
      // The next B micro-panel into L2 during the first row panel (T1: the current one stays in
      // L1), row p of it at step p. A block of B larger than L2 (kc x nc = 2 MiB at 2048^3) comes
      // from L3 for every A block, and the first row panel against each micro-panel waited on it.
      // Measured on the Intel VM, both versions alternating in one process (7-9 rounds, sgemm
      // NN): 2048^3 +1.5-3% on 1 thread, +1% on 2; 1024^3 +1.5% on 1 thread, +2% on 2;
      // 512x512x784 and 512x784x512 (batch-512 layers) on 2 threads +3% and +12% (noisy), none slower.
      for (int64_t p = kpre; p < kmain; ++p) {
        const char* nb = reinterpret_cast<const char*>(b_next + p * bs);
        for (int v = 0; v < kNV; ++v) _mm_prefetch(nb + 64 * v, _MM_HINT_T1);
        k_step<kMR, kNV, kRows>(acc, a, as, b + p * bs, p);
      }
    } else {
      k_run<kMR, kNV, kRows>(acc, a, as, b, bs, kpre, kmain);
    }
    for (int64_t p = kmain; p < kc; ++p) {
      const int64_t r = p - kmain;
      if (r < nrows) {
        const float* cr = c + r * ldc;
        // Every line of the row: 16·kNV floats span kNV + 1 lines when the row is not aligned.
        for (int v = 0; v < kNV; ++v) _mm_prefetch(reinterpret_cast<const char*>(cr + 16 * v), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(cr + 16 * kNV - 1), _MM_HINT_T0);
      }
      k_step<kMR, kNV, kRows>(acc, a, as, b + p * bs, p);
    }
#pragma GCC unroll 24
    for (int i = 0; i < kMR; ++i) {
      if (i < nrows) store_row<kNV, kKind, kMasked>(c + i * ldc, acc[i], sp);
    }
  }
}

// milli<kMR, ...> with the store kind and masking as template arguments.
template <int kMR, int kNV, bool kRows, bool kMasked>
void dispatch_kind(StoreKind kind, int64_t mp, int rows, int64_t kc, const float* a, int64_t a_ps, int64_t a_s,
                   const float* b, int64_t b_ks, float* c, int64_t ldc, const StoreParams<kNV>& sp, const float* c_after,
                   int after_rows) {
  switch (kind) {
    case kPlain:
      return milli<kMR, kNV, kRows, kPlain, kMasked>(mp, rows, kc, a, a_ps, a_s, b, b_ks, c, ldc, sp, c_after, after_rows);
    case kAccumulate:
      return milli<kMR, kNV, kRows, kAccumulate, kMasked>(mp, rows, kc, a, a_ps, a_s, b, b_ks, c, ldc, sp, c_after,
                                                          after_rows);
    default:
      return milli<kMR, kNV, kRows, kGeneral, kMasked>(mp, rows, kc, a, a_ps, a_s, b, b_ks, c, ldc, sp, c_after,
                                                       after_rows);
  }
}

template <int kMR, int kNV, bool kRows>
void dispatch(StoreKind kind, bool masked, int64_t mp, int rows, int64_t kc, const float* a, int64_t a_ps, int64_t a_s,
              const float* b, int64_t b_ks, float* c, int64_t ldc, const StoreParams<kNV>& sp, const float* c_after,
              int after_rows) {
  if (masked) {
    return dispatch_kind<kMR, kNV, kRows, true>(kind, mp, rows, kc, a, a_ps, a_s, b, b_ks, c, ldc, sp, c_after, after_rows);
  }
  dispatch_kind<kMR, kNV, kRows, false>(kind, mp, rows, kc, a, a_ps, a_s, b, b_ks, c, ldc, sp, c_after, after_rows);
}

// mp row panels against one B micro-panel with store parameters sp (see kernel below).
template <int kMR, int kNV, bool kRows>
void panels(StoreKind kind, bool masked, int64_t mp, int rows, int64_t kc, const float* a, int64_t a_ps, int64_t a_s,
            const float* b, int64_t b_ks, float* c, int64_t ldc, StoreParams<kNV>& sp) {
  const float* const wrap = c + 16 * kNV;  // the next B micro-panel's first panel of C
  if constexpr ((kMR == 12 || kMR == 16) && !kRows) {
    // A last panel of at most 10 of 12 rows (m = 128: 8; m = 10, the 10-class layer's weight
    // gradient; 64 and 256: 4) runs on a tile of 4, 8 or 10 rows, and one of at most 12 of the
    // narrow kernel's 16 (batches of 100, 200 or 1000 leave 4 or 8) on a tile of 4, 8 or 12: the
    // zero rows' FMAs are skipped. Each element of C is still one FMA chain over k in the same
    // order, so the bits are the same. (Such a panel is always packed, hence only !kRows.)
    constexpr int kMid = kMR == 12 ? 10 : 12;
    if (rows <= kMid) {
      const int64_t full = mp - 1;
      float* const ce = c + full * kMR * ldc;
      if (full > 0) dispatch<kMR, kNV, kRows>(kind, masked, full, kMR, kc, a, a_ps, a_s, b, b_ks, c, ldc, sp, ce, rows);
      if (full > 0) sp.b_next = nullptr;  // the first call fetched it
      const float* const ae = a + full * a_ps;
      if (rows <= 4) return dispatch<4, kNV, kRows>(kind, masked, 1, rows, kc, ae, a_ps, a_s, b, b_ks, ce, ldc, sp, wrap, kMR);
      if (rows <= 8) return dispatch<8, kNV, kRows>(kind, masked, 1, rows, kc, ae, a_ps, a_s, b, b_ks, ce, ldc, sp, wrap, kMR);
      return dispatch<kMid, kNV, kRows>(kind, masked, 1, rows, kc, ae, a_ps, a_s, b, b_ks, ce, ldc, sp, wrap, kMR);
    }
  }
  dispatch<kMR, kNV, kRows>(kind, masked, mp, rows, kc, a, a_ps, a_s, b, b_ks, c, ldc, sp, wrap, kMR);
}

template <int kMR, int kNV, bool kRows>
void kernel(int64_t mp, int rows, int cols, int64_t kc, const float* a, int64_t a_ps, int64_t a_s, const float* b,
            int64_t b_ks, float* c, int64_t ldc, const Tile& t) {
  StoreParams<kNV> sp;
  sp.scale = t.alpha != 1.0f;
  sp.readc = !t.first || t.beta != 0.0f;
  sp.bias_on = t.last && t.bias != nullptr;
  sp.relu = t.last && t.relu;
  sp.c_far = t.c_far;
  sp.b_next = t.b_next;
  sp.alpha = _mm512_set1_ps(t.alpha);
  sp.beta = _mm512_set1_ps(t.first ? t.beta : 1.0f);
  for (int v = 0; v < kNV; ++v) {
    sp.mask[v] = part16(cols - 16 * v);
    sp.bias[v] = sp.bias_on ? _mm512_maskz_loadu_ps(sp.mask[v], t.bias + 16 * v) : _mm512_setzero_ps();
  }
  const bool extras = sp.scale || sp.bias_on || sp.relu;
  const StoreKind kind = extras || (sp.readc && t.first && t.beta != 1.0f) ? kGeneral : sp.readc ? kAccumulate : kPlain;
  if constexpr (kNV == 2) {
    // A last micro-panel of at most 16 columns (n = 784 = 24 x 32 + 16: the first layer's weight
    // gradient) runs on a 16-column tile reading the first half of each row of the 32-column
    // panel: the other half's FMAs are skipped, the bits are the same.
    if (cols <= 16) {
      StoreParams<1> s1;
      s1.alpha = sp.alpha;
      s1.beta = sp.beta;
      s1.bias[0] = sp.bias[0];
      s1.mask[0] = sp.mask[0];
      s1.scale = sp.scale;
      s1.readc = sp.readc;
      s1.bias_on = sp.bias_on;
      s1.relu = sp.relu;
      s1.c_far = sp.c_far;
      s1.b_next = sp.b_next;
      return panels<kMR, 1, kRows>(kind, cols < 16, mp, rows, kc, a, a_ps, a_s, b, b_ks, c, ldc, s1);
    }
  }
  panels<kMR, kNV, kRows>(kind, cols < 16 * kNV, mp, rows, kc, a, a_ps, a_s, b, b_ks, c, ldc, sp);
}

// The tall kernel, for products at most 12 columns wide (the 10-class layer's forward): the 16x16
// kernel computes all 16 columns of its tile whatever n is (6 of 16 lanes wasted at n = 10), so
// here the lanes run along the rows instead. A packed 16-row panel gives one vector per k step,
// each of the kN columns a broadcast of B(p, j) from the packed 16-column B micro-panel, and
// accumulator j holds column j of 16 rows; a 16x16 transpose turns them into rows of C for the
// usual store step. Every element of C is still fma(a(i, p), b(p, j), acc) in increasing p from
// zero, so the bits are those of every other tile.

// t[j] lane i -> t[i] lane j.
inline void transpose16x16(__m512 (&t)[16]) {
  __m512 r[16];
  for (int g = 0; g < 4; ++g) {  // rows 4g..4g+3: quarter q of r[4g + s] holds their column 4q + s
    const __m512 l01 = _mm512_unpacklo_ps(t[4 * g], t[4 * g + 1]), h01 = _mm512_unpackhi_ps(t[4 * g], t[4 * g + 1]);
    const __m512 l23 = _mm512_unpacklo_ps(t[4 * g + 2], t[4 * g + 3]), h23 = _mm512_unpackhi_ps(t[4 * g + 2], t[4 * g + 3]);
    r[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(l01), _mm512_castps_pd(l23)));
    r[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(l01), _mm512_castps_pd(l23)));
    r[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(h01), _mm512_castps_pd(h23)));
    r[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(h01), _mm512_castps_pd(h23)));
  }
  for (int s = 0; s < 4; ++s) {
    // u: rows 0-7 (quarters: rows 0-3 col s, 0-3 col 8+s, 4-7 col s, 4-7 col 8+s; then 4+s, 12+s)
    const __m512 u0 = _mm512_shuffle_f32x4(r[s], r[4 + s], 0x88), u1 = _mm512_shuffle_f32x4(r[s], r[4 + s], 0xdd);
    const __m512 v0 = _mm512_shuffle_f32x4(r[8 + s], r[12 + s], 0x88), v1 = _mm512_shuffle_f32x4(r[8 + s], r[12 + s], 0xdd);
    t[s] = _mm512_shuffle_f32x4(u0, v0, 0x88);
    t[8 + s] = _mm512_shuffle_f32x4(u0, v0, 0xdd);
    t[4 + s] = _mm512_shuffle_f32x4(u1, v1, 0x88);
    t[12 + s] = _mm512_shuffle_f32x4(u1, v1, 0xdd);
  }
}

// One k step of the tall tile: av holds a(i, p) for the panel's 16 rows, bp row p of B.
template <int kN>
inline __attribute__((always_inline)) void tall_step(__m512 (&acc)[kN], __m512 av, const float* bp) {
#pragma GCC unroll 16
  for (int j = 0; j < kN; ++j) acc[j] = _mm512_fmadd_ps(av, _mm512_set1_ps(bp[j]), acc[j]);
}

// mp 16-row panels against kN columns of a B micro-panel (b(p, j) = b[p*bs + j]); only the first
// `rows` rows of the last panel are stored. Panel q reads a + q*a_ps; within it
//   kRows false: a(i, p) = a[p*as + i]: a packed panel, or a transposed A in place (TN), whose k
//                step's 16 rows are adjacent;
//   kRows true:  a(i, p) = a[i*as + p]: a row-major A in place (whole panels only, as the driver
//                calls rows_a). Each group of 8 k steps becomes 8 vectors of 16 rows through two
//                8x8 transposes (rows 0-7 and 8-15) and a 256-bit insert, in registers, instead of
//                packing A through memory first, which cost about as much as the lanes save
//                (32x10x256 NT: 2.9 us packed, 2.4 in place); the k steps past a multiple of 8
//                are read one element at a time.
template <int kN, StoreKind kKind, bool kRows>
void tall_milli(int64_t mp, int rows, int64_t kc, const float* a, int64_t a_ps, int64_t as, const float* b, int64_t bs,
                float* c, int64_t ldc, const StoreParams<1>& sp) {
  for (int64_t q = 0; q < mp; ++q, a += a_ps, c += 16 * ldc) {
    const int nrows = q + 1 < mp ? 16 : rows;
    __m512 acc[kN];
#pragma GCC unroll 16
    for (int j = 0; j < kN; ++j) acc[j] = _mm512_setzero_ps();
    int64_t p0 = 0;
    if constexpr (kRows) {
      for (; p0 + 8 <= kc; p0 += 8) {
        __m256 lo[8], hi[8];
        transpose8x8(a + p0, as, [&lo](int r, __m256 v) { lo[r] = v; });
        transpose8x8(a + 8 * as + p0, as, [&hi](int r, __m256 v) { hi[r] = v; });
#pragma GCC unroll 8
        for (int r = 0; r < 8; ++r) {
          tall_step(acc, _mm512_insertf32x8(_mm512_castps256_ps512(lo[r]), hi[r], 1), b + (p0 + r) * bs);
        }
      }
      for (; p0 < kc; ++p0) {
        alignas(64) float col[16];
        for (int i = 0; i < 16; ++i) col[i] = a[i * as + p0];
        tall_step(acc, _mm512_load_ps(col), b + p0 * bs);
      }
    } else {
      for (; p0 < kc; ++p0) tall_step(acc, _mm512_loadu_ps(a + p0 * as), b + p0 * bs);
    }
    __m512 t[16];
#pragma GCC unroll 16
    for (int j = 0; j < 16; ++j) t[j] = j < kN ? acc[j] : _mm512_setzero_ps();
    transpose16x16(t);
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) {
      if (i < nrows) {
        __m512 x[1] = {t[i]};
        store_row<1, kKind, true>(c + i * ldc, x, sp);
      }
    }
  }
}

template <int kN, bool kRows>
void tall_kind(StoreKind kind, int64_t mp, int rows, int64_t kc, const float* a, int64_t a_ps, int64_t as,
               const float* b, int64_t bs, float* c, int64_t ldc, const StoreParams<1>& sp) {
  switch (kind) {
    case kPlain: return tall_milli<kN, kPlain, kRows>(mp, rows, kc, a, a_ps, as, b, bs, c, ldc, sp);
    case kAccumulate: return tall_milli<kN, kAccumulate, kRows>(mp, rows, kc, a, a_ps, as, b, bs, c, ldc, sp);
    default: return tall_milli<kN, kGeneral, kRows>(mp, rows, kc, a, a_ps, as, b, bs, c, ldc, sp);
  }
}

// The tall table's panel_a (kRows false) and rows_a (kRows true): kN is cols rounded up to even
// (B's columns past n are zero).
template <bool kRows>
void tall_kernel(int64_t mp, int rows, int cols, int64_t kc, const float* a, int64_t a_ps, int64_t a_s, const float* b,
                 int64_t b_ks, float* c, int64_t ldc, const Tile& t) {
  StoreParams<1> sp;
  sp.scale = t.alpha != 1.0f;
  sp.readc = !t.first || t.beta != 0.0f;
  sp.bias_on = t.last && t.bias != nullptr;
  sp.relu = t.last && t.relu;
  sp.c_far = false;
  sp.b_next = nullptr;
  sp.alpha = _mm512_set1_ps(t.alpha);
  sp.beta = _mm512_set1_ps(t.first ? t.beta : 1.0f);
  sp.mask[0] = part16(cols);
  sp.bias[0] = sp.bias_on ? _mm512_maskz_loadu_ps(sp.mask[0], t.bias) : _mm512_setzero_ps();
  const bool extras = sp.scale || sp.bias_on || sp.relu;
  const StoreKind kind = extras || (sp.readc && t.first && t.beta != 1.0f) ? kGeneral : sp.readc ? kAccumulate : kPlain;
  switch ((cols + 1) / 2) {
    case 0:
    case 1: return tall_kind<2, kRows>(kind, mp, rows, kc, a, a_ps, a_s, b, b_ks, c, ldc, sp);
    case 2: return tall_kind<4, kRows>(kind, mp, rows, kc, a, a_ps, a_s, b, b_ks, c, ldc, sp);
    case 3: return tall_kind<6, kRows>(kind, mp, rows, kc, a, a_ps, a_s, b, b_ks, c, ldc, sp);
    case 4: return tall_kind<8, kRows>(kind, mp, rows, kc, a, a_ps, a_s, b, b_ks, c, ldc, sp);
    case 5: return tall_kind<10, kRows>(kind, mp, rows, kc, a, a_ps, a_s, b, b_ks, c, ldc, sp);
    default: return tall_kind<12, kRows>(kind, mp, rows, kc, a, a_ps, a_s, b, b_ks, c, ldc, sp);
  }
}

// Packs op(A)[0..mc, 0..kc] into kMR-row micro-panels: panel element (p, i) at p*kMR + i.
template <int kMR>
void pack_a(bool trans, const float* a, int64_t lda, int64_t mc, int64_t kc, float* dst) {
  static_assert(kMR % 4 == 0 && kMR <= 32, "rows go in groups of 8 and at most one of 4");
  int64_t first = 0;  // rows from here on are packed panel by panel below
  if (trans && kMR <= 16 && mc >= 16) {
    // op(A) = A^T: row p of the source holds k step p of every panel. Walked row by row (a panel
    // at a time walked the rows once per panel, re-reading each line), with whole 16-float loads
    // that stay inside the block's rows; a store's floats past kMR land in the next k step's
    // place, stored next. The last k step is stored masked: its overhang would fall on the next
    // panel's first step, already stored. A TN product packed its A at half the speed of an NN one
    // (512x784x512 on the Intel VM: 4.9% of its time against 2.7%).
    const int64_t panels = (mc - 16) / kMR + 1;  // those whose 16-float loads end inside the rows
    const __mmask16 last = part16(kMR);
    for (int64_t p = 0; p < kc; ++p) {
      const float* src = a + p * lda;
      float* d = dst + p * kMR;
      if (p + 1 < kc) {
        for (int64_t q = 0; q < panels; ++q) _mm512_storeu_ps(d + q * kMR * kc, _mm512_loadu_ps(src + q * kMR));
      } else {
        for (int64_t q = 0; q < panels; ++q) _mm512_mask_storeu_ps(d + q * kMR * kc, last, _mm512_maskz_loadu_ps(last, src + q * kMR));
      }
    }
    first = panels * kMR;
  }
  dst += first * kc;
  for (int64_t i0 = first; i0 < mc; i0 += kMR, dst += kMR * kc) {
    const int64_t mr = mc - i0 < kMR ? mc - i0 : kMR;
    if (mr < kMR) {  // partial panel: zero it, then copy the rows there are
      std::memset(dst, 0, sizeof(float) * kMR * kc);
      if (trans) {
        for (int64_t p = 0; p < kc; ++p)
          for (int64_t i = 0; i < mr; ++i) dst[p * kMR + i] = a[p * lda + i0 + i];
      } else {
        for (int64_t i = 0; i < mr; ++i) {
          const float* src = a + (i0 + i) * lda;
          for (int64_t p = 0; p < kc; ++p) dst[p * kMR + i] = src[p];
        }
      }
      continue;
    }
    if (trans) {  // kMR contiguous floats per k step
      const float* src = a + i0;
      for (int64_t p = 0; p < kc; ++p) {
        for (int h = 0; h < kMR; h += 16) {
          const __mmask16 m = part16(kMR - h);
          _mm512_mask_storeu_ps(dst + p * kMR + h, m, _mm512_maskz_loadu_ps(m, src + p * lda + h));
        }
      }
      continue;
    }
    // Groups of eight rows through the 8x8 transpose, a last group of four through 4x4 transposes,
    // 8 k steps at a time.
    const float* src = a + i0 * lda;
    int64_t p = 0;
    for (; p + 8 <= kc; p += 8) {
      float* d = dst + p * kMR;
      for (int g = 0; g + 8 <= kMR; g += 8) {
        float* dg = d + g;
        transpose8x8(src + g * lda + p, lda, [dg](int q, __m256 v) { _mm256_storeu_ps(dg + q * kMR, v); });
      }
      if (kMR % 8 == 4) {
        const float* s4 = src + (kMR - 4) * lda + p;
        for (int h = 0; h < 8; h += 4) {
          __m128 r0 = _mm_loadu_ps(s4 + h), r1 = _mm_loadu_ps(s4 + lda + h);
          __m128 r2 = _mm_loadu_ps(s4 + 2 * lda + h), r3 = _mm_loadu_ps(s4 + 3 * lda + h);
          _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
          _mm_storeu_ps(d + (h + 0) * kMR + kMR - 4, r0);
          _mm_storeu_ps(d + (h + 1) * kMR + kMR - 4, r1);
          _mm_storeu_ps(d + (h + 2) * kMR + kMR - 4, r2);
          _mm_storeu_ps(d + (h + 3) * kMR + kMR - 4, r3);
        }
      }
    }
    for (; p < kc; ++p)
      for (int64_t i = 0; i < kMR; ++i) dst[p * kMR + i] = src[i * lda + p];
  }
}

// Packs op(B)[0..kc, 0..nc] into (16·kNV)-column micro-panels: panel element (p, j) at p*16·kNV + j,
// zeros past the last column.
template <int kNV>
void pack_b(bool trans, const float* b, int64_t ldb, int64_t kc, int64_t nc, float* dst) {
  constexpr int kNR = 16 * kNV;
  for (int64_t j0 = 0; j0 < nc; j0 += kNR, dst += kNR * kc) {
    const int64_t nr = nc - j0 < kNR ? nc - j0 : kNR;
    if (!trans) {
      __mmask16 m[kNV];
      for (int v = 0; v < kNV; ++v) m[v] = part16(nr - 16 * v);
      const float* src = b + j0;
      for (int64_t p = 0; p < kc; ++p)
        for (int v = 0; v < kNV; ++v)
          _mm512_storeu_ps(dst + p * kNR + 16 * v, _mm512_maskz_loadu_ps(m[v], src + p * ldb + 16 * v));
      continue;
    }
    // op(B)(p, j) = b[j*ldb + p]: groups of 8 rows of B through the 8x8 transpose, a partial last
    // group through a zero-padded copy of its rows, zeros past it; every panel float is written
    // once (a memset of the panel and a scalar copy of the last rows cost 0.35 of the 1.95 us of
    // 32x10x256 NT on one Zen 5 core).
    const float* src = b + j0 * ldb;
    alignas(32) float tile[64] = {};
    for (int64_t g = 0; g < kNR; g += 8) {
      const int64_t valid = nr - g < 0 ? 0 : nr - g > 8 ? 8 : nr - g;
      const float* rows = valid > 0 ? src + g * ldb : src;
      float* const dg = dst + g;
      int64_t p = 0;
      for (; p + 8 <= kc; p += 8) {
        float* const d = dg + p * kNR;
        const auto put = [d](int q, __m256 v) { _mm256_storeu_ps(d + q * kNR, v); };
        if (valid == 8) {
          transpose8x8(rows + p, ldb, put);
        } else if (valid > 0) {
          for (int64_t r = 0; r < valid; ++r) _mm256_store_ps(tile + 8 * r, _mm256_loadu_ps(rows + r * ldb + p));
          transpose8x8(tile, 8, put);
        } else {
          for (int q = 0; q < 8; ++q) put(q, _mm256_setzero_ps());
        }
      }
      for (; p < kc; ++p)
        for (int64_t jj = 0; jj < 8; ++jj) dg[p * kNR + jj] = jj < valid ? rows[jj * ldb + p] : 0.0f;
    }
  }
}

}  // namespace

const Kernels& kernels_avx512() {
  // Batch 1 (m = 1, NT) uses the AVX2 dot products: that path is bound by reading the weights.
  static const Kernels k{"avx512",    kBlockingAvx512, &kernel<12, 2, false>, &kernel<12, 2, true>,
                         &pack_a<12>, &pack_b<2>,      &gemv_nt_avx512};
  return k;
}

const Kernels& kernels_avx512_tall() {
  static const Kernels k{"avx512",    kBlockingAvx512Tall, &tall_kernel<false>, &tall_kernel<true>,
                         &pack_a<16>, &pack_b<1>,          &gemv_nt_avx512};
  return k;
}

const Kernels& kernels_avx512_narrow() {
  static const Kernels k{"avx512",    kBlockingAvx512Narrow, &kernel<16, 1, false>, &kernel<16, 1, true>,
                         &pack_a<16>, &pack_b<1>,            &gemv_nt_avx512};
  return k;
}

}  // namespace gemm
}  // namespace tg
