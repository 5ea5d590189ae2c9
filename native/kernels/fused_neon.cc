// aarch64 NEON primitives of the fused kernels (softmax-cross-entropy rows, the Adam step): the
// NEON table's (kernels/dispatch.h). A port of fused_avx2.cc, 4 lanes at a time.
#include <arm_neon.h>

#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/optim_rows.h"
#include "kernels/simd_neon.h"
#include "kernels/vmath_neon.h"

namespace tg {
namespace neon {
namespace {

using vmn::exp_diff;

float row_max_sum(const float* x, int64_t n, double* sum_x) {
  float32x4_t m0 = vdupq_n_f32(-__builtin_inff());
  float64x2_t s0 = vdupq_n_f64(0.0), s1 = s0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t v = vld1q_f32(x + i);
    m0 = max_skip_nan(v, m0);
    if (sum_x) {
      s0 = vaddq_f64(s0, lo2(v));
      s1 = vaddq_f64(s1, hi2(v));
    }
  }
  float mx = hmax(m0);
  double s = hsum(s0, s1);
  for (; i < n; i++) {
    if (x[i] > mx) mx = x[i];
    s += x[i];
  }
  if (sum_x) *sum_x = s;
  return mx;
}

double exp_sum(const float* x, int64_t n, float mx, double* ones, float* e) {
  const float32x4_t negm = vdupq_n_f32(-mx), vmx = vdupq_n_f32(mx);
  float64x2_t s0 = vdupq_n_f64(0.0), s1 = s0, o0 = s0, o1 = s0;
  auto step = [&](float32x4_t v, float32x4_t ev, uint32x4_t live) {
    const uint32x4_t eq = vandq_u32(vceqq_f32(v, vmx), live);
    const float32x4_t rest = vmn::vand(vbicq_u32(live, eq), ev);
    const float32x4_t one = vmn::vand(eq, vdupq_n_f32(1.0f));
    s0 = vaddq_f64(s0, lo2(rest));
    s1 = vaddq_f64(s1, hi2(rest));
    o0 = vaddq_f64(o0, lo2(one));
    o1 = vaddq_f64(o1, hi2(one));
  };
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t v = vld1q_f32(x + i);
    const float32x4_t ev = exp_diff(v, negm);
    if (e) vst1q_f32(e + i, ev);
    step(v, ev, vdupq_n_u32(~0u));
  }
  if (i < n) {
    const int64_t r = n - i;
    const float32x4_t v = load_tail(x + i, r);
    const float32x4_t ev = exp_diff(v, negm);
    if (e) store_tail(e + i, r, ev);
    step(v, ev, tail_mask(r));
  }
  *ones = hsum(o0, o1);
  return hsum(s0, s1);
}

double exp_sum_prob(const float* x, const float* t, int64_t n, float mx, double* ones, double* b, double* tsum,
                    float* e) {
  const float64x2_t vm = vdupq_n_f64(double(mx));
  float64x2_t b0 = vdupq_n_f64(0.0), b1 = b0, t0 = b0, t1 = b0;
  // t·(mx - x): tail lanes hold t = 0 and x = 0 and add 0 (unless mx is infinite, and then the
  // row is NaN anyway)
  auto step = [&](float32x4_t xv, float32x4_t tv) {
    b0 = vfmaq_f64(b0, lo2(tv), vsubq_f64(vm, lo2(xv)));
    b1 = vfmaq_f64(b1, hi2(tv), vsubq_f64(vm, hi2(xv)));
    t0 = vaddq_f64(t0, lo2(tv));
    t1 = vaddq_f64(t1, hi2(tv));
  };
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) step(vld1q_f32(x + i), vld1q_f32(t + i));
  if (i < n) step(load_tail(x + i, n - i), load_tail(t + i, n - i));
  *b = hsum(b0, b1);
  *tsum = hsum(t0, t1);
  return exp_sum(x, n, mx, ones, e);
}

// In float, unlike the scalar path's double (as fused_avx2.cc).
void xent_grad(const float* e, const float* t, int64_t n, double pinv, double t_mul, double t_add, double sc,
               float* g) {
  const float32x4_t vp = vdupq_n_f32(static_cast<float>(pinv));
  const float32x4_t vtm = vdupq_n_f32(static_cast<float>(t_mul));
  const float32x4_t vta = vdupq_n_f32(static_cast<float>(t_add));
  const float32x4_t vsc = vdupq_n_f32(static_cast<float>(sc));
  auto val = [&](float32x4_t ev, float32x4_t tv) {
    const float32x4_t target = t ? vmn::vfma(vtm, tv, vta) : vta;
    return vmulq_f32(vmn::vfms(ev, vp, target), vsc);
  };
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(g + i, val(vld1q_f32(e + i), t ? vld1q_f32(t + i) : vdupq_n_f32(0.0f)));
  if (i < n) {
    const int64_t r = n - i;
    const float32x4_t tv = t ? load_tail(t + i, r) : vdupq_n_f32(0.0f);
    store_tail(g + i, r, val(load_tail(e + i, r), tv));
  }
}

