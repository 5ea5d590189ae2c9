// AVX-512 GEMM microkernel (12x32: 24 zmm accumulators, two B vectors and a broadcast, 27 of
// the 32 registers) and its packing. Compiled with -mavx512f -mavx512bw -mavx512dq -mavx512vl
// (see CMakeLists.txt) and reached only through kernels_avx512(), in the AVX-512 table
// (isa_avx512.cc), which cpu.cc makes active only when the CPU and OS support AVX-512.
//
// Written with intrinsics: with 32 vector registers GCC keeps every accumulator in a register
// (unlike the 16-register AVX2 kernel, whose k loop is inline assembly), so ASan builds run this
// same code. The driver (gemm.cc) is shared with the other ISAs: same blocking logic, same
// threading split, so results are bitwise identical for any thread count here too. Every element
// of C is one FMA chain over k, as in the AVX2 kernel, so the two ISAs agree to the last bit
// except where the K blocking differs (it does not: kc is the same).
// GCC 12 warns "'__Y' may be used uninitialized" inside its own AVX-512 headers, where
// _mm512_max_ps passes _mm512_undefined_ps() as the unused merge source: a false positive.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstring>

#include "gemm_blocking.h"
#include "simd_avx2.h"

namespace tg {
namespace gemm {
namespace {

constexpr int MR = kBlockingAvx512.mr;
constexpr int NR = kBlockingAvx512.nr;
static_assert(MR == 12 && NR == 32, "the AVX-512 microkernel is written for 12x32");

using avx2::transpose8x8;

// How the store step combines the accumulators with C (as in gemm_kernel_avx2.cc).
enum StoreKind { kPlain, kAccumulate, kGeneral };

struct StoreParams {
  __m512 alpha, beta, bias0, bias1;
  __mmask16 m0, m1;  // valid columns of the two 16-lane halves
  bool scale, readc, bias, relu;
};

template <StoreKind kKind, bool kMasked>
inline __attribute__((always_inline)) void store_row(float* cr, __m512 x0, __m512 x1, const StoreParams& sp) {
  if (kKind == kAccumulate || (kKind == kGeneral && sp.readc)) {
    const __m512 o0 = kMasked ? _mm512_maskz_loadu_ps(sp.m0, cr) : _mm512_loadu_ps(cr);
    const __m512 o1 = kMasked ? _mm512_maskz_loadu_ps(sp.m1, cr + 16) : _mm512_loadu_ps(cr + 16);
    if (kKind == kAccumulate) {
      x0 = _mm512_add_ps(o0, x0);
      x1 = _mm512_add_ps(o1, x1);
    } else {
      if (sp.scale) {
        x0 = _mm512_mul_ps(x0, sp.alpha);
        x1 = _mm512_mul_ps(x1, sp.alpha);
      }
      x0 = _mm512_fmadd_ps(sp.beta, o0, x0);
      x1 = _mm512_fmadd_ps(sp.beta, o1, x1);
    }
  } else if (kKind == kGeneral && sp.scale) {
    x0 = _mm512_mul_ps(x0, sp.alpha);
    x1 = _mm512_mul_ps(x1, sp.alpha);
  }
  if (kKind == kGeneral) {
    if (sp.bias) {
      x0 = _mm512_add_ps(x0, sp.bias0);
      x1 = _mm512_add_ps(x1, sp.bias1);
    }
    if (sp.relu) {  // max(0, x) returns x when x is NaN (the second operand)
      x0 = _mm512_max_ps(_mm512_setzero_ps(), x0);
      x1 = _mm512_max_ps(_mm512_setzero_ps(), x1);
    }
  }
  if (kMasked) {
    _mm512_mask_storeu_ps(cr, sp.m0, x0);
    _mm512_mask_storeu_ps(cr + 16, sp.m1, x1);
  } else {
    _mm512_storeu_ps(cr, x0);
    _mm512_storeu_ps(cr + 16, x1);
  }
}

// The millikernel: mp row panels of 12 against one 32-column B micro-panel. Panel q reads
// a + q*a_ps; within it a(i, p) is a[p*a_s + i] (kRows false) or a[i*a_s + p] (kRows true). Only
// the first `rows` rows of the last panel are stored, and the columns the masks allow.
template <bool kRows, StoreKind kKind, bool kMasked>
void milli(int64_t mp, int rows, int64_t kc, const float* a, int64_t a_ps, int64_t as, const float* b, int64_t bs,
           float* c, int64_t ldc, const StoreParams& sp) {
  for (int64_t q = 0; q < mp; ++q, a += a_ps, c += MR * ldc) {
    if (kKind == kAccumulate || (kKind == kGeneral && sp.readc)) {
      const int nrows = q + 1 < mp ? MR : rows;
      for (int r = 0; r < nrows; ++r) {
        _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 31), _MM_HINT_T0);
      }
    }
    __m512 acc[MR][2];
    for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int64_t p = 0; p < kc; ++p) {
      const float* bp = b + p * bs;
      const __m512 b0 = _mm512_loadu_ps(bp);
      const __m512 b1 = _mm512_loadu_ps(bp + 16);
#pragma GCC unroll 12
      for (int i = 0; i < MR; ++i) {
        const __m512 av = _mm512_set1_ps(kRows ? a[i * as + p] : a[p * as + i]);
        acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
        acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
      }
    }
    const int nrows = q + 1 < mp ? MR : rows;
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      if (i < nrows) store_row<kKind, kMasked>(c + i * ldc, acc[i][0], acc[i][1], sp);
    }
  }
}

