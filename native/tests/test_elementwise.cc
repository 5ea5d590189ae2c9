// Tests of the elementwise, reduction, softmax and permute kernels, on the scalar path and the SIMD
// paths the CPU has (AVX2 and AVX-512, or NEON), against references written independently here
// (double precision, or the exact float expressions of src/backend/js where the kernel promises
// bit-identity), and of the SIMD reductions against the scalar ones.
#include <algorithm>
#include <cfloat>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cpu.h"
#include "kernels/dispatch.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/linear_backward.h"
#include "kernels/reduce.h"
#include "kernels/softmax.h"
#include "kernels/parallel.h"
#include "threadpool.h"

namespace {

// The SIMD level compared with the scalar path: AVX2 on x86-64, NEON on aarch64.
const tg::Isa kSimd = TG_NEON_KERNELS ? tg::Isa::Neon : tg::Isa::Avx2;

int g_pass = 0, g_fail = 0;
std::string g_ctx;  // which ISA, for messages

#define CHECK(cond, ...)                                         \
  do {                                                           \
    if (cond) {                                                  \
      g_pass++;                                                  \
    } else {                                                     \
      g_fail++;                                                  \
      std::printf("FAIL [%s] line %d: ", g_ctx.c_str(), __LINE__); \
      std::printf(__VA_ARGS__);                                  \
      std::printf("\n");                                         \
    }                                                            \
  } while (0)

// ---- helpers ------------------------------------------------------------------------------------

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return (next() >> 11) * (1.0 / 9007199254740992.0); }
  float range(double lo, double hi) { return static_cast<float>(lo + (hi - lo) * uniform()); }
};

std::vector<float> random_vec(Rng& r, size_t n, double lo, double hi) {
  std::vector<float> v(n);
  for (auto& x : v) x = r.range(lo, hi);
  return v;
}

bool same_bits(float a, float b) {
  if (std::isnan(a) && std::isnan(b)) return true;
  uint32_t x, y;
  std::memcpy(&x, &a, 4);
  std::memcpy(&y, &b, 4);
  return x == y;
}

// Spacing of float32 at |r| (2^-149 for subnormals).
double ulp_of(double r) {
  r = std::fabs(r);
  if (!(r < 3.4e38)) r = 3.4e38;
  int e;
  std::frexp(r, &e);
  const double u = std::ldexp(1.0, e - 24);
  const double mn = std::ldexp(1.0, -149);
  return u < mn ? mn : u;
}

// |y - ref| within tol, with NaN/inf matching exactly.
bool close(float y, double ref, double tol) {
  if (std::isnan(ref) || std::isnan(y)) return std::isnan(ref) && std::isnan(y);
  if (std::fabs(ref) >= 3.4028235677973366e38) ref = ref > 0 ? INFINITY : -INFINITY;  // rounds to ±inf
  if (std::isinf(ref) || std::isinf(y)) return static_cast<double>(y) == ref;
  return std::fabs(double(y) - ref) <= tol;
}

int64_t numel(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); i++) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

const int64_t kSizes[] = {0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 1000, 1003};

// ---- binary -------------------------------------------------------------------------------------

float apply(tg::BinaryOp op, float a, float b) {
  switch (op) {
    case tg::BinaryOp::Add: return a + b;
    case tg::BinaryOp::Sub: return a - b;
    case tg::BinaryOp::Mul: return a * b;
    case tg::BinaryOp::Div: return a / b;
  }
  return 0;
}

// Index of `in` (shape is, right-aligned) for the output multi-index of flat position `flat`.
int64_t bcast_index(int64_t flat, const std::vector<int64_t>& os, const std::vector<int64_t>& is) {
  int64_t idx = 0, stride = 1;
  for (int d = static_cast<int>(os.size()) - 1, k = static_cast<int>(is.size()) - 1; d >= 0; d--, k--) {
    const int64_t c = flat % os[d];
    flat /= os[d];
    if (k >= 0) {
      if (is[k] != 1) idx += c * stride;
      stride *= is[k];
    }
  }
  return idx;
}

void test_binary_case(Rng& rng, const std::vector<int64_t>& as, const std::vector<int64_t>& bs,
                      const std::vector<int64_t>& os, bool alias_a) {
  const int64_t na = numel(as), nb = numel(bs), no = numel(os);
  for (int opi = 0; opi < 4; opi++) {
    const auto op = static_cast<tg::BinaryOp>(opi);
    std::vector<float> a = random_vec(rng, static_cast<size_t>(na), -3, 3);
    std::vector<float> b = random_vec(rng, static_cast<size_t>(nb), 0.25, 4);  // no 0 for div
    if (nb > 2) b[1] = -b[1];
    std::vector<float> want(static_cast<size_t>(no));
    for (int64_t i = 0; i < no; i++) want[i] = apply(op, a[bcast_index(i, os, as)], b[bcast_index(i, os, bs)]);
    std::vector<float> out(static_cast<size_t>(no), -7.0f);
    float* o = out.data();
    if (alias_a) {
      out = a;  // in place: out aliases a (same shape)
      o = out.data();
      tg::binary(op, o, as.data(), static_cast<int>(as.size()), b.data(), bs.data(), static_cast<int>(bs.size()), o,
                 os.data(), static_cast<int>(os.size()));
    } else {
      tg::binary(op, a.data(), as.data(), static_cast<int>(as.size()), b.data(), bs.data(),
                 static_cast<int>(bs.size()), o, os.data(), static_cast<int>(os.size()));
    }
    int64_t bad = -1;
    for (int64_t i = 0; i < no && bad < 0; i++)
      if (!same_bits(out[i], want[i])) bad = i;
    CHECK(bad < 0, "binary op %d %s %s -> %s%s: mismatch at %" PRId64, opi, shape_str(as).c_str(),
          shape_str(bs).c_str(), shape_str(os).c_str(), alias_a ? " (in place)" : "", bad);
  }
}

void test_binary() {
  Rng rng(1);
  for (int64_t n : kSizes) {
    test_binary_case(rng, {n}, {n}, {n}, false);
    test_binary_case(rng, {n}, {n}, {n}, true);
    test_binary_case(rng, {n}, {}, {n}, false);   // scalar operand (rank 0)
    test_binary_case(rng, {}, {n}, {n}, false);
    test_binary_case(rng, {1}, {n}, {n}, false);
    test_binary_case(rng, {3, n}, {n}, {3, n}, false);     // row vector
    test_binary_case(rng, {3, n}, {1, n}, {3, n}, true);   // row vector, in place
    test_binary_case(rng, {n, 5}, {n, 1}, {n, 5}, false);  // column vector
    test_binary_case(rng, {n, 1}, {1, 9}, {n, 9}, false);  // outer product pattern
    test_binary_case(rng, {2, n, 3}, {2, 1, 3}, {2, n, 3}, false);
  }
  test_binary_case(rng, {4, 1, 6}, {1, 5, 6}, {4, 5, 6}, false);
  test_binary_case(rng, {4, 5, 6}, {5, 1}, {4, 5, 6}, false);
  test_binary_case(rng, {2, 3, 4, 5}, {3, 1, 5}, {2, 3, 4, 5}, false);
  test_binary_case(rng, {2, 1, 4, 1}, {1, 3, 1, 5}, {2, 3, 4, 5}, false);
  test_binary_case(rng, {1, 1, 1}, {1}, {1, 1, 1}, false);
  test_binary_case(rng, {2, 0, 3}, {3}, {2, 0, 3}, false);
  test_binary_case(rng, {7, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3}, {1, 3},
                   {7, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3}, false);  // rank 18
  test_binary_case(rng, {64, 1}, {1, 2}, {64, 2}, false);
  // NaN and inf pass through the float arithmetic unchanged
  {
    const int64_t s[] = {4};
    const float a[] = {NAN, INFINITY, -INFINITY, 1.0f};
    const float b[] = {1.0f, INFINITY, INFINITY, 0.0f};
    float o[4];
    tg::binary(tg::BinaryOp::Add, a, s, 1, b, s, 1, o, s, 1);
    CHECK(std::isnan(o[0]) && o[1] == INFINITY && std::isnan(o[2]) && o[3] == 1.0f, "binary add specials");
    tg::binary(tg::BinaryOp::Div, a, s, 1, b, s, 1, o, s, 1);
    CHECK(std::isnan(o[0]) && std::isnan(o[1]) && std::isnan(o[2]) && o[3] == INFINITY, "binary div specials");
  }
}

