// Tests of the fused kernels: softmax-cross-entropy (index targets, probability targets, label
// smoothing, ignore_index, huge logits, in-place gradients) against a long-double reference, and
// the Adam/AdamW/amsgrad step against a double implementation of torch/optim/adam.py for 20 steps.
// Each runs on the scalar path and (when the CPU has it) the AVX2 path.
#include <cfloat>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cpu.h"
#include "kernels/fused.h"
#include "threadpool.h"

namespace {

// The SIMD level compared with the scalar path: AVX2 on x86-64, NEON on aarch64.
const tg::Isa kSimd = TG_NEON_KERNELS ? tg::Isa::Neon : tg::Isa::Avx2;

int g_pass = 0, g_fail = 0;
std::string g_ctx;

#define CHECK(cond, ...)                                           \
  do {                                                             \
    if (cond) {                                                    \
      g_pass++;                                                    \
    } else {                                                       \
      g_fail++;                                                    \
      std::printf("FAIL [%s] line %d: ", g_ctx.c_str(), __LINE__); \
      std::printf(__VA_ARGS__);                                    \
      std::printf("\n");                                           \
    }                                                              \
  } while (0)

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
  double normal() {
    const double u = uniform() + 1e-300, v = uniform();
    return std::sqrt(-2 * std::log(u)) * std::cos(2 * M_PI * v);
  }
};

double ulp_of(double r) {
  r = std::fabs(r);
  if (!(r < 3.4e38)) r = 3.4e38;
  int e;
  std::frexp(r, &e);
  const double u = std::ldexp(1.0, e - 24);
  const double mn = std::ldexp(1.0, -149);
  return u < mn ? mn : u;
}

bool close(double y, double ref, double tol) {
  if (std::isnan(ref) || std::isnan(y)) return std::isnan(ref) && std::isnan(y);
  if (std::isinf(ref) || std::isinf(y)) return y == ref;
  return std::fabs(y - ref) <= tol;
}

bool same_bits(float a, float b) {
  uint32_t x, y;
  std::memcpy(&x, &a, 4);
  std::memcpy(&y, &b, 4);
  return x == y;
}

// ---- softmax cross-entropy ------------------------------------------------------------------------

// Reference for one row: target distribution t' (already smoothed), returns the loss and writes
// the gradient (P·softmax - t')·sc in long double.
long double xent_row_ref(const float* x, const std::vector<long double>& tp, int64_t C, long double sc,
                         std::vector<long double>& g) {
  long double mx = -INFINITY;
  for (int64_t c = 0; c < C; c++)
    if (x[c] > mx) mx = x[c];
  long double ones = 0, rest = 0;
  for (int64_t c = 0; c < C; c++) {
    if (x[c] == mx) ones += 1;
    else rest += std::exp(static_cast<long double>(x[c]) - mx);
  }
  const long double logs = std::log(ones) + std::log1p(rest / ones);
  long double loss = 0, P = 0;
  for (int64_t c = 0; c < C; c++) {
    if (tp[c] != 0) loss += tp[c] * ((mx - x[c]) + logs);
    P += tp[c];
  }
  g.assign(static_cast<size_t>(C), 0);
  for (int64_t c = 0; c < C; c++) {
    const long double d = static_cast<long double>(x[c]) - mx;
    long double sm = std::exp(d) / (ones + rest);
    g[c] = (P * sm - tp[c]) * sc;
  }
  return loss;
}

struct XentStats {
  double worst_loss = 0, worst_grad = 0;
};

