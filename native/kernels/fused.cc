// Fused kernels: the row orchestration of softmax-cross-entropy (formulas in double), the Adam
// step's constants and split, and the SGD and RMSprop steps (no SIMD variants: they must match
// the TypeScript backend bit for bit). The row passes and the Adam step are the active ISA's
// (kernels/dispatch.h: fused_scalar.cc, fused_avx2.cc, fused_neon.cc; the AVX-512 table keeps
// AVX2's Adam).
#include "kernels/fused.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/flush_subnormals.h"
#include "kernels/parallel.h"
#include "threadpool.h"
#include "kernels/log_count.h"

namespace tg {

namespace {

void fill(float* p, int64_t n, float v) {
  for (int64_t i = 0; i < n; i++) p[i] = v;
}

// Runs body(i0, len) over [0, n) in one contiguous piece per thread of the pool (a multiple of 16
// elements: only the last piece has a tail), or at once below kAdamParallelMin. The same piece
// goes to the same thread at every step (the pool's caller runs piece 0), as the rows of the
// weight's gradient did in the GEMM that wrote it (gemm.cc: best_grid). With 16K-element pieces
// claimed dynamically, Adam over a 401k-parameter weight right after its gradient GEMM took
// 150-160 us on 2 threads of a Zen 5 guest, against about 105 us this way.
// The length of each thread's piece of n elements: n / threads rounded up to whole 16-lane vectors.
inline int64_t piece_length(int64_t n, int64_t threads) { return ((n + threads - 1) / threads + 15) / 16 * 16; }

template <class Body>
void split(int64_t n, ThreadPool* pool, Body body) {
  const int64_t threads = pool != nullptr && n >= kAdamParallelMin ? pool->threads() : 1;
  const int64_t piece = piece_length(n, threads);
  parallel_range(n, piece, 0, threads > 1 ? pool : nullptr, body);
}

}  // namespace

void sgd_step(float* p, const float* g, float* buf, int64_t n, const SgdParams& hp, ThreadPool* pool) {
  if (n <= 0) return;
  const auto run = active_kernels().fused.sgd;
  split(n, pool, [&](int64_t i0, int64_t len) { run(p + i0, g + i0, buf ? buf + i0 : nullptr, len, hp); });
}

void rmsprop_step(float* p, const float* g, float* sq, float* grad_avg, float* buf, int64_t n, const RmspropParams& hp,
                  ThreadPool* pool) {
  if (n <= 0) return;
  const auto run = active_kernels().fused.rmsprop;
  split(n, pool, [&](int64_t i0, int64_t len) {
    run(p + i0, g + i0, sq + i0, grad_avg ? grad_avg + i0 : nullptr, buf ? buf + i0 : nullptr, len, hp);
  });
}

double softmax_xent_index(const float* logits, int64_t rows, int64_t classes, const float* targets,
                          int64_t ignore_index, double label_smoothing, double scale, const float* row_scale,
                          float* row_loss, float* dlogits) {
  if (rows <= 0 || classes <= 0) return 0.0;
  const FusedKernels& F = active_kernels().fused;
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
    const float mx = F.row_max_sum(x, classes, eps != 0.0 ? &sum_x : nullptr);
    // pass 2: exp(x - mx) into the gradient row (when there is one) and its sum
    const double rest = F.exp_sum(x, classes, mx, &ones, g);
    const double s = ones + rest;
    // log s; a +inf logit, or a row of -inf, poisons the row (as log_softmax does)
    const double log_s = std::isfinite(mx) ? log_count(ones) + std::log1p(rest / ones) : nan;
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
      F.xent_grad(g, nullptr, classes, inv, 0.0, eps / C, sc, g);
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
  const FusedKernels& F = active_kernels().fused;
  const double eps = label_smoothing;
  const double C = double(classes);
  double total = 0.0;
  for (int64_t r = 0; r < rows; r++) {
    const float* x = logits + r * classes;
    const float* tp = target_probs + r * classes;
    double sum_x = 0.0, b = 0.0, tsum = 0.0, ones = 0.0;
    const float mx = F.row_max_sum(x, classes, eps != 0.0 ? &sum_x : nullptr);
    float* g = dlogits ? dlogits + r * classes : nullptr;
    const double rest = F.exp_sum_prob(x, tp, classes, mx, &ones, &b, &tsum, g);
    const double s = ones + rest;
    const double log_s = std::isfinite(mx) ? log_count(ones) + std::log1p(rest / ones)
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
      F.xent_grad(g, tp, classes, std::isnan(log_s) ? log_s : P / s, 1.0 - eps, eps / C, sc, g);
    }
  }
  return total;
}

