// A chain of Linear layers (each y = act(x·Wᵀ + b), act = ReLU or none) run forward in one call,
// the activations between layers kept in a caller-owned work buffer. Sequential.forward without a
// graph (predict, evaluate, noGrad) runs its Linear/ReLU runs through it: one N-API crossing and
// no JS tensors between the layers, which is most of batch-1 inference's cost outside the GEMVs.
#pragma once

#include <cstdint>

namespace tg {

class ThreadPool;

struct ChainLayer {
  int64_t out_f;       // the layer's outputs; its inputs are the previous layer's outputs
  const float* w;      // [out_f, in_f], PyTorch's Linear weight layout
  const float* bias;   // [out_f] or null
  bool relu;
  const float* packed = nullptr;  // w packed by pack_weight, or null (GemmEpilogue::packed_b)
  int64_t packed_floats = 0;      // its length
};

// Floats of work buffer linear_chain needs: two activations of the widest inner layer.
int64_t linear_chain_work(int64_t rows, int n_layers, const ChainLayer* layers);

// x [rows, in_f] through layers[0..n_layers) into out [rows, layers[n_layers-1].out_f]. Each layer
// is the sgemm (NT, bias and ReLU in the epilogue) a separate Linear forward would run: results
// are bitwise those of the layers called one by one, for any thread count. work holds
// linear_chain_work floats and must not overlap x, out or the weights.
void linear_chain(int64_t rows, int64_t in_f, const float* x, int n_layers, const ChainLayer* layers, float* out,
                  float* work, ThreadPool* pool);

}  // namespace tg