// ---- sum_to ---------------------------------------------------------------------------------------

void test_sum_to_case(Rng& rng, const std::vector<int64_t>& xs, const std::vector<int64_t>& os, double lo = -1,
                      double hi = 1) {
  const int64_t nx = numel(xs), no = numel(os);
  std::vector<float> x = random_vec(rng, static_cast<size_t>(nx), lo, hi);
  std::vector<double> want(static_cast<size_t>(no), 0.0), mag(static_cast<size_t>(no), 0.0);
  for (int64_t i = 0; i < nx; i++) {
    const int64_t j = bcast_index(i, xs, os);
    want[j] += x[i];
    mag[j] += std::fabs(x[i]);
  }
  std::vector<float> out(static_cast<size_t>(no), -7.0f);
  tg::sum_to(x.data(), xs.data(), static_cast<int>(xs.size()), out.data(), os.data(), static_cast<int>(os.size()));
  double worst = 0;
  for (int64_t j = 0; j < no; j++) {
    // double accumulation: the only error is the final rounding (plus ~1e-16 of Σ|x|)
    const double err = std::fabs(out[j] - want[j]);
    const double tol = 0.5 * ulp_of(want[j]) + 1e-15 * mag[j];
    if (err / tol > worst) worst = err / tol;
  }
  CHECK(worst <= 1.0, "sum_to %s -> %s: error %.3g x tolerance", shape_str(xs).c_str(), shape_str(os).c_str(), worst);
}

void test_sum_to() {
  Rng rng(2);
  for (int64_t n : kSizes) {
    test_sum_to_case(rng, {n, 5}, {1, 5});
    test_sum_to_case(rng, {n, 5}, {5});
    test_sum_to_case(rng, {5, n}, {5, 1});
    test_sum_to_case(rng, {n}, {1});
    test_sum_to_case(rng, {n}, {n});
    test_sum_to_case(rng, {2, n, 3}, {1, n, 1});
    test_sum_to_case(rng, {2, n, 3}, {2, 1, 3});
  }
  test_sum_to_case(rng, {100000, 3}, {1, 3}, 0.0, 1.0);  // a bias gradient over 10^5 rows
  test_sum_to_case(rng, {100000, 3}, {3}, 1000.0, 1001.0);
  test_sum_to_case(rng, {3, 4, 5, 6}, {1, 4, 1, 1});
  test_sum_to_case(rng, {3, 4, 5, 6}, {3, 1, 5, 1});
  test_sum_to_case(rng, {3, 4, 5, 6}, {1, 1, 1, 1});
  test_sum_to_case(rng, {3, 4, 5, 6}, {4, 5, 1});
  test_sum_to_case(rng, {2, 3, 1, 4}, {1, 3, 1, 1});
  test_sum_to_case(rng, {0, 4}, {1, 4});
  test_sum_to_case(rng, {1, 1}, {1});
  // the exact-cancellation case float accumulation gets wrong: 1e8 + 1 + ... - 1e8
  {
    std::vector<float> x(100001, 1.0f);
    x[0] = 1e8f;
    x[100000] = -1e8f;
    const int64_t xs[] = {100001, 1}, os[] = {1, 1};
    float out = 0;
    tg::sum_to(x.data(), xs, 2, &out, os, 2);
    CHECK(out == 99999.0f, "sum_to cancellation: %.9g", out);
  }
}

// ---- unary ------------------------------------------------------------------------------------------

const double kS2P = 0.79788456080286535588, kInvS2 = 0.70710678118654752440, kInvS2Pi = 0.39894228040143267794;

double sigmoid_d(double x) {
  if (x >= 0) return 1 / (1 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1 + e);
}

double unary_ref(tg::UnaryOp op, double v, double p0, double p1) {
  switch (op) {
    case tg::UnaryOp::Neg: return -v;
    case tg::UnaryOp::Abs: return std::fabs(v);
    case tg::UnaryOp::Sqrt: return std::sqrt(v);
    case tg::UnaryOp::Exp: return std::exp(v);
    case tg::UnaryOp::Log: return std::log(v);
    case tg::UnaryOp::Pow: return p0 == 2 ? v * v : std::pow(v, p0);
    case tg::UnaryOp::Clamp: return v < p0 ? p0 : v > p1 ? p1 : v;
    case tg::UnaryOp::Relu: return v < 0 ? 0 : v;
    case tg::UnaryOp::LeakyRelu: return v > 0 ? v : v * p0;
    case tg::UnaryOp::Sigmoid: return sigmoid_d(v);
    case tg::UnaryOp::Tanh: return std::tanh(v);
    case tg::UnaryOp::GeluTanh:
      if (std::isinf(v)) return v > 0 ? v : 0;
      return v * sigmoid_d(2 * kS2P * (v + 0.044715 * v * v * v));
    case tg::UnaryOp::GeluErf:
      if (std::isinf(v)) return v > 0 ? v : 0;
      return 0.5 * v * std::erfc(-v * kInvS2);
    case tg::UnaryOp::Erf: return std::erf(v);
  }
  return 0;
}

// Exact ops (bit-identical to unary.ts) vs transcendental ones (ULP bound from vmath_avx2.h).
double unary_bound_ulp(tg::UnaryOp op) {
  switch (op) {
    case tg::UnaryOp::Exp:
    case tg::UnaryOp::Log:
    case tg::UnaryOp::Tanh:
    case tg::UnaryOp::Erf: return 2;
    case tg::UnaryOp::Sigmoid: return 3;
    case tg::UnaryOp::GeluTanh:
    case tg::UnaryOp::GeluErf: return 4;
    default: return 0;  // exact
  }
}

struct UCase {
  tg::UnaryOp op;
  double p0, p1, lo, hi;
};

const UCase kUnaryCases[] = {
    {tg::UnaryOp::Neg, 0, 0, -5, 5},           {tg::UnaryOp::Abs, 0, 0, -5, 5},
    {tg::UnaryOp::Sqrt, 0, 0, 0, 100},         {tg::UnaryOp::Exp, 0, 0, -90, 90},
    {tg::UnaryOp::Log, 0, 0, 1e-30, 1e30},     {tg::UnaryOp::Pow, 2, 0, -10, 10},
    {tg::UnaryOp::Pow, 3, 0, -10, 10},         {tg::UnaryOp::Pow, 0.5, 0, 0, 10},
    {tg::UnaryOp::Pow, -1.5, 0, 0.1, 10},      {tg::UnaryOp::Clamp, -0.1, 0.3, -1, 1},
    {tg::UnaryOp::Clamp, -INFINITY, 0.7, -1, 1}, {tg::UnaryOp::Clamp, 0.2, INFINITY, -1, 1},
    {tg::UnaryOp::Relu, 0, 0, -5, 5},          {tg::UnaryOp::LeakyRelu, 0.01, 0, -5, 5},
    {tg::UnaryOp::LeakyRelu, 0.2, 0, -5, 5},   {tg::UnaryOp::Sigmoid, 0, 0, -30, 30},
    {tg::UnaryOp::Tanh, 0, 0, -12, 12},        {tg::UnaryOp::GeluTanh, 0, 0, -12, 12},
    {tg::UnaryOp::GeluErf, 0, 0, -15, 15},     {tg::UnaryOp::Erf, 0, 0, -5, 5},
};

