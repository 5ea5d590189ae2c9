// aarch64 NEON reductions: the NEON table's (kernels/dispatch.h). A port of reduce_avx2.cc, 4 float
// lanes (two double vectors) at a time. accumulate_f64, sum_cols and argreduce give scalar's bits
// (an element or column has one order of additions; max/min with its index has one right answer);
// sum_f64 gives AVX2's bits, not scalar's, so a row sums to the same float on an aarch64 machine as
// on an x86-64 one (test_elementwise.cc checks both against that order written out).
// No std:: templates here, as in the AVX2 files.
#include <arm_neon.h>

#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/relu_grad_rows.h"
#include "kernels/simd_neon.h"

namespace tg {
namespace neon {
namespace {

// ---- sums -----------------------------------------------------------------------------------------

// AVX2's order, lane for lane: its four 4-double accumulators are the pairs (a0, a1), (a2, a3),
// (a4, a5), (a6, a7) here, so element i of a 16-element block goes to partial i mod 16; the 4-element
// steps go to the first pair; the partials are combined as (acc0 + acc1) + (acc2 + acc3) lane-wise
// and then lanes (0 + 2) + (1 + 3), as simd_avx2.h's hsum does; the tail is added last, in order.
double sum_f64(const float* x, int64_t n) {
  float64x2_t a0 = vdupq_n_f64(0.0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const float32x4_t v0 = vld1q_f32(x + i), v1 = vld1q_f32(x + i + 4), v2 = vld1q_f32(x + i + 8),
                      v3 = vld1q_f32(x + i + 12);
    a0 = vaddq_f64(a0, lo2(v0));
    a1 = vaddq_f64(a1, hi2(v0));
    a2 = vaddq_f64(a2, lo2(v1));
    a3 = vaddq_f64(a3, hi2(v1));
    a4 = vaddq_f64(a4, lo2(v2));
    a5 = vaddq_f64(a5, hi2(v2));
    a6 = vaddq_f64(a6, lo2(v3));
    a7 = vaddq_f64(a7, hi2(v3));
  }
  for (; i + 4 <= n; i += 4) {
    const float32x4_t v = vld1q_f32(x + i);
    a0 = vaddq_f64(a0, lo2(v));
    a1 = vaddq_f64(a1, hi2(v));
  }
  // Lanes 0-1 and 2-3 of AVX2's (acc0 + acc1) + (acc2 + acc3); hsum adds them as (0 + 2) + (1 + 3).
  const float64x2_t lo = vaddq_f64(vaddq_f64(a0, a2), vaddq_f64(a4, a6));
  const float64x2_t hi = vaddq_f64(vaddq_f64(a1, a3), vaddq_f64(a5, a7));
  double s = hsum(lo, hi);
  for (; i < n; i++) s += x[i];
  return s;
}

void accumulate_f64(double* acc, const float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const float32x4_t v0 = vld1q_f32(x + i), v1 = vld1q_f32(x + i + 4);
    vst1q_f64(acc + i, vaddq_f64(vld1q_f64(acc + i), lo2(v0)));
    vst1q_f64(acc + i + 2, vaddq_f64(vld1q_f64(acc + i + 2), hi2(v0)));
    vst1q_f64(acc + i + 4, vaddq_f64(vld1q_f64(acc + i + 4), lo2(v1)));
    vst1q_f64(acc + i + 6, vaddq_f64(vld1q_f64(acc + i + 6), hi2(v1)));
  }
  for (; i < n; i++) acc[i] += x[i];
}

// Each column is one chain of double additions from 0 down the rows, whatever the column grouping,
// so every group size gives scalar's bits. 16 columns per sweep: 8 independent chains to hide the
// add latency; then 4, 2 and 1 for the last columns (no reads past the row's width).
void sum_cols(const float* x, int64_t n, int64_t width, int64_t ld, float* out) {
  int64_t j = 0;
  for (; j + 16 <= width; j += 16) {
    float64x2_t a[8];
    for (int k = 0; k < 8; k++) a[k] = vdupq_n_f64(0.0);
    const float* p = x + j;
    for (int64_t i = 0; i < n; i++, p += ld) {
      for (int k = 0; k < 4; k++) {
        const float32x4_t v = vld1q_f32(p + 4 * k);
        a[2 * k] = vaddq_f64(a[2 * k], lo2(v));
        a[2 * k + 1] = vaddq_f64(a[2 * k + 1], hi2(v));
      }
    }
    for (int k = 0; k < 4; k++) vst1q_f32(out + j + 4 * k, pack(a[2 * k], a[2 * k + 1]));
  }
  for (; j + 4 <= width; j += 4) {
    float64x2_t a0 = vdupq_n_f64(0.0), a1 = a0;
    const float* p = x + j;
    for (int64_t i = 0; i < n; i++, p += ld) {
      const float32x4_t v = vld1q_f32(p);
      a0 = vaddq_f64(a0, lo2(v));
      a1 = vaddq_f64(a1, hi2(v));
    }
    vst1q_f32(out + j, pack(a0, a1));
  }
  if (j + 2 <= width) {
    float64x2_t a0 = vdupq_n_f64(0.0);
    const float* p = x + j;
    for (int64_t i = 0; i < n; i++, p += ld) a0 = vaddq_f64(a0, vcvt_f64_f32(vld1_f32(p)));
    vst1_f32(out + j, vcvt_f32_f64(a0));
    j += 2;
  }
  if (j < width) {
    double s = 0.0;
    const float* p = x + j;
    for (int64_t i = 0; i < n; i++, p += ld) s += *p;
    out[j] = static_cast<float>(s);
  }
}

// Four columns a step (relu_grad_rows.h has the sweep); y <= 0 (false at NaN) clears g.
void relu_grad_sum_cols(const float* g, const float* y, float* gy, int64_t n, int64_t width, int64_t ld, float* out) {
  relu_grad_rows(g, y, gy, n, width, ld, out, [](const float* gr, const float* yr, float* dr, double* acc, int64_t w) {
    int64_t j = 0;
    for (; j + 4 <= w; j += 4) {
      const uint32x4_t off = vcleq_f32(vld1q_f32(yr + j), vdupq_n_f32(0.0f));
      const float32x4_t v = vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(vld1q_f32(gr + j)), off));
      vst1q_f32(dr + j, v);
      vst1q_f64(acc + j, vaddq_f64(vld1q_f64(acc + j), lo2(v)));
      vst1q_f64(acc + j + 2, vaddq_f64(vld1q_f64(acc + j + 2), hi2(v)));
    }
    return j;
  });
}

