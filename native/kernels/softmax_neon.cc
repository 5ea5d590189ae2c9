// aarch64 NEON softmax / log-softmax and their backward: the NEON table's (kernels/dispatch.h).
// A port of softmax_avx2.cc, 4 lanes at a time (4 columns when inner > 1).
#include <arm_neon.h>

#include <cmath>
#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/simd_neon.h"
#include "kernels/vmath_neon.h"
#include "kernels/log_count.h"

namespace tg {
namespace neon {
namespace {

using vmn::exp_diff;

// Loads/stores of 4 lanes: plain when all lanes exist, through a padded copy otherwise.
template <bool kFull>
inline float32x4_t ld(const float* p, int64_t rem) {
  return kFull ? vld1q_f32(p) : load_tail(p, rem);
}
template <bool kFull>
inline void st(float* p, int64_t rem, float32x4_t v) {
  if (kFull) vst1q_f32(p, v);
  else store_tail(p, rem, v);
}

// Row max with `v > max` semantics: NaN entries are skipped, as in softmax.ts.
float row_max(const float* x, int64_t n) {
  float32x4_t m0 = vdupq_n_f32(-__builtin_inff()), m1 = m0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    m0 = max_skip_nan(vld1q_f32(x + i), m0);
    m1 = max_skip_nan(vld1q_f32(x + i + 4), m1);
  }
  for (; i + 4 <= n; i += 4) m0 = max_skip_nan(vld1q_f32(x + i), m0);
  float mx = hmax(max_skip_nan(m1, m0));
  for (; i < n; i++)
    if (x[i] > mx) mx = x[i];
  return mx;
}

// log Σ from the count of terms equal to the max (exactly 1 each) and the sum of the others, so it
// keeps full relative precision (see softmax.h).
inline double log_sum(float mx, double ones, double rest) {
  return mx == __builtin_inff() ? __builtin_nan("") : log_count(ones) + std::log1p(rest / ones);
}

void softmax_row(const float* x, int64_t n, float* out, bool log) {
  const float mx = row_max(x, n);
  const float32x4_t negm = vdupq_n_f32(-mx), vmx = vdupq_n_f32(mx);
  float64x2_t s0 = vdupq_n_f64(0.0), s1 = s0, o0 = s0, o1 = s0;
  const int64_t full = n & ~int64_t(3), rem = n - full;
  if (!log) {
    // exp(x - max) into out, summed in double; then one scaling pass.
    auto step = [&](float32x4_t e) {
      s0 = vaddq_f64(s0, lo2(e));
      s1 = vaddq_f64(s1, hi2(e));
    };
    for (int64_t i = 0; i < full; i += 4) {
      const float32x4_t e = exp_diff(vld1q_f32(x + i), negm);
      vst1q_f32(out + i, e);
      step(e);
    }
    if (rem) {
      const float32x4_t e = vmn::vand(tail_mask(rem), exp_diff(load_tail(x + full, rem), negm));
      store_tail(out + full, rem, e);
      step(e);
    }
    const float32x4_t inv = vdupq_n_f32(static_cast<float>(1.0 / hsum(s0, s1)));
    for (int64_t i = 0; i < full; i += 4) vst1q_f32(out + i, vmulq_f32(vld1q_f32(out + i), inv));
    if (rem) store_tail(out + full, rem, vmulq_f32(load_tail(out + full, rem), inv));
    return;
  }
  // out = (x - max) - log Σ in double.
  auto step = [&](float32x4_t v, uint32x4_t live) {
    const uint32x4_t eq = vandq_u32(vceqq_f32(v, vmx), live);
    const float32x4_t e = vmn::vand(vbicq_u32(live, eq), exp_diff(v, negm));
    const float32x4_t one = vmn::vand(eq, vdupq_n_f32(1.0f));
    s0 = vaddq_f64(s0, lo2(e));
    s1 = vaddq_f64(s1, hi2(e));
    o0 = vaddq_f64(o0, lo2(one));
    o1 = vaddq_f64(o1, hi2(one));
  };
  for (int64_t i = 0; i < full; i += 4) step(vld1q_f32(x + i), vdupq_n_u32(~0u));
  if (rem) step(load_tail(x + full, rem), tail_mask(rem));
  const double logs = log_sum(mx, hsum(o0, o1), hsum(s0, s1));
  const float64x2_t vl = vdupq_n_f64(logs), vmd = vdupq_n_f64(double(mx));
  int64_t i = 0;
  for (; i < full; i += 4) {
    const float32x4_t v = vld1q_f32(x + i);
    vst1q_f32(out + i, pack(vsubq_f64(vsubq_f64(lo2(v), vmd), vl), vsubq_f64(vsubq_f64(hi2(v), vmd), vl)));
  }
  for (; i < n; i++) out[i] = static_cast<float>((double(x[i]) - double(mx)) - logs);
}

// 4 columns (lanes) of x viewed as [n rows, stride inner]; rem of them exist when !kFull.
template <bool kFull>
void softmax_cols(const float* x, int64_t n, int64_t inner, float* out, bool log, int64_t rem) {
  float32x4_t mx = vdupq_n_f32(-__builtin_inff());
  for (int64_t i = 0; i < n; i++) mx = max_skip_nan(ld<kFull>(x + i * inner, rem), mx);
  const float32x4_t negm = vnegq_f32(mx);
  float64x2_t s0 = vdupq_n_f64(0.0), s1 = s0;
  if (!log) {
    for (int64_t i = 0; i < n; i++) {
      const float32x4_t e = exp_diff(ld<kFull>(x + i * inner, rem), negm);
      st<kFull>(out + i * inner, rem, e);
      s0 = vaddq_f64(s0, lo2(e));
      s1 = vaddq_f64(s1, hi2(e));
    }
    const float64x2_t one = vdupq_n_f64(1.0);
    const float32x4_t inv = pack(vdivq_f64(one, s0), vdivq_f64(one, s1));
    for (int64_t i = 0; i < n; i++) {
      float* q = out + i * inner;
      st<kFull>(q, rem, vmulq_f32(ld<kFull>(q, rem), inv));
    }
    return;
  }
  float64x2_t o0 = vdupq_n_f64(0.0), o1 = o0;
  for (int64_t i = 0; i < n; i++) {
    const float32x4_t v = ld<kFull>(x + i * inner, rem);
    const uint32x4_t eq = vceqq_f32(v, mx);
    const float32x4_t e = vmn::vand(vmvnq_u32(eq), exp_diff(v, negm));
    const float32x4_t one = vmn::vand(eq, vdupq_n_f32(1.0f));
    s0 = vaddq_f64(s0, lo2(e));
    s1 = vaddq_f64(s1, hi2(e));
    o0 = vaddq_f64(o0, lo2(one));
    o1 = vaddq_f64(o1, hi2(one));
  }
  double s[4], ones[4];
  float mf[4];
  vst1q_f64(s, s0);
  vst1q_f64(s + 2, s1);
  vst1q_f64(ones, o0);
  vst1q_f64(ones + 2, o1);
  vst1q_f32(mf, mx);
  // unused lanes: harmless values, never stored
  for (int k = 0; k < 4; k++) s[k] = log_sum(mf[k], ones[k], s[k]);
  const float64x2_t l0 = vld1q_f64(s), l1 = vld1q_f64(s + 2);
  const float64x2_t m0 = lo2(mx), m1 = hi2(mx);
  for (int64_t i = 0; i < n; i++) {
    const float32x4_t v = ld<kFull>(x + i * inner, rem);
    st<kFull>(out + i * inner, rem, pack(vsubq_f64(vsubq_f64(lo2(v), m0), l0), vsubq_f64(vsubq_f64(hi2(v), m1), l1)));
  }
}

// gx from y, gy and the row's (or column's) Σ: log: gy - exp(y)·s; else y·(gy - s).
inline float32x4_t grad_of(float32x4_t v, float32x4_t g, float64x2_t s_lo, float64x2_t s_hi, bool log) {
  if (log) {
    const float32x4_t e = vmn::exp4(v);
    return pack(vfmsq_f64(lo2(g), lo2(e), s_lo), vfmsq_f64(hi2(g), hi2(e), s_hi));
  }
  return pack(vmulq_f64(lo2(v), vsubq_f64(lo2(g), s_lo)), vmulq_f64(hi2(v), vsubq_f64(hi2(g), s_hi)));
}

void softmax_grad_row(const float* y, const float* gy, int64_t n, float* gx, bool log) {
  float64x2_t a0 = vdupq_n_f64(0.0), a1 = a0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t g = vld1q_f32(gy + i);
    if (log) {
      a0 = vaddq_f64(a0, lo2(g));
      a1 = vaddq_f64(a1, hi2(g));
    } else {
      const float32x4_t v = vld1q_f32(y + i);
      a0 = vfmaq_f64(a0, lo2(g), lo2(v));
      a1 = vfmaq_f64(a1, hi2(g), hi2(v));
    }
  }
  double s = hsum(a0, a1);
  for (; i < n; i++) s += log ? double(gy[i]) : double(gy[i]) * double(y[i]);
  const float64x2_t vs = vdupq_n_f64(s);
  for (i = 0; i + 4 <= n; i += 4) vst1q_f32(gx + i, grad_of(vld1q_f32(y + i), vld1q_f32(gy + i), vs, vs, log));
  if (i < n) store_tail(gx + i, n - i, grad_of(load_tail(y + i, n - i), load_tail(gy + i, n - i), vs, vs, log));
}

template <bool kFull>
void softmax_grad_cols(const float* y, const float* gy, int64_t n, int64_t inner, float* gx, bool log, int64_t rem) {
  float64x2_t a0 = vdupq_n_f64(0.0), a1 = a0;
  for (int64_t i = 0; i < n; i++) {
    const float32x4_t g = ld<kFull>(gy + i * inner, rem);
    if (log) {
      a0 = vaddq_f64(a0, lo2(g));
      a1 = vaddq_f64(a1, hi2(g));
    } else {
      const float32x4_t v = ld<kFull>(y + i * inner, rem);
      a0 = vfmaq_f64(a0, lo2(g), lo2(v));
      a1 = vfmaq_f64(a1, hi2(g), hi2(v));
    }
  }
  for (int64_t i = 0; i < n; i++)
    st<kFull>(gx + i * inner, rem,
              grad_of(ld<kFull>(y + i * inner, rem), ld<kFull>(gy + i * inner, rem), a0, a1, log));
}

void forward(const float* x, int64_t outer, int64_t n, int64_t inner, float* out, bool log) {
  for (int64_t o = 0; o < outer; o++) {
    const int64_t base = o * n * inner;
    if (inner == 1) {
      softmax_row(x + base, n, out + base, log);
      continue;
    }
    int64_t j = 0;
    for (; j + 4 <= inner; j += 4) softmax_cols<true>(x + base + j, n, inner, out + base + j, log, 4);
    if (j < inner) softmax_cols<false>(x + base + j, n, inner, out + base + j, log, inner - j);
  }
}

void backward(const float* y, const float* gy, int64_t outer, int64_t n, int64_t inner, float* gx, bool log) {
  for (int64_t o = 0; o < outer; o++) {
    const int64_t base = o * n * inner;
    if (inner == 1) {
      softmax_grad_row(y + base, gy + base, n, gx + base, log);
      continue;
    }
    int64_t j = 0;
    for (; j + 4 <= inner; j += 4)
      softmax_grad_cols<true>(y + base + j, gy + base + j, n, inner, gx + base + j, log, 4);
    if (j < inner)
      softmax_grad_cols<false>(y + base + j, gy + base + j, n, inner, gx + base + j, log, inner - j);
  }
}

}  // namespace
}  // namespace neon

constexpr SoftmaxKernels kSoftmaxNeon{neon::forward, neon::backward};

}  // namespace tg
