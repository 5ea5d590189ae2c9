// Packing in portable C++ for the kernels that have no SIMD packing of their own (the scalar and
// NEON kernels), parameterised by their register tile (see PackA and PackB in gemm_blocking.h).
#pragma once

#include <cstdint>
#include <cstring>

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

}  // namespace portable
}  // namespace gemm
}  // namespace tg
