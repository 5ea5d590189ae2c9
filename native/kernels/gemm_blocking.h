// GEMM internals shared by the driver (gemm.cc) and the per-ISA kernel files: the block sizes
// (data, one set per instruction set, not constants buried in loops) and the GEMM part of the
// dispatch table (kernels/dispatch.h) each ISA file provides. Not part of the public API (that is
// gemm.h).
#pragma once

#include <cstdint>

// Whether the x86 kernels run their k loops as inline assembly (gemm_kernel_avx2.cc, and the
// AVX-512 narrow kernel's loop over rows of A read in place). AddressSanitizer does not see the
// loads of inline assembly, so sanitizer builds (and builds with TG_GEMM_NO_ASM) run the same k
// loops written with intrinsics: same loads, same FMAs in the same order, so the same bits, with
// every load checked.
#if defined(__SANITIZE_ADDRESS__) || defined(TG_GEMM_NO_ASM)
#define TG_GEMM_ASM 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TG_GEMM_ASM 0
#endif
#endif
#ifndef TG_GEMM_ASM
#define TG_GEMM_ASM 1
#endif

namespace tg {
namespace gemm {

// Register and cache blocking for one microkernel (Goto/BLIS names).
struct Blocking {
  int mr;  // rows of C per microkernel call (rows of a packed A micro-panel)
  int nr;  // columns of C per microkernel call (columns of a packed B micro-panel)
  int kc;  // target depth of one K block: K is split into ceil(k/kc) blocks of equal size
           // (784 -> 4 x 196, not 3 x 256 + 16); a kc x nr B micro-panel stays in L1
  int mc;  // rows of op(A) per packed A block (multiple of mr); mc x kc stays in L2
  int nc;  // columns of op(B) per packed B block (multiple of nr); kc x nc stays in L3
  // Skinny-shape paths (per tile of C, so they may differ between threads without changing C):
  int direct_a_max_n;  // read op(A) in place, unpacked, when the tile has at most this many
                       // columns (each A panel then meets few B micro-panels and packing it costs
                       // more than it saves) and at most mc rows
  int direct_b_max_m;     // read a row-major B in place when the tile has at most this many rows
                          // (each B micro-panel then meets few A panels), or when
  int direct_b_max_span;  // the rows of a B micro-panel span at most this many floats of memory
                          // (kc*ldb: they then sit in L1 together; with a larger stride they
                          // conflict in L1 and are re-read from L2 for every A panel)
  double min_parallel_flops;  // below this 2*m*n*k the product runs on the calling thread (see
                              // the threading thresholds below)
  int pack_a_cols_per_k;  // 0, or pack op(A) after all when the tile has at least 3 B micro-panels
                          // and at least this many columns per step of k: reading A in place
                          // costs a setup per pair of A panel and B micro-panel that a short k
                          // does not amortise, while packing costs once per A panel
};

// AVX2+FMA, 6x16 microkernel (12 ymm accumulators). Tuned on AMD EPYC (Zen 4: 32 KiB L1d,
// 1 MiB L2 per core, 32 MiB L3): the B micro-panel is kc*16*4 = 16 KiB at kc = 256, an A block
// mc*kc*4 = 144 KiB, a B block kc*nc*4 = 4 MiB.
inline constexpr Blocking kBlockingAvx2{6, 16, 256, 144, 4080, 256, 24, 8192, 0.5e6, 0};

// AVX-512F, 12x32 microkernel (24 zmm accumulators). The same kc as AVX2 (so the K blocks, and
// with them the results, are the same); the B micro-panel is kc*32*4 = 32 KiB (L1d is 32-48 KiB
// on AVX-512 servers), an A block 144*256*4 = 144 KiB, a B block kc*nc*4 = 4 MiB.
// pack_a_cols_per_k: the in-place k loop (intrinsics) keeps 7 of its 12 row pointers in registers
// and reloads the rest from the stack, so each panel-against-micro-panel call starts slowly. On one
// core of a Zen 4 VM, packed A against in place (alternating in one process, two placements of C):
// 128x256x10 NN (the 10-class layer's input gradient) +4-9%, 32x256x10 +8-13%, 128x256x16 +5-8%,
// 128x128x8 +4-9%, 128x200x12 +5-8%, 128x256x24 +4-5%, 128x256x32 +2%; 128x256x64 and longer k
// even (within 1%); fewer than 3 micro-panels lost (128x48x3 -4-7%, 128x32x2 -7-9%). AVX2's k loop
// is assembly and showed no gain (128x256x10 -2 to +1%), so its entry is 0.
inline constexpr Blocking kBlockingAvx512{12, 32, 256, 144, 4096, 256, 24, 8192, 1.2e6, 8};

// AVX-512F, 16x16 narrow microkernel (16 zmm accumulators, one per row), for products at most 16
// columns wide: the same kc, so the same bits as the 12x32 kernel and AVX2's. mc is unbounded: such
// a product always reads op(A) in place (each A panel meets a single B micro-panel, so packing
// it never pays: 512x10x256 took 33 us with A packed in 144-row blocks, 23 us in place).
inline constexpr Blocking kBlockingAvx512Narrow{16, 16, 256, 1 << 30, 4096, 256, 24, 8192, 1.2e6, 0};

// AVX-512F, the tall kernel for products at most kTallMaxN columns wide (gemm_kernel_avx512.cc): the
// lanes run along 16 rows of C, one accumulator per column, and B is the 16-column micro-panel of
// the narrow kernel. op(A) is read in place as for the narrow kernel (mc unbounded: each A panel
// meets a single B micro-panel): a transposed A gives a k step's 16 rows adjacent, a row-major one
// is transposed in registers 8 k steps at a time. The same kc, so the same bits.
inline constexpr Blocking kBlockingAvx512Tall{16, 16, 256, 1 << 30, 4096, 256, 24, 8192, 1.2e6, 0};
inline constexpr int64_t kTallMaxN = 12;
static_assert(kBlockingAvx512Tall.nr == kBlockingAvx512Narrow.nr && kBlockingAvx512Tall.kc == kBlockingAvx512Narrow.kc,
              "a weight packed for the 16x16 kernel serves the tall one (gemm.cc: kernels_for)");

// aarch64 NEON, 8x12 microkernel (24 of the 32 vector registers hold accumulators). The same kc as
// the x86 kernels; not yet tuned on arm64 hardware (tested under qemu-aarch64 only).
inline constexpr Blocking kBlockingNeon{8, 12, 256, 128, 2040, 256, 24, 8192, 0.5e6, 0};

// Portable C++ (SSE2 baseline after auto-vectorisation), 4x8 microkernel.
inline constexpr Blocking kBlockingScalar{4, 8, 256, 128, 2048, 256, 24, 8192, 0.5e6, 0};

// Threading thresholds on 2*m*n*k, measured on 2 threads (2-vCPU Zen 4 KVM guest) with GEMMs
// issued back to back (workers awake) and 1 ms apart (workers asleep):
//  - below Blocking::min_parallel_flops the driver always runs on the calling thread. AVX2 (and
//    the kernels not measured): 0.5 MFLOP (64^3: 5.1 us alone, 4.3 us on 2 awake threads;
//    smaller jobs gain nothing). AVX-512, whose kernel does 64^3 in 2.8 us (2-vCPU Zen 5 guest):
//    1.2 MFLOP, since split it took 5.5 us, 72^3 and 80^3 came out even, 96^3 gained 1.23x; in
//    training steps of a 64-64-64-10 MLP at batch 64 on 2 threads (two builds alternating in one
//    process) 92-96 -> 64-65 us, as fast as 1 thread, the 784-512-256-10 MLP unchanged at batch 32
//    and 128 (within 2%);
//  - below kMinWakeFlops it runs on the calling thread when a worker is asleep: waking one costs
//    more than the job gains (160^3, 8 MFLOP: 79 us alone, 94 us waking a worker; 192^3: 131 vs
//    138 us; 128x256x512, 34 MFLOP: 340 vs 255 us). Larger jobs wake the pool, which then stays
//    awake for the smaller ones that follow (see kSpin in threadpool.cc), and so does a stream
//    of smaller ones once they add up to kMinWakeFlops.
// The batch-1 path (gemv) reads each weight once: it is bound by memory, not arithmetic, and two
// threads halve a 256x512 layer (6.7 -> 3.9 us) where the flops rule kept it on one.
inline constexpr double kMinParallelGemvFlops = 0.125e6;
// Products of at most this many rows against a weight stored [out, in] (NT, A not transposed) run
// as dot products over the weight rows in place (gemv_avx2.cc) instead of the packed GEMM, whose
// cost hardly changes up to 12 rows (one panel of its 12-row tile) while the dot products' grows
// with each pair of rows. Measured on one thread of the Intel VM, weights in L2, the packed path
// against the dot products: 256x512 at 2, 4 and 6 rows 38.3/10.0, 38.7/19.4 and 40.3/28.7 us;
// 512x784 113.6/30.4, 116.0/61.1 and 119.1/91.8 us (the first version of the dot products, at
// about 45 GFLOP/s against 53-60 now, lost from 7 rows: 119.3/135.4 us at 512x784). With the
// AVX-512 kernel's groups of four rows (gemv_avx512.cc) the limit rose from 6 to 8, one value for
// both x86 tables so that they keep giving the same bits: 784-512-256-10 forward at batch 7 and
// 8, packed against dot products, AVX-512 171/172 -> 109/111 us on 1 thread and 92/93 -> 49/48
// on 2; AVX2 193/191 -> 154/159 and 91/89 -> 67/72. At 10 and 12 rows AVX2's pairs lost (1
// thread: 195/193 -> 207/245 us) while AVX-512 still gained (179/178 -> 133/151).
inline constexpr int64_t kGemvMaxRows = 8;
inline constexpr double kMinWakeFlops = 16.0e6;
// Cost (in grid_cost's cycles) per element of C, and per element of op(A) and op(B), of a task on
// another core: its part of C goes back to the caller's cache, its inputs come from there. Counted
// only for products whose operands fit in about one core's L2 (kMigrateMaxBytes); a larger one
// streams through L3 whichever core runs it. Fitted on a 2-vCPU Zen 5 guest to 2-thread products
// that measured slower split than alone (128x256x10, 512x256x10 and 10x256x128 TN) and ones that
// measured faster (96^3, 128^3, 128x10x256 NT). Which grid a small product that does split runs
// is timed in place (gemm_split_tuner.h).
inline constexpr double kMigrateC = 1.6;
inline constexpr double kMigrateIn = 0.4;
inline constexpr double kMigrateMaxBytes = 1 << 20;

// Parameters of one microkernel call's store step (the fused epilogue).
//   acc = sum over p of a(i, p) * b(p, j), accumulated with one FMA per p in increasing p
//   first block of K (first):  c = alpha*acc + beta*c_old   (c_old not read when beta == 0)
//   later blocks:              c = c_old + alpha*acc
//   last block of K (last):    c = c + bias[j], then relu if asked (NaN stays NaN)
struct Tile {
  float alpha;
  float beta;
  const float* bias;  // bias of this tile's first column (nr entries), or nullptr
  bool first;
  bool last;
  bool relu;
  bool c_far;  // C is too large to stay in L2 from one K block to the next (kFarCBytes): a kernel
               // may fetch the next tile's rows of C ahead
  const float* b_next = nullptr;  // the packed kc x nr B micro-panel the driver's next call reads,
                                  // which a kernel may fetch into L2 during this one; nullptr: none
};

// C at least this large (bytes) counts as far (Tile::c_far): its lines come from L3 or memory.
inline constexpr double kFarCBytes = 4 << 20;

// The millikernel: C[0 : mp*mr, 0 : nr] (leading dimension ldc) <- store step of
// sum_{p<kc} a(i, p) * b[p*b_ks + j], for mp row panels of mr rows against one B micro-panel.
// Row panel q starts at a + q*a_ps; within it
//   panel_a: a(i, p) = a[p*a_s + i]  (a packed micro-panel: a_s = mr; op(A) = A^T in place: a_s = lda)
//   rows_a:  a(i, p) = a[i*a_s + p]  (op(A) = A row-major in place: a_s = lda)
// All mr rows and nr columns are computed (A and B must hold them, zero-padded at the edges), but
// only the first `rows` rows of the last panel and the first `cols` columns are stored; C outside
// those is neither read nor written. Both variants do the same arithmetic in the same order, so the
// driver may pick either per tile without changing a single bit of C.
using MicroKernel = void (*)(int64_t mp, int rows, int cols, int64_t kc, const float* a, int64_t a_ps, int64_t a_s,
                             const float* b, int64_t b_ks, float* c, int64_t ldc, const Tile& t);

// Packs op(A)[0:mc, 0:kc] into ceil(mc/mr) micro-panels: element (i, p) of panel q goes to
// dst[q*mr*kc + p*mr + i]; rows past mc are zero. a points at op(A)(0, 0): op(A)(i, p) is
// a[i*lda + p], or a[p*lda + i] when trans. May write up to kPackSlack floats past the end.
using PackA = void (*)(bool trans, const float* a, int64_t lda, int64_t mc, int64_t kc, float* dst);

// Packs op(B)[0:kc, 0:nc] into ceil(nc/nr) micro-panels: element (p, j) of panel q goes to
// dst[q*kc*nr + p*nr + j]; columns past nc are zero. op(B)(p, j) is b[p*ldb + j], or b[j*ldb + p]
// when trans. May write up to kPackSlack floats past the end.
using PackB = void (*)(bool trans, const float* b, int64_t ldb, int64_t kc, int64_t nc, float* dst);

inline constexpr int64_t kPackSlack = 16;

// y[j] = act(alpha·dot(x, B[j,:]) + beta·y[j] + bias[j]) for j in [j0, j1): one row of A against a
// row-major n x k B (the NT form at m = 1). beta == 0 does not read y; bias may be nullptr.
// Outputs [j0, j1) of the m rows of A (row i at A + i*lda, its outputs at C + i*ldc) against B
// stored [n, k]; descending: the first pass over B visits them from j1 - 1 down to j0 (same bits:
// each output is summed alone).
using GemvNT = void (*)(int64_t m, int64_t j0, int64_t j1, int64_t k, float alpha, const float* A, int64_t lda,
                        const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* bias, bool relu,
                        bool descending);

struct Kernels {
  const char* name;
  Blocking blk;
  MicroKernel panel_a;
  MicroKernel rows_a;
  PackA pack_a;
  PackB pack_b;
  GemvNT gemv_nt;  // nullptr: products of few rows go through the packed path
};

void gemv_nt_avx2(int64_t m, int64_t j0, int64_t j1, int64_t k, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* bias, bool relu,
                  bool descending);  // gemv_avx2.cc
void gemv_nt_avx512(int64_t m, int64_t j0, int64_t j1, int64_t k, float alpha, const float* A, int64_t lda,
                    const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* bias, bool relu,
                    bool descending);  // gemv_avx512.cc: same bits as gemv_nt_avx2
// The walk for this call of the batch-1 path over weight B on this thread: the opposite of the
// previous call's (gemm.cc; exposed for tests).
bool gemv_descending(const float* B);

const Kernels& kernels_scalar();  // gemm_kernel_scalar.cc
const Kernels& kernels_avx2();    // gemm_kernel_avx2.cc: call only when the CPU has AVX2 and FMA
const Kernels& kernels_avx512();  // gemm_kernel_avx512.cc: call only when the CPU and OS have AVX-512
const Kernels& kernels_avx512_narrow();  // the same file's 16x16 kernel, same conditions
const Kernels& kernels_avx512_tall();    // the same file's tall kernel (n <= kTallMaxN), same conditions
const Kernels& kernels_neon();    // gemm_kernel_neon.cc: aarch64 builds only

}  // namespace gemm
}  // namespace tg
