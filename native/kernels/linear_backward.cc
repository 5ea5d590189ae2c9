// linear_backward.h: the passes in order; the GEMMs and the plain ReLU backward use the pool.
#include "kernels/linear_backward.h"

#include <algorithm>

#include "kernels/dispatch.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/reduce.h"

namespace tg {

void linear_backward(int64_t rows, int64_t out_f, int64_t in_f, const float* g, const float* y, const float* x,
                     const float* w, float* gy, float* gx, float* gw, float* gb, ThreadPool* pool) {
  const float* d = g;
  if (y != nullptr) {
    // On the calling thread: split by columns over two cores of the 2-vCPU Zen 5 guest, this sweep
    // took 170 us for 512x512 instead of 39 us alone (two cores writing alternate 1 KB runs of the
    // same rows), and a split by rows would change the order of the bias sums with the thread count.
    if (gb != nullptr) active_kernels().reduce.relu_grad_sum_cols(g, y, gy, rows, out_f, out_f, gb);
    else unary_grad(UnaryOp::Relu, y, y, g, gy, rows * out_f, 0.0, 0.0, pool);
    d = gy;
  } else if (gb != nullptr) {
    reduce(ReduceOp::Sum, g, 1, rows, out_f, gb, nullptr, pool);
  }
  const int64_t ld_d = std::max<int64_t>(1, out_f), ld_in = std::max<int64_t>(1, in_f);
  if (gx != nullptr) sgemm(false, false, rows, in_f, out_f, 1.0f, d, ld_d, w, ld_in, 0.0f, gx, ld_in, nullptr, pool);
  // The weight gradient split by its rows, the weight's: each thread writes the rows that the
  // forward pass (split over C's columns, the weight's rows) and the optimizer step (one contiguous
  // piece per thread) give it (gemm.cc: best_grid).
  if (gw != nullptr) {
    sgemm(true, false, out_f, in_f, rows, 1.0f, d, ld_d, x, ld_in, 0.0f, gw, ld_in, nullptr, pool, GemmSplit::Rows);
  }
}

}  // namespace tg
