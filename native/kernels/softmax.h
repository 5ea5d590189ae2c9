// Softmax and log-softmax along the middle axis of x viewed as [outer, n, inner], and their
// backward (src/backend/js/softmax.ts). Plain C++; each outer slice runs the active ISA's kernel
// (kernels/dispatch.h).
//
// Semantics (both paths): the row max is taken with `v > max` from -inf, so NaN entries are
// skipped by the max and then poison the row (every output NaN), as do a row of all -inf and a
// row holding +inf — exactly as the TS backend and PyTorch. -inf entries in an otherwise finite
// row give 0 (log: -inf). Stable for any finite logits (|x| up to FLT_MAX: the max is subtracted
// first, and x - max is formed exactly).
//
// Accuracy (asserted by test_elementwise.cc against a long-double reference, both paths):
//   softmax ≤ 4 ULP, logSoftmax ≤ 2 ULP (observed: AVX2 2.7 / 1.5 ULP, scalar 0.5 / 0.5 ULP), for
//   logits up to ±1e4, spreads reaching the subnormals, and confident rows.
// Both paths take x - max exactly (double, or an AVX2 two-sum), sum in double, and keep the terms
// equal to the max (exactly 1 each) apart from the rest, so log Σ = log(ones) + log1p(rest/ones)
// is accurate even when it is ~1e-20, and logSoftmax = (x - max) - log Σ never forms max + log Σ
// (which loses everything below ulp(max) for large logits). The scalar path evaluates exp/log in
// double (softmax.ts's arithmetic); the AVX2 path uses the vectorised exp of vmath_avx2.h.
//
// out may alias x; gx may alias y or gy. Single-threaded (threading would split outer·inner).
#pragma once

#include <cstdint>

namespace tg {

void softmax(const float* x, int64_t outer, int64_t n, int64_t inner, float* out, bool log);

// softmax:    gx = y·(gy - Σ gy·y)
// logSoftmax: gx = gy - exp(y)·Σ gy
void softmax_grad(const float* y, const float* gy, int64_t outer, int64_t n, int64_t inner, float* gx, bool log);

}  // namespace tg