void test_unary() {
  Rng rng(3);
  for (const UCase& c : kUnaryCases) {
    for (int64_t n : kSizes) {
      for (int inplace = 0; inplace < 2; inplace++) {
        std::vector<float> x = random_vec(rng, static_cast<size_t>(n), c.lo, c.hi);
        if (n > 3) {  // a few specials
          x[0] = 0.0f;
          x[1] = -0.0f;
          x[2] = NAN;
        }
        std::vector<float> out(static_cast<size_t>(n), -7.0f);
        const std::vector<float> x0 = x;
        float* o = inplace ? x.data() : out.data();
        tg::unary(c.op, x.data(), o, n, c.p0, c.p1);
        const double bound = unary_bound_ulp(c.op);
        double worst = 0;
        int64_t bad = -1;
        for (int64_t i = 0; i < n; i++) {
          const double ref = unary_ref(c.op, x0[i], c.p0, c.p1);
          if (bound == 0) {
            if (!same_bits(o[i], static_cast<float>(ref)) && bad < 0) bad = i;
          } else if (!close(o[i], ref, bound * ulp_of(ref))) {
            if (bad < 0) bad = i;
          } else if (std::isfinite(ref)) {
            const double e = std::fabs(o[i] - ref) / ulp_of(ref);
            if (e > worst) worst = e;
          }
        }
        CHECK(bad < 0, "unary op %d (p0=%g) n=%" PRId64 "%s: x=%.9g gives %.9g, want %.9g", static_cast<int>(c.op),
              c.p0, n, inplace ? " in place" : "", bad < 0 ? 0.0 : x0[bad], bad < 0 ? 0.0 : o[bad],
              bad < 0 ? 0.0 : unary_ref(c.op, x0[bad], c.p0, c.p1));
      }
    }
  }
  // TS semantics on specials
  {
    const float x[] = {NAN, -0.0f, -INFINITY, INFINITY, -1.0f};
    float o[5];
    tg::unary(tg::UnaryOp::Relu, x, o, 5, 0, 0);
    CHECK(std::isnan(o[0]) && std::signbit(o[1]) && o[1] == 0.0f && o[2] == 0.0f && o[3] == INFINITY && o[4] == 0.0f,
          "relu specials (NaN -> NaN, -0 -> -0, as PyTorch and unary.ts)");
    tg::unary(tg::UnaryOp::LeakyRelu, x, o, 5, 0.01, 0);
    CHECK(std::isnan(o[0]) && o[2] == -INFINITY && o[3] == INFINITY && o[4] == -0.01f, "leakyRelu specials");
    tg::unary(tg::UnaryOp::Clamp, x, o, 5, -0.5, 0.5);
    CHECK(std::isnan(o[0]) && o[2] == -0.5f && o[3] == 0.5f && o[4] == -0.5f, "clamp specials");
    tg::unary(tg::UnaryOp::Log, x, o, 5, 0, 0);
    CHECK(std::isnan(o[0]) && o[1] == -INFINITY && std::isnan(o[2]) && o[3] == INFINITY && std::isnan(o[4]),
          "log specials");
  }
  // clamp against double bounds that are not floats: same decisions as comparing in double
  {
    const float x[] = {0.1f, std::nextafter(0.1f, 0.0f), std::nextafter(0.1f, 1.0f), 0.3f,
                       std::nextafter(0.3f, 1.0f), std::nextafter(0.3f, 0.0f)};
    float o[6], g[6];
    const float gy[6] = {1, 1, 1, 1, 1, 1};
    tg::unary(tg::UnaryOp::Clamp, x, o, 6, 0.1, 0.3);
    tg::unary_grad(tg::UnaryOp::Clamp, x, nullptr, gy, g, 6, 0.1, 0.3);
    bool ok = true;
    for (int i = 0; i < 6; i++) {
      const double v = x[i];
      const float want = static_cast<float>(v < 0.1 ? 0.1 : v > 0.3 ? 0.3 : v);
      const float wg = (v >= 0.1 && v <= 0.3) ? 1.0f : 0.0f;
      if (!same_bits(o[i], want) || g[i] != wg) ok = false;
    }
    CHECK(ok, "clamp with non-float double bounds");
  }
}

// gx reference: unary.ts formulas in double (GELUs in their cancellation-free forms).
double unary_grad_ref(tg::UnaryOp op, double x, double y, double gy, double p0, double p1, double* scale) {
  *scale = 0;
  switch (op) {
    case tg::UnaryOp::Neg: return -gy;
    case tg::UnaryOp::Abs: return x > 0 ? gy : x < 0 ? -gy : 0;
    case tg::UnaryOp::Sqrt: return gy / (2 * y);
    case tg::UnaryOp::Exp: return gy * y;
    case tg::UnaryOp::Log: return gy / x;
    case tg::UnaryOp::Pow: return gy * p0 * std::pow(x, p0 - 1);
    case tg::UnaryOp::Clamp: return x >= p0 && x <= p1 ? gy : 0;
    case tg::UnaryOp::Relu: return x <= 0 ? 0 : gy;
    case tg::UnaryOp::LeakyRelu: return x > 0 ? gy : gy * p0;
    case tg::UnaryOp::Sigmoid: return gy * y * (1 - y);
    case tg::UnaryOp::Tanh: return gy * (1 - y * y);
    case tg::UnaryOp::GeluTanh: {
      const double u2 = 2 * kS2P * (x + 0.044715 * x * x * x);
      const double s = sigmoid_d(u2), sc = sigmoid_d(-u2);
      const double t2 = 2 * x * s * sc * kS2P * (1 + 3 * 0.044715 * x * x);
      *scale = std::fabs(gy) * (std::fabs(s) + std::fabs(t2));
      return gy * (s + t2);
    }
    case tg::UnaryOp::GeluErf: {
      const double a = 0.5 * std::erfc(-x * kInvS2), b = x * kInvS2Pi * std::exp(-0.5 * x * x);
      *scale = std::fabs(gy) * (std::fabs(a) + std::fabs(b));
      return gy * (a + b);
    }
    case tg::UnaryOp::Erf: {
      const double d = gy * 1.1283791670955126 * std::exp(-x * x);
      *scale = std::fabs(d);
      return d;
    }
  }
  (void)p1;
  return 0;
}

void test_unary_grad() {
  Rng rng(4);
  for (const UCase& c : kUnaryCases) {
    for (int64_t n : kSizes) {
      std::vector<float> x = random_vec(rng, static_cast<size_t>(n), c.lo, c.hi);
      std::vector<float> gy = random_vec(rng, static_cast<size_t>(n), -2, 2);
      if (n > 3) x[1] = 0.0f;
      std::vector<float> y(static_cast<size_t>(n)), gx(static_cast<size_t>(n), -7.0f);
      tg::unary(c.op, x.data(), y.data(), n, c.p0, c.p1);
      tg::unary_grad(c.op, x.data(), y.data(), gy.data(), gx.data(), n, c.p0, c.p1);
      int64_t bad = -1;
      for (int64_t i = 0; i < n && bad < 0; i++) {
        double scale;
        const double ref = unary_grad_ref(c.op, x[i], y[i], gy[i], c.p0, c.p1, &scale);
        if (scale == 0) {  // algebraic: the float of the double expression, bit for bit
          if (!same_bits(gx[i], static_cast<float>(ref))) bad = i;
        } else if (!close(gx[i], ref, 4 * ulp_of(ref) + 1e-6 * scale)) {
          bad = i;
        }
      }
      double s0;
      CHECK(bad < 0, "unary_grad op %d (p0=%g) n=%" PRId64 ": x=%.9g gives %.9g, want %.9g", static_cast<int>(c.op),
            c.p0, n, bad < 0 ? 0.0 : x[bad], bad < 0 ? 0.0 : gx[bad],
            bad < 0 ? 0.0 : unary_grad_ref(c.op, x[bad], y[bad], gy[bad], c.p0, c.p1, &s0));
    }
  }
  // gx may alias gy
  {
    Rng r(5);
    std::vector<float> x = random_vec(r, 37, -3, 3), gy = random_vec(r, 37, -1, 1), y(37), want(37);
    tg::unary(tg::UnaryOp::GeluTanh, x.data(), y.data(), 37, 0, 0);
    tg::unary_grad(tg::UnaryOp::GeluTanh, x.data(), y.data(), gy.data(), want.data(), 37, 0, 0);
    tg::unary_grad(tg::UnaryOp::GeluTanh, x.data(), y.data(), gy.data(), gy.data(), 37, 0, 0);
    bool ok = true;
    for (int i = 0; i < 37; i++) ok = ok && same_bits(gy[i], want[i]);
    CHECK(ok, "unary_grad in place (gx == gy)");
  }
  // GELU derivatives at the extremes: finite, limits 0 and 1
  {
    const float x[] = {-INFINITY, -1e30f, -20.0f, 20.0f, 1e30f, INFINITY};
    const float gy[] = {1, 1, 1, 1, 1, 1};
    float g[6];
    for (auto op : {tg::UnaryOp::GeluTanh, tg::UnaryOp::GeluErf}) {
      tg::unary_grad(op, x, nullptr, gy, g, 6, 0, 0);
      CHECK(g[0] == 0 && g[1] == 0 && std::fabs(g[2]) < 1e-30f && g[3] == 1 && g[4] == 1 && g[5] == 1,
            "gelu grad limits op %d: %g %g %g %g %g %g", static_cast<int>(op), g[0], g[1], g[2], g[3], g[4], g[5]);
    }
  }
}

