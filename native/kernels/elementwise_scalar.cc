// The portable elementwise primitives (the Scalar table's; NEON's for general pow): binary rows
// in float, unary maps evaluated in double and rounded once, their derivatives as unary.ts writes
// them, and a cache-blocked transpose. Compiled with the baseline flags.
#include <cmath>
#include <cstring>

#include "kernels/clamp_bounds.h"
#include "kernels/dispatch.h"

namespace tg {
namespace scalar {
namespace {

// ---- binary rows -----------------------------------------------------------------------------

template <typename F>
inline void row_loop(const float* a, int64_t as, const float* b, int64_t bs, float* out, int64_t len, F f) {
  if (as == 1 && bs == 1) {
    for (int64_t i = 0; i < len; i++) out[i] = f(a[i], b[i]);
  } else if (bs == 0) {
    const float y = b[0];
    for (int64_t i = 0; i < len; i++) out[i] = f(a[i * as], y);
  } else {  // as == 0
    const float x = a[0];
    for (int64_t i = 0; i < len; i++) out[i] = f(x, b[i * bs]);
  }
}

void binary_row(BinaryOp op, const float* a, int64_t as, const float* b, int64_t bs, float* out, int64_t len) {
  switch (op) {
    case BinaryOp::Add: row_loop(a, as, b, bs, out, len, [](float x, float y) { return x + y; }); return;
    case BinaryOp::Sub: row_loop(a, as, b, bs, out, len, [](float x, float y) { return x - y; }); return;
    case BinaryOp::Mul: row_loop(a, as, b, bs, out, len, [](float x, float y) { return x * y; }); return;
    case BinaryOp::Div: row_loop(a, as, b, bs, out, len, [](float x, float y) { return x / y; }); return;
  }
}

// ---- unary maps: double evaluation rounded once ----------------------------------------------

constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2/pi)
constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
constexpr double kGeluC = 0.044715;
constexpr double kTwoOverSqrtPi = 1.12837916709551257390;

inline double sigmoid_d(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

// 0.5·x·(1 + tanh(u)) = x·sigmoid(2u): no cancellation on the negative tail.
inline double gelu_tanh_d(double x) {
  if (std::isinf(x)) return x > 0 ? x : -0.0;
  const double u2 = 2.0 * kSqrt2OverPi * (x + kGeluC * x * x * x);
  return x * sigmoid_d(u2);
}

inline double gelu_erf_d(double x) {
  if (std::isinf(x)) return x > 0 ? x : -0.0;
  return 0.5 * x * std::erfc(-x * kInvSqrt2);
}

inline double gelu_tanh_grad_d(double x) {
  if (std::isinf(x)) return x > 0 ? 1.0 : 0.0;
  const double u2 = 2.0 * kSqrt2OverPi * (x + kGeluC * x * x * x);
  const double s = sigmoid_d(u2), sc = sigmoid_d(-u2);
  // = 0.5(1+t) + 0.5x(1-t²)c(1+3Gx²) with t = tanh(u), 0.5(1+t) = s, 1-t² = 4·s·(1-s)
  return s + 2.0 * x * s * sc * kSqrt2OverPi * (1.0 + 3.0 * kGeluC * x * x);
}

inline double gelu_erf_grad_d(double x) {
  if (std::isinf(x)) return x > 0 ? 1.0 : 0.0;
  return 0.5 * std::erfc(-x * kInvSqrt2) + x * kInvSqrt2Pi * std::exp(-0.5 * x * x);
}

// (v > 0 ? 1.0 : p), selected on the bits: GCC turns the plain ternary into a branch, and random
// signs mispredict half the time (5 ns an element instead of 0.2).
inline double pos_or(float v, uint64_t one_bits, uint64_t p_bits) {
  const uint64_t m = 0 - static_cast<uint64_t>(v > 0.0f);
  const uint64_t b = (one_bits & m) | (p_bits & ~m);
  double d;
  std::memcpy(&d, &b, sizeof d);
  return d;
}
inline uint64_t bits_of(double d) {
  uint64_t b;
  std::memcpy(&b, &d, sizeof b);
  return b;
}

template <typename F>
inline void map_d(const float* x, float* out, int64_t n, F f) {
  for (int64_t i = 0; i < n; i++) out[i] = static_cast<float>(f(static_cast<double>(x[i])));
}

void unary(UnaryOp op, const float* x, float* out, int64_t n, double p0, double p1) {
  switch (op) {
    case UnaryOp::Neg: for (int64_t i = 0; i < n; i++) out[i] = -x[i]; return;
    case UnaryOp::Abs: for (int64_t i = 0; i < n; i++) out[i] = std::fabs(x[i]); return;
    case UnaryOp::Sqrt: for (int64_t i = 0; i < n; i++) out[i] = std::sqrt(x[i]); return;
    case UnaryOp::Exp: map_d(x, out, n, [](double v) { return std::exp(v); }); return;
    case UnaryOp::Log: map_d(x, out, n, [](double v) { return std::log(v); }); return;
    case UnaryOp::Pow:
      if (p0 == 2.0) {
        for (int64_t i = 0; i < n; i++) out[i] = x[i] * x[i];
      } else {
        map_d(x, out, n, [p0](double v) { return std::pow(v, p0); });
      }
      return;
    case UnaryOp::Clamp: {
      const float lo_t = float_at_or_above(p0), hi_t = float_at_or_below(p1);
      const float lo = static_cast<float>(p0), hi = static_cast<float>(p1);
      for (int64_t i = 0; i < n; i++) {
        const float v = x[i];
        out[i] = v < lo_t ? lo : v > hi_t ? hi : v;
      }
      return;
    }
    case UnaryOp::Relu:  // NaN and -0 pass through, as PyTorch's max(x, 0) and unary.ts
      for (int64_t i = 0; i < n; i++) out[i] = x[i] < 0.0f ? 0.0f : x[i];
      return;
    case UnaryOp::LeakyRelu: {
      // v·(v > 0 ? 1 : slope) in double: the values of unary.ts (v·1 is exact), branch-free
      const uint64_t one = bits_of(1.0), slope = bits_of(p0);
      for (int64_t i = 0; i < n; i++) {
        const float v = x[i];
        out[i] = static_cast<float>(static_cast<double>(v) * pos_or(v, one, slope));
      }
      return;
    }
    case UnaryOp::Sigmoid: map_d(x, out, n, sigmoid_d); return;
    case UnaryOp::Tanh: map_d(x, out, n, [](double v) { return std::tanh(v); }); return;
    case UnaryOp::GeluTanh: map_d(x, out, n, gelu_tanh_d); return;
    case UnaryOp::GeluErf: map_d(x, out, n, gelu_erf_d); return;
    case UnaryOp::Erf: map_d(x, out, n, [](double v) { return std::erf(v); }); return;
  }
}

// gx = gy·f'(x), each expression exactly as unary.ts evaluates it (in double).
void unary_grad(UnaryOp op, const float* x, const float* y, const float* gy, float* gx, int64_t n, double p0,
                double p1) {
  auto F = [](double v) { return static_cast<float>(v); };
  switch (op) {
    case UnaryOp::Neg: for (int64_t i = 0; i < n; i++) gx[i] = -gy[i]; return;
    case UnaryOp::Abs:
      for (int64_t i = 0; i < n; i++) {
        const float v = x[i], g = gy[i];  // loads hoisted out of the selects: branch-free
        gx[i] = v > 0.0f ? g : v < 0.0f ? -g : 0.0f;
      }
      return;
    case UnaryOp::Sqrt:
      for (int64_t i = 0; i < n; i++) gx[i] = F(double(gy[i]) / (2.0 * double(y[i])));
      return;
    case UnaryOp::Exp: for (int64_t i = 0; i < n; i++) gx[i] = gy[i] * y[i]; return;
    case UnaryOp::Log: for (int64_t i = 0; i < n; i++) gx[i] = gy[i] / x[i]; return;
    case UnaryOp::Pow:
      if (p0 == 2.0) {
        for (int64_t i = 0; i < n; i++) gx[i] = F(double(gy[i]) * 2.0 * double(x[i]));
      } else {
        for (int64_t i = 0; i < n; i++) gx[i] = F(double(gy[i]) * p0 * std::pow(double(x[i]), p0 - 1.0));
      }
      return;
    case UnaryOp::Clamp: {
      // PyTorch passes the gradient where lo <= x <= hi (boundaries included).
      const float lo_t = float_at_or_above(p0), hi_t = float_at_or_below(p1);
      for (int64_t i = 0; i < n; i++) {
        const float v = x[i], g = gy[i];
        gx[i] = (v >= lo_t) & (v <= hi_t) ? g : 0.0f;
      }
      return;
    }
    case UnaryOp::Relu:  // passed through at NaN, as PyTorch's threshold_backward
      for (int64_t i = 0; i < n; i++) {
        const float g = gy[i];
        gx[i] = x[i] <= 0.0f ? 0.0f : g;
      }
      return;
    case UnaryOp::LeakyRelu: {
      const uint64_t one = bits_of(1.0), slope = bits_of(p0);
      for (int64_t i = 0; i < n; i++) gx[i] = F(double(gy[i]) * pos_or(x[i], one, slope));
      return;
    }
    case UnaryOp::Sigmoid:
      for (int64_t i = 0; i < n; i++) {
        const double s = y[i];
        gx[i] = F(double(gy[i]) * s * (1.0 - s));
      }
      return;
    case UnaryOp::Tanh:
      for (int64_t i = 0; i < n; i++) {
        const double t = y[i];
        gx[i] = F(double(gy[i]) * (1.0 - t * t));
      }
      return;
    case UnaryOp::GeluTanh:
      for (int64_t i = 0; i < n; i++) gx[i] = F(double(gy[i]) * gelu_tanh_grad_d(x[i]));
      return;
    case UnaryOp::GeluErf:
      for (int64_t i = 0; i < n; i++) gx[i] = F(double(gy[i]) * gelu_erf_grad_d(x[i]));
      return;
    case UnaryOp::Erf:
      for (int64_t i = 0; i < n; i++) {
        const double v = x[i];
        gx[i] = F(double(gy[i]) * kTwoOverSqrtPi * std::exp(-v * v));
      }
      return;
  }
  (void)p1;
}

void transpose(const float* a, int64_t lda, float* b, int64_t ldb, int64_t rows, int64_t cols) {
  // b[c][r] = a[r][c], in 32x32 tiles so both sides stay in cache.
  constexpr int64_t T = 32;
  for (int64_t r0 = 0; r0 < rows; r0 += T) {
    const int64_t r1 = r0 + T < rows ? r0 + T : rows;
    for (int64_t c0 = 0; c0 < cols; c0 += T) {
      const int64_t c1 = c0 + T < cols ? c0 + T : cols;
      for (int64_t r = r0; r < r1; r++)
        for (int64_t c = c0; c < c1; c++) b[c * ldb + r] = a[r * lda + c];
    }
  }
}

}  // namespace
}  // namespace scalar

constexpr ElementwiseKernels kElementwiseScalar{scalar::binary_row, scalar::unary, scalar::unary_grad,
                                                scalar::transpose};

}  // namespace tg
