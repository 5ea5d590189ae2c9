// The one dispatch table: per instruction-set level, a struct of pointers to the primitives every
// kernel family is built from. The family files (elementwise.cc, reduce.cc, softmax.cc, fused.cc,
// gemm.cc) keep the shape handling, the outer loops (softmax's excepted, see SoftmaxKernels) and
// the threading, and reach arithmetic only through active_kernels(), read once per call: the
// dispatch costs a pointer load per call or row, never one per element, and a call sees one level
// throughout even if set_active_isa runs meanwhile.
//
// Each level's files fill its table: a family's part from that family's *_<isa>.cc, the whole
// table in isa_<isa>.cc, which starts from the level below where it has no kernel of its own
// (AVX-512 from AVX2; NEON has its own in every family). cpu.cc picks the table. A new
// instruction set is its kernel files (named *_<isa>.cc: CMakeLists.txt compiles them with that
// ISA's flags, for its architecture only), an isa_<isa>.cc, an Isa value and a case in cpu.cc's
// table_for().
//
// The tables of SIMD levels hold code compiled for those levels: call a level's functions only
// when the CPU supports it (cpu.cc's choice guarantees it for active_kernels()).
#pragma once

#include <cstdint>

#include "cpu.h"
#include "kernels/elementwise.h"
#include "kernels/fused.h"
#include "kernels/gemm_blocking.h"