// ---- reduce ---------------------------------------------------------------------------------------

// reduce.ts for max/min, written out again.
void argreduce_ref(bool is_max, const float* x, int64_t n, int64_t stride, float* out, float* arg) {
  float best = x[0];
  int64_t bi = 0;
  if (best == best) {
    for (int64_t i = 1; i < n; i++) {
      const float v = x[i * stride];
      if (v != v) {
        best = v;
        bi = i;
        break;
      }
      if (is_max ? v > best : v < best) {
        best = v;
        bi = i;
      }
    }
  }
  *out = best;
  *arg = static_cast<float>(bi);
}

void test_reduce_case(Rng& rng, int64_t outer, int64_t n, int64_t inner, int special) {
  const int64_t size = outer * n * inner;
  std::vector<float> x = random_vec(rng, static_cast<size_t>(size), -10, 10);
  if (special == 1) {  // ties: few distinct values, with -0/+0
    for (auto& v : x) v = static_cast<float>(static_cast<int>(rng.uniform() * 3) - 1);
    for (size_t i = 0; i < x.size(); i += 5) x[i] = -0.0f;
  } else if (special == 2) {  // NaNs sprinkled (some slices without)
    for (size_t i = 0; i < x.size(); i++)
      if (rng.uniform() < 0.02) x[i] = NAN;
  } else if (special == 3) {
    for (auto& v : x) v = -INFINITY;
  }
  const int64_t no = outer * inner;
  for (int opi = 0; opi < 3; opi++) {
    const auto op = static_cast<tg::ReduceOp>(opi);
    std::vector<float> out(static_cast<size_t>(no), -7.0f), arg(static_cast<size_t>(no), -7.0f);
    tg::reduce(op, x.data(), outer, n, inner, out.data(), opi ? arg.data() : nullptr);
    bool ok = true;
    int64_t bad = -1;
    for (int64_t o = 0; o < outer; o++) {
      for (int64_t j = 0; j < inner; j++) {
        const int64_t k = o * inner + j;
        const float* s = x.data() + o * n * inner + j;
        if (op == tg::ReduceOp::Sum) {
          double want = 0, mag = 0;
          for (int64_t i = 0; i < n; i++) {
            want += s[i * inner];
            mag += std::fabs(s[i * inner]);
          }
          if (!close(out[k], want, 0.5 * ulp_of(want) + 1e-15 * mag)) ok = false;
        } else {
          float wv, wa;
          if (n == 0) {
            wv = NAN;
            wa = 0;
          } else {
            argreduce_ref(op == tg::ReduceOp::Max, s, n, inner, &wv, &wa);
          }
          if (!same_bits(out[k], wv) || arg[k] != wa) ok = false;
        }
        if (!ok && bad < 0) bad = k;
      }
    }
    CHECK(ok, "reduce op %d [%" PRId64 ", %" PRId64 ", %" PRId64 "] special %d: first mismatch at %" PRId64, opi,
          outer, n, inner, special, bad);
  }
}

void test_reduce() {
  Rng rng(6);
  const int64_t ns[] = {0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 100, 1000};
  const int64_t inners[] = {1, 2, 3, 7, 8, 9, 17, 40};
  for (int64_t n : ns)
    for (int64_t inner : inners)
      for (int special = 0; special < 4; special++) test_reduce_case(rng, 3, n, inner, special);
  test_reduce_case(rng, 1, 100000, 1, 0);
  test_reduce_case(rng, 2, 5000, 33, 0);
  // NaN positions along a contiguous row: first NaN wins wherever it is
  for (int64_t n : {1, 9, 16, 17, 40, 100}) {
    for (int64_t pos = 0; pos < n; pos += (n > 20 ? 7 : 1)) {
      std::vector<float> x(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; i++) x[i] = static_cast<float>(i % 5);
      x[pos] = NAN;
      if (pos + 3 < n) x[pos + 3] = -NAN;
      float out, arg;
      for (auto op : {tg::ReduceOp::Max, tg::ReduceOp::Min}) {
        tg::reduce(op, x.data(), 1, n, 1, &out, &arg);
        CHECK(std::isnan(out) && arg == static_cast<float>(pos), "NaN wins: n=%" PRId64 " pos=%" PRId64 " arg=%g", n,
              pos, arg);
      }
    }
  }
  // -0 and +0 tie: the first index (and its sign) wins
  {
    const float x[] = {-1.0f, -0.0f, 0.0f, -0.0f, -5, -5, -5, -5, -5, -5, -5, -5, -5, -5, -5, -5, -5};
    float out, arg;
    tg::reduce(tg::ReduceOp::Max, x, 1, 17, 1, &out, &arg);
    CHECK(out == 0.0f && std::signbit(out) && arg == 1.0f, "max tie -0/+0: %g at %g", out, arg);
  }
}

// ---- softmax --------------------------------------------------------------------------------------

void softmax_ref(const std::vector<float>& x, int64_t outer, int64_t n, int64_t inner, bool log,
                 std::vector<double>& out) {
  out.assign(x.size(), 0.0);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < inner; j++) {
      const int64_t base = o * n * inner + j;
      double mx = -INFINITY;
      for (int64_t i = 0; i < n; i++)
        if (x[base + i * inner] > mx) mx = x[base + i * inner];
      // Σ = ones + rest, log Σ = log(ones) + log1p(rest/ones): exact even for rest ~1e-30
      long double rest = 0, ones = 0;
      for (int64_t i = 0; i < n; i++) {
        const float v = x[base + i * inner];
        if (v == mx) ones += 1;
        else rest += std::exp(static_cast<long double>(v) - mx);
      }
      const long double s = ones + rest;
      const long double logs = mx == INFINITY ? NAN : std::log(ones) + std::log1p(rest / ones);
      for (int64_t i = 0; i < n; i++) {
        const long double d = static_cast<long double>(x[base + i * inner]) - mx;
        out[base + i * inner] = static_cast<double>(log ? d - logs : std::exp(d) / s);
      }
    }
}

// softmax: 4 ULP (the exp, the 1/s and the product); log: 2 ULP of the result plus 2^-24·|log s|
// (log s is rounded to the float grid of x - max in the kernel's double arithmetic only).
double g_softmax_worst[2] = {0, 0};  // observed max ULP error (softmax, logSoftmax), for the log

bool softmax_ok(float y, double ref, bool log) {
  if (std::isfinite(ref) && !std::isnan(y)) {
    const double e = std::fabs(y - ref) / ulp_of(ref);
    if (e > g_softmax_worst[log]) g_softmax_worst[log] = e;
  }
  if (log) return close(y, ref, 2 * ulp_of(ref) + 1e-12 * std::fabs(ref));
  return close(y, ref, 4 * ulp_of(ref));
}