// Adam/AdamW step: the float operations of fused_scalar.cc's loop in its order, every product
// that PyTorch rounds on its own kept apart from its sum (vmn::opaque), so the bits are the
// scalar path's.
void adam(float* p, const float* g, float* m, float* v, float* vmax, int64_t n, const detail::AdamConsts& k) {
  using vmn::opaque;
  const float32x4_t wd = vdupq_n_f32(k.wd), decay = vdupq_n_f32(k.decay);
  const float32x4_t w = vdupq_n_f32(k.w), omw = vdupq_n_f32(k.omw);
  const float32x4_t beta2 = vdupq_n_f32(k.beta2), omb2 = vdupq_n_f32(k.omb2);
  const float32x4_t ibc = vdupq_n_f32(k.inv_bc2s), eps = vdupq_n_f32(k.eps), ns = vdupq_n_f32(k.neg_step);
  for (int64_t i = 0; i < n; i += 4) {
    const int64_t r = n - i < 4 ? n - i : 4;
    const bool full = r == 4;
    float32x4_t pi = full ? vld1q_f32(p + i) : load_tail(p + i, r);
    float32x4_t gi = full ? vld1q_f32(g + i) : load_tail(g + i, r);
    const float32x4_t mi = full ? vld1q_f32(m + i) : load_tail(m + i, r);
    const float32x4_t vi = full ? vld1q_f32(v + i) : load_tail(v + i, r);
    if (k.coupled_wd) gi = vaddq_f32(gi, opaque(vmulq_f32(wd, pi)));
    if (k.decoupled_wd) pi = vmulq_f32(pi, decay);
    const float32x4_t gm = vsubq_f32(gi, mi);
    const float32x4_t mn =
        k.small_w ? vaddq_f32(mi, opaque(vmulq_f32(w, gm))) : vsubq_f32(gi, opaque(vmulq_f32(gm, omw)));
    const float32x4_t vn = vaddq_f32(opaque(vmulq_f32(vi, beta2)), opaque(vmulq_f32(vmulq_f32(omb2, gi), gi)));
    float32x4_t vh = vn;
    if (k.amsgrad) {
      const float32x4_t vmi = full ? vld1q_f32(vmax + i) : load_tail(vmax + i, r);
      // vm > vn ? vm : vn, and vm where vm is NaN (torch.maximum propagates NaN)
      vh = vbslq_f32(vorrq_u32(vcgtq_f32(vmi, vn), vmvnq_u32(vceqq_f32(vmi, vmi))), vmi, vn);
      if (full) vst1q_f32(vmax + i, vh);
      else store_tail(vmax + i, r, vh);
    }
    const float32x4_t denom = vaddq_f32(opaque(vmulq_f32(vsqrtq_f32(vh), ibc)), eps);
    const float32x4_t pn = vaddq_f32(pi, vdivq_f32(vmulq_f32(ns, mn), denom));
    if (full) {
      vst1q_f32(p + i, pn);
      vst1q_f32(m + i, mn);
      vst1q_f32(v + i, vn);
    } else {
      store_tail(p + i, r, pn);
      store_tail(m + i, r, mn);
      store_tail(v + i, r, vn);
    }
  }
}

// Two doubles per register, for the SGD and RMSprop steps (optim_rows.h).
struct D2 {
  static constexpr int W = 2;
  using V = float64x2_t;
  static V load(const float* p) { return vcvt_f64_f32(vld1_f32(p)); }
  static void store(float* p, V x) { vst1_f32(p, vcvt_f32_f64(x)); }
  static V round(V x) { return vcvt_f64_f32(vcvt_f32_f64(x)); }
  static V set1(double x) { return vdupq_n_f64(x); }
  static V add(V a, V b) { return vaddq_f64(a, b); }
  static V sub(V a, V b) { return vsubq_f64(a, b); }
  static V mul(V a, V b) { return vmulq_f64(a, b); }
  static V div(V a, V b) { return vdivq_f64(a, b); }
  static V sqrt(V a) { return vsqrtq_f64(a); }
  static V neg(V a) { return vnegq_f64(a); }
};

}  // namespace
}  // namespace neon

constexpr FusedKernels kFusedNeon{neon::row_max_sum,     neon::exp_sum, neon::exp_sum_prob, neon::xent_grad,
                                  neon::adam,            optim_rows::sgd<neon::D2>,
                                  optim_rows::rmsprop<neon::D2>};

}  // namespace tg
