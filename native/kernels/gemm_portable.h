// Portable C++ shared by the kernels without SIMD code for these steps (the scalar and NEON
// kernels), parameterised by their register tile: packing (see PackA and PackB in
// gemm_blocking.h), the store step of a tile, and the loop over a millikernel's row panels.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "gemm_blocking.h"

namespace tg {
namespace gemm {
namespace portable {

template <int MR>
void pack_a(bool trans, const float* a, int64_t lda, int64_t mc, int64_t kc, float* dst) {
  for (int64_t i0 = 0; i0 < mc; i0 += MR, dst += MR * kc) {
    const int64_t mr = mc - i0 < MR ? mc - i0 : MR;
    if (trans && mr == MR) {  // rows of A^T: MR adjacent floats per p
      for (int64_t p = 0; p < kc; ++p) std::memcpy(dst + p * MR, a + p * lda + i0, sizeof(float) * MR);
      continue;
    }
    for (int64_t p = 0; p < kc; ++p)
      for (int64_t i = 0; i < MR; ++i)
        dst[p * MR + i] = i < mr ? (trans ? a[p * lda + i0 + i] : a[(i0 + i) * lda + p]) : 0.0f;
  }
}

template <int NR>
void pack_b(bool trans, const float* b, int64_t ldb, int64_t kc, int64_t nc, float* dst) {
  for (int64_t j0 = 0; j0 < nc; j0 += NR, dst += NR * kc) {
    const int64_t nr = nc - j0 < NR ? nc - j0 : NR;
    if (!trans && nr == NR) {
      for (int64_t p = 0; p < kc; ++p) std::memcpy(dst + p * NR, b + p * ldb + j0, sizeof(float) * NR);
      continue;
    }
    for (int64_t p = 0; p < kc; ++p)
      for (int64_t j = 0; j < NR; ++j)
        dst[p * NR + j] = j < nr ? (trans ? b[(j0 + j) * ldb + p] : b[p * ldb + j0 + j]) : 0.0f;
  }
}

// The store step (see Tile) for the first rows x cols of an MR x NR tile of sums `acc`. kFma:
// beta·c + x as one fused multiply-add, as the FMA kernels (AVX2, AVX-512, NEON) do; otherwise
// rounded separately, as the scalar kernel does.
template <bool kFma, int MR, int NR>
void store_tile(const float (&acc)[MR][NR], int rows, int cols, float* c, int64_t ldc, const Tile& t) {
  const bool readc = !t.first || t.beta != 0.0f;
  const float beta = t.first ? t.beta : 1.0f;
  for (int i = 0; i < rows; ++i) {
    float* cr = c + i * ldc;
    for (int j = 0; j < cols; ++j) {
      float v = acc[i][j];
      if (t.alpha != 1.0f) v *= t.alpha;
      if (readc) v = kFma ? std::fma(beta, cr[j], v) : beta * cr[j] + v;
      if (t.last) {
        if (t.bias) v += t.bias[j];
        if (t.relu && v < 0.0f) v = 0.0f;  // NaN stays NaN, -0 stays -0 (as max(0, x) in the SIMD kernels)
      }
      cr[j] = v;
    }
  }
}

// A MicroKernel from a one-tile function: tile(rows, cols, kc, a, a_s, b, b_ks, c, ldc, t) for each
// of the mp row panels, all rows but in the last.
template <int MR, void (*kTile)(int, int, int64_t, const float*, int64_t, const float*, int64_t, float*, int64_t,
                                 const Tile&)>
void panels(int64_t mp, int rows, int cols, int64_t kc, const float* a, int64_t a_ps, int64_t a_s, const float* b,
            int64_t b_ks, float* c, int64_t ldc, const Tile& t) {
  for (int64_t q = 0; q < mp; ++q)
    kTile(q + 1 < mp ? MR : rows, cols, kc, a + q * a_ps, a_s, b, b_ks, c + q * MR * ldc, ldc, t);
}

}  // namespace portable
}  // namespace gemm
}  // namespace tg
