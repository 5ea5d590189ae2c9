// The aarch64 NEON level's table (aarch64 builds only): its own kernels in every family.
#include "kernels/dispatch.h"

namespace tg {

const IsaKernels& isa_neon() {
  static const IsaKernels k{Isa::Neon, kElementwiseNeon, kReduceNeon, kSoftmaxNeon, kFusedNeon,
                            gemm::kernels_neon(), gemm::kernels_neon(), gemm::kernels_neon(), 0};
  return k;
}

}  // namespace tg
