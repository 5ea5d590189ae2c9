// Accuracy sweep of the vectorised math (exp, log, tanh, sigmoid, erf, geluTanh, geluErf) through
// tg::unary, for the SIMD path (AVX2 on x86-64, NEON on aarch64) and the scalar path, against
// double-precision references.
//
// Inputs: every STEP-th float32 bit pattern of both signs (STEP = 997 by default; set env
// TG_VMATH_STEP=1 for the exhaustive run), a denser sweep (every 61st pattern) over
// 2^-12 <= |x| <= 32 where these functions do their work, and edge values.
// Error = |y - ref| / ulp(ref), ulp(ref) = spacing of float32 at |ref| (2^-149 for subnormals),
// with ±inf results counted as ±2^128. NaN must map to NaN and only NaN to NaN.
// The bounds asserted are the ones documented at the top of native/kernels/vmath_avx2.h (NEON's
// vmath_neon.h is a lane-for-lane port of it and must meet the same ones).
#include <cfloat>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cpu.h"
#include "kernels/elementwise.h"

namespace {

int g_pass = 0, g_fail = 0;

void check(bool ok, const char* what) {
  if (ok) {
    g_pass++;
  } else {
    g_fail++;
    std::printf("FAIL: %s\n", what);
  }
}

float from_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

double sigmoid_ref(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

double gelu_tanh_ref(double x) {
  if (std::isinf(x)) return x > 0 ? x : -0.0;
  const double u2 = 2.0 * std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x);
  return x * sigmoid_ref(u2);
}

double gelu_erf_ref(double x) {
  if (std::isinf(x)) return x > 0 ? x : -0.0;
  return 0.5 * x * std::erfc(-x / std::sqrt(2.0));
}

struct Fn {
  const char* name;
  tg::UnaryOp op;
  double (*ref)(double);
  double bound_avx2;   // ULP bound asserted for the AVX2 path (vmath_avx2.h)
  double bound_scalar; // ULP bound asserted for the scalar path
};

double ref_exp(double x) { return std::exp(x); }
double ref_log(double x) { return std::log(x); }
double ref_tanh(double x) { return std::tanh(x); }
double ref_erf(double x) { return std::erf(x); }

const Fn kFns[] = {
    {"exp", tg::UnaryOp::Exp, ref_exp, 2.0, 1.0},
    {"log", tg::UnaryOp::Log, ref_log, 2.0, 1.0},
    {"tanh", tg::UnaryOp::Tanh, ref_tanh, 2.0, 1.0},
    {"sigmoid", tg::UnaryOp::Sigmoid, sigmoid_ref, 3.0, 1.0},
    {"erf", tg::UnaryOp::Erf, ref_erf, 2.0, 1.0},
    {"geluTanh", tg::UnaryOp::GeluTanh, gelu_tanh_ref, 4.0, 1.0},
    {"geluErf", tg::UnaryOp::GeluErf, gelu_erf_ref, 4.0, 1.0},
};

// ULP error of y against the exact ref; -1 for a NaN mismatch.
double ulp_error(float y, double ref) {
  if (std::isnan(ref) || std::isnan(y)) return std::isnan(ref) && std::isnan(y) ? 0.0 : -1.0;
  const double big = std::ldexp(1.0, 128);
  double yd = y;
  if (std::isinf(yd)) yd = yd > 0 ? big : -big;
  double r = ref;
  // anything that rounds to ±inf in float32 (|ref| ≥ FLT_MAX + ulp/2) counts as ±2^128
  if (std::fabs(r) >= std::ldexp(1.0, 128) - std::ldexp(1.0, 103)) r = r > 0 ? big : -big;
  if (yd == r) return 0.0;
  int e;
  std::frexp(std::fabs(r) < big ? std::fabs(r) : big / 2, &e);
  double ulp = std::ldexp(1.0, e - 24);
  const double min_ulp = std::ldexp(1.0, -149);
  if (ulp < min_ulp) ulp = min_ulp;
  if (std::fabs(r) >= big) ulp = std::ldexp(1.0, 104);  // ulp of FLT_MAX
  return std::fabs(yd - r) / ulp;
}

// The input set, produced in chunks (the exhaustive sweep has 2^32 inputs).
class Inputs {
 public:
  Inputs() {
    if (const char* s = std::getenv("TG_VMATH_STEP")) step_ = std::strtoull(s, nullptr, 10);
    if (step_ == 0) step_ = 997;
    const float edges[] = {0.0f, -0.0f, FLT_MIN, -FLT_MIN, FLT_TRUE_MIN, -FLT_TRUE_MIN, FLT_MAX, -FLT_MAX,
                           INFINITY, -INFINITY, NAN, -NAN, 1.0f, -1.0f, 0.5f, -0.5f, 0.625f, -0.625f, 0.875f,
                           -0.875f, 88.7228f, 88.72284f, 88.7229f, -87.33655f, -103.2789f, -103.9721f, -104.0f,
                           9.0f, -9.0f, 9.01f, 3.92f, -3.92f, 4.0f, -4.0f, 10.5f, -10.5f, 14.85f, -14.85f, 16.0f,
                           -16.0f, -10.05f, -13.3f, 1e-20f, -1e-20f, 1e-38f, 5e-39f, 1e30f, -1e30f, 7e12f, -7e12f};
    for (float e : edges) extra_.push_back(e);
    // every value around the interval edges of the piecewise erfc and the branch points
    const float around[] = {0.5f, 1.0f, 1.5f, 2.25f, 3.25f, 4.75f, 7.0f, 0.625f, 0.875f, 0.70710678f};
    for (float a : around) {
      uint32_t b;
      std::memcpy(&b, &a, 4);
      for (uint32_t d = 0; d < 64; d++) {
        extra_.push_back(from_bits(b - d));
        extra_.push_back(from_bits(b + d));
        extra_.push_back(-from_bits(b - d));
        extra_.push_back(-from_bits(b + d));
      }
    }
  }
  // Fills up to cap inputs; returns how many (0 at the end).
  size_t next(float* out, size_t cap) {
    size_t k = 0;
    while (k < cap) {
      if (phase_ == 0) {  // every step-th bit pattern
        if (bits_ > 0xffffffffull) {
          phase_ = 1;
          bits_ = kDenseLo;
          continue;
        }
        out[k++] = from_bits(static_cast<uint32_t>(bits_));
        bits_ += step_;
      } else if (phase_ == 1) {  // dense over 2^-12 <= |x| <= 32 (skipped when already exhaustive)
        if (step_ == 1 || bits_ > kDenseHi) {
          phase_ = 2;
          bits_ = 0;
          continue;
        }
        if (k + 2 > cap) break;
        out[k++] = from_bits(static_cast<uint32_t>(bits_));
        out[k++] = from_bits(static_cast<uint32_t>(bits_) | 0x80000000u);
        bits_ += 61;
      } else {
        if (bits_ >= extra_.size()) break;
        out[k++] = extra_[bits_++];
      }
    }
    return k;
  }

