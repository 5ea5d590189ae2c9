// aarch64 NEON GEMM microkernel (8x12: 24 accumulators of four floats, 3 B vectors, 2 A vectors:
// 29 of the 32 vector registers) and its packing. Compiled for aarch64 targets only (CMakeLists.txt)
// and reached through kernels_neon(), in the NEON table (isa_neon.cc).
//
// Each element of C is one fused multiply-add chain over p in increasing order, and the store step
// does what the AVX2 kernel's does (alpha product, then fma(beta, c, x), then bias and ReLU), so a
// product comes out with the same bits as on an AVX2 or AVX-512 machine (test_fma_definition in
// test_gemm.cc checks each against that definition; x86's batch-1 GEMV sums in its own order). Tested under
// qemu-aarch64 (npm run test:arm64); its speed has not been measured on arm64 hardware yet.
#include <arm_neon.h>

#include <cstring>

#include "gemm_blocking.h"
#include "gemm_portable.h"

namespace tg {
namespace gemm {
namespace {

constexpr int MR = kBlockingNeon.mr;
constexpr int NR = kBlockingNeon.nr;
static_assert(MR == 8 && NR == 12, "the NEON microkernel is written for 8x12");

template <bool kRows>
void tile(int rows, int cols, int64_t kc, const float* a, int64_t as, const float* b, int64_t bs, float* c,
          int64_t ldc, const Tile& t) {
  float32x4_t acc[MR][3];
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = acc[i][2] = vdupq_n_f32(0.0f);
  for (int64_t p = 0; p < kc; ++p) {
    const float* bp = b + p * bs;
    const float32x4_t b0 = vld1q_f32(bp), b1 = vld1q_f32(bp + 4), b2 = vld1q_f32(bp + 8);
    if (kRows) {  // a(i, p) = a[i*as + p]: one scalar per row
      for (int i = 0; i < MR; ++i) {
        const float x = a[i * as + p];
        acc[i][0] = vfmaq_n_f32(acc[i][0], b0, x);
        acc[i][1] = vfmaq_n_f32(acc[i][1], b1, x);
        acc[i][2] = vfmaq_n_f32(acc[i][2], b2, x);
      }
    } else {  // a(i, p) = a[p*as + i]: the 8 rows are adjacent, two vectors, FMA by lane
      const float32x4_t a0 = vld1q_f32(a + p * as), a1 = vld1q_f32(a + p * as + 4);
#define TG_ROW(i, v, l)                                  \
  acc[i][0] = vfmaq_laneq_f32(acc[i][0], b0, v, l);      \
  acc[i][1] = vfmaq_laneq_f32(acc[i][1], b1, v, l);      \
  acc[i][2] = vfmaq_laneq_f32(acc[i][2], b2, v, l);
      TG_ROW(0, a0, 0)
      TG_ROW(1, a0, 1)
      TG_ROW(2, a0, 2)
      TG_ROW(3, a0, 3)
      TG_ROW(4, a1, 0)
      TG_ROW(5, a1, 1)
      TG_ROW(6, a1, 2)
      TG_ROW(7, a1, 3)
#undef TG_ROW
    }
  }
  float out[MR][NR];
  for (int i = 0; i < MR; ++i) {
    vst1q_f32(&out[i][0], acc[i][0]);
    vst1q_f32(&out[i][4], acc[i][1]);
    vst1q_f32(&out[i][8], acc[i][2]);
  }
  // The store step of the x86 kernels, element by element (see Tile and gemm_kernel_avx2.cc).
  portable::store_tile<true>(out, rows, cols, c, ldc, t);
}

}  // namespace

const Kernels& kernels_neon() {
  static const Kernels k{"neon",
                         kBlockingNeon,
                         &portable::panels<MR, tile<false>>,
                         &portable::panels<MR, tile<true>>,
                         &portable::pack_a<MR>,
                         &portable::pack_b<NR>,
                         nullptr};
  return k;
}

}  // namespace gemm
}  // namespace tg
