// Fused kernels: the row orchestration of softmax-cross-entropy (formulas in double), the scalar
// primitives, the scalar Adam step, and dispatch to fused_avx2.cc.
#include "kernels/fused.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif
#include <algorithm>
#include <cmath>
#include <limits>

#include "cpu.h"
#include "kernels/parallel.h"
#include "threadpool.h"

namespace tg {

#if TG_X86_KERNELS
// Implemented in fused_avx2.cc; call only when active_isa() >= Isa::Avx2.
namespace avx2 {
float row_max_sum(const float* x, int64_t n, double* sum_x);
double exp_sum(const float* x, int64_t n, float mx, double* ones, float* e);
double exp_sum_prob(const float* x, const float* t, int64_t n, float mx, double* ones, double* b, double* tsum,
                    float* e);
void xent_grad(const float* e, const float* t, int64_t n, double pinv, double t_mul, double t_add, double sc,
               float* g);
void adam(float* p, const float* g, float* m, float* v, float* vmax, int64_t n, const detail::AdamConsts& k);
}  // namespace avx2
#endif

namespace {

// ---- scalar primitives (double throughout) ----------------------------------------------------------

// Row max with `v > max` (NaN skipped, as softmax.ts) and, if asked, Σx in double.
float row_max_sum_scalar(const float* x, int64_t n, double* sum_x) {
  float mx = -std::numeric_limits<float>::infinity();
  double s = 0.0;
  for (int64_t i = 0; i < n; i++) {
    if (x[i] > mx) mx = x[i];
    s += x[i];
  }
  if (sum_x) *sum_x = s;
  return mx;
}

// Σ exp(x - mx) split as ones + rest: *ones counts the entries equal to mx (each contributes
// exactly 1), the return value sums the others. log Σ = log(ones) + log1p(rest/ones) then keeps
// full relative precision for a confident row (loss ~1e-20), and s - e_t needs no cancellation.
// If e is not null it receives every exp(x_i - mx) as float (the sum adds exactly those values);
// e may alias x.
double exp_sum_scalar(const float* x, int64_t n, float mx, double* ones, float* e) {
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

double exp_sum_prob_scalar(const float* x, const float* t, int64_t n, float mx, double* ones, double* b,
                           double* tsum, float* e) {
  double bb = 0.0, ts = 0.0;
  for (int64_t i = 0; i < n; i++) {
    bb += double(t[i]) * (double(mx) - double(x[i]));
    ts += t[i];
  }
  *b = bb;
  *tsum = ts;
  return exp_sum_scalar(x, n, mx, ones, e);
}

// g_c = (e_c·pinv - (t ? t_mul·t_c : 0) - t_add)·sc; e may alias g.
void xent_grad_scalar(const float* e, const float* t, int64_t n, double pinv, double t_mul, double t_add, double sc,
                      float* g) {
  for (int64_t i = 0; i < n; i++) {
    const double target = t ? t_add + t_mul * double(t[i]) : t_add;
    g[i] = static_cast<float>((double(e[i]) * pinv - target) * sc);
  }
}

// ---- dispatch table for the row primitives ------------------------------------------------------------

struct XentOps {
  float (*row_max_sum)(const float*, int64_t, double*);
  double (*exp_sum)(const float*, int64_t, float, double*, float*);
  double (*exp_sum_prob)(const float*, const float*, int64_t, float, double*, double*, double*, float*);
  void (*grad)(const float*, const float*, int64_t, double, double, double, double, float*);
};

XentOps xent_ops() {
#if TG_X86_KERNELS
  if (active_isa() >= Isa::Avx2)
    return {avx2::row_max_sum, avx2::exp_sum, avx2::exp_sum_prob, avx2::xent_grad};
#endif
  return {row_max_sum_scalar, exp_sum_scalar, exp_sum_prob_scalar, xent_grad_scalar};
}

void fill(float* p, int64_t n, float v) {
  for (int64_t i = 0; i < n; i++) p[i] = v;
}

// ---- Adam, scalar: the same float operations, in the same order, as fused_avx2.cc ------------------

void adam_scalar(float* p, const float* g, float* m, float* v, float* vmax, int64_t n, const detail::AdamConsts& k) {
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
    const float denom = std::sqrt(vh) / k.bc2s + k.eps;
    p[i] = pi + (k.neg_step * mn) / denom;
  }
}

// Runs body(i0, len) over [0, n) in kAdamChunk pieces on the pool, or at once below the threshold.
template <class Body>
void split(int64_t n, ThreadPool* pool, Body body) {
  parallel_range(n, kAdamChunk, kAdamParallelMin, pool, body);
}

}  // namespace

void sgd_step(float* p, const float* g, float* buf, int64_t n, const SgdParams& hp, ThreadPool* pool) {
  if (n <= 0) return;
  const double sign = hp.maximize ? -1.0 : 1.0, lr = hp.lr, mom = hp.momentum, omd = 1.0 - hp.dampening;
  const double wd = hp.weight_decay;
  split(n, pool, [&](int64_t i0, int64_t len) {
    for (int64_t i = i0; i < i0 + len; i++) {
      double d = static_cast<float>(sign * double(g[i]));
      if (wd != 0.0) d = static_cast<float>(d + wd * double(p[i]));
      if (buf) {
        const double bi = hp.first ? d : double(static_cast<float>(double(buf[i]) * mom)) + omd * d;
        buf[i] = static_cast<float>(bi);
        d = hp.nesterov ? d + mom * bi : bi;
      }
      p[i] = static_cast<float>(double(p[i]) - lr * d);
    }
  });
}

void rmsprop_step(float* p, const float* g, float* sq, float* grad_avg, float* buf, int64_t n, const RmspropParams& hp,
                  ThreadPool* pool) {
  if (n <= 0) return;
  const double lr = hp.lr, alpha = hp.alpha, oma = 1.0 - hp.alpha, eps = hp.eps, wd = hp.weight_decay;
  const double mom = hp.momentum;
  split(n, pool, [&](int64_t i0, int64_t len) {
    for (int64_t i = i0; i < i0 + len; i++) {
      double gi = hp.maximize ? -double(g[i]) : double(g[i]);
      if (wd != 0.0) gi = static_cast<float>(gi + wd * double(p[i]));
      const double si = double(static_cast<float>(double(sq[i]) * alpha)) + oma * gi * gi;
      sq[i] = static_cast<float>(si);
      double avg;
      if (grad_avg) {
        const double gai = double(static_cast<float>(double(grad_avg[i]) * alpha)) + oma * gi;
        grad_avg[i] = static_cast<float>(gai);
        avg = std::sqrt(double(static_cast<float>(si - gai * gai)));
      } else {
        avg = std::sqrt(si);
      }
      avg = double(static_cast<float>(avg)) + eps;
      if (buf) {
        const double bi = double(static_cast<float>(double(buf[i]) * mom)) + gi / avg;
        buf[i] = static_cast<float>(bi);
        p[i] = static_cast<float>(double(p[i]) - lr * bi);
      } else {
        p[i] = static_cast<float>(double(p[i]) - (lr * gi) / avg);
      }
    }
  });
}

double softmax_xent_index(const float* logits, int64_t rows, int64_t classes, const float* targets,
                          int64_t ignore_index, double label_smoothing, double scale, const float* row_scale,
                          float* row_loss, float* dlogits) {
  if (rows <= 0 || classes <= 0) return 0.0;
  const XentOps ops = xent_ops();
  const double eps = label_smoothing;
  const double C = double(classes);
  const double ignore = double(ignore_index);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  double total = 0.0;
  for (int64_t r = 0; r < rows; r++) {
    const float* x = logits + r * classes;
    float* g = dlogits ? dlogits + r * classes : nullptr;
    const double tf = targets[r];
    if (tf == ignore) {
      if (row_loss) row_loss[r] = 0.0f;
      if (g) fill(g, classes, 0.0f);
      continue;
    }
    if (!(tf >= 0.0 && tf < C) || tf != std::floor(tf)) {  // the glue should have rejected it
      if (row_loss) row_loss[r] = static_cast<float>(nan);
      if (g) fill(g, classes, static_cast<float>(nan));
      total += nan;
      continue;
    }
    const int64_t t = static_cast<int64_t>(tf);
    const float xt = x[t];  // read before the gradient pass, which may overwrite x (in place)
    double sum_x = 0.0, ones = 0.0;
    const float mx = ops.row_max_sum(x, classes, eps != 0.0 ? &sum_x : nullptr);
    // pass 2: exp(x - mx) into the gradient row (when there is one) and its sum
    const double rest = ops.exp_sum(x, classes, mx, &ones, g);
    const double s = ones + rest;
    // log s; a +inf logit, or a row of -inf, poisons the row (as log_softmax does)
    const double log_s = std::isfinite(mx) ? std::log(ones) + std::log1p(rest / ones) : nan;
    // loss = (1-ε)·(lse - x_t) + ε·(lse - mean x), lse - x_t = (mx - x_t) + log s
    double loss = (1.0 - eps) * ((double(mx) - double(xt)) + log_s);
    if (eps != 0.0) loss += eps * ((double(mx) - sum_x / C) + log_s);
    if (row_loss) row_loss[r] = static_cast<float>(loss);
    total += loss;
    if (g) {
      // pass 3: g = (e·(1/s) - ε/C)·sc over the row, then the target class exactly:
      // softmax_t - t'_t = -(s - e_t)/s + ε(1 - 1/C), with s - e_t formed without cancellation
      // (e_t is exactly the term the sum holds for class t)
      const double sc = scale * (row_scale ? double(row_scale[r]) : 1.0);
      const double inv = std::isnan(log_s) ? nan : 1.0 / s;
      const double e_t = g[t];
      ops.grad(g, nullptr, classes, inv, 0.0, eps / C, sc, g);
      const double s_minus_et = xt == mx ? (ones - 1.0) + rest : ones + (rest - e_t);
      g[t] = static_cast<float>((-s_minus_et * inv + eps * (1.0 - 1.0 / C)) * sc);
    }
  }
  return total;
}

double softmax_xent_prob(const float* logits, int64_t rows, int64_t classes, const float* target_probs,
                         double label_smoothing, double scale, const float* row_scale, float* row_loss,
                         float* dlogits) {
  if (rows <= 0 || classes <= 0) return 0.0;
  const XentOps ops = xent_ops();
  const double eps = label_smoothing;
  const double C = double(classes);
  double total = 0.0;
  for (int64_t r = 0; r < rows; r++) {
    const float* x = logits + r * classes;
    const float* tp = target_probs + r * classes;
    double sum_x = 0.0, b = 0.0, tsum = 0.0, ones = 0.0;
    const float mx = ops.row_max_sum(x, classes, eps != 0.0 ? &sum_x : nullptr);
    float* g = dlogits ? dlogits + r * classes : nullptr;
    const double rest = ops.exp_sum_prob(x, tp, classes, mx, &ones, &b, &tsum, g);
    const double s = ones + rest;
    const double log_s = std::isfinite(mx) ? std::log(ones) + std::log1p(rest / ones)
                                           : std::numeric_limits<double>::quiet_NaN();
    // t' = (1-ε)t + ε/C, P = Σt' ; loss = Σ t'_c((mx - x_c) + log s)
    //      = (1-ε)·Σ t_c(mx - x_c) + (ε/C)·(C·mx - Σx) + P·log s
    const double P = (1.0 - eps) * tsum + eps;
    double loss = (1.0 - eps) * b + P * log_s;
    if (eps != 0.0) loss += (eps / C) * (C * double(mx) - sum_x);
    if (row_loss) row_loss[r] = static_cast<float>(loss);
    total += loss;
    if (g) {
      const double sc = scale * (row_scale ? double(row_scale[r]) : 1.0);
      ops.grad(g, tp, classes, std::isnan(log_s) ? log_s : P / s, 1.0 - eps, eps / C, sc, g);
    }
  }
  return total;
}

// Flushes subnormal floats to zero (inputs and results) on this thread while in scope, x86's
// FTZ and DAZ bits. Adam needs it: a weight whose gradient stays 0 (an input pixel that is 0 in
// every image, a dead ReLU unit) sees m shrink by beta1 each step, below 1e-38 after ~800 steps,
// and every operation on a subnormal costs ~100 cycles on x86: the whole step got 3-4x slower as
// training went on. Flushing changes only values below 1e-38, whose effect on the update
// (lr·m̂/(√v̂ + eps)) is far below a float's resolution of the weight.
struct FlushSubnormals {
#if defined(__x86_64__) || defined(__i386__)
  unsigned saved = _mm_getcsr();
  FlushSubnormals() { _mm_setcsr(saved | 0x8040u); }
  ~FlushSubnormals() { _mm_setcsr(saved); }
#elif defined(__aarch64__)
  // FPCR.FZ (bit 24): subnormal inputs and results are flushed to zero, as FTZ+DAZ on x86.
  uint64_t saved;
  FlushSubnormals() {
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(saved));
    __asm__ __volatile__("msr fpcr, %0" : : "r"(saved | (uint64_t{1} << 24)));
  }
  ~FlushSubnormals() { __asm__ __volatile__("msr fpcr, %0" : : "r"(saved)); }
#else
  FlushSubnormals() {}  // user-provided, so a variable of this type is not "unused"
#endif
};

