// The Scalar level's table: portable C++ for every family, the floor every CPU can run.
#include "kernels/dispatch.h"

namespace tg {

const IsaKernels& isa_scalar() {
  static const IsaKernels k{Isa::Scalar, kElementwiseScalar, kReduceScalar, kSoftmaxScalar, kFusedScalar,
                            gemm::kernels_scalar(), gemm::kernels_scalar(), gemm::kernels_scalar(), 0};
  return k;
}

}  // namespace tg