// ---- max / min with their index ------------------------------------------------------------------

// Lanes where v replaces best: v beats it strictly (so a tie keeps the earlier index), or v is the
// lane's first NaN (a NaN best is never replaced). The compares are false on NaN.
template <bool kMax>
inline uint32x4_t beats(float32x4_t v, float32x4_t best) {
  const uint32x4_t better = kMax ? vcgtq_f32(v, best) : vcltq_f32(v, best);
  const uint32x4_t first_nan = vbicq_u32(vceqq_f32(best, best), vceqq_f32(v, v));
  return vorrq_u32(better, first_nan);
}

// Contiguous row: 8 lanes (two vectors, two independent chains), lane l seeing the elements
// i ≡ l (mod 8), then the lanes merged and the tail scanned as scalar does.
template <bool kMax>
void argreduce_row_t(const float* x, int64_t n, float* out, float* arg) {
  float best = x[0];
  int64_t bi = 0;
  int64_t i = 1;
  if (n >= 16) {
    float32x4_t b0 = vld1q_f32(x), b1 = vld1q_f32(x + 4);
    const uint32_t first[4] = {0, 1, 2, 3};
    uint32x4_t c0 = vld1q_u32(first), c1 = vaddq_u32(c0, vdupq_n_u32(4));
    uint32x4_t i0 = c0, i1 = c1;
    const uint32x4_t eight = vdupq_n_u32(8);
    for (i = 8; i + 8 <= n; i += 8) {
      c0 = vaddq_u32(c0, eight);
      c1 = vaddq_u32(c1, eight);
      const float32x4_t v0 = vld1q_f32(x + i), v1 = vld1q_f32(x + i + 4);
      const uint32x4_t u0 = beats<kMax>(v0, b0), u1 = beats<kMax>(v1, b1);
      b0 = vbslq_f32(u0, v0, b0);
      b1 = vbslq_f32(u1, v1, b1);
      i0 = vbslq_u32(u0, c0, i0);
      i1 = vbslq_u32(u1, c1, i1);
    }
    float lv[8];
    uint32_t li[8];
    vst1q_f32(lv, b0);
    vst1q_f32(lv + 4, b1);
    vst1q_u32(li, i0);
    vst1q_u32(li + 4, i1);
    // Each lane holds its first NaN, or its best value at its first index. The first NaN overall
    // wins; otherwise the best value at the smallest index (-0 and +0 tie).
    int nan_lane = -1;
    for (int l = 0; l < 8; l++)
      if (lv[l] != lv[l] && (nan_lane < 0 || li[l] < li[nan_lane])) nan_lane = l;
    if (nan_lane >= 0) {
      *out = lv[nan_lane];
      if (arg) *arg = static_cast<float>(li[nan_lane]);
      return;
    }
    int bl = 0;
    for (int l = 1; l < 8; l++) {
      const bool better = kMax ? lv[l] > lv[bl] : lv[l] < lv[bl];
      if (better || (lv[l] == lv[bl] && li[l] < li[bl])) bl = l;
    }
    best = lv[bl];
    bi = li[bl];
  }
  // The tail (or a short row): every index here is above the vector part's, so it wins only strictly.
  if (best == best) {
    for (; i < n; i++) {
      const float v = x[i];
      if (v != v) {
        best = v;
        bi = i;
        break;
      }
      if (kMax ? v > best : v < best) {
        best = v;
        bi = i;
      }
    }
  }
  *out = best;
  if (arg) *arg = static_cast<float>(bi);
}