// kind: 0 random logits, 1 huge (±1e4), 2 very huge (1e30 scale), 3 confident rows (target = max by 40)
void test_xent_index(Rng& rng, int64_t rows, int64_t C, double eps, int kind, bool use_row_scale, bool inplace,
                     XentStats& st) {
  std::vector<float> x(static_cast<size_t>(rows * C)), t(static_cast<size_t>(rows)), rs(static_cast<size_t>(rows));
  for (auto& v : x) v = rng.range(-6, 6);
  if (kind == 1)
    for (auto& v : x) v = rng.uniform() < 0.5 ? rng.range(9990, 10000) : rng.range(-10000, -9990);
  if (kind == 2)
    for (auto& v : x) v = rng.range(-1e30, 1e30);
  for (int64_t r = 0; r < rows; r++) {
    t[r] = static_cast<float>(static_cast<int64_t>(rng.uniform() * C));
    if (kind == 3) x[r * C + static_cast<int64_t>(t[r])] = 40.0f;
    rs[r] = rng.range(0.5, 2);
  }
  const int64_t ignore = -100;
  if (rows > 2) t[1] = -100.0f;  // an ignored row
  const double scale = 1.0 / rows;
  std::vector<float> loss(static_cast<size_t>(rows), -7.0f), g(x.size(), -7.0f);
  std::vector<float> xin = x;
  float* gp = inplace ? xin.data() : g.data();
  const double total = tg::softmax_xent_index(xin.data(), rows, C, t.data(), ignore, eps, scale,
                                              use_row_scale ? rs.data() : nullptr, loss.data(), gp);
  long double want_total = 0;
  bool ok = true;
  int64_t bad_r = -1;
  for (int64_t r = 0; r < rows && ok; r++) {
    const float* xr = x.data() + r * C;
    const float* gr = gp + r * C;
    if (t[r] == -100.0f) {
      for (int64_t c = 0; c < C; c++) ok = ok && gr[c] == 0.0f;
      ok = ok && loss[r] == 0.0f;
      if (!ok) bad_r = r;
      continue;
    }
    std::vector<long double> tp(static_cast<size_t>(C), eps / C), gref;
    tp[static_cast<size_t>(t[r])] += 1 - eps;
    const long double sc = scale * (use_row_scale ? rs[r] : 1.0);
    const long double lref = xent_row_ref(xr, tp, C, sc, gref);
    want_total += lref;
    const double ltol = 2 * ulp_of(double(lref)) + 4e-7 * std::fabs(double(lref));
    if (!close(loss[r], double(lref), ltol)) ok = false;
    if (std::isfinite(double(lref)) && lref != 0)
      st.worst_loss = std::fmax(st.worst_loss, std::fabs(loss[r] - double(lref)) / ulp_of(double(lref)));
    for (int64_t c = 0; c < C; c++) {
      // the softmax and the target are each good to a few float32 ULPs
      const double mag = std::fabs(double(sc)) * (std::fabs(double(gref[c] / sc + tp[c])) + double(tp[c]));
      const double gtol = 4 * ulp_of(double(gref[c])) + 3e-7 * mag;
      if (!close(gr[c], double(gref[c]), gtol)) ok = false;
      // observed error in float32 ULPs of the softmax term (the result itself may cancel to ~0)
      st.worst_grad = std::fmax(st.worst_grad, std::fabs(gr[c] - double(gref[c])) / ulp_of(mag));
    }
    if (!ok) bad_r = r;
  }
  CHECK(ok, "xent index rows=%" PRId64 " C=%" PRId64 " eps=%g kind=%d row_scale=%d inplace=%d: row %" PRId64
        " loss %.9g", rows, C, eps, kind, use_row_scale, inplace, bad_r, bad_r < 0 ? 0.0 : loss[bad_r]);
  CHECK(close(total, double(want_total), 1e-6 * std::fabs(double(want_total)) + 1e-30),
        "xent index total %.12g want %.12g", total, double(want_total));
}

// kind: 0 soft random rows (sum 1), 1 MixUp two-hot rows, 2 unnormalised rows (sum ≠ 1), 3 huge logits
void test_xent_prob(Rng& rng, int64_t rows, int64_t C, double eps, int kind, XentStats& st) {
  std::vector<float> x(static_cast<size_t>(rows * C)), tp(static_cast<size_t>(rows * C));
  for (auto& v : x) v = kind == 3 ? rng.range(-10000, 10000) : rng.range(-6, 6);
  for (int64_t r = 0; r < rows; r++) {
    float* t = tp.data() + r * C;
    if (kind == 1) {
      for (int64_t c = 0; c < C; c++) t[c] = 0;
      const double lam = rng.uniform();
      t[static_cast<int64_t>(rng.uniform() * C)] += static_cast<float>(lam);
      t[static_cast<int64_t>(rng.uniform() * C)] += static_cast<float>(1 - lam);
    } else {
      double s = 0;
      for (int64_t c = 0; c < C; c++) s += (t[c] = rng.range(0, 1));
      if (kind != 2)
        for (int64_t c = 0; c < C; c++) t[c] = static_cast<float>(t[c] / s);
    }
  }
  const double scale = 0.25;
  std::vector<float> loss(static_cast<size_t>(rows)), g(x.size());
  const double total = tg::softmax_xent_prob(x.data(), rows, C, tp.data(), eps, scale, nullptr, loss.data(), g.data());
  if (kind == 3) {  // in place (dlogits == logits) gives the same bits
    std::vector<float> xin = x, loss2(static_cast<size_t>(rows));
    tg::softmax_xent_prob(xin.data(), rows, C, tp.data(), eps, scale, nullptr, loss2.data(), xin.data());
    CHECK(xin == g && loss2 == loss, "xent prob in place C=%" PRId64, C);
  }
  long double want_total = 0;
  bool ok = true;
  int64_t bad_r = -1;
  for (int64_t r = 0; r < rows && ok; r++) {
    std::vector<long double> t(static_cast<size_t>(C)), gref;
    for (int64_t c = 0; c < C; c++) t[c] = (1 - eps) * tp[r * C + c] + eps / C;
    const long double lref = xent_row_ref(x.data() + r * C, t, C, scale, gref);
    want_total += lref;
    if (!close(loss[r], double(lref), 2 * ulp_of(double(lref)) + 4e-7 * std::fabs(double(lref)))) ok = false;
    if (std::isfinite(double(lref)) && lref != 0)
      st.worst_loss = std::fmax(st.worst_loss, std::fabs(loss[r] - double(lref)) / ulp_of(double(lref)));
    for (int64_t c = 0; c < C; c++) {
      const double mag = scale * (std::fabs(double(gref[c] / scale + t[c])) + double(t[c]));
      if (!close(g[r * C + c], double(gref[c]), 4 * ulp_of(double(gref[c])) + 3e-7 * mag)) ok = false;
    }
    if (!ok) bad_r = r;
  }
  CHECK(ok, "xent prob rows=%" PRId64 " C=%" PRId64 " eps=%g kind=%d: row %" PRId64, rows, C, eps, kind, bad_r);
  CHECK(close(total, double(want_total), 1e-6 * std::fabs(double(want_total))), "xent prob total %.12g want %.12g",
        total, double(want_total));
}

