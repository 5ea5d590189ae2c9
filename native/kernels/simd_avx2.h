// AVX2 helpers shared by the kernels of every ISA from AVX2 up (tails, widening, horizontal sums,
// the 8x8 transpose). Include only from translation units compiled with -mavx2 -mfma: as in
// vmath_avx2.h, everything here has internal linkage, so no AVX2-encoded copy can be merged with a
// baseline one by the linker.
#pragma once

#if !defined(__AVX2__) || !defined(__FMA__)
#error "simd_avx2.h must only be included from *_avx2.cc / *_avx512.cc files (compiled with -mavx2 -mfma)"
#endif

#include <immintrin.h>

#include <cstdint>

namespace tg {
namespace avx2 {
namespace {

// Lanes below rem (1..8) set: the mask of a loop's last, partial vector.
inline __m256i tail_mask(int64_t rem) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(rem)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Four floats widened to double: loaded from p, or the low / high half of v.
inline __m256d ld4(const float* p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); }
inline __m256d lo4(__m256 v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
inline __m256d hi4(__m256 v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }

// (v0 + v2) + (v1 + v3): the kernels' fixed order for a double accumulator's lanes.
inline double hsum(__m256d v) {
  const __m128d a = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(a, _mm_unpackhi_pd(a, a)));
}

// In-register transpose of the 8x8 block whose rows are r0..r7 (rows given as two 128-bit halves
// already paired: rK holds row K in the low lane and row K+4 in the high lane).
inline void transpose_paired(__m256& r0, __m256& r1, __m256& r2, __m256& r3) {
  // r0 = [a0..a3 | e0..e3], r1 = [b0..b3 | f0..f3], r2 = [c.. | g..], r3 = [d.. | h..]
  const __m256 t0 = _mm256_unpacklo_ps(r0, r1);  // a0 b0 a1 b1 | e0 f0 e1 f1
  const __m256 t1 = _mm256_unpackhi_ps(r0, r1);  // a2 b2 a3 b3 | e2 f2 e3 f3
  const __m256 t2 = _mm256_unpacklo_ps(r2, r3);  // c0 d0 c1 d1 | g0 h0 g1 h1
  const __m256 t3 = _mm256_unpackhi_ps(r2, r3);  // c2 d2 c3 d3 | g2 h2 g3 h3
  r0 = _mm256_shuffle_ps(t0, t2, 0x44);          // a0 b0 c0 d0 | e0 f0 g0 h0
  r1 = _mm256_shuffle_ps(t0, t2, 0xEE);          // a1 b1 c1 d1 | e1 f1 g1 h1
  r2 = _mm256_shuffle_ps(t1, t3, 0x44);          // a2 .. | e2 ..
  r3 = _mm256_shuffle_ps(t1, t3, 0xEE);          // a3 .. | e3 ..
}

inline __m256 load_pair(const float* lo, const float* hi) {
  return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(lo)), _mm_loadu_ps(hi), 1);
}

// Transposes the 8x8 block src[r*ld + q] (r, q < 8) and hands column q (8 values, one per row)
// to out(q, vector).
template <class Out>
inline void transpose8x8(const float* src, int64_t ld, Out out) {
  const float* s0 = src;
  const float* s1 = src + ld;
  const float* s2 = src + 2 * ld;
  const float* s3 = src + 3 * ld;
  const float* s4 = src + 4 * ld;
  const float* s5 = src + 5 * ld;
  const float* s6 = src + 6 * ld;
  const float* s7 = src + 7 * ld;
  // Columns 0..3: low halves of the rows; columns 4..7: high halves.
  __m256 r0 = load_pair(s0, s4), r1 = load_pair(s1, s5), r2 = load_pair(s2, s6), r3 = load_pair(s3, s7);
  __m256 q0 = load_pair(s0 + 4, s4 + 4), q1 = load_pair(s1 + 4, s5 + 4), q2 = load_pair(s2 + 4, s6 + 4),
         q3 = load_pair(s3 + 4, s7 + 4);
  transpose_paired(r0, r1, r2, r3);
  transpose_paired(q0, q1, q2, q3);
  out(0, r0);
  out(1, r1);
  out(2, r2);
  out(3, r3);
  out(4, q0);
  out(5, q1);
  out(6, q2);
  out(7, q3);
}

}  // namespace
}  // namespace avx2
}  // namespace tg
