// Tests of the loss kernels (nllLoss, bce, bceWithLogits) against direct double formulas, with the
// edges the TypeScript callers rely on (ignored rows, the first bad target or probability, logs
// clamped at -100, huge logits), and of the random fills against xoshiro128** reference values.
// Run under ASan/UBSan by CI: every kernel here walks caller-sized buffers.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "check.h"
#include "kernels/losses.h"
#include "kernels/random.h"

namespace {

void test_random() {
  // The first outputs of xoshiro128** from state {1, 2, 3, 4}, worked out by hand from the
  // reference algorithm: rotl(s1 * 5, 7) * 9, then the state update.
  uint32_t s[4] = {1, 2, 3, 4};
  const uint32_t want[3] = {11520u, 0u, 5927040u};
  uint32_t r[4] = {1, 2, 3, 4};
  for (uint32_t w : want) {
    std::vector<float> one(1);
    tg::fill_uniform(r, 0.0, 16777216.0, one.data(), 1);  // lo + 2^24 * u = next >> 8
    CHECK(one[0] == static_cast<float>(w >> 8), "uniform draw %g, want %u", one[0], w >> 8);
  }
  // Drawing n at once equals n single draws and leaves the same state.
  std::vector<float> many(1000), single(1000);
  uint32_t a[4] = {9, 8, 7, 6}, b[4] = {9, 8, 7, 6};
  tg::fill_uniform(a, -2.0, 3.0, many.data(), 1000);
  for (int i = 0; i < 1000; i++) tg::fill_uniform(b, -2.0, 3.0, &single[i], 1);
  bool same = true, in_range = true;
  for (int i = 0; i < 1000; i++) {
    same = same && many[i] == single[i];
    in_range = in_range && many[i] >= -2.0f && many[i] < 3.0f;
  }
  CHECK(same && a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3], "batched draws differ from single draws");
  CHECK(in_range, "uniform draws outside [lo, hi)");
  // Dropout: only 0 and scale, about `keep` of them kept; keep 0 keeps none, keep 1 all.
  std::vector<float> mask(100000);
  tg::dropout_mask(s, 0.8, 1.25f, mask.data(), 100000);
  int kept = 0;
  bool values_ok = true;
  for (float v : mask) {
    kept += v != 0.0f;
    values_ok = values_ok && (v == 0.0f || v == 1.25f);
  }
  CHECK(values_ok, "mask values other than 0 and scale");
  CHECK(std::abs(kept - 80000) < 1000, "kept %d of 100000 at keep 0.8", kept);
  tg::dropout_mask(s, 0.0, 0.0f, mask.data(), 1000);
  bool none = true;
  for (int i = 0; i < 1000; i++) none = none && mask[i] == 0.0f;
  CHECK(none, "keep 0 kept something");
  tg::dropout_mask(s, 1.0, 1.0f, mask.data(), 1000);
  bool all = true;
  for (int i = 0; i < 1000; i++) all = all && mask[i] == 1.0f;
  CHECK(all, "keep 1 dropped something");
}

void test_nll() {
  const int64_t rows = 5, classes = 3;
  std::vector<float> logp = {-1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12, -13, -14, -15};
  std::vector<float> target = {2, -100, 0, 1, 2};
  std::vector<float> loss(rows, 123.0f);
  double stats[2] = {0, 0};
  CHECK(tg::nll_loss(logp.data(), rows, classes, target.data(), -100, loss.data(), stats) == -1, "valid targets refused");
  const float want[5] = {3, 0, 7, 11, 15};
  for (int r = 0; r < rows; r++) CHECK(loss[r] == want[r], "row %d loss %g, want %g", r, loss[r], want[r]);
  CHECK(stats[0] == 36.0 && stats[1] == 4.0, "stats %g %g", stats[0], stats[1]);
  std::vector<float> gx(rows * classes, 0.0f), g = {1, 2, 3, 4, 5};
  tg::nll_loss_grad(rows, classes, target.data(), -100, g.data(), 0, gx.data());
  CHECK(gx[2] == -1 && gx[3] == 0 && gx[4] == 0 && gx[5] == 0 && gx[6] == -3 && gx[10] == -4 && gx[14] == -5, "per-row gradient");
  std::vector<float> gs(rows * classes, 0.0f);
  tg::nll_loss_grad(rows, classes, target.data(), -100, nullptr, 0.25, gs.data());
  CHECK(gs[2] == -0.25f && gs[6] == -0.25f && gs[3] == 0, "scalar gradient");
  for (float bad : {3.0f, -1.0f, 0.5f, NAN, INFINITY}) {
    std::vector<float> t = target;
    t[3] = bad;
    CHECK(tg::nll_loss(logp.data(), rows, classes, t.data(), -100, loss.data(), stats) == 3, "bad target %g not reported", bad);
    std::vector<float> gg(rows * classes, 0.0f);
    tg::nll_loss_grad(rows, classes, t.data(), -100, nullptr, 1.0, gg.data());  // skipped, in bounds
    CHECK(gg[9] == 0 && gg[10] == 0 && gg[11] == 0, "bad target row written");
  }
}

