// The part of the few-row NT products (gemv_avx2.cc, gemv_avx512.cc) that is the same for every
// instruction set: the order outputs are visited in, the store step, and the pairing of rows of A.
// Each of those files defines an Isa type with
//   template <int XR, int WR> static void block(j, k, alpha, x, B, ldb, beta, y, bias, relu)
// (outputs j..j+WR-1 of the XR rows x[0..XR-1] of A, written to y[i][j..]) and the weight rows
// per block it wants with four rows of A (kQuadW; 0: no groups of four), two (kPairW) and one
// (kSingleW), and instantiates
// gemv_rows<Isa>. Internal linkage only, as in simd_avx2.h (each includer has its own ISA flags).
//
// Every y[i][j] is summed in one fixed order whatever the ISA: two 8-lane accumulators over k in
// steps of 16 (elements p..p+7 of each step into the first, p+8..p+15 into the second), the last
// whole 8 elements into the first, the final 1-7 into the second, then hsum(first + second). So
// the AVX2 and AVX-512 kernels give the same bits, a split of j over threads changes nothing, and
// a row of a product with a few rows has the bits it has alone (batch 1).
#pragma once

#include <immintrin.h>

#include <cstdint>

#if !defined(__AVX2__) || !defined(__FMA__)
#error "gemv_walk.h must only be included from *_avx2.cc / *_avx512.cc files"
#endif

namespace tg {
namespace gemm {
namespace {

// Lanes (0+4, 1+5, 2+6, 3+7), then (0+2, 1+3), then 0+1: the same tree for every output.
inline float gemv_hsum(__m256 v) {
  const __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 b = _mm_add_ps(a, _mm_movehl_ps(a, a));
  return _mm_cvtss_f32(_mm_add_ss(b, _mm_movehdup_ps(b)));
}

inline float gemv_finish(float dot, float alpha, float beta, const float* yj, const float* bias, int64_t j, bool relu) {
  float v = alpha * dot;
  if (beta != 0.0f) v += beta * *yj;
  if (bias) v += bias[j];
  if (relu && v < 0.0f) v = 0.0f;
  return v;
}

// Each walk is a function of its own, with its blocks inlined (their loops over rows then unroll
// and the accumulators stay in registers): inlined together into one function, or with a block
// called out of line, GCC spilled accumulators to the stack and batch 1 ran 20-50% slower.
template <class Isa, int XR, int WR>
__attribute__((noinline)) void gemv_walk(int64_t j0, int64_t j1, int64_t k, float alpha, const float* const* x,
                                         const float* B, int64_t ldb, float beta, float* const* y, const float* bias,
                                         bool relu, bool descending) {
  const int64_t blocks_end = j0 + (j1 - j0) / WR * WR;
  if (!descending) {
    for (int64_t j = j0; j < blocks_end; j += WR) Isa::template block<XR, WR>(j, k, alpha, x, B, ldb, beta, y, bias, relu);
    for (int64_t j = blocks_end; j < j1; ++j) Isa::template block<XR, 1>(j, k, alpha, x, B, ldb, beta, y, bias, relu);
  } else {
    for (int64_t j = j1 - 1; j >= blocks_end; --j) Isa::template block<XR, 1>(j, k, alpha, x, B, ldb, beta, y, bias, relu);
    for (int64_t j = blocks_end - WR; j >= j0; j -= WR) Isa::template block<XR, WR>(j, k, alpha, x, B, ldb, beta, y, bias, relu);
  }
}

// The GemvNT entry (gemm_blocking.h) for one Isa.
template <class Isa>
void gemv_rows(int64_t m, int64_t j0, int64_t j1, int64_t k, float alpha, const float* A, int64_t lda, const float* B,
               int64_t ldb, float beta, float* C, int64_t ldc, const float* bias, bool relu, bool descending) {
  int64_t i = 0;
  // Rows in groups of four where the ISA has the registers, then pairs, each pass over the weights
  // walking the other way from the one before, starting on the rows just read.
  if constexpr (Isa::kQuadW > 0) {
    for (; i + 4 <= m; i += 4, descending = !descending) {
      const float* x[4] = {A + i * lda, A + (i + 1) * lda, A + (i + 2) * lda, A + (i + 3) * lda};
      float* y[4] = {C + i * ldc, C + (i + 1) * ldc, C + (i + 2) * ldc, C + (i + 3) * ldc};
      gemv_walk<Isa, 4, Isa::kQuadW>(j0, j1, k, alpha, x, B, ldb, beta, y, bias, relu, descending);
    }
  }
  for (; i + 2 <= m; i += 2, descending = !descending) {
    const float* x[2] = {A + i * lda, A + (i + 1) * lda};
    float* y[2] = {C + i * ldc, C + (i + 1) * ldc};
    gemv_walk<Isa, 2, Isa::kPairW>(j0, j1, k, alpha, x, B, ldb, beta, y, bias, relu, descending);
  }
  if (i < m) {
    const float* x[1] = {A + i * lda};
    float* y[1] = {C + i * ldc};
    gemv_walk<Isa, 1, Isa::kSingleW>(j0, j1, k, alpha, x, B, ldb, beta, y, bias, relu, descending);
  }
}

}  // namespace
}  // namespace gemm
}  // namespace tg
