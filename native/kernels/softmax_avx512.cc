// AVX-512 softmax / log-softmax and their backward: the AVX-512 table's (kernels/dispatch.h). The
// same results as softmax_avx2.cc bit for bit: exp from vmath_avx512.h, every double sum in AVX2's
// lane order (simd_avx512.h), everything else lane by lane. No std:: templates here (vmath_avx2.h).
// GCC 12 warns inside its own AVX-512 intrinsics: see elementwise_avx512.cc.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/simd_avx512.h"
#include "kernels/vmath_avx512.h"
#include "kernels/log_count.h"

namespace tg {
namespace avx512 {
namespace {

using vmz::exp_diff;

// A double accumulator of 8 lanes fed 16 floats: lanes 0..7 first, as AVX2 adds its two 8-chunks.
// Lanes past the end are zeros, which leave a sum (never -0: it starts at +0) unchanged.
inline __m512d add16(__m512d s, __m512 v) { return _mm512_add_pd(_mm512_add_pd(s, lo8(v)), hi8(v)); }

void softmax_row(const float* x, int64_t n, float* out, bool log) {
  int64_t i = 0;
  float mx = row_max(x, n, &i);
  for (; i < n; i++)
    if (x[i] > mx) mx = x[i];
  const __m512 negm = _mm512_set1_ps(-mx);
  __m512d s = _mm512_setzero_pd();
  if (!log) {
    for (i = 0; i + 16 <= n; i += 16) {
      const __m512 e = exp_diff(_mm512_loadu_ps(x + i), negm);
      _mm512_storeu_ps(out + i, e);
      s = add16(s, e);
    }
    if (i < n) {
      const __mmask16 m = tail16(n - i);
      const __m512 e = _mm512_maskz_mov_ps(m, exp_diff(_mm512_maskz_loadu_ps(m, x + i), negm));
      _mm512_mask_storeu_ps(out + i, m, e);
      s = add16(s, e);
    }
    const __m512 inv = _mm512_set1_ps(static_cast<float>(1.0 / hsum(s)));
    for (i = 0; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_loadu_ps(out + i), inv));
    if (i < n) {
      const __mmask16 m = tail16(n - i);
      _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, out + i), inv));
    }
    return;
  }
  // log: softmax_avx2.cc's split of Σ into the terms equal to the max and the rest.
  const __m512 vmx = _mm512_set1_ps(mx);
  __m512d o = _mm512_setzero_pd();
  auto step = [&](__m512 v, __mmask16 live) {
    const __mmask16 eq = _mm512_cmp_ps_mask(v, vmx, _CMP_EQ_OQ) & live;
    s = add16(s, _mm512_maskz_mov_ps(live & ~eq, exp_diff(v, negm)));
    o = add16(o, _mm512_maskz_mov_ps(eq, _mm512_set1_ps(1.0f)));
  };
  for (i = 0; i + 16 <= n; i += 16) step(_mm512_loadu_ps(x + i), 0xffff);
  if (i < n) {
    const __mmask16 m = tail16(n - i);
    step(_mm512_maskz_loadu_ps(m, x + i), m);
  }
  const double ones = hsum(o);
  const double logs = mx == __builtin_inff() ? __builtin_nan("") : log_count(ones) + std::log1p(hsum(s) / ones);
  const __m512d vl = _mm512_set1_pd(logs), vmd = _mm512_set1_pd(double(mx));
  for (i = 0; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    _mm512_storeu_ps(out + i, pack(_mm512_sub_pd(_mm512_sub_pd(lo8(v), vmd), vl),
                                   _mm512_sub_pd(_mm512_sub_pd(hi8(v), vmd), vl)));
  }
  for (; i < n; i++) out[i] = static_cast<float>((double(x[i]) - double(mx)) - logs);
}

// 16 columns (lanes) of x viewed as [n rows, stride inner]; m masks the columns that exist. Each
// lane is one column, computed exactly as softmax_avx2.cc's softmax_cols computes it.
void softmax_cols(const float* x, int64_t n, int64_t inner, float* out, bool log, __mmask16 m) {
  __m512 mx = _mm512_set1_ps(-__builtin_inff());
  for (int64_t i = 0; i < n; i++) mx = _mm512_max_ps(_mm512_maskz_loadu_ps(m, x + i * inner), mx);
  const __m512 negm = _mm512_sub_ps(_mm512_setzero_ps(), mx);
  __m512d s0 = _mm512_setzero_pd(), s1 = s0;
  if (!log) {
    for (int64_t i = 0; i < n; i++) {
      const __m512 e = exp_diff(_mm512_maskz_loadu_ps(m, x + i * inner), negm);
      _mm512_mask_storeu_ps(out + i * inner, m, e);
      s0 = _mm512_add_pd(s0, lo8(e));
      s1 = _mm512_add_pd(s1, hi8(e));
    }
    const __m512d one = _mm512_set1_pd(1.0);
    const __m512 inv = pack(_mm512_div_pd(one, s0), _mm512_div_pd(one, s1));
    for (int64_t i = 0; i < n; i++) {
      float* q = out + i * inner;
      _mm512_mask_storeu_ps(q, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, q), inv));
    }
    return;
  }
  __m512d o0 = _mm512_setzero_pd(), o1 = o0;
  for (int64_t i = 0; i < n; i++) {
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i * inner);
    const __mmask16 eq = _mm512_cmp_ps_mask(v, mx, _CMP_EQ_OQ);
    const __m512 e = _mm512_maskz_mov_ps(static_cast<__mmask16>(~eq), exp_diff(v, negm));
    const __m512 one = _mm512_maskz_mov_ps(eq, _mm512_set1_ps(1.0f));
    s0 = _mm512_add_pd(s0, lo8(e));
    s1 = _mm512_add_pd(s1, hi8(e));
    o0 = _mm512_add_pd(o0, lo8(one));
    o1 = _mm512_add_pd(o1, hi8(one));
  }
  alignas(64) double s[16], ones[16];
  alignas(64) float mf[16];
  _mm512_store_pd(s, s0);
  _mm512_store_pd(s + 8, s1);
  _mm512_store_pd(ones, o0);
  _mm512_store_pd(ones + 8, o1);
  _mm512_store_ps(mf, mx);
  for (int k = 0; k < 16; k++)
    s[k] = mf[k] == __builtin_inff() ? __builtin_nan("") : std::log(ones[k]) + std::log1p(s[k] / ones[k]);
  const __m512d l0 = _mm512_load_pd(s), l1 = _mm512_load_pd(s + 8);
  const __m512d m0 = lo8(mx), m1 = hi8(mx);
  for (int64_t i = 0; i < n; i++) {
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i * inner);
    const __m512d r0 = _mm512_sub_pd(_mm512_sub_pd(lo8(v), m0), l0);
    _mm512_mask_storeu_ps(out + i * inner, m, pack(r0, _mm512_sub_pd(_mm512_sub_pd(hi8(v), m1), l1)));
  }
}