void test_xent() {
  Rng rng(11);
  XentStats st;
  const int64_t classes[] = {1, 2, 7, 8, 9, 10, 17, 33, 1000};
  for (int64_t C : classes)
    for (double eps : {0.0, 0.1})
      for (int kind = 0; kind < 4; kind++) {
        test_xent_index(rng, 13, C, eps, kind, kind == 1, kind == 2, st);
        test_xent_prob(rng, 11, C, eps, kind, st);
      }
  test_xent_index(rng, 3, 50000, 0.05, 0, false, false, st);
  std::printf("  [%s] softmax-xent observed: loss %.2f ulp, dlogits %.2f ulp of |sc|·(softmax + target)\n", g_ctx.c_str(),
              st.worst_loss, st.worst_grad);
  // confident row: loss ≈ e^-40·(C-1), far below float epsilon of 1, still relatively exact
  {
    const float x[] = {40.0f, 0.0f, 0.0f, 0.0f};
    const float t[] = {0.0f};
    float loss, g[4];
    tg::softmax_xent_index(x, 1, 4, t, -100, 0.0, 1.0, nullptr, &loss, g);
    const double want = std::log1p(3 * std::exp(-40.0));
    CHECK(std::fabs(loss - want) <= 2 * ulp_of(want), "confident row loss %.9g want %.9g", loss, want);
    CHECK(std::fabs(g[0] + 3 * std::exp(-40.0)) <= 4 * ulp_of(3 * std::exp(-40.0)), "confident row dlogit %.9g", g[0]);
  }
  // specials: a NaN logit poisons its row only; -inf logits on other classes are fine; an invalid
  // target (defensive) gives NaN, never an out-of-bounds read; dlogits may be null
  {
    const float x[] = {1, 2, NAN, 0, 1, -INFINITY, 3, -INFINITY, 0.5f, 0.5f, 0.5f, 0.5f};
    const float t[] = {1, 0, 7};
    float loss[3], g[12];
    tg::softmax_xent_index(x, 3, 4, t, -100, 0.0, 1.0, nullptr, loss, g);
    CHECK(std::isnan(loss[0]) && std::isnan(g[0]) && std::isnan(g[3]), "NaN logit row");
    const double want1 = std::log(std::exp(1.0) + std::exp(3.0)) - 1.0;  // row {1, -inf, 3, -inf}, target 0
    CHECK(std::fabs(loss[1] - want1) < 1e-6 && g[5] == 0.0f && g[7] == 0.0f, "-inf logits row: %g", loss[1]);
    CHECK(std::isnan(loss[2]) && std::isnan(g[8]), "invalid target row");
    const double tot = tg::softmax_xent_index(x + 4, 1, 4, t + 1, -100, 0.0, 1.0, nullptr, nullptr, nullptr);
    CHECK(std::fabs(tot - want1) < 1e-6, "loss only (null outputs)");
    // a row of all -inf, or one holding +inf: NaN loss and an all-NaN gradient row (both kinds)
    const float y[] = {-INFINITY, -INFINITY, -INFINITY, 1.0f, INFINITY, 0.0f};
    const float ty[] = {1, 0};
    const float py[] = {0.5f, 0.5f, 0.0f, 0.2f, 0.3f, 0.5f};
    float ly[2], gyy[6], lp[2], gp[6];
    tg::softmax_xent_index(y, 2, 3, ty, -100, 0.1, 1.0, nullptr, ly, gyy);
    tg::softmax_xent_prob(y, 2, 3, py, 0.1, 1.0, nullptr, lp, gp);
    bool all_nan = std::isnan(ly[0]) && std::isnan(ly[1]) && std::isnan(lp[0]) && std::isnan(lp[1]);
    for (int i = 0; i < 6; i++) all_nan = all_nan && std::isnan(gyy[i]) && std::isnan(gp[i]);
    CHECK(all_nan, "all -inf / +inf rows give NaN");
  }
}

