// AVX2+FMA primitives of the fused kernels (softmax-cross-entropy rows, the Adam step): the AVX2
// table's, and the AVX-512 table's where fused_avx512.cc has none (kernels/dispatch.h). No std::
// templates here (see vmath_avx2.h).
#include <immintrin.h>

#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/optim_rows.h"
#include "kernels/simd_avx2.h"
#include "kernels/vmath_avx2.h"

namespace tg {
namespace avx2 {
namespace {

using vm::exp_diff;

// max_ps keeps its second operand when the first is NaN: `v > max` semantics.
float row_max_sum(const float* x, int64_t n, double* sum_x) {
  __m256 m0 = _mm256_set1_ps(-__builtin_inff());
  __m256d s0 = _mm256_setzero_pd(), s1 = s0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    m0 = _mm256_max_ps(v, m0);
    if (sum_x) {
      s0 = _mm256_add_pd(s0, lo4(v));
      s1 = _mm256_add_pd(s1, hi4(v));
    }
  }
  alignas(32) float l[8];
  _mm256_store_ps(l, m0);
  float mx = l[0];
  for (int k = 1; k < 8; k++)
    if (l[k] > mx) mx = l[k];
  double s = hsum(_mm256_add_pd(s0, s1));
  for (; i < n; i++) {
    if (x[i] > mx) mx = x[i];
    s += x[i];
  }
  if (sum_x) *sum_x = s;
  return mx;
}

double exp_sum(const float* x, int64_t n, float mx, double* ones, float* e) {
  const __m256 negm = _mm256_set1_ps(-mx), vmx = _mm256_set1_ps(mx);
  __m256d s0 = _mm256_setzero_pd(), s1 = s0, o0 = s0, o1 = s0;
  auto step = [&](__m256 v, __m256 ev, __m256 live) {
    const __m256 eq = _mm256_and_ps(_mm256_cmp_ps(v, vmx, _CMP_EQ_OQ), live);
    const __m256 rest = _mm256_andnot_ps(eq, _mm256_and_ps(ev, live));
    const __m256 one = _mm256_and_ps(eq, _mm256_set1_ps(1.0f));
    s0 = _mm256_add_pd(s0, lo4(rest));
    s1 = _mm256_add_pd(s1, hi4(rest));
    o0 = _mm256_add_pd(o0, lo4(one));
    o1 = _mm256_add_pd(o1, hi4(one));
  };
  const __m256 all = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {  // plain loads/stores: vmaskmov is slow on some CPUs
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 ev = exp_diff(v, negm);
    if (e) _mm256_storeu_ps(e + i, ev);
    step(v, ev, all);
  }
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    const __m256 v = _mm256_maskload_ps(x + i, m);
    const __m256 ev = exp_diff(v, negm);
    if (e) _mm256_maskstore_ps(e + i, m, ev);
    step(v, ev, _mm256_castsi256_ps(m));
  }
  *ones = hsum(_mm256_add_pd(o0, o1));
  return hsum(_mm256_add_pd(s0, s1));
}

double exp_sum_prob(const float* x, const float* t, int64_t n, float mx, double* ones, double* b, double* tsum,
                    float* e) {
  const __m256d vm = _mm256_set1_pd(double(mx));
  __m256d b0 = _mm256_setzero_pd(), b1 = b0, t0 = b0, t1 = b0;
  // t·(mx - x): masked-off tail lanes hold t = 0 and x = 0 and add 0 (unless mx is infinite, and
  // then the row is NaN anyway)
  auto step = [&](__m256 xv, __m256 tv) {
    b0 = _mm256_fmadd_pd(lo4(tv), _mm256_sub_pd(vm, lo4(xv)), b0);
    b1 = _mm256_fmadd_pd(hi4(tv), _mm256_sub_pd(vm, hi4(xv)), b1);
    t0 = _mm256_add_pd(t0, lo4(tv));
    t1 = _mm256_add_pd(t1, hi4(tv));
  };
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) step(_mm256_loadu_ps(x + i), _mm256_loadu_ps(t + i));
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    step(_mm256_maskload_ps(x + i, m), _mm256_maskload_ps(t + i, m));
  }
  *b = hsum(_mm256_add_pd(b0, b1));
  *tsum = hsum(_mm256_add_pd(t0, t1));
  return exp_sum(x, n, mx, ones, e);
}

// In float, unlike the scalar path's double.
void xent_grad(const float* e, const float* t, int64_t n, double pinv, double t_mul, double t_add, double sc,
               float* g) {
  const __m256 vp = _mm256_set1_ps(static_cast<float>(pinv));
  const __m256 vtm = _mm256_set1_ps(static_cast<float>(t_mul));
  const __m256 vta = _mm256_set1_ps(static_cast<float>(t_add));
  const __m256 vsc = _mm256_set1_ps(static_cast<float>(sc));
  auto val = [&](__m256 ev, __m256 tv) {
    const __m256 target = t ? _mm256_fmadd_ps(vtm, tv, vta) : vta;
    return _mm256_mul_ps(_mm256_fmsub_ps(ev, vp, target), vsc);
  };
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(g + i, val(_mm256_loadu_ps(e + i), t ? _mm256_loadu_ps(t + i) : _mm256_setzero_ps()));
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    const __m256 tv = t ? _mm256_maskload_ps(t + i, m) : _mm256_setzero_ps();
    _mm256_maskstore_ps(g + i, m, val(_mm256_maskload_ps(e + i, m), tv));
  }
}

