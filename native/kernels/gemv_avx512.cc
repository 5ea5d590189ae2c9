// AVX-512 build of the few-row NT products (gemv_avx2.cc says why they exist): one zmm holds the
// two 8-lane accumulators of gemv_walk.h's order side by side (elements p..p+7 of each step of 16
// in lanes 0-7, p+8..p+15 in lanes 8-15), so every output has the AVX2 kernel's bits, and each
// 16 floats of a weight row cost one load instead of two. Reached only through
// kernels_avx512().gemv_nt.
//
// Only for weights whose rows start on 64-byte boundaries (the library aligns the arrays it
// allocates: src/shape.ts); others go to the AVX2 kernel, as a zmm load that straddles two cache
// lines costs two. Measured on the Intel VM (Xeon, AVX-512), 784-512-256-10 forward at batch 1,
// aligned weights, both kernels alternating in one process: 1 thread 36.0 -> 31.7 us, 2 threads
// 15.4 -> 13.9 us; batch 4, both in pairs of rows: 94 -> 76 us and 38 -> 30 us. A 512x784 weight alone, resident in L2:
// 17.4 -> 15.4 us (1 thread), 9.7 -> 8.2 us (2); unaligned rows with zmm loads: 22.7 us.
// No software prefetch here, unlike the AVX2 kernel: on aligned rows it cost 3-20% (2 threads:
// 8.2 -> 9.9 us).
// GCC 12 warns inside its own AVX-512 intrinsics: see elementwise_avx512.cc.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
// GCC 12's SLP vectorizer, let loose on the intrinsics, kept one of the four-row block's vectors on
// the stack (four FMAs a step took a memory operand) with half the zmm registers free. Nothing here
// is left for the vectorizer to do.
#pragma GCC optimize("no-tree-vectorize")
#include <immintrin.h>

#include <cstdint>

#include "gemm_blocking.h"
#include "gemv_walk.h"
#include "simd_avx512.h"

namespace tg {
namespace gemm {
namespace {

using avx512::tail16;

// As in gemv_avx2.cc: keeps a vector shared by several FMAs in a register instead of letting GCC
// fold its load into each of them.
inline void in_register(__m512& v) { asm("" : "+v"(v)); }

// Elements [p, k) of a row (0 < k - p < 16) where gemv_walk.h's order puts them: when 8 or more
// remain, all in lanes from 0 (the whole 8 join the first accumulator, the rest the second);
// fewer, in lanes from 8 (the second accumulator only). Other lanes are zero, and the FMA that
// takes them is masked to the loaded lanes, so the accumulators are exactly AVX2's.
inline __m512 tail_load(const float* row, int64_t p, int64_t rem) {
  if (rem >= 8) return _mm512_maskz_loadu_ps(tail16(rem), row + p);
  return _mm512_insertf32x8(_mm512_setzero_ps(), _mm256_maskz_loadu_ps(static_cast<__mmask8>(tail16(rem)), row + p), 1);
}
inline __mmask16 tail_lanes(int64_t rem) { return rem >= 8 ? tail16(rem) : static_cast<__mmask16>(tail16(rem) << 8); }

struct Avx512 {
  // Four weight rows per block for every group of rows: four rows of A (16 accumulators of the 32
  // zmm registers, so a weight row is read once for four rows of A), two, or one. Measured on the
  // Intel VM, 784-512-256-10 forward: groups of four against pairs only, batch 4 75.1 -> 54.6 us on
  // 1 thread (the weights, a little over L2, are streamed once instead of twice) and 30.1 -> 26.4
  // on 2; batch 5 91 -> 83, batch 6 99 -> 91. Four weight rows against two for a pair: batch 2/4/6
  // on 2 threads 16.6/28.1/41.2 against 18.1/32.4/48.1 us; eight for a single row: the same.
  static constexpr int kQuadW = 4;
  static constexpr int kPairW = 4;
  static constexpr int kSingleW = 4;

  template <int XR, int WR>
  __attribute__((always_inline)) static inline void block(int64_t j, int64_t k, float alpha, const float* const* x,
                                                          const float* B, int64_t ldb, float beta, float* const* y,
                                                          const float* bias, bool relu) {
    const int64_t k16 = k / 16 * 16;
    const float* b[WR];
    for (int r = 0; r < WR; ++r) b[r] = B + (j + r) * ldb;
    __m512 acc[XR][WR];
    for (int i = 0; i < XR; ++i)
      for (int r = 0; r < WR; ++r) acc[i][r] = _mm512_setzero_ps();
    for (int64_t p = 0; p < k16; p += 16) {
      __m512 xv[XR];
      for (int i = 0; i < XR; ++i) {
        xv[i] = _mm512_loadu_ps(x[i] + p);
        if (XR > 1) in_register(xv[i]);
      }
      for (int r = 0; r < WR; ++r) {
        __m512 w = _mm512_loadu_ps(b[r] + p);
        if (XR > 1) in_register(w);
        for (int i = 0; i < XR; ++i) acc[i][r] = _mm512_fmadd_ps(xv[i], w, acc[i][r]);
      }
    }
    if (const int64_t rem = k - k16) {
      const __mmask16 lanes = tail_lanes(rem);
      for (int r = 0; r < WR; ++r) {
        const __m512 w = tail_load(b[r], k16, rem);
        for (int i = 0; i < XR; ++i) acc[i][r] = _mm512_mask3_fmadd_ps(tail_load(x[i], k16, rem), w, acc[i][r], lanes);
      }
    }
    for (int i = 0; i < XR; ++i)
      for (int r = 0; r < WR; ++r) {
        const __m256 sum = _mm256_add_ps(_mm512_castps512_ps256(acc[i][r]), _mm512_extractf32x8_ps(acc[i][r], 1));
        y[i][j + r] = gemv_finish(gemv_hsum(sum), alpha, beta, y[i] + j + r, bias, j + r, relu);
      }
  }
};

}  // namespace

void gemv_nt_avx512(int64_t m, int64_t j0, int64_t j1, int64_t k, float alpha, const float* A, int64_t lda,
                    const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* bias, bool relu,
                    bool descending) {
  if ((reinterpret_cast<uintptr_t>(B) | static_cast<uintptr_t>(ldb) * sizeof(float)) % 64 != 0) {
    gemv_nt_avx2(m, j0, j1, k, alpha, A, lda, B, ldb, beta, C, ldc, bias, relu, descending);
    return;
  }
  gemv_rows<Avx512>(m, j0, j1, k, alpha, A, lda, B, ldb, beta, C, ldc, bias, relu, descending);
}

}  // namespace gemm
}  // namespace tg
