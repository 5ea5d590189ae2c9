// The AVX2+FMA level's table (x86-64 builds only; compiled with -mavx2 -mfma like the kernels it
// lists, and called by cpu.cc only on CPUs that have them).
#include "kernels/dispatch.h"

namespace tg {

const IsaKernels& isa_avx2() {
  static const IsaKernels k{Isa::Avx2, kElementwiseAvx2, kReduceAvx2, kSoftmaxAvx2, kFusedAvx2,
                            gemm::kernels_avx2(), gemm::kernels_avx2(), gemm::kernels_avx2(), 0};
  return k;
}

}  // namespace tg