void adam_step(float* p, const float* g, float* m, float* v, float* vmax, int64_t n, const AdamParams& hp,
               ThreadPool* pool) {
  if (n <= 0) return;
  detail::AdamConsts k;
  const double t = double(hp.step);
  k.wd = static_cast<float>(hp.weight_decay);
  k.decay = static_cast<float>(1.0 - hp.lr * hp.weight_decay);
  k.w = static_cast<float>(1.0 - hp.beta1);
  k.omw = 1.0f - k.w;
  k.beta2 = static_cast<float>(hp.beta2);
  k.omb2 = static_cast<float>(1.0 - hp.beta2);
  k.bc2s = static_cast<float>(std::sqrt(1.0 - std::pow(hp.beta2, t)));
  k.eps = static_cast<float>(hp.eps);
  k.neg_step = static_cast<float>(-(hp.lr / (1.0 - std::pow(hp.beta1, t))));
  k.small_w = std::fabs(k.w) < 0.5f;
  k.coupled_wd = hp.weight_decay != 0.0 && !hp.decoupled;
  k.decoupled_wd = hp.weight_decay != 0.0 && hp.decoupled;
  k.amsgrad = hp.amsgrad && vmax != nullptr;
#if TG_X86_KERNELS
  const auto run = active_isa() >= Isa::Avx2 ? avx2::adam : adam_scalar;
#else
  const auto run = adam_scalar;
#endif
  split(n, pool, [&](int64_t i, int64_t len) {
    FlushSubnormals ftz;  // per piece, on the thread that runs it: MXCSR is thread state
    run(p + i, g + i, m + i, v + i, vmax ? vmax + i : nullptr, len, k);
  });
}

}  // namespace tg