void test_softmax_case(Rng& rng, int64_t outer, int64_t n, int64_t inner, int kind) {
  const int64_t size = outer * n * inner;
  std::vector<float> x = random_vec(rng, static_cast<size_t>(size), -8, 8);
  if (kind == 1) {  // huge logits
    for (auto& v : x) v = rng.uniform() < 0.5 ? rng.range(9990, 10000) : rng.range(-10000, -9990);
  } else if (kind == 2) {  // rows of -inf except one element
    for (int64_t o = 0; o < outer; o++)
      for (int64_t j = 0; j < inner; j++)
        for (int64_t i = 0; i < n; i++)
          x[(o * n + i) * inner + j] = i == (o + j) % n ? rng.range(-5, 5) : -INFINITY;
  } else if (kind == 3) {  // wide spread: outputs down to the subnormals
    for (auto& v : x) v = rng.range(-120, 0);
  }
  for (int log = 0; log < 2; log++) {
    std::vector<double> want;
    softmax_ref(x, outer, n, inner, log, want);
    for (int inplace = 0; inplace < 2; inplace++) {
      std::vector<float> out(x.size(), -7.0f);
      std::vector<float> xin = x;
      float* o = inplace ? xin.data() : out.data();
      tg::softmax(xin.data(), outer, n, inner, o, log);
      int64_t bad = -1;
      for (int64_t i = 0; i < size && bad < 0; i++)
        if (!softmax_ok(o[i], want[i], log)) bad = i;
      CHECK(bad < 0, "softmax%s [%" PRId64 ",%" PRId64 ",%" PRId64 "] kind %d%s: at %" PRId64 " got %.9g want %.9g",
            log ? "(log)" : "", outer, n, inner, kind, inplace ? " in place" : "", bad, bad < 0 ? 0.0 : o[bad],
            bad < 0 ? 0.0 : want[bad]);
    }
  }
}

void test_softmax_grad_case(Rng& rng, int64_t outer, int64_t n, int64_t inner) {
  const int64_t size = outer * n * inner;
  std::vector<float> x = random_vec(rng, static_cast<size_t>(size), -6, 6);
  std::vector<float> gy = random_vec(rng, static_cast<size_t>(size), -1, 1);
  for (int log = 0; log < 2; log++) {
    std::vector<float> y(x.size()), gx(x.size(), -7.0f);
    tg::softmax(x.data(), outer, n, inner, y.data(), log);
    tg::softmax_grad(y.data(), gy.data(), outer, n, inner, gx.data(), log);
    int64_t bad = -1;
    double want_bad = 0;
    for (int64_t o = 0; o < outer && bad < 0; o++)
      for (int64_t j = 0; j < inner && bad < 0; j++) {
        const int64_t base = o * n * inner + j;
        double s = 0, mag = 0;
        for (int64_t i = 0; i < n; i++) {
          const int64_t k = base + i * inner;
          s += log ? double(gy[k]) : double(gy[k]) * double(y[k]);
          mag += log ? std::fabs(gy[k]) : std::fabs(gy[k] * y[k]);
        }
        for (int64_t i = 0; i < n && bad < 0; i++) {
          const int64_t k = base + i * inner;
          const double p = log ? std::exp(double(y[k])) : double(y[k]);
          const double want = log ? gy[k] - p * s : p * (gy[k] - s);
          const double tol = 2 * ulp_of(want) + 4 * 6e-8 * (std::fabs(gy[k]) + p * mag);
          if (!close(gx[k], want, tol)) {
            bad = k;
            want_bad = want;
          }
        }
      }
    CHECK(bad < 0, "softmax_grad%s [%" PRId64 ",%" PRId64 ",%" PRId64 "]: at %" PRId64 " got %.9g want %.9g",
          log ? "(log)" : "", outer, n, inner, bad, bad < 0 ? 0.0 : gx[bad], want_bad);
  }
}

void test_softmax() {
  Rng rng(7);
  const int64_t ns[] = {1, 2, 7, 8, 9, 17, 31, 100, 1000};
  const int64_t inners[] = {1, 3, 8, 9, 20};
  for (int64_t n : ns)
    for (int64_t inner : inners)
      for (int kind = 0; kind < 4; kind++) test_softmax_case(rng, 2, n, inner, kind);
  test_softmax_case(rng, 1, 50000, 1, 0);
  std::printf("  [%s] softmax observed max error %.2f ulp, logSoftmax %.2f ulp\n", g_ctx.c_str(), g_softmax_worst[0],
              g_softmax_worst[1]);
  g_softmax_worst[0] = g_softmax_worst[1] = 0;
  for (int64_t n : ns)
    for (int64_t inner : inners) test_softmax_grad_case(rng, 3, n, inner);
  // NaN anywhere poisons its row only; a row of all -inf is NaN; +inf gives NaN (as the TS backend)
  for (int log = 0; log < 2; log++) {
    std::vector<float> x(4 * 10, 1.0f), y(40);
    x[3] = NAN;                                    // row 0
    for (int i = 10; i < 20; i++) x[i] = -INFINITY;  // row 1
    x[25] = INFINITY;                                // row 2
    tg::softmax(x.data(), 4, 10, 1, y.data(), log);
    bool ok = true;
    for (int i = 0; i < 30; i++) ok = ok && std::isnan(y[i]);
    for (int i = 30; i < 40; i++) ok = ok && !std::isnan(y[i]);
    CHECK(ok, "softmax%s NaN/-inf/+inf rows", log ? "(log)" : "");
  }
  // -inf entries in a finite row give exactly 0 (log: -inf)
  {
    std::vector<float> x = {0.0f, -INFINITY, 1.0f, -INFINITY, 2.0f, -INFINITY, -INFINITY, -INFINITY, 3.0f, -INFINITY};
    std::vector<float> y(10), ly(10);
    tg::softmax(x.data(), 1, 10, 1, y.data(), false);
    tg::softmax(x.data(), 1, 10, 1, ly.data(), true);
    bool ok = true;
    for (int i = 0; i < 10; i++)
      if (std::isinf(x[i])) ok = ok && y[i] == 0.0f && ly[i] == -INFINITY;
    CHECK(ok, "softmax -inf entries");
  }
}

// ---- permute --------------------------------------------------------------------------------------

void test_permute_case(Rng& rng, const std::vector<int64_t>& shape, const std::vector<int64_t>& axes) {
  const int rank = static_cast<int>(shape.size());
  const int64_t size = numel(shape);
  std::vector<float> x(static_cast<size_t>(size));
  for (int64_t i = 0; i < size; i++) x[i] = static_cast<float>(i) + 0.5f;
  std::vector<int64_t> oshape(shape.size()), istr(shape.size());
  int64_t s = 1;
  for (int d = rank - 1; d >= 0; d--) {
    istr[d] = s;
    s *= shape[d];
  }
  for (int d = 0; d < rank; d++) oshape[d] = shape[axes[d]];
  std::vector<float> want(static_cast<size_t>(size));
  for (int64_t o = 0; o < size; o++) {
    int64_t rem = o, xi = 0;
    for (int d = rank - 1; d >= 0; d--) {
      xi += (rem % oshape[d]) * istr[axes[d]];
      rem /= oshape[d];
    }
    want[o] = x[xi];
  }
  std::vector<float> out(static_cast<size_t>(size), -7.0f);
  tg::permute(x.data(), shape.data(), axes.data(), rank, out.data());
  CHECK(out == want, "permute %s axes %s", shape_str(shape).c_str(), shape_str(axes).c_str());
  // round trip through the inverse permutation
  std::vector<int64_t> inv(axes.size());
  for (int d = 0; d < rank; d++) inv[axes[d]] = d;
  std::vector<float> back(static_cast<size_t>(size), -7.0f);
  tg::permute(out.data(), oshape.data(), inv.data(), rank, back.data());
  CHECK(back == x, "permute round trip %s axes %s", shape_str(shape).c_str(), shape_str(axes).c_str());
  (void)rng;
}

