#include "linear_chain.h"

#include <algorithm>

#include "gemm.h"

namespace tg {

int64_t linear_chain_work(int64_t rows, int n_layers, const ChainLayer* layers) {
  int64_t widest = 0;
  for (int i = 0; i + 1 < n_layers; i++) widest = std::max(widest, layers[i].out_f);
  return 2 * rows * widest;
}

void linear_chain(int64_t rows, int64_t in_f, const float* x, int n_layers, const ChainLayer* layers, float* out,
                  float* work, ThreadPool* pool) {
  const int64_t half = linear_chain_work(rows, n_layers, layers) / 2;
  const float* in = x;
  int64_t k = in_f;
  for (int i = 0; i < n_layers; i++) {
    const ChainLayer& l = layers[i];
    // Inner layers alternate between the two halves of work, so a layer never writes its input.
    float* y = i + 1 == n_layers ? out : work + (i % 2) * half;
    GemmEpilogue ep;
    ep.bias = l.bias;
    ep.relu = l.relu;
    ep.packed_b = l.packed;
    ep.packed_b_floats = l.packed_floats;
    sgemm(false, true, rows, l.out_f, k, 1.0f, in, std::max<int64_t>(1, k), l.w, std::max<int64_t>(1, k), 0.0f, y,
          std::max<int64_t>(1, l.out_f), &ep, pool);
    in = y;
    k = l.out_f;
  }
}

}  // namespace tg
