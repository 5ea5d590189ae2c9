// The portable fused primitives (the Scalar table's): the softmax-cross-entropy row passes in
// double, the Adam step in float, and the SGD and RMSprop steps one double at a time
// (optim_rows.h). Compiled with the baseline flags.
#include <cmath>
#include <limits>

#include "kernels/dispatch.h"
#include "kernels/optim_rows.h"

namespace tg {
namespace scalar {
namespace {

float row_max_sum(const float* x, int64_t n, double* sum_x) {
  float mx = -std::numeric_limits<float>::infinity();
  double s = 0.0;
  for (int64_t i = 0; i < n; i++) {
    if (x[i] > mx) mx = x[i];
    s += x[i];
  }
  if (sum_x) *sum_x = s;
  return mx;
}

double exp_sum(const float* x, int64_t n, float mx, double* ones, float* e) {
  double s = 0.0, k = 0.0;
  for (int64_t i = 0; i < n; i++) {
    const float v = x[i];
    const float ei = static_cast<float>(std::exp(double(v) - double(mx)));
    if (v == mx) k += 1.0;
    else s += ei;
    if (e) e[i] = ei;
  }
  *ones = k;
  return s;
}

double exp_sum_prob(const float* x, const float* t, int64_t n, float mx, double* ones, double* b, double* tsum,
                    float* e) {
  double bb = 0.0, ts = 0.0;
  for (int64_t i = 0; i < n; i++) {
    bb += double(t[i]) * (double(mx) - double(x[i]));
    ts += t[i];
  }
  *b = bb;
  *tsum = ts;
  return exp_sum(x, n, mx, ones, e);
}

void xent_grad(const float* e, const float* t, int64_t n, double pinv, double t_mul, double t_add, double sc,
               float* g) {
  for (int64_t i = 0; i < n; i++) {
    const double target = t ? t_add + t_mul * double(t[i]) : t_add;
    g[i] = static_cast<float>((double(e[i]) * pinv - target) * sc);
  }
}

// The same float operations, in the same order, as fused_avx2.cc's.
void adam(float* p, const float* g, float* m, float* v, float* vmax, int64_t n, const detail::AdamConsts& k) {
  for (int64_t i = 0; i < n; i++) {
    float pi = p[i], gi = g[i];
    if (k.coupled_wd) gi = gi + k.wd * pi;
    if (k.decoupled_wd) pi = pi * k.decay;
    const float mi = m[i];
    const float mn = k.small_w ? mi + k.w * (gi - mi) : gi - (gi - mi) * k.omw;
    const float vn = v[i] * k.beta2 + (k.omb2 * gi) * gi;
    m[i] = mn;
    v[i] = vn;
    float vh = vn;
    if (k.amsgrad) {
      const float vm = vmax[i];
      vh = vm != vm ? vm : (vm > vn ? vm : vn);  // torch.maximum: NaN propagates
      vmax[i] = vh;
    }
    const float denom = std::sqrt(vh) * k.inv_bc2s + k.eps;
    p[i] = pi + (k.neg_step * mn) / denom;
  }
}

}  // namespace
}  // namespace scalar

constexpr FusedKernels kFusedScalar{scalar::row_max_sum,
                                    scalar::exp_sum,
                                    scalar::exp_sum_prob,
                                    scalar::xent_grad,
                                    scalar::adam,
                                    optim_rows::sgd<optim_rows::ScalarD>,
                                    optim_rows::rmsprop<optim_rows::ScalarD>};

}  // namespace tg
