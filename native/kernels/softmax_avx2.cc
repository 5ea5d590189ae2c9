// AVX2+FMA softmax / log-softmax and their backward: the AVX2 table's (kernels/dispatch.h;
// softmax_avx512.cc gives the same bits on 16 lanes). No std:: templates here (see vmath_avx2.h).
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/simd_avx2.h"
#include "kernels/vmath_avx2.h"
#include "kernels/log_count.h"

namespace tg {
namespace avx2 {
namespace {

using vm::exp_diff;

// Loads/stores of 8 lanes: plain when all lanes exist, masked otherwise (vmaskmov is slow on some
// CPUs — microcoded on AMD Zen — so it is kept to the tails).
template <bool kFull>
inline __m256 ld(const float* p, __m256i m) {
  return kFull ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m);
}
template <bool kFull>
inline void st(float* p, __m256i m, __m256 v) {
  if (kFull) _mm256_storeu_ps(p, v);
  else _mm256_maskstore_ps(p, m, v);
}

inline __m256 pack(__m256d lo, __m256d hi) {
  return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(lo)), _mm256_cvtpd_ps(hi), 1);
}

// Row max with `v > max` semantics: max_ps returns its second operand when either is NaN, so NaN
// entries are skipped, as in softmax.ts.
float row_max(const float* x, int64_t n) {
  __m256 m0 = _mm256_set1_ps(-__builtin_inff()), m1 = m0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    m0 = _mm256_max_ps(_mm256_loadu_ps(x + i), m0);
    m1 = _mm256_max_ps(_mm256_loadu_ps(x + i + 8), m1);
  }
  for (; i + 8 <= n; i += 8) m0 = _mm256_max_ps(_mm256_loadu_ps(x + i), m0);
  m0 = _mm256_max_ps(m0, m1);
  alignas(32) float l[8];
  _mm256_store_ps(l, m0);
  float mx = l[0];
  for (int k = 1; k < 8; k++)
    if (l[k] > mx) mx = l[k];
  for (; i < n; i++)
    if (x[i] > mx) mx = x[i];
  return mx;
}

void softmax_row(const float* x, int64_t n, float* out, bool log) {
  const float mx = row_max(x, n);
  const __m256 negm = _mm256_set1_ps(-mx);
  __m256d s0 = _mm256_setzero_pd(), s1 = s0;
  int64_t i = 0;
  if (!log) {
    // exp(x - max) into out, summed in double; then one scaling pass.
    for (; i + 8 <= n; i += 8) {
      const __m256 e = exp_diff(_mm256_loadu_ps(x + i), negm);
      _mm256_storeu_ps(out + i, e);
      s0 = _mm256_add_pd(s0, lo4(e));
      s1 = _mm256_add_pd(s1, hi4(e));
    }
    if (i < n) {
      const __m256i m = tail_mask(n - i);
      const __m256 e = _mm256_and_ps(exp_diff(_mm256_maskload_ps(x + i, m), negm), _mm256_castsi256_ps(m));
      _mm256_maskstore_ps(out + i, m, e);
      s0 = _mm256_add_pd(s0, lo4(e));
      s1 = _mm256_add_pd(s1, hi4(e));
    }
    const __m256 inv = _mm256_set1_ps(static_cast<float>(1.0 / hsum(_mm256_add_pd(s0, s1))));
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_loadu_ps(out + i), inv));
    if (i < n) {
      const __m256i m = tail_mask(n - i);
      _mm256_maskstore_ps(out + i, m, _mm256_mul_ps(_mm256_maskload_ps(out + i, m), inv));
    }
    return;
  }
  // log: Σ exp(x - max) split into the terms equal to the max (exactly 1 each) and the rest, so
  // log Σ = log(ones) + log1p(rest/ones) keeps full relative precision (see softmax.h);
  // out = (x - max) - log Σ in double.
  const __m256 vmx = _mm256_set1_ps(mx);
  __m256d o0 = _mm256_setzero_pd(), o1 = o0;
  auto step = [&](__m256 v, __m256 live) {
    const __m256 eq = _mm256_and_ps(_mm256_cmp_ps(v, vmx, _CMP_EQ_OQ), live);
    const __m256 e = _mm256_andnot_ps(eq, _mm256_and_ps(exp_diff(v, negm), live));
    const __m256 one = _mm256_and_ps(eq, _mm256_set1_ps(1.0f));
    s0 = _mm256_add_pd(s0, lo4(e));
    s1 = _mm256_add_pd(s1, hi4(e));
    o0 = _mm256_add_pd(o0, lo4(one));
    o1 = _mm256_add_pd(o1, hi4(one));
  };
  const __m256 all = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
  for (; i + 8 <= n; i += 8) step(_mm256_loadu_ps(x + i), all);
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    step(_mm256_maskload_ps(x + i, m), _mm256_castsi256_ps(m));
  }
  const double ones = hsum(_mm256_add_pd(o0, o1));
  const double logs = mx == __builtin_inff() ? __builtin_nan("")
                                            : log_count(ones) + std::log1p(hsum(_mm256_add_pd(s0, s1)) / ones);
  const __m256d vl = _mm256_set1_pd(logs), vmd = _mm256_set1_pd(double(mx));
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    _mm256_storeu_ps(out + i, pack(_mm256_sub_pd(_mm256_sub_pd(lo4(v), vmd), vl),
                                   _mm256_sub_pd(_mm256_sub_pd(hi4(v), vmd), vl)));
  }
  for (; i < n; i++) out[i] = static_cast<float>((double(x[i]) - double(mx)) - logs);
}

