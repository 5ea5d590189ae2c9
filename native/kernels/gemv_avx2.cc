// AVX2+FMA products of a few rows of A against a weight stored [out, in] (the NT form of a Linear
// layer at batch 1 to kGemvMaxRows): y[i][j] = act(alpha·dot(A[i,:], B[j,:]) + beta·y[i][j] + bias[j]).
// Reached only through kernels_avx2().gemv_nt, which sgemm uses for those products.
//
// Why not the packed GEMM: with so few rows every multiply-add uses a weight once or a few times,
// so the GEMM's packing of B (a transposed copy of every weight, written and read back) costs more
// than the products themselves, and its 12-row tiles compute mostly padding (784-512-256-10 at
// batch 2: 180 us on one thread of the Intel VM, against 42 at batch 1). Dot products over the
// weight rows in place read each weight row once per pair of rows of A, and are bounded by memory
// bandwidth instead.
//
// The summation order, the walk over outputs and the pairing of rows are in gemv_walk.h, shared
// with the AVX-512 kernel (gemv_avx512.cc), which gives the same bits.
#include <immintrin.h>

#include <cstdint>

#include "gemm_blocking.h"
#include "gemv_walk.h"
#include "simd_avx2.h"

namespace tg {
namespace gemm {
namespace {

using avx2::tail_mask;

// Pins a loaded vector to a register. GCC's generic tuning folds a load into each FMA that uses it,
// so a weight vector shared by two rows was loaded twice (12 loads per 8 FMAs in the 2x2 block
// where 8 will do); this empty asm makes the value a register operand. Measured on the Intel VM
// in a throwaway loop of the 2x2 block (784-long rows, 512 weight rows streaming from L2): 45 ->
// 57-60 GFLOP/s on one core, as GCC's code for -mtune=sapphirerapids. The bits are unchanged.
inline void in_register(__m256& v) { asm("" : "+x"(v)); }

struct Avx2 {
  // Two rows of A against two weight rows: eight accumulators, 14 of the 16 ymm registers.
  static constexpr int kQuadW = 0;
  static constexpr int kPairW = 2;
  static constexpr int kSingleW = 4;

  // Outputs j..j+WR-1 of XR rows of A (row i at x[i], its outputs at y[i]): each weight vector is
  // loaded once for the XR rows, each row's vector once for the WR weight rows.
  template <int XR, int WR>
  __attribute__((always_inline)) static inline void block(int64_t j, int64_t k, float alpha, const float* const* x,
                                                          const float* B, int64_t ldb, float beta, float* const* y,
                                                          const float* bias, bool relu) {
    const int64_t k16 = k / 16 * 16, k8 = k / 8 * 8;
    const __m256i mask = tail_mask(k - k8);
    const float* b[WR];
    for (int r = 0; r < WR; ++r) b[r] = B + (j + r) * ldb;
    __m256 a[XR][WR], c[XR][WR];
    for (int i = 0; i < XR; ++i)
      for (int r = 0; r < WR; ++r) a[i][r] = c[i][r] = _mm256_setzero_ps();
    int64_t p = 0;
    for (; p < k16; p += 16) {
      __m256 xa[XR], xb[XR];
      for (int i = 0; i < XR; ++i) {
        xa[i] = _mm256_loadu_ps(x[i] + p);
        xb[i] = _mm256_loadu_ps(x[i] + p + 8);
        if (XR > 1) {
          in_register(xa[i]);
          in_register(xb[i]);
        }
      }
      // Four lines ahead in each weight row: four rows (and x) are more streams than the L1
      // prefetcher follows well. Measured, 512x784 at batch 1 on one thread: 21.9 -> 16.6 us; two
      // threads 12.0 -> 8.7 us. (An AVX-512 version sharing each x load among eight rows measured
      // no faster.)
      for (int r = 0; r < WR; ++r) _mm_prefetch(reinterpret_cast<const char*>(b[r] + p + 64), _MM_HINT_T0);
      for (int r = 0; r < WR; ++r) {
        __m256 wa = _mm256_loadu_ps(b[r] + p), wb = _mm256_loadu_ps(b[r] + p + 8);
        if (XR > 1) {
          in_register(wa);
          in_register(wb);
        }
        for (int i = 0; i < XR; ++i) {
          a[i][r] = _mm256_fmadd_ps(xa[i], wa, a[i][r]);
          c[i][r] = _mm256_fmadd_ps(xb[i], wb, c[i][r]);
        }
      }
    }
    if (p < k8) {
      for (int r = 0; r < WR; ++r) {
        const __m256 wa = _mm256_loadu_ps(b[r] + p);
        for (int i = 0; i < XR; ++i) a[i][r] = _mm256_fmadd_ps(_mm256_loadu_ps(x[i] + p), wa, a[i][r]);
      }
      p += 8;
    }
    if (p < k) {
      for (int r = 0; r < WR; ++r) {
        const __m256 wc = _mm256_maskload_ps(b[r] + p, mask);
        for (int i = 0; i < XR; ++i) c[i][r] = _mm256_fmadd_ps(_mm256_maskload_ps(x[i] + p, mask), wc, c[i][r]);
      }
    }
    for (int i = 0; i < XR; ++i)
      for (int r = 0; r < WR; ++r)
        y[i][j + r] = gemv_finish(gemv_hsum(_mm256_add_ps(a[i][r], c[i][r])), alpha, beta, y[i] + j + r, bias, j + r, relu);
  }
};

}  // namespace

void gemv_nt_avx2(int64_t m, int64_t j0, int64_t j1, int64_t k, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* bias, bool relu,
                  bool descending) {
  gemv_rows<Avx2>(m, j0, j1, k, alpha, A, lda, B, ldb, beta, C, ldc, bias, relu, descending);
}

}  // namespace gemm
}  // namespace tg