template <bool kRows>
void kernel(int64_t mp, int rows, int cols, int64_t kc, const float* a, int64_t a_ps, int64_t a_s, const float* b,
            int64_t b_ks, float* c, int64_t ldc, const Tile& t) {
  StoreParams sp;
  sp.scale = t.alpha != 1.0f;
  sp.readc = !t.first || t.beta != 0.0f;
  sp.bias = t.last && t.bias != nullptr;
  sp.relu = t.last && t.relu;
  sp.alpha = _mm512_set1_ps(t.alpha);
  sp.beta = _mm512_set1_ps(t.first ? t.beta : 1.0f);
  const int lo = cols < 16 ? cols : 16, hi = cols > 16 ? cols - 16 : 0;
  sp.m0 = static_cast<__mmask16>((1u << lo) - 1u);
  sp.m1 = static_cast<__mmask16>((1u << hi) - 1u);
  const bool masked = cols < NR;
  sp.bias0 = sp.bias1 = _mm512_setzero_ps();
  if (sp.bias) {
    sp.bias0 = _mm512_maskz_loadu_ps(sp.m0, t.bias);
    sp.bias1 = _mm512_maskz_loadu_ps(sp.m1, t.bias + 16);
  }
  const bool extras = sp.scale || sp.bias || sp.relu;
  const StoreKind kind = extras || (sp.readc && t.first && t.beta != 1.0f) ? kGeneral : sp.readc ? kAccumulate : kPlain;
  if (masked) {
    switch (kind) {
      case kPlain: return milli<kRows, kPlain, true>(mp, rows, kc, a, a_ps, a_s, b, b_ks, c, ldc, sp);
      case kAccumulate: return milli<kRows, kAccumulate, true>(mp, rows, kc, a, a_ps, a_s, b, b_ks, c, ldc, sp);
      default: return milli<kRows, kGeneral, true>(mp, rows, kc, a, a_ps, a_s, b, b_ks, c, ldc, sp);
    }
  }
  switch (kind) {
    case kPlain: return milli<kRows, kPlain, false>(mp, rows, kc, a, a_ps, a_s, b, b_ks, c, ldc, sp);
    case kAccumulate: return milli<kRows, kAccumulate, false>(mp, rows, kc, a, a_ps, a_s, b, b_ks, c, ldc, sp);
    default: return milli<kRows, kGeneral, false>(mp, rows, kc, a, a_ps, a_s, b, b_ks, c, ldc, sp);
  }
}