// ---- Adam ------------------------------------------------------------------------------------------

struct AdamRef {  // torch/optim/adam.py _single_tensor_adam, in double
  std::vector<double> p, m, v, vmax;
  std::vector<double> mag_m, mag_v;  // Σ of |terms| that built m and v: the scale of their rounding errors
  void step(const std::vector<float>& g, const tg::AdamParams& hp) {
    const double t = double(hp.step);
    for (size_t i = 0; i < p.size(); i++) {
      double gi = g[i];
      double mag_g = std::fabs(gi);  // the scale of g's rounding error (g + wd·p cancels)
      if (hp.weight_decay != 0) {
        if (hp.decoupled) {
          p[i] *= 1 - hp.lr * hp.weight_decay;
        } else {
          gi += hp.weight_decay * p[i];
          mag_g += std::fabs(hp.weight_decay * p[i]);
        }
      }
      m[i] += (1 - hp.beta1) * (gi - m[i]);
      mag_m[i] = hp.beta1 * mag_m[i] + (1 - hp.beta1) * mag_g + 1e-3 * std::fabs(m[i]);
      mag_v[i] = hp.beta2 * mag_v[i] + (1 - hp.beta2) * mag_g * mag_g;
      v[i] = v[i] * hp.beta2 + (1 - hp.beta2) * gi * gi;
      const double bc1 = 1 - std::pow(hp.beta1, t), bc2 = 1 - std::pow(hp.beta2, t);
      double vh = v[i];
      if (hp.amsgrad) {
        vmax[i] = std::fmax(vmax[i], v[i]);
        vh = vmax[i];
      }
      const double denom = std::sqrt(vh) / std::sqrt(bc2) + hp.eps;
      p[i] -= (hp.lr / bc1) * m[i] / denom;
    }
  }
};

void test_adam_config(Rng& rng, int64_t n, tg::AdamParams hp, const char* name) {
  std::vector<float> p(static_cast<size_t>(n)), m(p.size(), 0.0f), v(p.size(), 0.0f), vmax(p.size(), 0.0f);
  for (auto& x : p) x = static_cast<float>(rng.normal());
  AdamRef ref;
  ref.p.assign(p.begin(), p.end());
  ref.m.assign(p.size(), 0);
  ref.v.assign(p.size(), 0);
  ref.vmax.assign(p.size(), 0);
  ref.mag_m.assign(p.size(), 0);
  ref.mag_v.assign(p.size(), 0);
  bool ok = true;
  double worst = 0;
  for (int step = 1; step <= 20 && ok; step++) {
    std::vector<float> g(p.size());
    for (size_t i = 0; i < g.size(); i++) {
      // gradients of mixed scale, some exactly zero, one shrinking to test the amsgrad max
      g[i] = static_cast<float>(rng.normal() * (i % 3 == 0 ? 1e-3 : 1.0));
      if (i % 7 == 0) g[i] = 0.0f;
      if (i % 11 == 0) g[i] = static_cast<float>(1.0 / step);
    }
    hp.step = step;
    tg::adam_step(p.data(), g.data(), m.data(), v.data(), hp.amsgrad ? vmax.data() : nullptr, n, hp);
    ref.step(g, hp);
    for (size_t i = 0; i < p.size(); i++) {
      // float rounding of p each step (≤ 20 half-ULPs) plus a relative error of the update
      const double ptol = 20 * 0.5 * ulp_of(ref.p[i]) + 1e-5 * hp.lr * step;
      const double e = std::fabs(p[i] - ref.p[i]);
      worst = std::fmax(worst, e / ulp_of(ref.p[i]));
      if (!(e <= ptol)) ok = false;
      // m = lerp(m, g, 1 - beta1) cancels: its error scales with the terms, not with m
      if (!(std::fabs(m[i] - ref.m[i]) <= 1e-6 * ref.mag_m[i] + 1e-30)) ok = false;
      if (!(std::fabs(v[i] - ref.v[i]) <= 1e-5 * std::fabs(ref.v[i]) + 1e-6 * ref.mag_v[i] + 1e-30)) ok = false;
      if (hp.amsgrad && !(std::fabs(vmax[i] - ref.vmax[i]) <= 1e-5 * ref.vmax[i] + 1e-30)) ok = false;
      if (!ok) {
        std::printf("  %s n=%" PRId64 " step %d i=%zu: p %.9g ref %.9g m %.9g ref %.9g v %.9g ref %.9g\n", name, n,
                    step, i, p[i], ref.p[i], m[i], ref.m[i], v[i], ref.v[i]);
        break;
      }
    }
  }
  CHECK(ok, "adam %s n=%" PRId64 " (worst p error %.2f ulp)", name, n, worst);
}

