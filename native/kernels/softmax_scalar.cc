// The portable softmax / log-softmax and their backward (the Scalar table's): softmax.ts's
// arithmetic, in double. Compiled with the baseline flags.
#include <cmath>

#include "kernels/dispatch.h"
#include "kernels/log_count.h"

namespace tg {
namespace scalar {
namespace {

// Columns handled together when inner > 1, so every pass walks memory row by row.
constexpr int64_t kCols = 64;

void forward(const float* x, int64_t outer, int64_t n, int64_t inner, float* out, bool log) {
  float mx[kCols];
  double s[kCols], ones[kCols];
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t j0 = 0; j0 < inner; j0 += kCols) {
      const int64_t w = inner - j0 < kCols ? inner - j0 : kCols;
      const int64_t base = o * n * inner + j0;
      for (int64_t j = 0; j < w; j++) {
        mx[j] = -__builtin_inff();
        s[j] = 0.0;
        ones[j] = 0.0;
      }
      for (int64_t i = 0; i < n; i++) {
        const float* r = x + base + i * inner;
        for (int64_t j = 0; j < w; j++)
          if (r[j] > mx[j]) mx[j] = r[j];
      }
      if (!log) {
        for (int64_t i = 0; i < n; i++) {
          const float* r = x + base + i * inner;
          for (int64_t j = 0; j < w; j++) s[j] += std::exp(double(r[j]) - double(mx[j]));
        }
        for (int64_t j = 0; j < w; j++) s[j] = 1.0 / s[j];
        for (int64_t i = 0; i < n; i++) {
          const float* r = x + base + i * inner;
          float* q = out + base + i * inner;
          for (int64_t j = 0; j < w; j++) q[j] = static_cast<float>(std::exp(double(r[j]) - double(mx[j])) * s[j]);
        }
        continue;
      }
      // log: the terms equal to the max contribute exactly 1 each; keeping them apart from the
      // rest gives log Σ = log(ones) + log1p(rest/ones) to full relative precision even when it
      // is ~1e-20 (a confident row), and out = (x - max) - log Σ never forms max + log Σ.
      for (int64_t i = 0; i < n; i++) {
        const float* r = x + base + i * inner;
        for (int64_t j = 0; j < w; j++) {
          if (r[j] == mx[j]) ones[j] += 1.0;
          else s[j] += std::exp(double(r[j]) - double(mx[j]));
        }
      }
      for (int64_t j = 0; j < w; j++)
        s[j] = mx[j] == __builtin_inff() ? std::nan("") : log_count(ones[j]) + std::log1p(s[j] / ones[j]);
      for (int64_t i = 0; i < n; i++) {
        const float* r = x + base + i * inner;
        float* q = out + base + i * inner;
        for (int64_t j = 0; j < w; j++) q[j] = static_cast<float>((double(r[j]) - double(mx[j])) - s[j]);
      }
    }
  }
}

void backward(const float* y, const float* gy, int64_t outer, int64_t n, int64_t inner, float* gx, bool log) {
  double s[kCols];
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t j0 = 0; j0 < inner; j0 += kCols) {
      const int64_t w = inner - j0 < kCols ? inner - j0 : kCols;
      const int64_t base = o * n * inner + j0;
      for (int64_t j = 0; j < w; j++) s[j] = 0.0;
      for (int64_t i = 0; i < n; i++) {
        const float* g = gy + base + i * inner;
        const float* r = y + base + i * inner;
        if (log) {
          for (int64_t j = 0; j < w; j++) s[j] += g[j];
        } else {
          for (int64_t j = 0; j < w; j++) s[j] += double(g[j]) * double(r[j]);
        }
      }
      for (int64_t i = 0; i < n; i++) {
        const float* g = gy + base + i * inner;
        const float* r = y + base + i * inner;
        float* q = gx + base + i * inner;
        if (log) {  // gx = gy - softmax·Σgy
          for (int64_t j = 0; j < w; j++) q[j] = static_cast<float>(double(g[j]) - std::exp(double(r[j])) * s[j]);
        } else {  // gx = y·(gy - Σ gy·y)
          for (int64_t j = 0; j < w; j++) q[j] = static_cast<float>(double(r[j]) * (double(g[j]) - s[j]));
        }
      }
    }
  }
}

}  // namespace
}  // namespace scalar

constexpr SoftmaxKernels kSoftmaxScalar{scalar::forward, scalar::backward};

}  // namespace tg