// The first rem (1..3) floats at p, the other lanes 0, one lane load each: the column scan below
// loads a partial row per row, and simd_neon.h's load_tail goes through a stack copy (a memcpy
// call, as GCC compiles it) each time.
inline float32x4_t load_lanes(const float* p, int64_t rem) {
  float32x4_t v = vld1q_lane_f32(p, vdupq_n_f32(0.0f), 0);
  if (rem > 1) v = vld1q_lane_f32(p + 1, v, 1);
  if (rem > 2) v = vld1q_lane_f32(p + 2, v, 2);
  return v;
}

// kV·4 columns of x viewed as [n rows, stride inner], one lane per column, each lane the scalar
// scan; kFull false: kV = 1 and only rem (1..3) columns exist.
template <bool kMax, int kV, bool kFull>
void argreduce_cols_block(const float* x, int64_t n, int64_t inner, float* out, float* arg, int64_t rem) {
  float32x4_t b[kV];
  uint32x4_t bi[kV];
  for (int k = 0; k < kV; k++) {
    b[k] = kFull ? vld1q_f32(x + 4 * k) : load_lanes(x, rem);
    bi[k] = vdupq_n_u32(0);
  }
  const float* p = x + inner;
  for (int64_t i = 1; i < n; i++, p += inner) {
    const uint32x4_t row = vdupq_n_u32(static_cast<uint32_t>(i));
    for (int k = 0; k < kV; k++) {
      const float32x4_t v = kFull ? vld1q_f32(p + 4 * k) : load_lanes(p, rem);
      const uint32x4_t u = beats<kMax>(v, b[k]);
      b[k] = vbslq_f32(u, v, b[k]);
      bi[k] = vbslq_u32(u, row, bi[k]);
    }
  }
  for (int k = 0; k < kV; k++) {
    if (kFull) {
      vst1q_f32(out + 4 * k, b[k]);
      if (arg) vst1q_f32(arg + 4 * k, vcvtq_f32_u32(bi[k]));
    } else {
      store_tail(out, rem, b[k]);
      if (arg) store_tail(arg, rem, vcvtq_f32_u32(bi[k]));
    }
  }
}

template <bool kMax>
void argreduce_cols_t(const float* x, int64_t n, int64_t inner, float* out, float* arg) {
  int64_t j = 0;
  // 16 columns per sweep down the rows: four independent compare-select chains.
  for (; j + 16 <= inner; j += 16)
    argreduce_cols_block<kMax, 4, true>(x + j, n, inner, out + j, arg ? arg + j : nullptr, 4);
  for (; j + 4 <= inner; j += 4)
    argreduce_cols_block<kMax, 1, true>(x + j, n, inner, out + j, arg ? arg + j : nullptr, 4);
  if (j < inner)
    argreduce_cols_block<kMax, 1, false>(x + j, n, inner, out + j, arg ? arg + j : nullptr, inner - j);
}

void argreduce(bool is_max, const float* x, int64_t n, int64_t inner, float* out, float* arg) {
  // The vector scans keep indices in 32-bit lanes; longer axes take the scalar scan, as on AVX2.
  if (n > INT32_MAX) return kReduceScalar.argreduce(is_max, x, n, inner, out, arg);
  if (inner == 1) {
    if (is_max) argreduce_row_t<true>(x, n, out, arg);
    else argreduce_row_t<false>(x, n, out, arg);
  } else {
    if (is_max) argreduce_cols_t<true>(x, n, inner, out, arg);
    else argreduce_cols_t<false>(x, n, inner, out, arg);
  }
}

}  // namespace
}  // namespace neon

constexpr ReduceKernels kReduceNeon{neon::sum_f64, neon::accumulate_f64, neon::sum_cols, neon::relu_grad_sum_cols,
                                neon::argreduce};

}  // namespace tg
