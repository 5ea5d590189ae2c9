// aarch64 NEON helpers shared by the *_neon.cc kernels: partial vectors at the end of a row,
// widening to double, horizontal reductions. Internal linkage throughout, as simd_avx2.h.
#pragma once

#if !defined(__aarch64__)
#error "simd_neon.h must only be included from *_neon.cc files (aarch64)"
#endif

#include <arm_neon.h>

#include <cstdint>

namespace tg {
namespace neon {
namespace {

// Lanes below rem (1..4) set: the mask of a loop's last, partial vector.
inline uint32x4_t tail_mask(int64_t rem) {
  const uint32_t idx[4] = {0, 1, 2, 3};
  return vcltq_u32(vld1q_u32(idx), vdupq_n_u32(static_cast<uint32_t>(rem)));
}

// The first rem (1..3) floats at p, the other lanes 0; and their store. NEON has no masked
// load/store, and reading past the end of a row may cross into an unmapped page.
inline float32x4_t load_tail(const float* p, int64_t rem) {
  float b[4] = {0, 0, 0, 0};
  for (int64_t k = 0; k < rem; k++) b[k] = p[k];
  return vld1q_f32(b);
}
inline void store_tail(float* p, int64_t rem, float32x4_t v) {
  float b[4];
  vst1q_f32(b, v);
  for (int64_t k = 0; k < rem; k++) p[k] = b[k];
}

// The low / high two lanes of v widened to double.
inline float64x2_t lo2(float32x4_t v) { return vcvt_f64_f32(vget_low_f32(v)); }
inline float64x2_t hi2(float32x4_t v) { return vcvt_high_f64_f32(v); }
// Four doubles narrowed back to one float vector.
inline float32x4_t pack(float64x2_t lo, float64x2_t hi) { return vcvt_high_f32_f64(vcvt_f32_f64(lo), hi); }

// (a0 + b0) + (a1 + b1): the kernels' fixed order for a pair of double accumulators.
inline double hsum(float64x2_t a, float64x2_t b) { return vaddvq_f64(vaddq_f64(a, b)); }

// v > m ? v : m per lane: a NaN v is skipped, as the scalar `if (x > max)`.
inline float32x4_t max_skip_nan(float32x4_t v, float32x4_t m) { return vbslq_f32(vcgtq_f32(v, m), v, m); }

// The lanes' max with `>` in lane order (NaN lanes never win).
inline float hmax(float32x4_t m) {
  float l[4];
  vst1q_f32(l, m);
  float mx = l[0];
  for (int k = 1; k < 4; k++)
    if (l[k] > mx) mx = l[k];
  return mx;
}

}  // namespace
}  // namespace neon
}  // namespace tg