void test_bce() {
  const std::vector<float> x = {-300, -20, -1, 0, 0.5f, 3, 40, 300};
  const std::vector<float> y = {0, 1, 0.25f, 1, 0, 0.5f, 1, 0};
  const std::vector<float> pw = {3};
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<float> loss(n), lw(n);
  CHECK(tg::bce_loss(true, x.data(), y.data(), n, nullptr, 0, n, loss.data()) == -1, "logits refused");
  CHECK(tg::bce_loss(true, x.data(), y.data(), n, pw.data(), 1, n, lw.data()) == -1, "posWeight refused");
  for (int64_t i = 0; i < n; i++) {
    const double xi = x[i], yi = y[i];
    // -(w·y·log σ(x) + (1 − y)·log(1 − σ(x))) through log1p, fine at |x| = 300.
    const double lsp = -(std::log1p(std::exp(-std::fabs(xi))) + std::fmax(-xi, 0.0));  // log σ(x)
    const double lsn = lsp - xi;                                                           // log σ(−x)
    const double ref = -(yi * lsp + (1 - yi) * lsn), refw = -(3 * yi * lsp + (1 - yi) * lsn);
    CHECK(std::fabs(loss[i] - ref) <= 1e-6 * std::fmax(1.0, std::fabs(ref)), "x %g loss %g, want %g", xi, loss[i], ref);
    CHECK(std::fabs(lw[i] - refw) <= 1e-6 * std::fmax(1.0, std::fabs(refw)), "x %g weighted %g, want %g", xi, lw[i], refw);
  }
  std::vector<float> gx(n), gy(n), g(n, 1.0f);
  tg::bce_loss_grad(true, x.data(), y.data(), n, nullptr, 0, n, g.data(), gx.data(), gy.data());
  for (int64_t i = 0; i < n; i++) {
    const double s = 1 / (1 + std::exp(-static_cast<double>(x[i])));
    CHECK(std::fabs(gx[i] - (s - y[i])) <= 1e-6, "x %g gradient %g, want %g", x[i], gx[i], s - y[i]);
    CHECK(std::fabs(gy[i] + x[i]) <= 1e-6 * std::fmax(1.0, std::fabs(x[i])), "x %g d/dy %g, want %g", x[i], gy[i], -x[i]);
  }
  // Probabilities: logs clamp at -100; the first value outside [0, 1] is reported.
  const std::vector<float> p = {0, 1, 0.25f, 1, 0.5f};
  const std::vector<float> t = {1, 0, 1, 1, 0};
  std::vector<float> lp(5);
  CHECK(tg::bce_loss(false, p.data(), t.data(), 5, nullptr, 0, 1, lp.data()) == -1, "probabilities refused");
  CHECK(lp[0] == 100 && lp[1] == 100 && std::fabs(lp[2] - std::log(4.0)) < 1e-6 && lp[3] == 0, "clamped losses %g %g %g %g", lp[0], lp[1], lp[2], lp[3]);
  for (float bad : {-0.01f, 1.5f, NAN}) {
    std::vector<float> q = p;
    q[3] = bad;
    CHECK(tg::bce_loss(false, q.data(), t.data(), 5, nullptr, 0, 1, lp.data()) == 3, "bad probability %g not reported", bad);
  }
}

}  // namespace

int main() {
  test_random();
  test_nll();
  test_bce();
  return tgtest::finish("test_losses_random");
}
