#include "gather.h"

#include <cmath>
#include <cstring>

namespace tg {

int64_t first_bad_index(const int32_t* idx, int64_t n, int64_t rows) {
  for (int64_t i = 0; i < n; i++)
    if (idx[i] < 0 || idx[i] >= rows) return i;
  return -1;
}

void gather_rows(const float* x, int64_t row, const int32_t* idx, int64_t n, float* out) {
  if (row == 0) return;
  for (int64_t i = 0; i < n; i++) std::memcpy(out + i * row, x + idx[i] * row, sizeof(float) * row);
}

void scatter_add_rows(const float* g, int64_t row, const int32_t* idx, int64_t n, float* gx) {
  for (int64_t i = 0; i < n; i++) {
    float* dst = gx + idx[i] * row;
    const float* src = g + i * row;
    for (int64_t j = 0; j < row; j++) dst[j] += src[j];
  }
}

void copy_blocks(const float* src, int64_t src_stride, float* dst, int64_t dst_stride, int64_t rows, int64_t width) {
  if (width == 0) return;
  for (int64_t r = 0; r < rows; r++) std::memcpy(dst + r * dst_stride, src + r * src_stride, sizeof(float) * width);
}

int64_t first_bad_arg(const double* arg, int64_t len, int64_t n) {
  for (int64_t i = 0; i < len; i++)
    if (!(arg[i] >= 0 && arg[i] < static_cast<double>(n)) || arg[i] != std::floor(arg[i])) return i;
  return -1;
}

void scatter_arg(const float* g, const double* arg, int64_t outer, int64_t n, int64_t inner, float* gx) {
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < inner; j++) {
      const int64_t r = o * inner + j;
      gx[(o * n + static_cast<int64_t>(arg[r])) * inner + j] = g[r];
    }
}

int64_t share_equal(const float* x, int64_t len, float v, double total, float* gx) {
  const bool nan = std::isnan(v);
  auto hit = [&](float u) { return nan ? std::isnan(u) : u == v; };
  int64_t count = 0;
  for (int64_t i = 0; i < len; i++) count += hit(x[i]);
  if (count == 0) return 0;
  const float share = static_cast<float>(total / static_cast<double>(count));
  for (int64_t i = 0; i < len; i++)
    if (hit(x[i])) gx[i] = share;
  return count;
}

namespace {

// The four-sum loop shared by every finite order; `term` maps |x| (as a double) to its power.
template <class Term>
double four_sums(const float* x, int64_t len, Term term) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const int64_t n4 = len - len % 4;
  int64_t i = 0;
  for (; i < n4; i += 4) {
    s0 += term(std::fabs(static_cast<double>(x[i])));
    s1 += term(std::fabs(static_cast<double>(x[i + 1])));
    s2 += term(std::fabs(static_cast<double>(x[i + 2])));
    s3 += term(std::fabs(static_cast<double>(x[i + 3])));
  }
  for (; i < len; i++) s0 += term(std::fabs(static_cast<double>(x[i])));
  return s0 + s1 + (s2 + s3);
}

}  // namespace

double norm_part(const float* x, int64_t len, double ord) {
  if (std::isinf(ord)) {
    double m = 0;
    for (int64_t i = 0; i < len; i++) {
      const double a = std::fabs(static_cast<double>(x[i]));
      if (std::isnan(a)) return a;
      if (a > m) m = a;
    }
    return m;
  }
  if (ord == 2) return four_sums(x, len, [](double a) { return a * a; });
  if (ord == 1) return four_sums(x, len, [](double a) { return a; });
  return four_sums(x, len, [ord](double a) { return std::pow(a, ord); });
}

}  // namespace tg