namespace {

detail::AdamConsts adam_consts(const AdamParams& hp, int64_t step, bool has_vmax) {
  detail::AdamConsts k;
  const double t = double(step);
  k.wd = static_cast<float>(hp.weight_decay);
  k.decay = static_cast<float>(1.0 - hp.lr * hp.weight_decay);
  k.w = static_cast<float>(1.0 - hp.beta1);
  k.omw = 1.0f - k.w;
  k.beta2 = static_cast<float>(hp.beta2);
  k.omb2 = static_cast<float>(1.0 - hp.beta2);
  k.inv_bc2s = static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(hp.beta2, t)));
  k.eps = static_cast<float>(hp.eps);
  k.neg_step = static_cast<float>(-(hp.lr / (1.0 - std::pow(hp.beta1, t))));
  k.small_w = std::fabs(k.w) < 0.5f;
  k.coupled_wd = hp.weight_decay != 0.0 && !hp.decoupled;
  k.decoupled_wd = hp.weight_decay != 0.0 && hp.decoupled;
  k.amsgrad = hp.amsgrad && has_vmax;
  return k;
}

}  // namespace

void adam_step(float* p, const float* g, float* m, float* v, float* vmax, int64_t n, const AdamParams& hp,
               ThreadPool* pool) {
  if (n <= 0) return;
  const detail::AdamConsts k = adam_consts(hp, hp.step, vmax != nullptr);
  const auto run = active_kernels().fused.adam;
  split(n, pool, [&](int64_t i, int64_t len) {
    FlushSubnormals ftz;  // per piece, on the thread that runs it: MXCSR is thread state
    run(p + i, g + i, m + i, v + i, vmax ? vmax + i : nullptr, len, k);
  });
}

void adam_steps(const AdamSlot* slots, int64_t count, const AdamParams& hp, ThreadPool* pool) {
  std::vector<detail::AdamConsts> k(static_cast<size_t>(count));
  bool split_any = false;
  for (int64_t s = 0; s < count; s++) {
    k[s] = adam_consts(hp, slots[s].step, slots[s].vmax != nullptr);
    split_any = split_any || slots[s].n >= kAdamParallelMin;
  }
  const auto run = active_kernels().fused.adam;
  const int64_t threads = pool != nullptr && split_any ? pool->threads() : 1;
  // Task t: piece t of every large slot (split()'s pieces), and task 0 also every small slot.
  const auto task = [&](int64_t t) {
    FlushSubnormals ftz;
    for (int64_t s = 0; s < count; s++) {
      const AdamSlot& a = slots[s];
      if (a.n <= 0) continue;
      int64_t i = 0, len = a.n;
      if (a.n >= kAdamParallelMin && threads > 1) {
        const int64_t piece = piece_length(a.n, threads);
        i = t * piece;
        if (i >= a.n) continue;
        len = std::min(piece, a.n - i);
      } else if (t != 0) {
        continue;
      }
      run(a.p + i, a.g + i, a.m + i, a.v + i, a.vmax ? a.vmax + i : nullptr, len, k[s]);
    }
  };
  if (threads <= 1) return task(0);
  pool->parallel_for(threads, [&](int64_t t, int /*worker*/) { task(t); });
}

}  // namespace tg