// 8 columns (lanes) of x viewed as [n rows, stride inner]; m masks the columns that exist.
template <bool kFull>
void softmax_cols(const float* x, int64_t n, int64_t inner, float* out, bool log, __m256i m) {
  __m256 mx = _mm256_set1_ps(-__builtin_inff());
  for (int64_t i = 0; i < n; i++) mx = _mm256_max_ps(ld<kFull>(x + i * inner, m), mx);
  const __m256 negm = _mm256_sub_ps(_mm256_setzero_ps(), mx);
  __m256d s0 = _mm256_setzero_pd(), s1 = s0;
  if (!log) {
    for (int64_t i = 0; i < n; i++) {
      const __m256 e = exp_diff(ld<kFull>(x + i * inner, m), negm);
      st<kFull>(out + i * inner, m, e);
      s0 = _mm256_add_pd(s0, lo4(e));
      s1 = _mm256_add_pd(s1, hi4(e));
    }
    const __m256d one = _mm256_set1_pd(1.0);
    const __m256 inv = pack(_mm256_div_pd(one, s0), _mm256_div_pd(one, s1));
    for (int64_t i = 0; i < n; i++) {
      float* q = out + i * inner;
      st<kFull>(q, m, _mm256_mul_ps(ld<kFull>(q, m), inv));
    }
    return;
  }
  __m256d o0 = _mm256_setzero_pd(), o1 = o0;
  for (int64_t i = 0; i < n; i++) {
    const __m256 v = ld<kFull>(x + i * inner, m);
    const __m256 eq = _mm256_cmp_ps(v, mx, _CMP_EQ_OQ);
    const __m256 e = _mm256_andnot_ps(eq, exp_diff(v, negm));
    const __m256 one = _mm256_and_ps(eq, _mm256_set1_ps(1.0f));
    s0 = _mm256_add_pd(s0, lo4(e));
    s1 = _mm256_add_pd(s1, hi4(e));
    o0 = _mm256_add_pd(o0, lo4(one));
    o1 = _mm256_add_pd(o1, hi4(one));
  }
  alignas(32) double s[8], ones[8];
  alignas(32) float mf[8];
  _mm256_store_pd(s, s0);
  _mm256_store_pd(s + 4, s1);
  _mm256_store_pd(ones, o0);
  _mm256_store_pd(ones + 4, o1);
  _mm256_store_ps(mf, mx);
  // log Σ per lane (unused lanes: harmless values, never stored)
  for (int k = 0; k < 8; k++)
    s[k] = mf[k] == __builtin_inff() ? __builtin_nan("") : std::log(ones[k]) + std::log1p(s[k] / ones[k]);
  const __m256d l0 = _mm256_load_pd(s), l1 = _mm256_load_pd(s + 4);
  const __m256d m0 = lo4(mx), m1 = hi4(mx);
  for (int64_t i = 0; i < n; i++) {
    const __m256 v = ld<kFull>(x + i * inner, m);
    st<kFull>(out + i * inner, m,
              pack(_mm256_sub_pd(_mm256_sub_pd(lo4(v), m0), l0), _mm256_sub_pd(_mm256_sub_pd(hi4(v), m1), l1)));
  }
}