void test_adam() {
  Rng rng(12);
  for (int64_t n : {1, 7, 8, 9, 16, 1003}) {
    tg::AdamParams a;  // PyTorch defaults
    test_adam_config(rng, n, a, "adam");
    a.weight_decay = 0.01;
    test_adam_config(rng, n, a, "adam+wd");
    a.decoupled = true;
    a.weight_decay = 0.1;
    test_adam_config(rng, n, a, "adamw");
    a.amsgrad = true;
    test_adam_config(rng, n, a, "adamw+amsgrad");
    a.decoupled = false;
    a.weight_decay = 0.0;
    test_adam_config(rng, n, a, "adam+amsgrad");
    tg::AdamParams b;
    b.lr = 0.05;
    b.beta1 = 0.3;  // lerp weight 0.7: the large-weight branch
    b.beta2 = 0.9;
    b.eps = 1e-6;
    test_adam_config(rng, n, b, "adam lr=0.05 b1=0.3");
  }
  // step 1 by hand: m̂ = g, v̂ = g², so p moves by lr·g/(|g| + eps)
  {
    float p[3] = {1.0f, -2.0f, 0.5f}, m[3] = {}, v[3] = {};
    const float g[3] = {0.5f, -4.0f, 0.0f};
    tg::AdamParams hp;
    hp.lr = 0.1;
    tg::adam_step(p, g, m, v, nullptr, 3, hp);
    CHECK(std::fabs(p[0] - (1.0 - 0.1 * 0.5 / (0.5 + 1e-8))) < 1e-6 && std::fabs(p[1] - (-2.0 + 0.1)) < 1e-6 &&
              p[2] == 0.5f,
          "adam step 1: %.9g %.9g %.9g", p[0], p[1], p[2]);
  }
}

// Split over a pool, Adam gives the single-threaded bits for any thread count, at sizes around the
// parallel threshold and the piece size (tails inside the last piece), with amsgrad's vmax too.
void test_adam_threads_agree() {
  g_ctx = "threads";
  Rng rng(14);
  for (int64_t n : {tg::kAdamParallelMin - 1, tg::kAdamParallelMin, tg::kAdamParallelMin + 5,
                    int64_t(3 * 16384 + 13), int64_t(25 * 16384 + 1001)}) {
    for (int threads : {2, 3, 5}) {
      tg::ThreadPool pool(threads);
      tg::AdamParams hp;
      hp.amsgrad = threads == 3;
      hp.weight_decay = threads == 5 ? 0.01 : 0.0;
      std::vector<float> p(static_cast<size_t>(n)), m(p.size(), 0.0f), v(p.size(), 0.0f), vm(p.size(), 0.0f);
      for (auto& x : p) x = static_cast<float>(rng.normal());
      std::vector<float> p2 = p, m2 = m, v2 = v, vm2 = vm;
      for (int step = 1; step <= 3; step++) {
        std::vector<float> g(p.size());
        for (auto& x : g) x = static_cast<float>(rng.normal());
        hp.step = step;
        tg::adam_step(p.data(), g.data(), m.data(), v.data(), vm.data(), n, hp, nullptr);
        tg::adam_step(p2.data(), g.data(), m2.data(), v2.data(), vm2.data(), n, hp, &pool);
      }
      bool ok = true;
      for (size_t i = 0; i < p.size() && ok; i++)
        ok = same_bits(p[i], p2[i]) && same_bits(m[i], m2[i]) && same_bits(v[i], v2[i]) && same_bits(vm[i], vm2[i]);
      CHECK(ok, "adam n=%" PRId64 " on %d threads differs from 1 thread", n, threads);
    }
  }
}

