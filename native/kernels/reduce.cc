// Reductions: the split of [outer, n, inner] into rows, column blocks and threads; the sums and
// the max/min scans are the active ISA's (kernels/dispatch.h: reduce_scalar.cc, reduce_avx2.cc, reduce_neon.cc).
#include "kernels/reduce.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/dispatch.h"
#include "kernels/parallel.h"

namespace tg {

bool parse_reduce_op(const char* name, ReduceOp* op) {
  if (name == nullptr) return false;
  if (std::strcmp(name, "sum") == 0) *op = ReduceOp::Sum;
  else if (std::strcmp(name, "max") == 0) *op = ReduceOp::Max;
  else if (std::strcmp(name, "min") == 0) *op = ReduceOp::Min;
  else return false;
  return true;
}

void reduce(ReduceOp op, const float* x, int64_t outer, int64_t n, int64_t inner, float* out, float* arg,
            ThreadPool* pool) {
  if (outer <= 0 || inner <= 0) return;
  const ReduceKernels& K = active_kernels().reduce;
  if (op == ReduceOp::Sum) {
    if (n == 0) {
      for (int64_t i = 0; i < outer * inner; i++) out[i] = 0.0f;
      return;
    }
    // Split over independent outputs (whole rows, or blocks of kColBlock columns of one o), each
    // summed in row order as in one call; below kElementParallelMin inputs, no split.
    const int64_t min_tasks = outer * n * inner >= kElementParallelMin ? 0 : INT64_MAX;
    if (inner == 1) {
      const int64_t rows = std::max<int64_t>(1, kElementChunk / n);
      parallel_range(outer, rows, min_tasks, pool, [&](int64_t o0, int64_t count) {
        for (int64_t o = o0; o < o0 + count; o++)
          out[o] = static_cast<float>(K.sum_f64(x + o * n, n));
      });
      return;
    }
    constexpr int64_t kColBlock = 256;  // any column split gives the same bits: each column is summed alone
    const int64_t blocks = (inner + kColBlock - 1) / kColBlock;
    parallel_range(outer * blocks, 1, min_tasks, pool, [&](int64_t t0, int64_t count) {
      for (int64_t t = t0; t < t0 + count; t++) {
        const int64_t o = t / blocks, j0 = (t % blocks) * kColBlock, w = std::min(kColBlock, inner - j0);
        K.sum_cols(x + o * n * inner + j0, n, w, inner, out + o * inner + j0);
      }
    });
    return;
  }
  const bool is_max = op == ReduceOp::Max;
  if (n == 0) {  // as reduce.ts (reading x[base] past the end gives NaN there), index 0
    for (int64_t i = 0; i < outer * inner; i++) {
      out[i] = std::numeric_limits<float>::quiet_NaN();
      if (arg) arg[i] = 0.0f;
    }
    return;
  }
  for (int64_t o = 0; o < outer; o++)
    K.argreduce(is_max, x + o * n * inner, n, inner, out + o * inner, arg ? arg + o * inner : nullptr);
}

}  // namespace tg
