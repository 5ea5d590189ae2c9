// Softmax / log-softmax: the arguments' edge cases here; the rows are the active ISA's
// (kernels/dispatch.h: softmax_scalar.cc, softmax_avx2.cc), which walk [outer, n, inner] in their
// own row or column blocks.
#include "kernels/softmax.h"

#include "kernels/dispatch.h"

namespace tg {

void softmax(const float* x, int64_t outer, int64_t n, int64_t inner, float* out, bool log) {
  if (outer <= 0 || n <= 0 || inner <= 0) return;
  active_kernels().softmax.forward(x, outer, n, inner, out, log);
}

void softmax_grad(const float* y, const float* gy, int64_t outer, int64_t n, int64_t inner, float* gx, bool log) {
  if (outer <= 0 || n <= 0 || inner <= 0) return;
  active_kernels().softmax.backward(y, gy, outer, n, inner, gx, log);
}

}  // namespace tg