// adam_steps over a group of slots (sizes on both sides of the split threshold, an empty one, step
// counts that differ) gives every slot adam_step's bits, on 1 to 3 threads.
void test_adam_steps_group() {
  g_ctx = "adam_steps";
  Rng rng(15);
  const int64_t sizes[] = {tg::kAdamParallelMin + 37, 5, 0, tg::kAdamParallelMin, 300, 1};
  constexpr int kSlots = 6;
  for (int threads : {1, 2, 3}) {
    for (bool amsgrad : {false, true}) {
      tg::ThreadPool pool(threads);
      tg::AdamParams hp;
      hp.amsgrad = amsgrad;
      hp.weight_decay = amsgrad ? 0.01 : 0.0;
      hp.decoupled = amsgrad;
      std::vector<float> one[kSlots][5], many[kSlots][5];  // p, g, m, v, vmax
      for (int s = 0; s < kSlots; s++) {
        for (int b = 0; b < 5; b++) {
          one[s][b].resize(static_cast<size_t>(sizes[s]));
          for (auto& x : one[s][b]) x = static_cast<float>(b == 3 || b == 4 ? std::fabs(rng.normal()) * 0.01 : rng.normal());
          // Subnormal gradients and moments in every 7th element: adam_step flushes them (FTZ/DAZ
          // on the thread that runs each piece), so a task that did not would give other bits.
          if (b == 1 || b == 2 || b == 3)
            for (size_t i = 0; i < one[s][b].size(); i += 7) one[s][b][i] = b == 1 ? 3e-39f : 2e-40f;
          many[s][b] = one[s][b];
        }
      }
      for (int round = 1; round <= 3; round++) {
        std::vector<tg::AdamSlot> slots;
        for (int s = 0; s < kSlots; s++) {
          hp.step = round + s;
          tg::adam_step(one[s][0].data(), one[s][1].data(), one[s][2].data(), one[s][3].data(),
                        amsgrad ? one[s][4].data() : nullptr, sizes[s], hp, nullptr);
          slots.push_back({many[s][0].data(), many[s][1].data(), many[s][2].data(), many[s][3].data(),
                           amsgrad ? many[s][4].data() : nullptr, sizes[s], round + s});
        }
        hp.step = 1000;  // ignored by adam_steps
        tg::adam_steps(slots.data(), kSlots, hp, threads > 1 ? &pool : nullptr);
      }
      bool ok = true;
      for (int s = 0; s < kSlots; s++)
        for (int b = 0; b < 5; b++)
          for (size_t i = 0; i < one[s][b].size() && ok; i++) ok = same_bits(one[s][b][i], many[s][b][i]);
      CHECK(ok, "adam_steps on %d threads (amsgrad %d) differs from adam_step per slot", threads, int(amsgrad));
    }
  }
}

// SGD and RMSprop split over a pool give the single-threaded bits (and run clean under ASan).
void test_sgd_rmsprop_threads_agree() {
  g_ctx = "sgd/rmsprop threads";
  Rng rng(15);
  tg::ThreadPool pool(3);
  for (int64_t n : {int64_t(5), tg::kAdamParallelMin + 7, int64_t(4 * 16384 + 3)}) {
    std::vector<float> p(static_cast<size_t>(n)), g(p.size()), s(p.size()), a(p.size()), b(p.size());
    for (size_t i = 0; i < p.size(); i++) {
      p[i] = static_cast<float>(rng.normal());
      g[i] = static_cast<float>(rng.normal());
    }
    std::vector<float> p2 = p, s2 = s, a2 = a, b2 = b;
    tg::SgdParams sh;
    sh.momentum = 0.9;
    sh.weight_decay = 0.01;
    sh.nesterov = true;
    tg::RmspropParams rh;
    rh.momentum = 0.5;
    rh.weight_decay = 0.01;
    for (int step = 0; step < 3; step++) {
      sh.first = step == 0;
      tg::sgd_step(p.data(), g.data(), b.data(), n, sh, nullptr);
      tg::sgd_step(p2.data(), g.data(), b2.data(), n, sh, &pool);
      tg::rmsprop_step(p.data(), g.data(), s.data(), a.data(), b.data(), n, rh, nullptr);
      tg::rmsprop_step(p2.data(), g.data(), s2.data(), a2.data(), b2.data(), n, rh, &pool);
    }
    bool ok = true;
    for (size_t i = 0; i < p.size() && ok; i++)
      ok = same_bits(p[i], p2[i]) && same_bits(s[i], s2[i]) && same_bits(a[i], a2[i]) && same_bits(b[i], b2[i]) &&
           std::isfinite(p[i]);
    CHECK(ok, "sgd/rmsprop n=%" PRId64 " on 3 threads differs from 1 thread", n);
  }
}

