#include "losses.h"

#include <algorithm>
#include <cmath>

namespace tg {

namespace {

bool is_class(float t, int64_t classes) {
  return t >= 0 && t == std::floor(t) && static_cast<double>(t) < static_cast<double>(classes);
}

double softplus_neg(double x) { return std::log1p(std::exp(-std::fabs(x))) + std::max(-x, 0.0); }

double weight_at(const float* pw, int64_t pw_len, int64_t last, int64_t i) {
  return pw == nullptr ? 1.0 : static_cast<double>(pw[pw_len == 1 ? 0 : i % last]);
}

}  // namespace

int64_t nll_loss(const float* logp, int64_t rows, int64_t classes, const float* target, double ignore, float* loss,
                 double stats[2]) {
  double sum = 0.0;
  int64_t count = 0;
  for (int64_t r = 0; r < rows; r++) {
    const float t = target[r];
    if (static_cast<double>(t) == ignore) {
      loss[r] = 0.0f;
      continue;
    }
    if (!is_class(t, classes)) return r;
    const float v = -logp[r * classes + static_cast<int64_t>(t)];
    loss[r] = v;
    sum += v;
    count++;
  }
  stats[0] = sum;
  stats[1] = static_cast<double>(count);
  return -1;
}

void nll_loss_grad(int64_t rows, int64_t classes, const float* target, double ignore, const float* g, double g_scalar,
                   float* gx) {
  for (int64_t r = 0; r < rows; r++) {
    const float t = target[r];
    if (static_cast<double>(t) == ignore || !is_class(t, classes)) continue;
    gx[r * classes + static_cast<int64_t>(t)] = static_cast<float>(-(g ? static_cast<double>(g[r]) : g_scalar));
  }
}

int64_t bce_loss(bool logits, const float* x, const float* y, int64_t n, const float* pw, int64_t pw_len, int64_t last,
                 float* loss) {
  for (int64_t i = 0; i < n; i++) {
    const double xi = x[i], yi = y[i];
    if (logits) {
      const double l = 1.0 + (weight_at(pw, pw_len, last, i) - 1.0) * yi;
      loss[i] = static_cast<float>((1.0 - yi) * xi + l * softplus_neg(xi));
    } else {
      if (!(xi >= 0 && xi <= 1)) return i;
      loss[i] = static_cast<float>(-(yi * std::max(std::log(xi), -100.0) + (1.0 - yi) * std::max(std::log(1.0 - xi), -100.0)));
    }
  }
  return -1;
}

void bce_loss_grad(bool logits, const float* x, const float* y, int64_t n, const float* pw, int64_t pw_len,
                   int64_t last, const float* g, float* gx, float* gy) {
  for (int64_t i = 0; i < n; i++) {
    const double xi = x[i], yi = y[i], gi = g[i];
    if (logits) {
      const double w = weight_at(pw, pw_len, last, i);
      if (gx) {
        const double l = 1.0 + (w - 1.0) * yi;
        const double s = xi >= 0 ? 1.0 / (1.0 + std::exp(-xi)) : std::exp(xi) / (1.0 + std::exp(xi));
        gx[i] = static_cast<float>(gi * (1.0 - yi - l * (1.0 - s)));
      }
      if (gy) gy[i] = static_cast<float>(gi * (-xi + (w - 1.0) * softplus_neg(xi)));
    } else {
      if (gx) gx[i] = static_cast<float>((gi * (xi - yi)) / std::max((1.0 - xi) * xi, 1e-12));
      if (gy) gy[i] = static_cast<float>(gi * (std::log1p(-xi) - std::log(xi)));
    }
  }
}

}  // namespace tg
