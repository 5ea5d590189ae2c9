#pragma once
// Splitting element loops over the thread pool with results that do not depend on the split.
#include <algorithm>
#include <cstdint>

#include "threadpool.h"

namespace tg {

// Element kernels (unary maps and their gradients, column sums) split their range over the pool
// from this many elements, in pieces of kElementChunk. The chunk is a multiple of 16, so every
// piece but the last is whole vectors and the elements that reach a kernel's tail code are the
// ones a single call would send there: results are bitwise the same for any thread count.
constexpr int64_t kElementChunk = 16384;
constexpr int64_t kElementParallelMin = 65536;

// Runs body(i0, len) over [0, n) in `chunk`-element pieces on the pool when it has more than one
// thread and n >= min_n; otherwise body(0, n) on the calling thread.
template <class Body>
void parallel_range(int64_t n, int64_t chunk, int64_t min_n, ThreadPool* pool, Body body) {
  if (pool == nullptr || pool->threads() <= 1 || n < min_n) return body(0, n);
  const int64_t pieces = (n + chunk - 1) / chunk;
  pool->parallel_for(pieces, [&](int64_t piece, int /*worker*/) {
    const int64_t i = piece * chunk;
    body(i, std::min(chunk, n - i));
  });
}

}  // namespace tg
