// The loop nest of the SIMD transposes: 32x32 tiles, so both sides stay in L1, cut into kB x kB
// register blocks (block(src, dst) transposes one), element copies at the ragged edges. Each ISA's
// elementwise file passes its own block; the template has internal linkage, as simd_avx2.h, so a
// copy compiled with one ISA's flags is never merged with another's.
#pragma once

#include <cstdint>

namespace tg {
namespace {

template <int64_t kB, class Block>
inline void transpose_tiles(const float* a, int64_t lda, float* b, int64_t ldb, int64_t rows, int64_t cols,
                            Block block) {
  constexpr int64_t T = 32;
  for (int64_t r0 = 0; r0 < rows; r0 += T) {
    const int64_t r1 = r0 + T < rows ? r0 + T : rows;
    for (int64_t c0 = 0; c0 < cols; c0 += T) {
      const int64_t c1 = c0 + T < cols ? c0 + T : cols;
      int64_t r = r0;
      for (; r + kB <= r1; r += kB) {
        int64_t c = c0;
        for (; c + kB <= c1; c += kB) block(a + r * lda + c, b + c * ldb + r);
        for (; c < c1; c++)
          for (int64_t rr = r; rr < r + kB; rr++) b[c * ldb + rr] = a[rr * lda + c];
      }
      for (; r < r1; r++)
        for (int64_t c = c0; c < c1; c++) b[c * ldb + r] = a[r * lda + c];
    }
  }
}

}  // namespace
}  // namespace tg
