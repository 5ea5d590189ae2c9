// AVX-512 helpers of the *_avx512.cc kernels: tails as masks, float↔double halves, and the
// horizontal sums and maxima that reproduce the AVX2 kernels' fixed lane orders exactly (a double
// accumulator of 8 lanes is AVX2's two accumulators s0 | s1 side by side). Internal linkage only,
// as in simd_avx2.h.
#pragma once

#if !defined(__AVX512F__) || !defined(__AVX512DQ__)
#error "simd_avx512.h must only be included from *_avx512.cc files (compiled with -mavx512f -mavx512dq)"
#endif

#include <immintrin.h>

#include <cstdint>

#include "kernels/simd_avx2.h"

namespace tg {
namespace avx512 {
namespace {

// Lanes below rem (0..16) set.
inline __mmask16 tail16(int64_t rem) { return static_cast<__mmask16>((1u << rem) - 1u); }

// The valid lanes of a 16-lane part whose row has `left` elements from the part's start on: all
// of them when left >= 16, none when left <= 0.
inline __mmask16 part16(int64_t left) { return tail16(left < 0 ? 0 : left > 16 ? 16 : left); }

// Lanes 0..7 / 8..15 widened to double, and back.
inline __m512d lo8(__m512 v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
inline __m512d hi8(__m512 v) { return _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)); }
inline __m512 pack(__m512d lo, __m512d hi) {
  return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo)), _mm512_cvtpd_ps(hi), 1);
}

// AVX2's hsum(s0 + s1) of the accumulator s = s0 | s1.
inline double hsum(__m512d s) {
  return avx2::hsum(_mm256_add_pd(_mm512_castpd512_pd256(s), _mm512_extractf64x4_pd(s, 1)));
}

// Row max with `v > max` semantics (NaN skipped), visiting the lanes in AVX2's row_max order so
// that even the sign of a zero maximum is the same: its m0 | m1 over 16-blocks are one zmm here.
inline float row_max(const float* x, int64_t n, int64_t* done) {
  __m512 m = _mm512_set1_ps(-__builtin_inff());
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) m = _mm512_max_ps(_mm512_loadu_ps(x + i), m);
  __m256 m0 = _mm512_castps512_ps256(m);
  if (i + 8 <= n) {
    m0 = _mm256_max_ps(_mm256_loadu_ps(x + i), m0);
    i += 8;
  }
  m0 = _mm256_max_ps(m0, _mm512_extractf32x8_ps(m, 1));
  alignas(32) float l[8];
  _mm256_store_ps(l, m0);
  float mx = l[0];
  for (int k = 1; k < 8; k++)
    if (l[k] > mx) mx = l[k];
  *done = i;
  return mx;
}

}  // namespace
}  // namespace avx512
}  // namespace tg