// Packs op(A)[0..mc, 0..kc] into 12-row micro-panels: panel element (p, i) at p*12 + i.
void pack_a(bool trans, const float* a, int64_t lda, int64_t mc, int64_t kc, float* dst) {
  const __mmask16 m12 = 0x0FFF;
  for (int64_t i0 = 0; i0 < mc; i0 += MR, dst += MR * kc) {
    const int64_t mr = mc - i0 < MR ? mc - i0 : MR;
    if (mr < MR) {  // partial panel: zero it, then copy the rows there are
      std::memset(dst, 0, sizeof(float) * MR * kc);
      if (trans) {
        for (int64_t p = 0; p < kc; ++p)
          for (int64_t i = 0; i < mr; ++i) dst[p * MR + i] = a[p * lda + i0 + i];
      } else {
        for (int64_t i = 0; i < mr; ++i) {
          const float* src = a + (i0 + i) * lda;
          for (int64_t p = 0; p < kc; ++p) dst[p * MR + i] = src[p];
        }
      }
      continue;
    }
    if (trans) {  // twelve contiguous floats per k step
      const float* src = a + i0;
      for (int64_t p = 0; p < kc; ++p) _mm512_mask_storeu_ps(dst + p * MR, m12, _mm512_maskz_loadu_ps(m12, src + p * lda));
      continue;
    }
    // Twelve rows: rows 0-7 through the 8x8 transpose, rows 8-11 through 4x4 transposes, 8 (or
    // 4) k steps at a time.
    const float* src = a + i0 * lda;
    int64_t p = 0;
    for (; p + 8 <= kc; p += 8) {
      float* d = dst + p * MR;
      transpose8x8(src + p, lda, [d](int q, __m256 v) { _mm256_storeu_ps(d + q * MR, v); });
      for (int h = 0; h < 8; h += 4) {
        __m128 r0 = _mm_loadu_ps(src + 8 * lda + p + h), r1 = _mm_loadu_ps(src + 9 * lda + p + h);
        __m128 r2 = _mm_loadu_ps(src + 10 * lda + p + h), r3 = _mm_loadu_ps(src + 11 * lda + p + h);
        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
        _mm_storeu_ps(d + (h + 0) * MR + 8, r0);
        _mm_storeu_ps(d + (h + 1) * MR + 8, r1);
        _mm_storeu_ps(d + (h + 2) * MR + 8, r2);
        _mm_storeu_ps(d + (h + 3) * MR + 8, r3);
      }
    }
    for (; p < kc; ++p)
      for (int64_t i = 0; i < MR; ++i) dst[p * MR + i] = src[i * lda + p];
  }
}

// Packs op(B)[0..kc, 0..nc] into 32-column micro-panels: panel element (p, j) at p*32 + j, zeros
// past the last column.
void pack_b(bool trans, const float* b, int64_t ldb, int64_t kc, int64_t nc, float* dst) {
  for (int64_t j0 = 0; j0 < nc; j0 += NR, dst += NR * kc) {
    const int64_t nr = nc - j0 < NR ? nc - j0 : NR;
    if (!trans) {
      const int lo = nr < 16 ? static_cast<int>(nr) : 16, hi = nr > 16 ? static_cast<int>(nr) - 16 : 0;
      const __mmask16 m0 = static_cast<__mmask16>((1u << lo) - 1u), m1 = static_cast<__mmask16>((1u << hi) - 1u);
      const float* src = b + j0;
      for (int64_t p = 0; p < kc; ++p) {
        _mm512_storeu_ps(dst + p * NR, _mm512_maskz_loadu_ps(m0, src + p * ldb));
        _mm512_storeu_ps(dst + p * NR + 16, _mm512_maskz_loadu_ps(m1, src + p * ldb + 16));
      }
      continue;
    }
    // op(B)(p, j) = b[j*ldb + p]: groups of 8 rows of B through the 8x8 transpose, the rest one by one
    if (nr < NR) std::memset(dst, 0, sizeof(float) * NR * kc);
    const float* src = b + j0 * ldb;
    const int64_t full8 = nr / 8 * 8;
    for (int64_t g = 0; g < full8; g += 8) {
      int64_t p = 0;
      for (; p + 8 <= kc; p += 8) {
        float* d = dst + p * NR + g;
        transpose8x8(src + g * ldb + p, ldb, [d](int q, __m256 v) { _mm256_storeu_ps(d + q * NR, v); });
      }
      for (; p < kc; ++p)
        for (int64_t jj = 0; jj < 8; ++jj) dst[p * NR + g + jj] = src[(g + jj) * ldb + p];
    }
    for (int64_t j = full8; j < nr; ++j) {
      const float* row = src + j * ldb;
      for (int64_t p = 0; p < kc; ++p) dst[p * NR + j] = row[p];
    }
  }
}

}  // namespace

const Kernels& kernels_avx512() {
  // Batch 1 (m = 1, NT) uses the AVX2 dot products: that path is bound by reading the weights.
  static const Kernels k{"avx512", kBlockingAvx512, &kernel<false>, &kernel<true>, &pack_a, &pack_b, &gemv_nt_avx2};
  return k;
}

}  // namespace gemm
}  // namespace tg
