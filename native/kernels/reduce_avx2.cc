// AVX2 reductions: the AVX2 and AVX-512 tables' (kernels/dispatch.h).
// No std:: templates here: see the note at the top of vmath_avx2.h.
#include <immintrin.h>

#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/relu_grad_rows.h"
#include "kernels/simd_avx2.h"

namespace tg {
namespace avx2 {
namespace {

// Lane-wise update: take v where it beats best, or where v is the first NaN of the lane.
template <bool kMax>
inline __m256 beats(__m256 v, __m256 best) {
  const __m256 better = kMax ? _mm256_cmp_ps(v, best, _CMP_GT_OQ) : _mm256_cmp_ps(v, best, _CMP_LT_OQ);
  const __m256 first_nan = _mm256_and_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q), _mm256_cmp_ps(best, best, _CMP_ORD_Q));
  return _mm256_or_ps(better, first_nan);
}

template <bool kMax>
void argreduce_row_t(const float* x, int64_t n, float* out, float* arg) {
  float best = x[0];
  int64_t bi = 0;
  int64_t i = 1;
  if (n >= 16) {
    __m256 vb = _mm256_loadu_ps(x);
    __m256i vi = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i cur = vi;
    const __m256i eight = _mm256_set1_epi32(8);
    for (i = 8; i + 8 <= n; i += 8) {
      cur = _mm256_add_epi32(cur, eight);
      const __m256 v = _mm256_loadu_ps(x + i);
      const __m256 upd = beats<kMax>(v, vb);
      vb = _mm256_blendv_ps(vb, v, upd);
      vi = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(vi), _mm256_castsi256_ps(cur), upd));
    }
    alignas(32) float lv[8];
    alignas(32) int32_t li[8];
    _mm256_store_ps(lv, vb);
    _mm256_store_si256(reinterpret_cast<__m256i*>(li), vi);
    // Each lane holds its first NaN, or its best value at its first index. The first NaN overall
    // wins; otherwise the best value at the smallest index.
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
  // The tail (or short rows): reduce.ts's scalar scan; later indices only win strictly.
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

// 8 columns; kFull: all 8 exist (plain loads — vmaskmov is slow on some CPUs), else masked by m.
template <bool kMax, bool kFull>
void argreduce_block(const float* x, int64_t n, int64_t inner, float* out, float* arg, __m256i m) {
  auto ld = [m](const float* p) { return kFull ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m); };
  __m256 vb = ld(x);
  __m256i vi = _mm256_setzero_si256();
  for (int64_t i = 1; i < n; i++) {
    const __m256 v = ld(x + i * inner);
    const __m256 upd = beats<kMax>(v, vb);
    vb = _mm256_blendv_ps(vb, v, upd);
    vi = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(vi),
                                              _mm256_castsi256_ps(_mm256_set1_epi32(static_cast<int>(i))), upd));
  }
  if (kFull) {
    _mm256_storeu_ps(out, vb);
    if (arg) _mm256_storeu_ps(arg, _mm256_cvtepi32_ps(vi));
  } else {
    _mm256_maskstore_ps(out, m, vb);
    if (arg) _mm256_maskstore_ps(arg, m, _mm256_cvtepi32_ps(vi));
  }
}

template <bool kMax>
void argreduce_cols_t(const float* x, int64_t n, int64_t inner, float* out, float* arg) {
  int64_t j = 0;
  for (; j + 8 <= inner; j += 8)
    argreduce_block<kMax, true>(x + j, n, inner, out + j, arg ? arg + j : nullptr, __m256i());
  if (j < inner) argreduce_block<kMax, false>(x + j, n, inner, out + j, arg ? arg + j : nullptr, tail_mask(inner - j));
}

