// The aarch64 NEON level's table (aarch64 builds only): its own elementwise, softmax, fused and
// GEMM kernels, the portable reductions.
#include "kernels/dispatch.h"

namespace tg {

const IsaKernels& isa_neon() {
  static const IsaKernels k{Isa::Neon, kElementwiseNeon, kReduceScalar, kSoftmaxNeon, kFusedNeon,
                            gemm::kernels_neon(), gemm::kernels_neon()};
  return k;
}

}  // namespace tg
