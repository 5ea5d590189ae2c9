// Single-precision GEMM (pure C++, no N-API): a Goto/BLIS packing and blocking driver
// (gemm.cc) around one register-blocked microkernel per instruction set (gemm_kernel_*.cc), the
// active ISA's table's (kernels/dispatch.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tg {

class ThreadPool;

// Applied while C is still in registers, after alpha/beta: c = relu(c + bias[j]).
struct GemmEpilogue {
  const float* bias = nullptr;  // length n, added to every row; nullptr for none
  bool relu = false;
  // For transB only: B (n×k) already packed by pack_weight, read instead of packing it again. A
  // buffer packed for another shape or by another ISA's layout is not used (B is packed as usual),
  // so it can never change a result; one packed from other values than B's would. packed_b_floats
  // is its length: a buffer shorter than the layout sgemm would read it in is not used either.
  const float* packed_b = nullptr;
  int64_t packed_b_floats = 0;
};

// How sgemm may cut C between threads: as its cost model and timings choose (Any), or into runs
// of whole rows only (Rows: a weight gradient, whose rows are the weight's rows, so that each
// thread writes the rows the forward pass and the optimizer step give the same thread; a C with
// fewer row panels than threads is cut as with Any).
enum class GemmSplit { Any, Rows };

// C = act(alpha·op(A)·op(B) + beta·C + bias), all row-major.
//   op(A) is m×k: A is m×k with leading dimension lda, or k×m when transA.
//   op(B) is k×n: B is k×n with leading dimension ldb, or n×k when transB.
//   C is m×n with leading dimension ldc.
// beta == 0 means C is not read (NaN or garbage in C does not propagate). k == 0 or alpha == 0
// reads neither A nor B. ep may be nullptr (no bias, no activation). pool == nullptr runs on the
// calling thread; otherwise work is split over M and N (never K) on pool->threads() threads and the
// result is bitwise identical for any thread count. Leading dimensions must be at least the row
// length they describe (≥ 1); nothing here checks arguments (the N-API layer does).
void sgemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const GemmEpilogue* ep, ThreadPool* pool,
           GemmSplit split = GemmSplit::Any);

// A weight W [n, k] (PyTorch's Linear layout, op(B) = Wᵀ of an NT product) packed once into the
// micro-panels the active ISA's GEMM reads, for GemmEpilogue::packed_b: inference re-packs every
// weight on every call otherwise (a quarter of a batch-32 forward's time). The buffer begins with a
// 64-byte header naming the shape and layout; packed_weight_floats gives its size in floats (the
// same for every call with the same n, k and active ISA). Products of at most kGemvMaxRows rows
// read W itself (dot products) and never this buffer.
int64_t packed_weight_floats(int64_t n, int64_t k);
void pack_weight(int64_t n, int64_t k, const float* w, float* dst);
// Whether `floats` floats at p hold a weight [n, k] packed for the active ISA's layout (sgemm
// would use it); false for nullptr, a short buffer or another shape or layout.
bool packed_weight_fits(const float* p, int64_t floats, int64_t n, int64_t k);
// The fewest rows of a product that read a packed weight at the active ISA (fewer read W itself).
int64_t packed_weight_min_rows();

// Which grid sgemm has settled on for products of this shape over `pool` when called from this
// thread: 0 the cost model's, 1 or 2 another it timed faster (by rows or by columns alone), or -1
// while it has not settled or does not time this shape (only small products that split are
// timed: gemm_split_tuner.h). For tests and diagnostics.
int sgemm_split_decision(bool transA, bool transB, int64_t m, int64_t n, int64_t k, const ThreadPool* pool);

// Name of the microkernel sgemm uses at the current tg::active_isa(): "avx512", "avx2", "neon" or
// "scalar" (at AVX-512, products at most 16 columns wide run its 16x16 kernel, same name).
const char* sgemm_kernel_name();

// Frees the packing scratch the calling thread keeps between products (each thread grows its own
// on demand, up to a few MiB, and keeps it for the next product) and returns the bytes freed. The
// pool's worker threads keep theirs. Must not run while the calling thread is inside sgemm.
size_t release_gemm_scratch();

}  // namespace tg
