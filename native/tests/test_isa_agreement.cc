// Switching AVX2 → AVX-512 changes no result: the unary maps and their gradients, softmax forward
// and backward, the cross-entropy row passes, Adam and the binary rows are called through both
// tables (kernels/dispatch.h) on the same inputs — NaN, ±inf, ±0, subnormals, the branch and
// saturation edges, random values — for every length 1..70 (each tail) and a large one, and the
// outputs must match bit for bit (NaN: any NaN). On a CPU without AVX-512 nothing is exercised,
// and the test says so.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "cpu.h"
#include "kernels/dispatch.h"

#if TG_X86_KERNELS
namespace {

int g_pass = 0, g_fail = 0;

// Equal bits, any NaN equal to any NaN (as test_elementwise.cc's same_bits): which operand's NaN
// propagates through a + or × is the compiler's choice (it may commute them), not the kernel's.
bool same(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0 || (std::isnan(a) && std::isnan(b)); }

// Counts one comparison; on a mismatch prints the first differing element, with its input.
void check(const std::vector<float>& a, const std::vector<float>& b, const std::vector<float>& x, const char* what,
           int detail) {
  size_t i = 0;
  while (i < a.size() && same(a[i], b[i])) i++;
  if (i == a.size() && a.size() == b.size()) {
    g_pass++;
    return;
  }
  if (++g_fail > 20) return;
  uint32_t u[3] = {};
  if (i < a.size()) {
    std::memcpy(&u[0], &x[i % x.size()], 4);
    std::memcpy(&u[1], &a[i], 4);
    std::memcpy(&u[2], &b[i], 4);
  }
  std::printf("FAIL %s (%d, n=%zu): element %zu, input %08x: avx2 %08x, avx512 %08x\n", what, detail, a.size(), i,
              u[0], u[1], u[2]);
}

uint64_t g_rng = 0x9e3779b97f4a7c15ull;
uint32_t next_u32() {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return static_cast<uint32_t>(g_rng >> 16);
}
float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Values that exercise every branch: specials, subnormals, interval edges and saturation points
// of vmath_avx2.h, plus random bit patterns and random moderate values.
std::vector<float> inputs(int64_t n, float scale) {
  static const float edge[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 0.625f, -0.625f, 0.875f, -0.875f, 1.5f, 2.25f,
                               3.25f, 4.75f, 7.0f, 10.5f, 16.0f, -16.0f, 88.72f, 89.0f, -103.97f, -127.0f,
                               1e-45f, -1e-45f, 1e-40f, 1.17549435e-38f, 3.4e38f, -3.4e38f, 1e-7f, -9.5f, -13.2f,
                               __builtin_inff(), -__builtin_inff(), __builtin_nanf(""), -__builtin_nanf("")};
  const int ne = sizeof(edge) / sizeof(edge[0]);
  std::vector<float> x(n);
  for (int64_t i = 0; i < n; i++) {
    const uint32_t r = next_u32();
    switch (r % 4) {
      case 0: x[i] = edge[(r >> 2) % ne]; break;
      case 1: x[i] = bits_to_float(next_u32()); break;
      default: x[i] = scale * (static_cast<float>(next_u32() >> 8) / 8388608.0f - 1.0f); break;
    }
  }
  return x;
}

std::vector<int64_t> lengths() {
  std::vector<int64_t> ns;
  for (int64_t n = 1; n <= 70; n++) ns.push_back(n);
  ns.push_back(4099);
  return ns;
}

const tg::UnaryOp kOps[] = {tg::UnaryOp::Neg,  tg::UnaryOp::Abs,     tg::UnaryOp::Sqrt,      tg::UnaryOp::Exp,
                            tg::UnaryOp::Log,  tg::UnaryOp::Pow,     tg::UnaryOp::Clamp,     tg::UnaryOp::Relu,
                            tg::UnaryOp::LeakyRelu, tg::UnaryOp::Sigmoid, tg::UnaryOp::Tanh, tg::UnaryOp::GeluTanh,
                            tg::UnaryOp::GeluErf,   tg::UnaryOp::Erf};

void test_unary(const tg::IsaKernels& a, const tg::IsaKernels& b) {
  for (tg::UnaryOp op : kOps) {
    const double p0 = op == tg::UnaryOp::Pow ? 2.0 : op == tg::UnaryOp::Clamp ? -1.5 : 0.01, p1 = 2.5;
    for (int64_t n : lengths())
      for (float scale : {4.0f, 20.0f}) {
        const std::vector<float> x = inputs(n, scale), gy = inputs(n, 2.0f);
        std::vector<float> ya(n), yb(n), ga(n), gb(n);
        a.elementwise.unary(op, x.data(), ya.data(), n, p0, p1);
        b.elementwise.unary(op, x.data(), yb.data(), n, p0, p1);
        check(ya, yb, x, "unary", static_cast<int>(op));
        a.elementwise.unary_grad(op, x.data(), ya.data(), gy.data(), ga.data(), n, p0, p1);
        b.elementwise.unary_grad(op, x.data(), ya.data(), gy.data(), gb.data(), n, p0, p1);
        check(ga, gb, x, "unary_grad", static_cast<int>(op));
      }
  }
}

// Rows (inner = 1) of every length, and column blocks (inner > 1) with every tail of 16 columns.
void test_softmax(const tg::IsaKernels& a, const tg::IsaKernels& b) {
  struct Shape {
    int64_t outer, n, inner;
  };
  std::vector<Shape> shapes;
  for (int64_t n : lengths()) shapes.push_back({3, n, 1});
  for (int64_t inner = 2; inner <= 40; inner += 3) shapes.push_back({2, 7, inner});
  shapes.push_back({1, 300, 37});
  for (const Shape& sh : shapes)
    for (bool log : {false, true})
      for (float scale : {4.0f, 60.0f}) {
        const int64_t len = sh.outer * sh.n * sh.inner;
        std::vector<float> x = inputs(len, scale), gy = inputs(len, 2.0f), ya(len), yb(len), ga(len), gb(len);
        // Half the cases without specials, so most rows are finite and the sums are exercised.
        if (scale > 10)
          for (float& v : x)
            if (!std::isfinite(v) || std::fabs(v) > 1e30f) v = 1.0f;
        a.softmax.forward(x.data(), sh.outer, sh.n, sh.inner, ya.data(), log);
        b.softmax.forward(x.data(), sh.outer, sh.n, sh.inner, yb.data(), log);
        check(ya, yb, x, log ? "logSoftmax forward" : "softmax forward", static_cast<int>(sh.inner));
        a.softmax.backward(ya.data(), gy.data(), sh.outer, sh.n, sh.inner, ga.data(), log);
        b.softmax.backward(ya.data(), gy.data(), sh.outer, sh.n, sh.inner, gb.data(), log);
        check(ga, gb, ya, log ? "logSoftmax backward" : "softmax backward", static_cast<int>(sh.inner));
      }
}

// The cross-entropy row passes: Σ exp(x - mx) split as ones + rest, the exps written out, and
// the probability-target sums, for rows of every length.
void test_xent_rows(const tg::IsaKernels& a, const tg::IsaKernels& b) {
  for (int64_t n : lengths())
    for (float scale : {4.0f, 60.0f})
      for (int mode = 0; mode < 3; mode++) {
        std::vector<float> x = inputs(n, scale), t = inputs(n, 1.0f);
        if (mode > 0)  // finite rows, the max repeated (mode 2), so that the sums themselves are compared
          for (int64_t i = 0; i < n; i++)
            if (!std::isfinite(x[i]) || std::fabs(x[i]) > 100.0f || (mode == 2 && i % 3 == 0)) x[i] = scale;
        for (float& v : t) v = std::fabs(v) <= 1.0f ? std::fabs(v) : 0.25f;
        const float mx = a.fused.row_max_sum(x.data(), n, nullptr);
        std::vector<double> ra(5), rb(5);
        std::vector<float> ea(n), eb(n);
        ra[0] = a.fused.exp_sum(x.data(), n, mx, &ra[1], ea.data());
        rb[0] = b.fused.exp_sum(x.data(), n, mx, &rb[1], eb.data());
        check(ea, eb, x, "exp_sum exps", mode);
        ra[2] = a.fused.exp_sum_prob(x.data(), t.data(), n, mx, &ra[3], &ra[4], &ra[1], ea.data());
        rb[2] = b.fused.exp_sum_prob(x.data(), t.data(), n, mx, &rb[3], &rb[4], &rb[1], eb.data());
        check(ea, eb, x, "exp_sum_prob exps", mode);
        bool ok = true;
        for (int k = 0; k < 5; k++)
          ok = ok && (std::memcmp(&ra[k], &rb[k], sizeof(double)) == 0 || (std::isnan(ra[k]) && std::isnan(rb[k])));
        if (ok) {
          g_pass++;
        } else if (++g_fail <= 20) {
          std::printf("FAIL xent row sums (mode %d, n=%lld): avx2 %a %a %a %a %a, avx512 %a %a %a %a %a\n", mode,
                      (long long)n, ra[0], ra[1], ra[2], ra[3], ra[4], rb[0], rb[1], rb[2], rb[3], rb[4]);
        }
      }
}

// Adam and the binary rows (AVX2's own entries in the AVX-512 table today; compared all the same, so
// a 16-lane version added later is held to the same bits).
void test_adam_binary(const tg::IsaKernels& a, const tg::IsaKernels& b) {
  for (int64_t n : lengths()) {
    for (int cfg = 0; cfg < 4; cfg++) {
      const tg::detail::AdamConsts k{0.05f, 0.999f, cfg == 3 ? 0.6f : 0.1f, cfg == 3 ? 0.4f : 0.9f, 0.999f, 0.001f,
                                     0.0316f, 1e-8f, -0.01f, cfg != 3, cfg == 1, cfg == 2, cfg == 3};
      const std::vector<float> p0 = inputs(n, 2.0f), g = inputs(n, 1.0f), m0 = inputs(n, 0.1f);
      std::vector<float> v0 = inputs(n, 0.01f);
      for (float& x : v0) x = std::fabs(x);
      std::vector<float> pa = p0, ma = m0, va = v0, xa = v0, pb = p0, mb = m0, vb = v0, xb = v0;
      a.fused.adam(pa.data(), g.data(), ma.data(), va.data(), xa.data(), n, k);
      b.fused.adam(pb.data(), g.data(), mb.data(), vb.data(), xb.data(), n, k);
      check(pa, pb, g, "adam p", cfg);
      check(ma, mb, g, "adam m", cfg);
      check(va, vb, g, "adam v", cfg);
      check(xa, xb, g, "adam vmax", cfg);
    }
    const std::vector<float> x = inputs(n, 4.0f), y = inputs(n, 4.0f);
    for (int op = 0; op < 4; op++)
      for (int strides = 0; strides < 3; strides++) {
        const int64_t as = strides == 1 ? 0 : 1, bs = strides == 2 ? 0 : 1;
        std::vector<float> ra(n), rb(n);
        a.elementwise.binary_row(static_cast<tg::BinaryOp>(op), x.data(), as, y.data(), bs, ra.data(), n);
        b.elementwise.binary_row(static_cast<tg::BinaryOp>(op), x.data(), as, y.data(), bs, rb.data(), n);
        check(ra, rb, x, "binary row", op * 3 + strides);
      }
  }
}

}  // namespace
#endif

int main() {
#if TG_X86_KERNELS
  if (tg::detect_isa() != tg::Isa::Avx512) {
    std::printf("note: no AVX-512 on this CPU (%s): the AVX-512 path was not exercised\n",
                tg::isa_name(tg::detect_isa()));
    return 0;
  }
  const tg::IsaKernels& a = tg::isa_avx2();
  const tg::IsaKernels& b = tg::isa_avx512();
  test_unary(a, b);
  test_softmax(a, b);
  test_xent_rows(a, b);
  test_adam_binary(a, b);
  std::printf("%d passed, %d failed\n", g_pass, g_fail);
  return g_fail ? 1 : 0;
#else
  std::printf("note: not an x86-64 build: the AVX-512 path was not exercised\n");
  return 0;
#endif
}