// gy - exp(y)·s (log) or y·(gy - s), in double, for 16 lanes with their s (as one or two halves).
inline __m512 grad_out(__m512 g, __m512 v, __m512d s0, __m512d s1, bool log) {
  if (log) {
    const __m512 e = vmz::exp16(v);
    return pack(_mm512_fnmadd_pd(lo8(e), s0, lo8(g)), _mm512_fnmadd_pd(hi8(e), s1, hi8(g)));
  }
  return pack(_mm512_mul_pd(lo8(v), _mm512_sub_pd(lo8(g), s0)), _mm512_mul_pd(hi8(v), _mm512_sub_pd(hi8(g), s1)));
}

// Σ gy (log) or Σ gy·y over 8 entries into s, as AVX2's a0 | a1.
inline __m512d grad_acc(__m512d s, __m256 g, __m256 v, bool log) {
  const __m512d gd = _mm512_cvtps_pd(g);
  return log ? _mm512_add_pd(s, gd) : _mm512_fmadd_pd(gd, _mm512_cvtps_pd(v), s);
}

void softmax_grad_row(const float* y, const float* gy, int64_t n, float* gx, bool log) {
  __m512d a = _mm512_setzero_pd();
  int64_t i = 0;
  // AVX2 sums the whole 8-chunks in its vector lanes and the rest after hsum, in order.
  for (; i + 8 <= n; i += 8) a = grad_acc(a, _mm256_loadu_ps(gy + i), _mm256_loadu_ps(y + i), log);
  double s = hsum(a);
  for (; i < n; i++) s += log ? double(gy[i]) : double(gy[i]) * double(y[i]);
  const __m512d vs = _mm512_set1_pd(s);
  for (i = 0; i + 16 <= n; i += 16)
    _mm512_storeu_ps(gx + i, grad_out(_mm512_loadu_ps(gy + i), _mm512_loadu_ps(y + i), vs, vs, log));
  if (i < n) {
    const __mmask16 m = tail16(n - i);
    _mm512_mask_storeu_ps(gx + i, m,
                          grad_out(_mm512_maskz_loadu_ps(m, gy + i), _mm512_maskz_loadu_ps(m, y + i), vs, vs, log));
  }
}

void softmax_grad_cols(const float* y, const float* gy, int64_t n, int64_t inner, float* gx, bool log, __mmask16 m) {
  __m512d a0 = _mm512_setzero_pd(), a1 = a0;
  for (int64_t i = 0; i < n; i++) {
    const __m512 g = _mm512_maskz_loadu_ps(m, gy + i * inner), v = _mm512_maskz_loadu_ps(m, y + i * inner);
    a0 = grad_acc(a0, _mm512_castps512_ps256(g), _mm512_castps512_ps256(v), log);
    a1 = grad_acc(a1, _mm512_extractf32x8_ps(g, 1), _mm512_extractf32x8_ps(v, 1), log);
  }
  for (int64_t i = 0; i < n; i++) {
    const __m512 g = _mm512_maskz_loadu_ps(m, gy + i * inner), v = _mm512_maskz_loadu_ps(m, y + i * inner);
    _mm512_mask_storeu_ps(gx + i * inner, m, grad_out(g, v, a0, a1, log));
  }
}

void forward(const float* x, int64_t outer, int64_t n, int64_t inner, float* out, bool log) {
  for (int64_t o = 0; o < outer; o++) {
    const int64_t base = o * n * inner;
    if (inner == 1) {
      softmax_row(x + base, n, out + base, log);
      continue;
    }
    for (int64_t j = 0; j < inner; j += 16)
      softmax_cols(x + base + j, n, inner, out + base + j, log, tail16(inner - j < 16 ? inner - j : 16));
  }
}

void backward(const float* y, const float* gy, int64_t outer, int64_t n, int64_t inner, float* gx, bool log) {
  for (int64_t o = 0; o < outer; o++) {
    const int64_t base = o * n * inner;
    if (inner == 1) {
      softmax_grad_row(y + base, gy + base, n, gx + base, log);
      continue;
    }
    for (int64_t j = 0; j < inner; j += 16)
      softmax_grad_cols(y + base + j, gy + base + j, n, inner, gx + base + j, log,
                        tail16(inner - j < 16 ? inner - j : 16));
  }
}

}  // namespace
}  // namespace avx512

constexpr SoftmaxKernels kSoftmaxAvx512{avx512::forward, avx512::backward};

}  // namespace tg
