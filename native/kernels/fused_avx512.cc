// AVX-512 primitives of the fused softmax-cross-entropy rows: the AVX-512 table's
// (kernels/dispatch.h), the exp passes only, bit for bit fused_avx2.cc's (vmath_avx512.h's exp,
// the double sums in AVX2's lane order: simd_avx512.h). The max/Σx pass and the gradient move
// memory rather than compute, and stay AVX2's. So does the Adam step: a 16-lane port (with the one
// division per element of fused.h) ran faster alone (401k parameters, one Zen 5 core: 98 vs
// 119 us) but slower inside a training step, where its arrays come from L3 (batch-32 MLP step,
// 2 threads: 0.91-1.01 vs 0.81-0.88 ms, the whole step slowing, not only the Adam call).
// No std:: templates here (see vmath_avx2.h).
// GCC 12 warns inside its own AVX-512 intrinsics: see elementwise_avx512.cc.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/optim_rows.h"
#include "kernels/simd_avx512.h"
#include "kernels/vmath_avx512.h"

namespace tg {
namespace avx512 {
namespace {

// s = AVX2's s0 | s1 after it adds the 8-chunks of v in order; the second only when it exists
// (rem > 8), as AVX2 adds nothing for a chunk past the end.
inline __m512d add_chunks(__m512d s, __m512d lo, __m512d hi, int64_t rem) {
  s = _mm512_add_pd(s, lo);
  return rem > 8 ? _mm512_add_pd(s, hi) : s;
}

double exp_sum(const float* x, int64_t n, float mx, double* ones, float* e) {
  const __m512 negm = _mm512_set1_ps(-mx), vmx = _mm512_set1_ps(mx);
  __m512d s = _mm512_setzero_pd(), o = s;
  auto step = [&](__m512 v, __m512 ev, __mmask16 live, int64_t rem) {
    const __mmask16 eq = _mm512_cmp_ps_mask(v, vmx, _CMP_EQ_OQ) & live;
    const __m512 rest = _mm512_maskz_mov_ps(live & ~eq, ev);
    const __m512 one = _mm512_maskz_mov_ps(eq, _mm512_set1_ps(1.0f));
    s = add_chunks(s, lo8(rest), hi8(rest), rem);
    o = add_chunks(o, lo8(one), hi8(one), rem);
  };
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    const __m512 ev = vmz::exp_diff(v, negm);
    if (e) _mm512_storeu_ps(e + i, ev);
    step(v, ev, 0xffff, 16);
  }
  if (i < n) {
    const __mmask16 m = tail16(n - i);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    const __m512 ev = vmz::exp_diff(v, negm);
    if (e) _mm512_mask_storeu_ps(e + i, m, ev);
    step(v, ev, m, n - i);
  }
  *ones = hsum(o);
  return hsum(s);
}

double exp_sum_prob(const float* x, const float* t, int64_t n, float mx, double* ones, double* b, double* tsum,
                    float* e) {
  const __m512d vm = _mm512_set1_pd(double(mx));
  __m512d bs = _mm512_setzero_pd(), ts = bs;
  // fused_avx2.cc's t·(mx - x) and Σt; masked-off lanes load t = 0 and x = 0
  auto step = [&](__m512 xv, __m512 tv, int64_t rem) {
    const __m512d t0 = lo8(tv), t1 = hi8(tv);
    bs = _mm512_fmadd_pd(t0, _mm512_sub_pd(vm, lo8(xv)), bs);
    if (rem > 8) bs = _mm512_fmadd_pd(t1, _mm512_sub_pd(vm, hi8(xv)), bs);
    ts = add_chunks(ts, t0, t1, rem);
  };
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) step(_mm512_loadu_ps(x + i), _mm512_loadu_ps(t + i), 16);
  if (i < n) {
    const __mmask16 m = tail16(n - i);
    step(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, t + i), n - i);
  }
  *b = hsum(bs);
  *tsum = hsum(ts);
  return exp_sum(x, n, mx, ones, e);
}

// Eight doubles per zmm, for the SGD and RMSprop steps (optim_rows.h).
struct D8 {
  static constexpr int W = 8;
  using V = __m512d;
  static V load(const float* p) { return _mm512_cvtps_pd(_mm256_loadu_ps(p)); }
  static void store(float* p, V x) { _mm256_storeu_ps(p, _mm512_cvtpd_ps(x)); }
  static V round(V x) { return _mm512_cvtps_pd(_mm512_cvtpd_ps(x)); }
  static V set1(double x) { return _mm512_set1_pd(x); }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static V sub(V a, V b) { return _mm512_sub_pd(a, b); }
  static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  static V div(V a, V b) { return _mm512_div_pd(a, b); }
  static V sqrt(V a) { return _mm512_sqrt_pd(a); }
  static V neg(V a) { return _mm512_xor_pd(a, _mm512_set1_pd(-0.0)); }
};

}  // namespace
}  // namespace avx512

constexpr FusedKernels kFusedAvx512{nullptr,
                                    avx512::exp_sum,
                                    avx512::exp_sum_prob,
                                    nullptr,
                                    nullptr,
                                    optim_rows::sgd<avx512::D8>,
                                    optim_rows::rmsprop<avx512::D8>};

}  // namespace tg