namespace tg {

// ---- elementwise.cc ----------------------------------------------------------------------------

struct ElementwiseKernels {
  // out[i] = a[i·as] (op) b[i·bs] for i < len; each stride is 0 (that operand is broadcast along
  // the row) or 1.
  void (*binary_row)(BinaryOp op, const float* a, int64_t as, const float* b, int64_t bs, float* out, int64_t len);
  // elementwise.h's unary and unary_grad on one contiguous piece.
  void (*unary)(UnaryOp op, const float* x, float* out, int64_t n, double p0, double p1);
  void (*unary_grad)(UnaryOp op, const float* x, const float* y, const float* gy, float* gx, int64_t n, double p0,
                     double p1);
  // b[c·ldb + r] = a[r·lda + c] for r < rows, c < cols (a and b do not overlap).
  void (*transpose)(const float* a, int64_t lda, float* b, int64_t ldb, int64_t rows, int64_t cols);
};

// ---- reduce.cc (and sum_to in elementwise.cc) ------------------------------------------------------

struct ReduceKernels {
  double (*sum_f64)(const float* x, int64_t n);                   // Σ x[i], accumulated in double
  void (*accumulate_f64)(double* acc, const float* x, int64_t n);  // acc[i] += x[i]
  // out[j] = Σ_i x[i·ld + j] for i < n, j < width: each column summed in row order, in double.
  void (*sum_cols)(const float* x, int64_t n, int64_t width, int64_t ld, float* out);
  // ReLU's backward fused with the bias gradient (linear_backward.h): for i < n, j < width,
  // gy[i·ld + j] = y[i·ld + j] <= 0 ? 0 : g[i·ld + j] (NaN passes g, as unary_grad's relu), and
  // out[j] = Σ_i gy[i·ld + j] summed exactly as sum_cols sums it.
  void (*relu_grad_sum_cols)(const float* g, const float* y, float* gy, int64_t n, int64_t width, int64_t ld,
                             float* out);
  // One outer slice of reduce()'s max/min: x is [n ≥ 1, inner]; out and arg (may be null) get
  // inner values (reduce.h gives the tie and NaN rules).
  void (*argreduce)(bool is_max, const float* x, int64_t n, int64_t inner, float* out, float* arg);
};

// ---- softmax.cc: softmax.h's functions, for outer, n, inner ≥ 1 --------------------------------------
// The outer loop is the kernel's: a call per row would cost a few percent on rows of ten classes.

struct SoftmaxKernels {
  void (*forward)(const float* x, int64_t outer, int64_t n, int64_t inner, float* out, bool log);
  void (*backward)(const float* y, const float* gy, int64_t outer, int64_t n, int64_t inner, float* gx, bool log);
};

// ---- fused.cc: the row passes of softmax-cross-entropy, and the optimizer steps ---------------------

struct FusedKernels {
  // Row max with `v > max` (NaN skipped, as softmax.ts) and, when sum_x is not null, Σx in double.
  float (*row_max_sum)(const float* x, int64_t n, double* sum_x);
  // Σ exp(x - mx) split as ones + rest: *ones counts the entries equal to mx (each contributes
  // exactly 1), the return value sums the others, so log Σ = log(ones) + log1p(rest/ones) keeps
  // full relative precision for a confident row and s - e_t needs no cancellation. e (if not
  // null; may alias x) receives every exp(x_i - mx) as float, the values the sum adds.
  double (*exp_sum)(const float* x, int64_t n, float mx, double* ones, float* e);
  // exp_sum, plus *b = Σ t_i·(mx - x_i) and *tsum = Σ t_i (probability targets t), in double.
  double (*exp_sum_prob)(const float* x, const float* t, int64_t n, float mx, double* ones, double* b, double* tsum,
                         float* e);
  // g_c = (e_c·pinv - (t ? t_mul·t_c : 0) - t_add)·sc; e may alias g.
  void (*xent_grad)(const float* e, const float* t, int64_t n, double pinv, double t_mul, double t_add, double sc,
                    float* g);
  // One Adam step over n parameters (fused.h; p, m, v, vmax in place, vmax read only if k.amsgrad).
  void (*adam)(float* p, const float* g, float* m, float* v, float* vmax, int64_t n, const detail::AdamConsts& k);
  // One SGD / RMSprop step over n parameters (fused.h's sgd_step and rmsprop_step on one piece),
  // the same bits at every level (optim_rows.h).
  void (*sgd)(float* p, const float* g, float* buf, int64_t n, const SgdParams& hp);
  void (*rmsprop)(float* p, const float* g, float* sq, float* grad_avg, float* buf, int64_t n, const RmspropParams& hp);
};

// ---- the table --------------------------------------------------------------------------------------

struct IsaKernels {
  Isa isa;
  ElementwiseKernels elementwise;
  ReduceKernels reduce;
  SoftmaxKernels softmax;
  FusedKernels fused;
  gemm::Kernels gemm;         // the GEMM microkernels, packing and blocking (gemm_blocking.h)
  gemm::Kernels gemm_narrow;  // for products at most gemm_narrow.blk.nr columns wide (same bits)
  gemm::Kernels gemm_tall;    // for products at most tall_max_n columns wide (same bits)
  int64_t tall_max_n;         // 0: no tall kernel at this level
};

// The active level's table (cpu.cc: detect_isa() lowered by TENSORGRAD_ISA on first use, then
// whatever set_active_isa chose). Read it once per kernel call and keep the reference.
const IsaKernels& active_kernels();

// Each level's table (isa_<isa>.cc; the SIMD levels only in the builds for their architecture).
const IsaKernels& isa_scalar();
const IsaKernels& isa_avx2();
const IsaKernels& isa_avx512();
const IsaKernels& isa_neon();

// The family parts the tables are assembled from, each defined in its family's *_<isa>.cc as
// constexpr data: no code runs to make them, so naming a SIMD level's part executes nothing of it.
extern const ElementwiseKernels kElementwiseScalar, kElementwiseAvx2;
extern const ReduceKernels kReduceScalar, kReduceAvx2;
extern const SoftmaxKernels kSoftmaxScalar, kSoftmaxAvx2;
extern const FusedKernels kFusedScalar, kFusedAvx2;
// NEON's parts (aarch64 builds only).
extern const ElementwiseKernels kElementwiseNeon;
extern const ReduceKernels kReduceNeon;
extern const SoftmaxKernels kSoftmaxNeon;
extern const FusedKernels kFusedNeon;
// AVX-512's parts: a null entry is one where 16 lanes are no faster, and isa_avx512.cc takes AVX2's.
extern const ElementwiseKernels kElementwiseAvx512;
extern const SoftmaxKernels kSoftmaxAvx512;
extern const FusedKernels kFusedAvx512;

}  // namespace tg
