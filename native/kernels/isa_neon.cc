// The aarch64 NEON level's table (aarch64 builds only): its own GEMM, the portable entries for
// everything else.
#include "kernels/dispatch.h"

namespace tg {

const IsaKernels& isa_neon() {
  static const IsaKernels k = [] {
    IsaKernels t = isa_scalar();
    t.isa = Isa::Neon;
    t.gemm = t.gemm_narrow = gemm::kernels_neon();
    return t;
  }();
  return k;
}

}  // namespace tg