void softmax_grad_row(const float* y, const float* gy, int64_t n, float* gx, bool log) {
  __m256d a0 = _mm256_setzero_pd(), a1 = a0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gy + i);
    if (log) {
      a0 = _mm256_add_pd(a0, lo4(g));
      a1 = _mm256_add_pd(a1, hi4(g));
    } else {
      const __m256 v = _mm256_loadu_ps(y + i);
      a0 = _mm256_fmadd_pd(lo4(g), lo4(v), a0);
      a1 = _mm256_fmadd_pd(hi4(g), hi4(v), a1);
    }
  }
  double s = hsum(_mm256_add_pd(a0, a1));
  for (; i < n; i++) s += log ? double(gy[i]) : double(gy[i]) * double(y[i]);
  const __m256d vs = _mm256_set1_pd(s);
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gy + i), v = _mm256_loadu_ps(y + i);
    __m256 r;
    if (log) {  // gy - exp(y)·s
      const __m256 e = vm::exp8(v);
      r = pack(_mm256_fnmadd_pd(lo4(e), vs, lo4(g)), _mm256_fnmadd_pd(hi4(e), vs, hi4(g)));
    } else {  // y·(gy - s)
      r = pack(_mm256_mul_pd(lo4(v), _mm256_sub_pd(lo4(g), vs)), _mm256_mul_pd(hi4(v), _mm256_sub_pd(hi4(g), vs)));
    }
    _mm256_storeu_ps(gx + i, r);
  }
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    const __m256 g = _mm256_maskload_ps(gy + i, m), v = _mm256_maskload_ps(y + i, m);
    __m256 r;
    if (log) {
      const __m256 e = vm::exp8(v);
      r = pack(_mm256_fnmadd_pd(lo4(e), vs, lo4(g)), _mm256_fnmadd_pd(hi4(e), vs, hi4(g)));
    } else {
      r = pack(_mm256_mul_pd(lo4(v), _mm256_sub_pd(lo4(g), vs)), _mm256_mul_pd(hi4(v), _mm256_sub_pd(hi4(g), vs)));
    }
    _mm256_maskstore_ps(gx + i, m, r);
  }
}

template <bool kFull>
void softmax_grad_cols(const float* y, const float* gy, int64_t n, int64_t inner, float* gx, bool log, __m256i m) {
  __m256d a0 = _mm256_setzero_pd(), a1 = a0;
  for (int64_t i = 0; i < n; i++) {
    const __m256 g = ld<kFull>(gy + i * inner, m);
    if (log) {
      a0 = _mm256_add_pd(a0, lo4(g));
      a1 = _mm256_add_pd(a1, hi4(g));
    } else {
      const __m256 v = ld<kFull>(y + i * inner, m);
      a0 = _mm256_fmadd_pd(lo4(g), lo4(v), a0);
      a1 = _mm256_fmadd_pd(hi4(g), hi4(v), a1);
    }
  }
  for (int64_t i = 0; i < n; i++) {
    const __m256 g = ld<kFull>(gy + i * inner, m), v = ld<kFull>(y + i * inner, m);
    __m256 r;
    if (log) {
      const __m256 e = vm::exp8(v);
      r = pack(_mm256_fnmadd_pd(lo4(e), a0, lo4(g)), _mm256_fnmadd_pd(hi4(e), a1, hi4(g)));
    } else {
      r = pack(_mm256_mul_pd(lo4(v), _mm256_sub_pd(lo4(g), a0)), _mm256_mul_pd(hi4(v), _mm256_sub_pd(hi4(g), a1)));
    }
    st<kFull>(gx + i * inner, m, r);
  }
}

void forward(const float* x, int64_t outer, int64_t n, int64_t inner, float* out, bool log) {
  for (int64_t o = 0; o < outer; o++) {
    const int64_t base = o * n * inner;
    if (inner == 1) {
      softmax_row(x + base, n, out + base, log);
      continue;
    }
    int64_t j = 0;
    for (; j + 8 <= inner; j += 8) softmax_cols<true>(x + base + j, n, inner, out + base + j, log, __m256i());
    if (j < inner) softmax_cols<false>(x + base + j, n, inner, out + base + j, log, tail_mask(inner - j));
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
    for (; j + 8 <= inner; j += 8)
      softmax_grad_cols<true>(y + base + j, gy + base + j, n, inner, gx + base + j, log, __m256i());
    if (j < inner)
      softmax_grad_cols<false>(y + base + j, gy + base + j, n, inner, gx + base + j, log, tail_mask(inner - j));
  }
}

}  // namespace
}  // namespace avx2

constexpr SoftmaxKernels kSoftmaxAvx2{avx2::forward, avx2::backward};

}  // namespace tg
