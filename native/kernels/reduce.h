// Reductions along the middle axis of x viewed as [outer, n, inner] (src/backend/js/reduce.ts).
// Plain C++ on caller-allocated float32 buffers; the arithmetic is the active ISA's
// (kernels/dispatch.h).
#pragma once

#include <cstdint>

namespace tg {

class ThreadPool;

enum class ReduceOp : int { Sum = 0, Max = 1, Min = 2 };

// 'sum' | 'max' | 'min'; false (and *op untouched) otherwise.
bool parse_reduce_op(const char* name, ReduceOp* op);

// out[o·inner + j] = reduce_i x[(o·n + i)·inner + j], out has outer·inner floats.
//   sum: accumulated in double (vectorised), rounded once. n = 0 gives 0.
//   max/min: first index on ties (-0 and +0 tie); NaN wins: the first NaN along the axis is the
//     result, as in PyTorch. arg (may be null; outer·inner floats) receives the index along n of
//     the chosen element, as a float (exact below 2^24). n = 0 gives NaN with index 0, as the TS
//     backend does (the glue should reject max/min over an empty axis, as PyTorch does).
// Neither out nor arg may overlap x. Single-threaded (threading would split outer·inner).
// Sums (not max/min) split their independent outputs over the pool when given one and the
// input has at least kElementParallelMin elements: each output is summed in the same order
// whatever the split, so the bits do not depend on the thread count.
void reduce(ReduceOp op, const float* x, int64_t outer, int64_t n, int64_t inner, float* out, float* arg,
            ThreadPool* pool = nullptr);

}  // namespace tg