// Adam/AdamW step. Every product that PyTorch rounds on its own goes through vm::opaque() so GCC
// cannot fuse it into an FMA: the result is bit-identical to fused_scalar.cc's loop.
void adam(float* p, const float* g, float* m, float* v, float* vmax, int64_t n, const detail::AdamConsts& k) {
  using vm::opaque;
  const __m256 wd = _mm256_set1_ps(k.wd), decay = _mm256_set1_ps(k.decay);
  const __m256 w = _mm256_set1_ps(k.w), omw = _mm256_set1_ps(k.omw);
  const __m256 beta2 = _mm256_set1_ps(k.beta2), omb2 = _mm256_set1_ps(k.omb2);
  const __m256 ibc = _mm256_set1_ps(k.inv_bc2s), eps = _mm256_set1_ps(k.eps), ns = _mm256_set1_ps(k.neg_step);
  for (int64_t i = 0; i < n; i += 8) {
    const bool full = i + 8 <= n;
    const __m256i mask = full ? _mm256_set1_epi32(-1) : tail_mask(n - i);
    __m256 pi = full ? _mm256_loadu_ps(p + i) : _mm256_maskload_ps(p + i, mask);
    __m256 gi = full ? _mm256_loadu_ps(g + i) : _mm256_maskload_ps(g + i, mask);
    const __m256 mi = full ? _mm256_loadu_ps(m + i) : _mm256_maskload_ps(m + i, mask);
    const __m256 vi = full ? _mm256_loadu_ps(v + i) : _mm256_maskload_ps(v + i, mask);
    if (k.coupled_wd) gi = _mm256_add_ps(gi, opaque(_mm256_mul_ps(wd, pi)));
    if (k.decoupled_wd) pi = _mm256_mul_ps(pi, decay);
    const __m256 gm = _mm256_sub_ps(gi, mi);
    const __m256 mn = k.small_w ? _mm256_add_ps(mi, opaque(_mm256_mul_ps(w, gm)))
                                : _mm256_sub_ps(gi, opaque(_mm256_mul_ps(gm, omw)));
    const __m256 vn = _mm256_add_ps(opaque(_mm256_mul_ps(vi, beta2)),
                                    opaque(_mm256_mul_ps(_mm256_mul_ps(omb2, gi), gi)));
    __m256 vh = vn;
    if (k.amsgrad) {
      const __m256 vmi = full ? _mm256_loadu_ps(vmax + i) : _mm256_maskload_ps(vmax + i, mask);
      // vm > vn ? vm : vn, and vm where vm is NaN (torch.maximum propagates NaN)
      vh = _mm256_blendv_ps(_mm256_max_ps(vmi, vn), vmi, _mm256_cmp_ps(vmi, vmi, _CMP_UNORD_Q));
      if (full) _mm256_storeu_ps(vmax + i, vh);
      else _mm256_maskstore_ps(vmax + i, mask, vh);
    }
    const __m256 denom = _mm256_add_ps(opaque(_mm256_mul_ps(_mm256_sqrt_ps(vh), ibc)), eps);
    const __m256 pn = _mm256_add_ps(pi, _mm256_div_ps(_mm256_mul_ps(ns, mn), denom));
    if (full) {
      _mm256_storeu_ps(p + i, pn);
      _mm256_storeu_ps(m + i, mn);
      _mm256_storeu_ps(v + i, vn);
    } else {
      _mm256_maskstore_ps(p + i, mask, pn);
      _mm256_maskstore_ps(m + i, mask, mn);
      _mm256_maskstore_ps(v + i, mask, vn);
    }
  }
}

// Four doubles per ymm, for the SGD and RMSprop steps (optim_rows.h).
struct D4 {
  static constexpr int W = 4;
  using V = __m256d;
  static V load(const float* p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); }
  static void store(float* p, V x) { _mm_storeu_ps(p, _mm256_cvtpd_ps(x)); }
  static V round(V x) { return _mm256_cvtps_pd(_mm256_cvtpd_ps(x)); }
  static V set1(double x) { return _mm256_set1_pd(x); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static V sub(V a, V b) { return _mm256_sub_pd(a, b); }
  static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  static V div(V a, V b) { return _mm256_div_pd(a, b); }
  static V sqrt(V a) { return _mm256_sqrt_pd(a); }
  static V neg(V a) { return _mm256_xor_pd(a, _mm256_set1_pd(-0.0)); }
};

}  // namespace
}  // namespace avx2

constexpr FusedKernels kFusedAvx2{avx2::row_max_sum,
                                  avx2::exp_sum,
                                  avx2::exp_sum_prob,
                                  avx2::xent_grad,
                                  avx2::adam,
                                  optim_rows::sgd<avx2::D4>,
                                  optim_rows::rmsprop<avx2::D4>};

}  // namespace tg
