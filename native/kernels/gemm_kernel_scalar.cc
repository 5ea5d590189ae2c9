// Portable GEMM microkernel (4x8) and packing routines: C++ compiled with the baseline flags (any
// x86-64, or any other CPU), the Scalar table's (isa_scalar.cc) and the reference the SIMD
// kernels are tested against. It uses no FMA: each product and each sum is rounded separately.
#include <cstring>

#include "gemm_blocking.h"
#include "gemm_portable.h"

namespace tg {
namespace gemm {
namespace {

constexpr int MR = kBlockingScalar.mr;
constexpr int NR = kBlockingScalar.nr;

// 4-float vectors through the GCC/Clang vector extension: SSE2 on x86-64, NEON on arm64, plain
// scalar code elsewhere. Written this way because the auto-vectoriser, given the plain loops,
// vectorises the row-major A variant across rows (4 scalar loads and shuffles per k step).
typedef float v4 __attribute__((vector_size(16)));

inline v4 load4(const float* p) {
  v4 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

template <bool kRows>
void tile(int rows, int cols, int64_t kc, const float* a, int64_t as, const float* b, int64_t bs, float* c,
          int64_t ldc, const Tile& t) {
  static_assert(MR == 4 && NR == 8, "the portable kernel is written for 4x8");
  v4 c00 = {}, c01 = {}, c10 = {}, c11 = {}, c20 = {}, c21 = {}, c30 = {}, c31 = {};
  for (int64_t p = 0; p < kc; ++p) {
    const v4 b0 = load4(b + p * bs), b1 = load4(b + p * bs + 4);
    const float x0 = kRows ? a[p] : a[p * as];
    const float x1 = kRows ? a[as + p] : a[p * as + 1];
    const float x2 = kRows ? a[2 * as + p] : a[p * as + 2];
    const float x3 = kRows ? a[3 * as + p] : a[p * as + 3];
    const v4 a0 = {x0, x0, x0, x0}, a1 = {x1, x1, x1, x1}, a2 = {x2, x2, x2, x2}, a3 = {x3, x3, x3, x3};
    c00 += a0 * b0;
    c01 += a0 * b1;
    c10 += a1 * b0;
    c11 += a1 * b1;
    c20 += a2 * b0;
    c21 += a2 * b1;
    c30 += a3 * b0;
    c31 += a3 * b1;
  }
  float acc[MR][NR];
  std::memcpy(&acc[0][0], &c00, 16);
  std::memcpy(&acc[0][4], &c01, 16);
  std::memcpy(&acc[1][0], &c10, 16);
  std::memcpy(&acc[1][4], &c11, 16);
  std::memcpy(&acc[2][0], &c20, 16);
  std::memcpy(&acc[2][4], &c21, 16);
  std::memcpy(&acc[3][0], &c30, 16);
  std::memcpy(&acc[3][4], &c31, 16);
  portable::store_tile<false>(acc, rows, cols, c, ldc, t);
}

}  // namespace

const Kernels& kernels_scalar() {
  static const Kernels k{"scalar",
                         kBlockingScalar,
                         &portable::panels<MR, tile<false>>,
                         &portable::panels<MR, tile<true>>,
                         &portable::pack_a<MR>,
                         &portable::pack_b<NR>,
                         nullptr};
  return k;
}

}  // namespace gemm
}  // namespace tg