void test_permute() {
  Rng rng(8);
  const int64_t dims[] = {1, 2, 3, 7, 8, 9, 31, 33, 64, 67};
  for (int64_t r : dims)
    for (int64_t c : dims) {
      test_permute_case(rng, {r, c}, {1, 0});
      test_permute_case(rng, {3, r, c}, {0, 2, 1});
      test_permute_case(rng, {r, 3, c}, {2, 1, 0});
    }
  test_permute_case(rng, {2, 3, 4, 5}, {0, 1, 2, 3});
  test_permute_case(rng, {2, 3, 4, 5}, {3, 2, 1, 0});
  test_permute_case(rng, {2, 3, 4, 5}, {0, 2, 3, 1});
  test_permute_case(rng, {2, 3, 4, 5}, {1, 0, 2, 3});
  test_permute_case(rng, {2, 3, 4, 5}, {2, 3, 0, 1});
  test_permute_case(rng, {2, 3, 4, 5, 6}, {4, 0, 3, 1, 2});
  test_permute_case(rng, {5, 1, 7, 1, 9}, {4, 3, 2, 1, 0});
  test_permute_case(rng, {1, 1, 1}, {2, 0, 1});
  test_permute_case(rng, {4, 0, 3}, {2, 1, 0});
  test_permute_case(rng, {}, {});
  test_permute_case(rng, {130, 70}, {1, 0});
  test_permute_case(rng, {16, 40, 24}, {1, 2, 0});
  // random permutations of random shapes
  for (int t = 0; t < 200; t++) {
    const int rank = 1 + static_cast<int>(rng.uniform() * 5);
    std::vector<int64_t> shape(static_cast<size_t>(rank)), axes(static_cast<size_t>(rank));
    for (int d = 0; d < rank; d++) {
      shape[d] = 1 + static_cast<int64_t>(rng.uniform() * 11);
      axes[d] = d;
    }
    for (int d = rank - 1; d > 0; d--) std::swap(axes[d], axes[static_cast<int>(rng.uniform() * (d + 1))]);
    test_permute_case(rng, shape, axes);
  }
}

// ---- scalar and AVX2 agree bit for bit where the kernels promise it ------------------------------

void test_paths_agree() {
  if (tg::detect_isa() < tg::Isa::Avx2) return;
  Rng rng(9);
  const int64_t n = 1003;
  std::vector<float> x = random_vec(rng, n, -4, 4), gy = random_vec(rng, n, -1, 1), y(n);
  for (int opi = 0; opi <= static_cast<int>(tg::UnaryOp::Erf); opi++) {
    const auto op = static_cast<tg::UnaryOp>(opi);
    if (op == tg::UnaryOp::Exp || op == tg::UnaryOp::Log || op == tg::UnaryOp::Sigmoid || op == tg::UnaryOp::Tanh ||
        op == tg::UnaryOp::GeluTanh || op == tg::UnaryOp::GeluErf || op == tg::UnaryOp::Erf)
      continue;  // approximations: bounded, not identical
    const double p0 = op == tg::UnaryOp::Clamp ? -0.3 : op == tg::UnaryOp::Pow ? 2.0 : 0.01;
    std::vector<float> a(n), b(n), ga(n), gb(n);
    std::vector<float> xp = x;
    if (op == tg::UnaryOp::Sqrt || op == tg::UnaryOp::Log)
      for (auto& v : xp) v = std::fabs(v);
    tg::set_active_isa(tg::Isa::Scalar);
    tg::unary(op, xp.data(), a.data(), n, p0, 0.6);
    tg::unary_grad(op, xp.data(), a.data(), gy.data(), ga.data(), n, p0, 0.6);
    tg::set_active_isa(kSimd);
    tg::unary(op, xp.data(), b.data(), n, p0, 0.6);
    tg::unary_grad(op, xp.data(), a.data(), gy.data(), gb.data(), n, p0, 0.6);
    bool ok = true;
    for (int64_t i = 0; i < n; i++) ok = ok && same_bits(a[i], b[i]) && same_bits(ga[i], gb[i]);
    g_ctx = "paths";
    CHECK(ok, "scalar and avx2 differ for exact op %d", opi);
  }
  // sigmoid/tanh gradients use y only and are exact double expressions
  for (auto op : {tg::UnaryOp::Sigmoid, tg::UnaryOp::Tanh}) {
    std::vector<float> yy = random_vec(rng, n, -1, 1), ga(n), gb(n);
    tg::set_active_isa(tg::Isa::Scalar);
    tg::unary_grad(op, nullptr, yy.data(), gy.data(), ga.data(), n, 0, 0);
    tg::set_active_isa(kSimd);
    tg::unary_grad(op, nullptr, yy.data(), gy.data(), gb.data(), n, 0, 0);
    bool ok = true;
    for (int64_t i = 0; i < n; i++) ok = ok && same_bits(ga[i], gb[i]);
    CHECK(ok, "scalar and avx2 differ for grad of op %d", static_cast<int>(op));
  }
}

// ---- reductions: the SIMD path against the scalar one ---------------------------------------------

// Σ x in double in scalar's order (reduce_scalar.cc): four partials, element i into partial i mod 4,
// the tail into partial 0, then (p0 + p1) + (p2 + p3).
double sum_order4(const float* x, int64_t n) {
  double p[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; k++) p[k] += x[i + k];
  for (; i < n; i++) p[0] += x[i];
  return (p[0] + p[1]) + (p[2] + p[3]);
}

// Σ x in double in AVX2's order (reduce_avx2.cc), which NEON's sum_f64 follows too: sixteen
// partials, element i of each 16-block into partial i mod 16, the 4-blocks after them into
// partials 0..3; then t_k = (p_k + p_4+k) + (p_8+k + p_12+k), (t0 + t2) + (t1 + t3), and the tail
// added last, in order.
double sum_order16(const float* x, int64_t n) {
  double p[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int k = 0; k < 16; k++) p[k] += x[i + k];
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; k++) p[k] += x[i + k];
  double t[4];
  for (int k = 0; k < 4; k++) t[k] = (p[k] + p[4 + k]) + (p[8 + k] + p[12 + k]);
  double s = (t[0] + t[2]) + (t[1] + t[3]);
  for (; i < n; i++) s += x[i];
  return s;
}

bool same_double(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0 || (std::isnan(a) && std::isnan(b));
}

// Bit for bit; nan_any: any NaN matches any NaN (for sums: which operand's NaN an addition passes
// on is the hardware's and the compiler's choice, not the kernel's).
bool identical(const std::vector<float>& a, const std::vector<float>& b, bool nan_any = false) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++)
    if (nan_any ? !same_bits(a[i], b[i]) : std::memcmp(&a[i], &b[i], sizeof(float)) != 0) return false;
  return true;
}

// Inputs for the agreement checks. kind 0: moderate values; 1: magnitudes spread over 2^±24, so
// that the summation order shows in the bits; 2: ties (-1, -0, +0, 1); 3: NaNs of both signs
// sprinkled among ties; 4: ±inf among moderate values; 5: one value throughout (every index ties).
std::vector<float> agreement_input(Rng& rng, int64_t len, int kind) {
  std::vector<float> x = random_vec(rng, static_cast<size_t>(len), -4, 4);
  for (float& v : x) {
    const double u = rng.uniform();
    switch (kind) {
      case 1: v = static_cast<float>(std::ldexp(v, static_cast<int>(rng.uniform() * 49) - 24)); break;
      case 2:
      case 3: {
        static const float ties[] = {-1.0f, -0.0f, 0.0f, 1.0f};
        v = ties[static_cast<int>(u * 4)];
        if (kind == 3 && rng.uniform() < 0.05) v = rng.uniform() < 0.5 ? NAN : -NAN;
        break;
      }
      case 4:
        if (u < 0.05) v = INFINITY;
        else if (u < 0.1) v = -INFINITY;
        break;
      case 5: v = 2.5f; break;
      default: break;
    }
  }
  return x;
}

