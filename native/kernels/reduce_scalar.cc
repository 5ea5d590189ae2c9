// The portable reductions (the Scalar table's), in double where
// they sum. Compiled with the baseline flags.
#include "kernels/dispatch.h"
#include "kernels/relu_grad_rows.h"

namespace tg {
namespace scalar {
namespace {

double sum_f64(const float* x, int64_t n) {
  // Four independent double accumulators: the compiler keeps them in SSE2 registers.
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += x[i];
    s1 += x[i + 1];
    s2 += x[i + 2];
    s3 += x[i + 3];
  }
  for (; i < n; i++) s0 += x[i];
  return (s0 + s1) + (s2 + s3);
}

void accumulate_f64(double* acc, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; i++) acc[i] += x[i];
}

// 256 columns at a time, so the accumulators stay in L1.
void sum_cols(const float* x, int64_t n, int64_t width, int64_t ld, float* out) {
  constexpr int64_t B = 256;
  double acc[B];
  for (int64_t j0 = 0; j0 < width; j0 += B) {
    const int64_t w = width - j0 < B ? width - j0 : B;
    for (int64_t j = 0; j < w; j++) acc[j] = 0.0;
    for (int64_t i = 0; i < n; i++) {
      const float* r = x + i * ld + j0;
      for (int64_t j = 0; j < w; j++) acc[j] += r[j];
    }
    for (int64_t j = 0; j < w; j++) out[j0 + j] = static_cast<float>(acc[j]);
  }
}

// The loop of linearBackward in src/backend/js/linear.ts, all of it in the shared scalar rule.
void relu_grad_sum_cols(const float* g, const float* y, float* gy, int64_t n, int64_t width, int64_t ld, float* out) {
  relu_grad_rows(g, y, gy, n, width, ld, out, [](const float*, const float*, float*, double*, int64_t) { return int64_t(0); });
}

// reduce.ts's loop for one (o, j) slice: strict comparison keeps the first index on ties; the
// first NaN ends the scan.
// n >= 1.
void argreduce_slice(bool is_max, const float* x, int64_t n, int64_t stride, float* out, float* arg) {
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
  if (arg) *arg = static_cast<float>(bi);
}

void argreduce(bool is_max, const float* x, int64_t n, int64_t inner, float* out, float* arg) {
  for (int64_t j = 0; j < inner; j++) argreduce_slice(is_max, x + j, n, inner, out + j, arg ? arg + j : nullptr);
}

}  // namespace
}  // namespace scalar

constexpr ReduceKernels kReduceScalar{scalar::sum_f64, scalar::accumulate_f64, scalar::sum_cols, scalar::relu_grad_sum_cols,
                                  scalar::argreduce};

}  // namespace tg
