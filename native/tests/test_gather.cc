// Tests of the gather/scatter/copy kernels and the partial norms against direct loops, with the
// edges their callers rely on: repeated indices accumulating in order, empty rows, strided blocks
// that must not touch the gaps, NaN ties, and the four-sum order of the norms. Run under
// ASan/UBSan by CI: every kernel here writes through caller-given indices.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <vector>

#include "check.h"
#include "kernels/gather.h"

namespace {

std::vector<float> iota(int64_t n, float scale) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; i++) v[i] = scale * static_cast<float>(i) - 3.0f;
  return v;
}

void test_gather_scatter() {
  const int64_t rows = 5, row = 3;
  const std::vector<float> x = iota(rows * row, 0.5f);
  const std::vector<int32_t> idx = {4, 0, 4, 2};
  std::vector<float> out(idx.size() * row, -1.0f);
  tg::gather_rows(x.data(), row, idx.data(), 4, out.data());
  bool ok = true;
  for (int64_t i = 0; i < 4; i++)
    for (int64_t j = 0; j < row; j++) ok = ok && out[i * row + j] == x[idx[i] * row + j];
  CHECK(ok, "gather_rows picked the wrong rows");

  // Repeated index 4 accumulates both rows' gradients, in order; untouched rows stay as given.
  const std::vector<float> g = {0.1f, 0.2f, 0.3f, 1, 2, 3, 10, 20, 30, 7, 8, 9};
  std::vector<float> gx(rows * row, 0.25f);
  tg::scatter_add_rows(g.data(), row, idx.data(), 4, gx.data());
  std::vector<float> want(rows * row, 0.25f);
  for (int64_t i = 0; i < 4; i++)
    for (int64_t j = 0; j < row; j++) want[idx[i] * row + j] += g[i * row + j];
  ok = true;
  for (int64_t i = 0; i < rows * row; i++) ok = ok && gx[i] == want[i];
  CHECK(ok, "scatter_add_rows differs from the direct loop");
  CHECK(gx[1 * row] == 0.25f && gx[3 * row + 2] == 0.25f, "rows no index names were written");

  CHECK(tg::first_bad_index(idx.data(), 4, rows) == -1, "valid indices refused");
  const std::vector<int32_t> bad = {0, 5, -1};
  CHECK(tg::first_bad_index(bad.data(), 3, rows) == 1, "index == rows accepted");
  const std::vector<int32_t> neg = {2, -1};
  CHECK(tg::first_bad_index(neg.data(), 2, rows) == 1, "negative index accepted");
  // Rows of zero elements: nothing is read or written.
  tg::gather_rows(nullptr, 0, idx.data(), 4, nullptr);
  tg::scatter_add_rows(nullptr, 0, idx.data(), 4, nullptr);
}

void test_copy_blocks() {
  // Two rows of width 3 from a stride-5 source into a stride-4 destination: the gaps keep their values.
  const std::vector<float> src = iota(10, 1.0f);
  std::vector<float> dst(8, 99.0f);
  tg::copy_blocks(src.data() + 1, 5, dst.data(), 4, 2, 3);
  const std::vector<float> want = {src[1], src[2], src[3], 99, src[6], src[7], src[8], 99};
  bool ok = true;
  for (int i = 0; i < 8; i++) ok = ok && dst[i] == want[i];
  CHECK(ok, "copy_blocks wrote the wrong elements");
  tg::copy_blocks(nullptr, 0, nullptr, 0, 1000, 0);  // width 0: nothing
}

void test_scatter_arg_and_ties() {
  // [outer 2, n 3, inner 2]: each gradient lands where arg says, the rest stays zero.
  const std::vector<float> g = {1, 2, 3, 4};
  const std::vector<double> arg = {2, 0, 1, 1};
  std::vector<float> gx(12, 0.0f);
  tg::scatter_arg(g.data(), arg.data(), 2, 3, 2, gx.data());
  const std::vector<float> want = {0, 2, 0, 0, 1, 0, 0, 0, 3, 4, 0, 0};
  bool ok = true;
  for (int i = 0; i < 12; i++) ok = ok && gx[i] == want[i];
  CHECK(ok, "scatter_arg wrote the wrong elements");
  CHECK(tg::first_bad_arg(arg.data(), 4, 3) == -1, "valid positions refused");
  const std::vector<double> bad = {0, 1.5, 3, -1, std::nan("")};
  CHECK(tg::first_bad_arg(bad.data(), 5, 3) == 1, "a fractional position accepted");
  CHECK(tg::first_bad_arg(bad.data() + 2, 3, 3) == 0, "position n accepted");
  CHECK(tg::first_bad_arg(bad.data() + 3, 2, 3) == 0, "a negative position accepted");
  CHECK(tg::first_bad_arg(bad.data() + 4, 1, 3) == 0, "a NaN position accepted");

  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> x = {1, 5, 2, 5, nan, 5};
  std::vector<float> ties(6, 0.0f);
  CHECK(tg::share_equal(x.data(), 6, 5.0f, 1.5, ties.data()) == 3, "three ties of 5 expected");
  CHECK(ties[1] == 0.5f && ties[3] == 0.5f && ties[5] == 0.5f && ties[0] == 0 && ties[4] == 0, "ties not shared evenly");
  std::vector<float> nans(6, 0.0f);
  CHECK(tg::share_equal(x.data(), 6, nan, 2.0, nans.data()) == 1 && nans[4] == 2.0f && nans[1] == 0, "NaN should match NaN only");
  CHECK(tg::share_equal(x.data(), 6, 7.0f, 2.0, nans.data()) == 0, "no tie expected");
}

void test_norm_part() {
  const std::vector<float> x = {3, -4, 0.5f, -0.25f, 1e-3f, 7, -2};
  // The documented order: four running sums over i mod 4, then (s0 + s1) + (s2 + s3).
  double s[4] = {0, 0, 0, 0};
  for (int i = 0; i < 4; i++) s[i] = static_cast<double>(x[i]) * x[i];
  for (int i = 4; i < 7; i++) s[0] += static_cast<double>(x[i]) * x[i];
  CHECK(tg::norm_part(x.data(), 7, 2.0) == s[0] + s[1] + (s[2] + s[3]), "ord 2 sum order");
  double a[4] = {3, 4, 0.5, 0.25};
  a[0] += static_cast<double>(1e-3f) + 7 + 2;
  CHECK(tg::norm_part(x.data(), 7, 1.0) == a[0] + a[1] + (a[2] + a[3]), "ord 1 sum order");
  const double p3 = tg::norm_part(x.data(), 7, 3.0);
  double want3 = 0;
  for (float v : x) want3 += std::pow(std::fabs(static_cast<double>(v)), 3.0);
  CHECK(std::fabs(p3 - want3) <= 1e-12 * want3, "ord 3: %.17g vs %.17g", p3, want3);
  CHECK(tg::norm_part(x.data(), 7, INFINITY) == 7.0, "max abs");
  const std::vector<float> withNan = {1, std::nanf(""), 9};
  CHECK(std::isnan(tg::norm_part(withNan.data(), 3, INFINITY)), "max abs with NaN is NaN");
  CHECK(std::isnan(tg::norm_part(withNan.data(), 3, 2.0)), "sum with NaN is NaN");
  CHECK(tg::norm_part(nullptr, 0, 2.0) == 0 && tg::norm_part(nullptr, 0, INFINITY) == 0, "empty is 0");
}

}  // namespace

int main() {
  test_gather_scatter();
  test_copy_blocks();
  test_scatter_arg_and_ties();
  test_norm_part();
  return tgtest::finish("test_gather");
}