 private:
  static constexpr uint64_t kDenseLo = 0x39800000u, kDenseHi = 0x42000000u;
  uint64_t step_ = 997;
  uint64_t bits_ = 0;
  int phase_ = 0;
  std::vector<float> extra_;
};

// On AVX-512 CPUs: vmath_avx512.h must give AVX2's bits on every swept input (any NaN for any NaN,
// as the compiler picks which NaN operand propagates), so AVX2's bounds are AVX-512's too.
int64_t g_avx512_mismatches = 0;
bool g_avx512_run = false;
void check_avx512_agrees(tg::UnaryOp op, const float* x, const float* y_avx2, size_t k) {
  if (tg::detect_isa() != tg::Isa::Avx512) return;
  static std::vector<float> y;
  y.resize(k);
  tg::set_active_isa(tg::Isa::Avx512);
  tg::unary(op, x, y.data(), static_cast<int64_t>(k), 0.0, 0.0);
  tg::set_active_isa(tg::Isa::Avx2);
  g_avx512_run = true;
  for (size_t i = 0; i < k; i++)
    if (std::memcmp(&y[i], &y_avx2[i], 4) != 0 && !(std::isnan(y[i]) && std::isnan(y_avx2[i])))
      if (g_avx512_mismatches++ < 5) std::printf("avx512 != avx2 for op %d at x=%a\n", static_cast<int>(op), x[i]);
}

}  // namespace