// reduce()'s max/min (with and without the index) and its column sums on the SIMD path give
// scalar's bits exactly (max/min: the value chosen is the input element itself, NaN payload and
// sign included; sums: each column is one chain in row order, NaN matching any NaN). sum_f64 follows AVX2's order on both SIMD
// levels and scalar's on the scalar table; accumulate_f64 adds elementwise, the same bits on every
// level. Lengths cover every vector tail, rows below and above the 16 where the row scans start.
void test_reduce_paths_agree() {
  if (tg::detect_isa() < tg::Isa::Avx2) return;
  g_ctx = "reduce paths";
  Rng rng(17);
  struct Shape {
    int64_t outer, n, inner;
  };
  std::vector<Shape> shapes;
  for (int64_t n = 1; n <= 70; n++) shapes.push_back({2, n, 1});
  for (int64_t n : {1000, 4099}) shapes.push_back({1, n, 1});
  for (int64_t inner = 2; inner <= 21; inner++)
    for (int64_t n : {1, 2, 5, 16, 17}) shapes.push_back({2, n, inner});
  for (int64_t inner : {31, 32, 33, 47, 64, 65, 257, 300}) shapes.push_back({2, 9, inner});
  shapes.push_back({1, 2000, 3});
  int checked = 0;
  for (const Shape& sh : shapes)
    for (int kind = 0; kind < 6; kind++) {
      const int64_t len = sh.outer * sh.n * sh.inner, no = sh.outer * sh.inner;
      const std::vector<float> x = agreement_input(rng, len, kind);
      for (int opi = 0; opi < 3; opi++) {
        const auto op = static_cast<tg::ReduceOp>(opi);
        std::vector<float> out[2], arg[2], bare[2];
        for (int path = 0; path < 2; path++) {
          tg::set_active_isa(path ? kSimd : tg::Isa::Scalar);
          out[path].assign(static_cast<size_t>(no), -7.0f);
          arg[path].assign(static_cast<size_t>(no), -7.0f);
          bare[path].assign(static_cast<size_t>(no), -7.0f);
          tg::reduce(op, x.data(), sh.outer, sh.n, sh.inner, out[path].data(), opi ? arg[path].data() : nullptr);
          if (opi) tg::reduce(op, x.data(), sh.outer, sh.n, sh.inner, bare[path].data(), nullptr);
        }
        if (op == tg::ReduceOp::Sum && sh.inner == 1) continue;  // sum_f64: its own check below
        checked++;
        CHECK(identical(out[0], out[1], op == tg::ReduceOp::Sum) && identical(arg[0], arg[1]) &&
                  (!opi || (identical(bare[0], out[0]) && identical(bare[1], out[1]))),
              "reduce op %d [%lld, %lld, %lld] kind %d: %s differs from scalar", opi, (long long)sh.outer,
              (long long)sh.n, (long long)sh.inner, kind, tg::isa_name(kSimd));
      }
    }
  CHECK(checked > 1000, "only %d reduce cases compared", checked);

  // NaN placement along a row: the first NaN wins over a later one in another lane, a later one in
  // the same lane and one in the tail, on both paths and with the same sign.
  for (int64_t n : {16, 17, 23, 24, 40, 71}) {
    for (int64_t pos = 0; pos < n; pos++) {
      std::vector<float> x(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; i++) x[i] = static_cast<float>((i * 7) % 5) - 2.0f;
      x[pos] = (pos & 1) ? -NAN : NAN;
      for (int64_t d : {1, 3, 8, 9})
        if (pos + d < n) x[pos + d] = (pos & 1) ? NAN : -NAN;
      for (auto op : {tg::ReduceOp::Max, tg::ReduceOp::Min}) {
        float out[2], arg[2];
        for (int path = 0; path < 2; path++) {
          tg::set_active_isa(path ? kSimd : tg::Isa::Scalar);
          tg::reduce(op, x.data(), 1, n, 1, &out[path], &arg[path]);
        }
        CHECK(std::memcmp(&out[0], &x[pos], 4) == 0 && std::memcmp(&out[1], &x[pos], 4) == 0 &&
                  arg[0] == static_cast<float>(pos) && arg[1] == static_cast<float>(pos),
              "first NaN n=%lld pos=%lld: scalar at %g, %s at %g", (long long)n, (long long)pos, arg[0],
              tg::isa_name(kSimd), arg[1]);
      }
    }
  }
  // The best value in every lane at once: the smallest index wins, and -0 beats a later +0 for max
  // (the first of the tie) whichever lanes they sit in.
  for (int64_t n : {16, 17, 31, 33, 64}) {
    for (int64_t first = 0; first < 12 && first < n; first++) {
      std::vector<float> x(static_cast<size_t>(n), -3.0f);
      for (int64_t i = first; i < n; i += 3) x[i] = i == first ? -0.0f : 0.0f;
      float out[2], arg[2];
      for (int path = 0; path < 2; path++) {
        tg::set_active_isa(path ? kSimd : tg::Isa::Scalar);
        tg::reduce(tg::ReduceOp::Max, x.data(), 1, n, 1, &out[path], &arg[path]);
      }
      CHECK(std::signbit(out[0]) && std::signbit(out[1]) && out[1] == 0.0f && arg[0] == static_cast<float>(first) &&
                arg[1] == static_cast<float>(first),
            "-0/+0 tie n=%lld first=%lld: scalar %g at %g, %s %g at %g", (long long)n, (long long)first, out[0],
            arg[0], tg::isa_name(kSimd), out[1], arg[1]);
    }
  }

  // The table entries sum_f64 and accumulate_f64 (sum_to's general path) on every length 0..70 and
  // some long ones. Spread magnitudes make the two orders differ, which the last check confirms.
  std::vector<tg::Isa> simd = {kSimd};
  if (tg::detect_isa() == tg::Isa::Avx512) simd.push_back(tg::Isa::Avx512);  // AVX2's reductions
  std::vector<int64_t> lens;
  for (int64_t n = 0; n <= 70; n++) lens.push_back(n);
  for (int64_t n : {1000, 4099, 100003}) lens.push_back(n);
  int orders_differ = 0;
  for (int64_t n : lens)
    for (int kind : {0, 1, 4}) {
      const std::vector<float> x = agreement_input(rng, n, kind);
      const double want4 = sum_order4(x.data(), n), want16 = sum_order16(x.data(), n);
      if (!same_double(want4, want16)) orders_differ++;
      tg::set_active_isa(tg::Isa::Scalar);
      const tg::ReduceKernels& ks = tg::active_kernels().reduce;
      const double got_scalar = ks.sum_f64(x.data(), n);
      std::vector<double> acc_scalar(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; i++) acc_scalar[i] = 0.25 * static_cast<double>(i) - 3.0;
      std::vector<double> acc_init = acc_scalar;
      ks.accumulate_f64(acc_scalar.data(), x.data(), n);
      CHECK(same_double(got_scalar, want4), "scalar sum_f64 n=%lld kind %d: %a, want %a", (long long)n, kind,
            got_scalar, want4);
      for (tg::Isa isa : simd) {
        tg::set_active_isa(isa);
        const tg::ReduceKernels& kv = tg::active_kernels().reduce;
        const double got = kv.sum_f64(x.data(), n);
        CHECK(same_double(got, want16), "%s sum_f64 n=%lld kind %d: %a, want AVX2's order %a", tg::isa_name(isa),
              (long long)n, kind, got, want16);
        std::vector<double> acc = acc_init;
        kv.accumulate_f64(acc.data(), x.data(), n);
        CHECK(n == 0 || std::memcmp(acc.data(), acc_scalar.data(), acc.size() * sizeof(double)) == 0,
              "%s accumulate_f64 n=%lld kind %d differs from scalar", tg::isa_name(isa), (long long)n, kind);
      }
    }
  CHECK(orders_differ > 20, "the two summation orders differ in only %d cases: the sum checks lack teeth",
        orders_differ);
  tg::set_active_isa(kSimd);
}

}  // namespace

// Above kElementParallelMin elements the unary maps, their gradients and sums split over the pool;
// every op must give the same bits on 1 and 3 threads, at sizes around the threshold and with a
// vector tail, and for the column sums with widths that cut across the 256-column blocks.
// ---- linear_backward ------------------------------------------------------------------------------

