// Reductions: scalar paths and dispatch to reduce_avx2.cc.
#include "kernels/reduce.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

#include "cpu.h"
#include "kernels/parallel.h"

namespace tg {

#if TG_X86_KERNELS
// Implemented in reduce_avx2.cc; call only when active_isa() >= Isa::Avx2.
namespace avx2 {
double sum_f64(const float* x, int64_t n);
void accumulate_f64(double* acc, const float* x, int64_t n);
void sum_cols(const float* x, int64_t n, int64_t width, int64_t ld, float* out);
void argreduce_row(bool is_max, const float* x, int64_t n, float* out, float* arg);
void argreduce_cols(bool is_max, const float* x, int64_t n, int64_t inner, float* out, float* arg);
}  // namespace avx2
#endif

namespace {

inline bool use_avx2() { return TG_X86_KERNELS && active_isa() >= Isa::Avx2; }

double sum_f64_scalar(const float* x, int64_t n) {
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

void accumulate_f64_scalar(double* acc, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; i++) acc[i] += x[i];
}

// out[j] = Σ_i x[i·inner + j], in double, 256 columns at a time so the accumulators stay in L1.
// Column sums of the n x width block at x (row stride ld), each column in row order in double.
void sum_cols_scalar(const float* x, int64_t n, int64_t width, int64_t ld, float* out) {
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

}  // namespace

bool parse_reduce_op(const char* name, ReduceOp* op) {
  if (name == nullptr) return false;
  if (std::strcmp(name, "sum") == 0) *op = ReduceOp::Sum;
  else if (std::strcmp(name, "max") == 0) *op = ReduceOp::Max;
  else if (std::strcmp(name, "min") == 0) *op = ReduceOp::Min;
  else return false;
  return true;
}

double sum_f64(const float* x, int64_t n) {
  if (n <= 0) return 0.0;
#if TG_X86_KERNELS
  if (use_avx2()) return avx2::sum_f64(x, n);
#endif
  return sum_f64_scalar(x, n);
}

void accumulate_f64(double* acc, const float* x, int64_t n) {
  if (n <= 0) return;
#if TG_X86_KERNELS
  if (use_avx2()) return avx2::accumulate_f64(acc, x, n);
#endif
  accumulate_f64_scalar(acc, x, n);
}

void reduce(ReduceOp op, const float* x, int64_t outer, int64_t n, int64_t inner, float* out, float* arg,
            ThreadPool* pool) {
  if (outer <= 0 || inner <= 0) return;
  [[maybe_unused]] const bool avx = use_avx2();
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
          out[o] = static_cast<float>(sum_f64(x + o * n, n));
      });
      return;
    }
    constexpr int64_t kColBlock = 256;  // any column split gives the same bits: each column is summed alone
    const int64_t blocks = (inner + kColBlock - 1) / kColBlock;
    parallel_range(outer * blocks, 1, min_tasks, pool, [&](int64_t t0, int64_t count) {
      for (int64_t t = t0; t < t0 + count; t++) {
        const int64_t o = t / blocks, j0 = (t % blocks) * kColBlock, w = std::min(kColBlock, inner - j0);
        const float* xo = x + o * n * inner + j0;
#if TG_X86_KERNELS
        if (avx) {
          avx2::sum_cols(xo, n, w, inner, out + o * inner + j0);
          continue;
        }
#endif
        sum_cols_scalar(xo, n, w, inner, out + o * inner + j0);
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
  // The vector paths track indices in int32 lanes.
  [[maybe_unused]] const bool vec = avx && n <= std::numeric_limits<int32_t>::max();
  for (int64_t o = 0; o < outer; o++) {
    const float* xo = x + o * n * inner;
    float* ro = out + o * inner;
    float* ao = arg ? arg + o * inner : nullptr;
#if TG_X86_KERNELS
    if (vec && inner == 1) {
      avx2::argreduce_row(is_max, xo, n, ro, ao);
      continue;
    }
    if (vec) {
      avx2::argreduce_cols(is_max, xo, n, inner, ro, ao);
      continue;
    }
#endif
    {
      for (int64_t j = 0; j < inner; j++)
        argreduce_slice(is_max, xo + j, n, inner, ro + j, ao ? ao + j : nullptr);
    }
  }
}

}  // namespace tg
