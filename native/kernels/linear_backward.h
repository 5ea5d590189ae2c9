// The backward pass of one Linear layer (y = act(x·Wᵀ + b), act = ReLU or none) in one call:
// the ReLU mask and the bias gradient in one sweep over the output gradient, then the input and
// weight gradients' GEMMs. src/ops/linear.ts calls it through the backend's linearBackward (one
// N-API crossing per layer instead of four); src/backend/js/linear.ts is the TS twin, bit for bit.
#pragma once

#include <cstdint>

namespace tg {

class ThreadPool;

// g is the gradient of the layer's output [rows, out_f]. With y (the ReLU's output, [rows, out_f])
// the pre-activation gradient gy = (y <= 0 ? 0 : g) is written to gy, else gy must be null and g
// is used as it is. Then, each output optional (null: not computed):
//   gb [out_f]        = Σ_rows gy, each column summed in row order in double (as reduce()'s sum)
//   gx [rows, in_f]   = gy·W     (w [out_f, in_f] required)
//   gw [out_f, in_f]  = gyᵀ·x    (x [rows, in_f] required)
// Every result is bitwise the one of unary_grad(relu) + reduce(sum) + sgemm (NN, TN), for any
// thread count. Outputs must not overlap each other or the inputs (the N-API layer checks).
void linear_backward(int64_t rows, int64_t out_f, int64_t in_f, const float* g, const float* y, const float* x,
                     const float* w, float* gy, float* gx, float* gw, float* gb, ThreadPool* pool);

}  // namespace tg