// linear_backward against the calls it fuses (unary_grad relu, reduce sum, sgemm NN and TN), bit
// for bit, on the active ISA: every tail of 16 and 4 columns, several 64-column pieces, zero rows,
// y holding NaN, ±0 and negatives, each output left out in turn, and split over 3 threads.
void test_linear_backward() {
  Rng rng(21);
  tg::ThreadPool three(3);
  struct S {
    int64_t rows, out_f, in_f;
  };
  std::vector<S> shapes;
  for (int64_t out_f = 1; out_f <= 40; out_f++) shapes.push_back({7, out_f, 5});
  for (S s : {S{0, 9, 4}, S{3, 0, 4}, S{5, 6, 0}, S{1, 200, 3}, S{37, 129, 11}, S{300, 260, 9}, S{520, 513, 2}})
    shapes.push_back(s);
  const float specials[] = {0.0f, -0.0f, NAN, -1.0f, 2.0f, -INFINITY};
  for (const S& s : shapes) {
    const int64_t no = s.rows * s.out_f, ni = s.rows * s.in_f, nw = s.out_f * s.in_f;
    const std::vector<float> g = random_vec(rng, static_cast<size_t>(no), -2, 2);
    std::vector<float> y = random_vec(rng, static_cast<size_t>(no), -1, 1);
    for (size_t i = 0; i < y.size(); i += 3) y[i] = specials[rng.next() % 6];
    const std::vector<float> x = random_vec(rng, static_cast<size_t>(ni), -1, 1), w = random_vec(rng, static_cast<size_t>(nw), -1, 1);
    for (int relu = 0; relu < 2; relu++) {
      // Reference: the separate kernels.
      std::vector<float> gy_r(static_cast<size_t>(no)), gx_r(static_cast<size_t>(ni)), gw_r(static_cast<size_t>(nw)),
          gb_r(static_cast<size_t>(s.out_f));
      const float* d = g.data();
      if (relu) {
        tg::unary_grad(tg::UnaryOp::Relu, y.data(), y.data(), g.data(), gy_r.data(), no, 0, 0);
        d = gy_r.data();
      }
      tg::reduce(tg::ReduceOp::Sum, d, 1, s.rows, s.out_f, gb_r.data(), nullptr);
      const int64_t ldo = std::max<int64_t>(1, s.out_f), ldi = std::max<int64_t>(1, s.in_f);
      tg::sgemm(false, false, s.rows, s.in_f, s.out_f, 1, d, ldo, w.data(), ldi, 0, gx_r.data(), ldi, nullptr, nullptr);
      tg::sgemm(true, false, s.out_f, s.in_f, s.rows, 1, d, ldo, x.data(), ldi, 0, gw_r.data(), ldi, nullptr, nullptr);
      for (int mask = 0; mask < 8; mask++) {  // bit 0: gb, 1: gx, 2: gw
        for (tg::ThreadPool* pool : {static_cast<tg::ThreadPool*>(nullptr), &three}) {
          std::vector<float> gy(gy_r.size(), 7.0f), gx(gx_r.size(), 7.0f), gw(gw_r.size(), 7.0f), gb(gb_r.size(), 7.0f);
          tg::linear_backward(s.rows, s.out_f, s.in_f, g.data(), relu ? y.data() : nullptr, x.data(), w.data(),
                              relu ? gy.data() : nullptr, mask & 2 ? gx.data() : nullptr, mask & 4 ? gw.data() : nullptr,
                              mask & 1 ? gb.data() : nullptr, pool);
          auto same = [](const std::vector<float>& a, const std::vector<float>& b) {
            return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * 4) == 0);
          };
          auto untouched = [](const std::vector<float>& a) {
            for (float v : a)
              if (v != 7.0f) return false;
            return true;
          };
          const bool ok = (!relu || same(gy, gy_r)) && ((mask & 1) ? same(gb, gb_r) : untouched(gb)) &&
                          ((mask & 2) ? same(gx, gx_r) : untouched(gx)) && ((mask & 4) ? same(gw, gw_r) : untouched(gw));
          CHECK(ok, "linear_backward [%lld, %lld, %lld] relu %d outputs %d %s: differs from the separate kernels",
                (long long)s.rows, (long long)s.out_f, (long long)s.in_f, relu, mask, pool ? "3 threads" : "1 thread");
        }
      }
    }
  }
}

void test_threads_agree() {
  Rng rng(9);
  tg::ThreadPool one(1), three(3);
  const int64_t sizes[] = {tg::kElementParallelMin - 1, tg::kElementParallelMin, tg::kElementParallelMin + 13, 200003};
  for (const UCase& c : kUnaryCases) {
    for (int64_t n : sizes) {
      const std::vector<float> x = random_vec(rng, static_cast<size_t>(n), c.lo, c.hi);
      std::vector<float> y(static_cast<size_t>(n)), g = random_vec(rng, static_cast<size_t>(n), -1, 1);
      tg::unary(c.op, x.data(), y.data(), n, c.p0, c.p1);
      std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n)), ga(static_cast<size_t>(n)), gb(static_cast<size_t>(n));
      tg::unary(c.op, x.data(), a.data(), n, c.p0, c.p1, &one);
      tg::unary(c.op, x.data(), b.data(), n, c.p0, c.p1, &three);
      tg::unary_grad(c.op, x.data(), y.data(), g.data(), ga.data(), n, c.p0, c.p1, &one);
      tg::unary_grad(c.op, x.data(), y.data(), g.data(), gb.data(), n, c.p0, c.p1, &three);
      CHECK(std::memcmp(a.data(), b.data(), a.size() * 4) == 0 && std::memcmp(a.data(), y.data(), a.size() * 4) == 0,
            "unary op %d n=%lld: threads change the bits", static_cast<int>(c.op), (long long)n);
      CHECK(std::memcmp(ga.data(), gb.data(), ga.size() * 4) == 0, "unary_grad op %d n=%lld: threads change the bits",
            static_cast<int>(c.op), (long long)n);
    }
  }
  struct R {
    int64_t outer, n, inner;
  };
  for (const R& r : {R{1, 512, 512}, R{1, 300, 777}, R{3, 100, 300}, R{70000, 1, 1}, R{9000, 13, 1}, R{1, 200000, 1},
                     R{2, 40000, 1}}) {
    const int64_t size = r.outer * r.n * r.inner;
    const std::vector<float> x = random_vec(rng, static_cast<size_t>(size), -10, 10);
    std::vector<float> a(static_cast<size_t>(r.outer * r.inner)), b = a, c = a;
    tg::reduce(tg::ReduceOp::Sum, x.data(), r.outer, r.n, r.inner, a.data(), nullptr);
    tg::reduce(tg::ReduceOp::Sum, x.data(), r.outer, r.n, r.inner, b.data(), nullptr, &one);
    tg::reduce(tg::ReduceOp::Sum, x.data(), r.outer, r.n, r.inner, c.data(), nullptr, &three);
    CHECK(std::memcmp(a.data(), b.data(), a.size() * 4) == 0 && std::memcmp(a.data(), c.data(), a.size() * 4) == 0,
          "sum %lldx%lldx%lld: threads change the bits", (long long)r.outer, (long long)r.n, (long long)r.inner);
  }
}

int main() {
  std::vector<tg::Isa> isas = {tg::Isa::Scalar};
  if (tg::detect_isa() >= tg::Isa::Avx2) isas.push_back(kSimd);
  else std::printf("note: no AVX2 on this CPU; scalar path only\n");
  if (tg::detect_isa() == tg::Isa::Avx512) isas.push_back(tg::Isa::Avx512);  // its ULP bounds are AVX2's
  else if (!TG_NEON_KERNELS) std::printf("note: no AVX-512 on this CPU: the AVX-512 path was not exercised\n");
  for (tg::Isa isa : isas) {
    tg::set_active_isa(isa);
    g_ctx = tg::isa_name(isa);
    const int before = g_fail;
    test_binary();
    test_sum_to();
    test_unary();
    test_unary_grad();
    test_reduce();
    test_softmax();
    test_permute();
    test_threads_agree();
    test_linear_backward();
    std::printf("%s path: %s\n", g_ctx.c_str(), g_fail == before ? "ok" : "FAILURES");
  }
  test_paths_agree();
  test_reduce_paths_agree();
  std::printf("%d passed, %d failed\n", g_pass, g_fail);
  return g_fail == 0 ? 0 : 1;
}