double sum_f64(const float* x, int64_t n) {
  __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_add_pd(a0, ld4(x + i));
    a1 = _mm256_add_pd(a1, ld4(x + i + 4));
    a2 = _mm256_add_pd(a2, ld4(x + i + 8));
    a3 = _mm256_add_pd(a3, ld4(x + i + 12));
  }
  for (; i + 4 <= n; i += 4) a0 = _mm256_add_pd(a0, ld4(x + i));
  double s = hsum(_mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3)));
  for (; i < n; i++) s += x[i];
  return s;
}

void accumulate_f64(double* acc, const float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_pd(acc + i, _mm256_add_pd(_mm256_loadu_pd(acc + i), ld4(x + i)));
    _mm256_storeu_pd(acc + i + 4, _mm256_add_pd(_mm256_loadu_pd(acc + i + 4), ld4(x + i + 4)));
  }
  for (; i < n; i++) acc[i] += x[i];
}

// out[j] = Σ_i x[i·inner + j] in double: 16 columns (4 accumulator chains) per sweep down the rows.
void sum_cols(const float* x, int64_t n, int64_t width, int64_t ld, float* out) {
  const int64_t inner = width;
  int64_t j = 0;
  for (; j + 16 <= inner; j += 16) {
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    const float* p = x + j;
    for (int64_t i = 0; i < n; i++, p += ld) {
      a0 = _mm256_add_pd(a0, ld4(p));
      a1 = _mm256_add_pd(a1, ld4(p + 4));
      a2 = _mm256_add_pd(a2, ld4(p + 8));
      a3 = _mm256_add_pd(a3, ld4(p + 12));
    }
    _mm_storeu_ps(out + j, _mm256_cvtpd_ps(a0));
    _mm_storeu_ps(out + j + 4, _mm256_cvtpd_ps(a1));
    _mm_storeu_ps(out + j + 8, _mm256_cvtpd_ps(a2));
    _mm_storeu_ps(out + j + 12, _mm256_cvtpd_ps(a3));
  }
  for (; j + 4 <= inner; j += 4) {
    __m256d a0 = _mm256_setzero_pd();
    const float* p = x + j;
    for (int64_t i = 0; i < n; i++, p += ld) a0 = _mm256_add_pd(a0, ld4(p));
    _mm_storeu_ps(out + j, _mm256_cvtpd_ps(a0));
  }
  for (; j < inner; j++) {
    double s = 0.0;
    const float* p = x + j;
    for (int64_t i = 0; i < n; i++, p += ld) s += *p;
    out[j] = static_cast<float>(s);
  }
}

// Eight columns a step (relu_grad_rows.h has the sweep); y <= 0 (ordered, so false at NaN) clears g.
void relu_grad_sum_cols(const float* g, const float* y, float* gy, int64_t n, int64_t width, int64_t ld, float* out) {
  relu_grad_rows(g, y, gy, n, width, ld, out, [](const float* gr, const float* yr, float* dr, double* acc, int64_t w) {
    int64_t j = 0;
    for (; j + 8 <= w; j += 8) {
      const __m256 off = _mm256_cmp_ps(_mm256_loadu_ps(yr + j), _mm256_setzero_ps(), _CMP_LE_OQ);
      const __m256 v = _mm256_andnot_ps(off, _mm256_loadu_ps(gr + j));
      _mm256_storeu_ps(dr + j, v);
      _mm256_store_pd(acc + j, _mm256_add_pd(_mm256_load_pd(acc + j), _mm256_cvtps_pd(_mm256_castps256_ps128(v))));
      _mm256_store_pd(acc + j + 4,
                      _mm256_add_pd(_mm256_load_pd(acc + j + 4), _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1))));
    }
    return j;
  });
}

void argreduce(bool is_max, const float* x, int64_t n, int64_t inner, float* out, float* arg) {
  // The vector scans track indices in int32 lanes.
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
}  // namespace avx2

constexpr ReduceKernels kReduceAvx2{avx2::sum_f64, avx2::accumulate_f64, avx2::sum_cols, avx2::relu_grad_sum_cols,
                                avx2::argreduce};

}  // namespace tg
