// The AVX-512 level's table (x86-64 builds only; called by cpu.cc only on CPUs and OSes with
// AVX-512): its own GEMM, AVX2's entries for everything else.
#include "kernels/dispatch.h"

namespace tg {

const IsaKernels& isa_avx512() {
  static const IsaKernels k = [] {
    IsaKernels t = isa_avx2();
    t.isa = Isa::Avx512;
    // gemm_narrow stays AVX2's 16-column kernel: a product that narrow would fill half of the
    // 32-column tile or less (1.2-1.45x faster on AVX2's, with the same bits).
    t.gemm = gemm::kernels_avx512();
    return t;
  }();
  return k;
}

}  // namespace tg
