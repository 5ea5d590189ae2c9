// The sweep of ReduceKernels::relu_grad_sum_cols (dispatch.h), shared by every ISA's reduce file:
// row by row over blocks of up to 512 columns, each column one chain of double additions in row
// order (sum_cols's bits). `vec(g, y, gy, acc, w)` masks and accumulates the leading whole vectors
// of one row's w columns and returns how many it did; the rest take the scalar rule below.
//
// Row by row, not down 16-column strips as sum_cols goes: three arrays walked down their columns
// cost a page per row each, which the prefetchers do not follow (a 512x512 sweep took 3x as long).
//
// `static inline`: each translation unit compiles its own copy with its own -m flags (the trap
// vmath_avx2.h describes).
#pragma once

#include <cstdint>

namespace tg {

template <class Vec>
static inline void relu_grad_rows(const float* g, const float* y, float* gy, int64_t n, int64_t width, int64_t ld,
                                  float* out, Vec vec) {
  constexpr int64_t B = 512;
  alignas(64) double acc[B];
  for (int64_t j0 = 0; j0 < width; j0 += B) {
    const int64_t w = width - j0 < B ? width - j0 : B;
    for (int64_t j = 0; j < w; j++) acc[j] = 0.0;
    for (int64_t i = 0; i < n; i++) {
      const float* gr = g + i * ld + j0;
      const float* yr = y + i * ld + j0;
      float* dr = gy + i * ld + j0;
      // y <= 0 clears g; NaN compares false, so it passes g (unary_grad's relu, PyTorch's).
      for (int64_t j = vec(gr, yr, dr, acc, w); j < w; j++) {
        const float v = yr[j] <= 0.0f ? 0.0f : gr[j];
        dr[j] = v;
        acc[j] += v;
      }
    }
    for (int64_t j = 0; j < w; j++) out[j0 + j] = static_cast<float>(acc[j]);
  }
}

}  // namespace tg