int main() {
#if TG_NEON_KERNELS
  const tg::Isa simd = tg::Isa::Neon;
  const bool has_avx2 = tg::detect_isa() == tg::Isa::Neon;  // the SIMD pass: NEON here
#else
  const tg::Isa simd = tg::Isa::Avx2;
  const bool has_avx2 = tg::detect_isa() >= tg::Isa::Avx2;
#endif
  const char* only = std::getenv("TG_VMATH_ONLY");  // optional: one function name
  std::printf("detected ISA %s\n", tg::isa_name(tg::detect_isa()));
  std::printf("%-9s %-7s %10s %16s %8s %12s\n", "function", "path", "max ulp", "at x", "bound", "inputs");
  constexpr size_t kChunk = 1 << 20;
  std::vector<float> xs(kChunk), y(kChunk);
  std::vector<double> ref(kChunk);
  for (const Fn& f : kFns) {
    if (only && std::strcmp(only, f.name) != 0) continue;
    double worst[2] = {0, 0};
    float worst_x[2] = {0, 0};
    int64_t nan_mismatch[2] = {0, 0};
    float nan_x[2] = {0, 0};
    int64_t total = 0;
    Inputs in;
    for (size_t k; (k = in.next(xs.data(), kChunk)) > 0;) {
      total += static_cast<int64_t>(k);
      for (size_t i = 0; i < k; i++) ref[i] = f.ref(static_cast<double>(xs[i]));
      for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && !has_avx2) continue;
        tg::set_active_isa(pass == 1 ? simd : tg::Isa::Scalar);
        tg::unary(f.op, xs.data(), y.data(), static_cast<int64_t>(k), 0.0, 0.0);
        if (pass == 1) check_avx512_agrees(f.op, xs.data(), y.data(), k);
        for (size_t i = 0; i < k; i++) {
          const double e = ulp_error(y[i], ref[i]);
          if (e < 0) {
            if (nan_mismatch[pass]++ == 0) nan_x[pass] = xs[i];
          } else if (e > worst[pass]) {
            worst[pass] = e;
            worst_x[pass] = xs[i];
          }
        }
      }
    }
    for (int pass = 0; pass < 2; pass++) {
      const char* path = pass == 1 ? tg::isa_name(simd) : "scalar";
      if (pass == 1 && !has_avx2) {
        std::printf("%-9s %-7s (not available on this CPU)\n", f.name, path);
        continue;
      }
      const double bound = pass == 1 ? f.bound_avx2 : f.bound_scalar;
      std::printf("%-9s %-7s %10.3f %16.9g %8.1f %12" PRId64 "\n", f.name, path, worst[pass], worst_x[pass], bound,
                  total);
      char msg[160];
      std::snprintf(msg, sizeof msg, "%s/%s max error %.3f ulp at x=%.9g exceeds %.1f", f.name, path, worst[pass],
                    worst_x[pass], bound);
      check(worst[pass] <= bound, msg);
      std::snprintf(msg, sizeof msg, "%s/%s NaN mismatch at %" PRId64 " inputs, first x=%.9g", f.name, path,
                    nan_mismatch[pass], nan_x[pass]);
      check(nan_mismatch[pass] == 0, msg);
    }
  }
  // Saturation: sigmoid and tanh never give NaN for finite or infinite inputs and reach their limits.
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1 && !has_avx2) break;
    tg::set_active_isa(pass ? simd : tg::Isa::Scalar);
    const float in[] = {-INFINITY, -FLT_MAX, -1e6f, -200.0f, -50.0f, 50.0f, 200.0f, 1e6f, FLT_MAX, INFINITY};
    float s[10], t[10], gt[10], ge[10];
    tg::unary(tg::UnaryOp::Sigmoid, in, s, 10, 0, 0);
    tg::unary(tg::UnaryOp::Tanh, in, t, 10, 0, 0);
    tg::unary(tg::UnaryOp::GeluTanh, in, gt, 10, 0, 0);
    tg::unary(tg::UnaryOp::GeluErf, in, ge, 10, 0, 0);
    bool ok = true;
    for (int i = 0; i < 10; i++) {
      const bool neg = in[i] < 0;
      if (std::isnan(s[i]) || std::isnan(t[i]) || std::isnan(gt[i]) || std::isnan(ge[i])) ok = false;
      if (std::fabs(in[i]) >= 200.0f) {
        if (s[i] != (neg ? 0.0f : 1.0f)) ok = false;
        if (t[i] != (neg ? -1.0f : 1.0f)) ok = false;
        if (neg && (gt[i] != 0.0f || ge[i] != 0.0f)) ok = false;
        if (!neg && (gt[i] != in[i] || ge[i] != in[i])) ok = false;
      }
    }
    check(ok, pass ? "simd saturation of sigmoid/tanh/gelu" : "scalar saturation of sigmoid/tanh/gelu");
  }
  if (g_avx512_run) check(g_avx512_mismatches == 0, "avx512 gives avx2's bits on every swept input");
  else std::printf("note: no AVX-512 on this CPU: the AVX-512 path was not exercised\n");
  std::printf("%d passed, %d failed\n", g_pass, g_fail);
  return g_fail == 0 ? 0 : 1;
}