// Adam flushes subnormal moments to zero (they made the step 3-4x slower), on every path, and
// leaves the caller's floating-point mode as it was.
void test_adam_flushes_subnormals() {
  g_ctx = "subnormals";
  const float tiny = 1e-39f;  // subnormal
  for (tg::Isa isa : {tg::Isa::Scalar, kSimd}) {
    tg::set_active_isa(isa);
    for (int64_t n : {int64_t(9), tg::kAdamParallelMin + 1}) {
      tg::ThreadPool pool(2);
      std::vector<float> p(static_cast<size_t>(n), 1.0f), g(p.size(), 0.0f), m(p.size(), tiny), v(p.size(), tiny);
#if defined(__x86_64__) || defined(__i386__)
      const unsigned csr = _mm_getcsr();
#elif defined(__aarch64__)
      uint64_t fpcr;
      __asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr));
#endif
      tg::AdamParams hp;
      hp.step = 3;
      tg::adam_step(p.data(), g.data(), m.data(), v.data(), nullptr, n, hp, &pool);
      bool ok = true;
      for (size_t i = 0; i < p.size() && ok; i++) ok = m[i] == 0.0f && v[i] == 0.0f && p[i] == 1.0f;
      CHECK(ok, "adam (%s, n=%" PRId64 ") leaves subnormal m/v: m %g v %g", tg::isa_name(isa), n, m[0], v[0]);
#if defined(__x86_64__) || defined(__i386__)
      CHECK(_mm_getcsr() == csr, "adam changed the caller's MXCSR");
#elif defined(__aarch64__)
      uint64_t after;
      __asm__ __volatile__("mrs %0, fpcr" : "=r"(after));
      CHECK(after == fpcr, "adam changed the caller's FPCR");
#endif
    }
  }
  tg::set_active_isa(tg::detect_isa());
}

// The scalar and AVX2 Adam perform the same float operations: bit-identical results.
void test_adam_paths_agree() {
  if (tg::detect_isa() < tg::Isa::Avx2) return;
  g_ctx = "paths";
  Rng rng(13);
  const int64_t n = 1003;
  for (int cfg = 0; cfg < 4; cfg++) {
    tg::AdamParams hp;
    hp.weight_decay = cfg >= 1 ? 0.05 : 0.0;
    hp.decoupled = cfg >= 2;
    hp.amsgrad = cfg == 3;
    if (cfg == 3) hp.beta1 = 0.4;
    std::vector<float> p(n), m(n, 0.0f), v(n, 0.0f), vm(n, 0.0f);
    for (auto& x : p) x = static_cast<float>(rng.normal());
    std::vector<float> p2 = p, m2 = m, v2 = v, vm2 = vm;
    bool ok = true;
    for (int step = 1; step <= 5; step++) {
      std::vector<float> g(n);
      for (auto& x : g) x = static_cast<float>(rng.normal());
      hp.step = step;
      tg::set_active_isa(tg::Isa::Scalar);
      tg::adam_step(p.data(), g.data(), m.data(), v.data(), vm.data(), n, hp);
      tg::set_active_isa(kSimd);
      tg::adam_step(p2.data(), g.data(), m2.data(), v2.data(), vm2.data(), n, hp);
    }
    for (int64_t i = 0; i < n; i++)
      ok = ok && same_bits(p[i], p2[i]) && same_bits(m[i], m2[i]) && same_bits(v[i], v2[i]) &&
           same_bits(vm[i], vm2[i]);
    CHECK(ok, "adam config %d: scalar and avx2 differ", cfg);
  }
  // amsgrad's maximum propagates NaN like torch.maximum, on both paths
  for (tg::Isa isa : {tg::Isa::Scalar, kSimd}) {
    tg::set_active_isa(isa);
    float p[9], m[9] = {}, v[9] = {}, vm[9] = {}, g[9];
    for (int i = 0; i < 9; i++) {
      p[i] = 1.0f;
      g[i] = 1.0f;
    }
    vm[2] = NAN;
    vm[8] = NAN;
    tg::AdamParams hp;
    hp.amsgrad = true;
    tg::adam_step(p, g, m, v, vm, 9, hp);
    CHECK(std::isnan(vm[2]) && std::isnan(vm[8]) && std::isnan(p[2]) && !std::isnan(vm[1]), "amsgrad NaN (%s)",
          tg::isa_name(isa));
  }
}

}  // namespace

