// The AVX-512 level's table (x86-64 builds only; called by cpu.cc only on CPUs and OSes with
// AVX-512): its own GEMM and family parts, AVX2's entries wherever a part leaves one null.
#include "kernels/dispatch.h"

namespace tg {
namespace {

template <class F>
void own(F& entry, F avx512) {
  if (avx512) entry = avx512;
}

}  // namespace

const IsaKernels& isa_avx512() {
  static const IsaKernels k = [] {
    IsaKernels t = isa_avx2();
    t.isa = Isa::Avx512;
    own(t.elementwise.binary_row, kElementwiseAvx512.binary_row);
    own(t.elementwise.unary, kElementwiseAvx512.unary);
    own(t.elementwise.unary_grad, kElementwiseAvx512.unary_grad);
    own(t.elementwise.transpose, kElementwiseAvx512.transpose);
    own(t.softmax.forward, kSoftmaxAvx512.forward);
    own(t.softmax.backward, kSoftmaxAvx512.backward);
    own(t.fused.row_max_sum, kFusedAvx512.row_max_sum);
    own(t.fused.exp_sum, kFusedAvx512.exp_sum);
    own(t.fused.exp_sum_prob, kFusedAvx512.exp_sum_prob);
    own(t.fused.xent_grad, kFusedAvx512.xent_grad);
    own(t.fused.adam, kFusedAvx512.adam);
    own(t.fused.sgd, kFusedAvx512.sgd);
    own(t.fused.rmsprop, kFusedAvx512.rmsprop);
    // A product at most 16 columns wide would fill half of the 32-column tile or less: it goes to
    // the 16x16 kernel (one zmm per row), with the same bits.
    t.gemm = gemm::kernels_avx512();
    t.gemm_narrow = gemm::kernels_avx512_narrow();
    // At most 12 columns (a 10-class layer), the 16x16 kernel would waste a quarter of its lanes or
    // more: the tall kernel runs its lanes along the rows instead, with the same bits.
    t.gemm_tall = gemm::kernels_avx512_tall();
    t.tall_max_n = gemm::kTallMaxN;
    return t;
  }();
  return k;
}

}  // namespace tg