// Every SIMD level's SGD and RMSprop give the scalar level's bits (optim_rows.h), on special
// values (NaN, infinities, subnormals, values that overflow) and random ones, every option, every
// tail length.
void test_sgd_rmsprop_levels_agree(const std::vector<tg::Isa>& isas) {
  g_ctx = "sgd/rmsprop levels";
  Rng rng(23);
  const float specials[] = {0.0f, -0.0f, 1e-45f, -3e-39f, 1e-30f, 3e38f, -3e38f, 1.0f, -2.5f, INFINITY, -INFINITY, NAN};
  auto input = [&](size_t n, double scale, bool positive) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; i++) {
      const double r = rng.uniform();
      float x = r < 0.2 ? specials[static_cast<size_t>(rng.uniform() * 12) % 12] : static_cast<float>(scale * rng.normal());
      v[i] = positive ? std::fabs(x) : x;
    }
    return v;
  };
  auto same = [](const std::vector<float>& a, const std::vector<float>& b) {
    for (size_t i = 0; i < a.size(); i++)
      if (!same_bits(a[i], b[i]) && !(std::isnan(a[i]) && std::isnan(b[i]))) return false;
    return true;
  };
  std::vector<int64_t> lengths;
  for (int64_t n = 1; n <= 40; n++) lengths.push_back(n);
  lengths.push_back(1001);
  for (tg::Isa isa : isas) {
    if (isa == tg::Isa::Scalar) continue;
    for (int64_t n : lengths) {
      const size_t sz = static_cast<size_t>(n);
      for (int cfg = 0; cfg < 32; cfg++) {
        tg::SgdParams sh;
        sh.lr = 0.37;
        sh.momentum = cfg & 1 ? 0.9 : 0.0;
        sh.weight_decay = cfg & 2 ? 0.01 : 0.0;
        sh.first = cfg & 4;
        sh.maximize = cfg & 8;
        sh.nesterov = (cfg & 16) && sh.momentum > 0;
        sh.dampening = (cfg & 16) ? 0.0 : 0.1;
        const std::vector<float> p0 = input(sz, 1.0, false), g = input(sz, 3.0, false), b0 = input(sz, 0.5, false);
        std::vector<float> pr = p0, br = b0, pv = p0, bv = b0;
        tg::set_active_isa(tg::Isa::Scalar);
        tg::sgd_step(pr.data(), g.data(), sh.momentum > 0 ? br.data() : nullptr, n, sh, nullptr);
        tg::set_active_isa(isa);
        tg::sgd_step(pv.data(), g.data(), sh.momentum > 0 ? bv.data() : nullptr, n, sh, nullptr);
        CHECK(same(pr, pv) && same(br, bv), "sgd %s n=%" PRId64 " cfg %d differs from the scalar level",
              tg::isa_name(isa), n, cfg);

        tg::RmspropParams rh;
        rh.lr = 0.01;
        rh.alpha = cfg & 16 ? 0.9 : 0.99;
        rh.eps = 1e-8;
        rh.weight_decay = cfg & 2 ? 0.01 : 0.0;
        rh.momentum = cfg & 1 ? 0.5 : 0.0;
        rh.maximize = cfg & 8;
        const bool centered = cfg & 4;
        const std::vector<float> s0 = input(sz, 0.1, true), a0 = input(sz, 0.1, false);
        std::vector<float> qr = p0, sr = s0, ar = a0, mr = b0, qv = p0, sv = s0, av = a0, mv = b0;
        tg::set_active_isa(tg::Isa::Scalar);
        tg::rmsprop_step(qr.data(), g.data(), sr.data(), centered ? ar.data() : nullptr,
                         rh.momentum > 0 ? mr.data() : nullptr, n, rh, nullptr);
        tg::set_active_isa(isa);
        tg::rmsprop_step(qv.data(), g.data(), sv.data(), centered ? av.data() : nullptr,
                         rh.momentum > 0 ? mv.data() : nullptr, n, rh, nullptr);
        CHECK(same(qr, qv) && same(sr, sv) && same(ar, av) && same(mr, mv),
              "rmsprop %s n=%" PRId64 " cfg %d differs from the scalar level", tg::isa_name(isa), n, cfg);
      }
    }
  }
  tg::set_active_isa(tg::detect_isa());
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
    test_xent();
    test_adam();
    std::printf("%s path: %s\n", g_ctx.c_str(), g_fail == before ? "ok" : "FAILURES");
  }
  test_adam_paths_agree();
  test_adam_threads_agree();
  test_adam_steps_group();
  test_adam_flushes_subnormals();
  test_sgd_rmsprop_threads_agree();
  test_sgd_rmsprop_levels_agree(isas);
  std::printf("%d passed, %d failed\n", g_pass, g_fail);
  return g_fail == 0 ? 0 : 1;
}
