// SGEMM driver: Goto/BLIS blocking and packing around the per-ISA millikernel (an mr x nr
// register-blocked microkernel looped over the row panels of one B micro-panel), threading over
// M and N.
//
// Loop nest for one tile of C (rows [i0, i1), columns [j0, j1)); the whole C when single-threaded:
//   for jc in steps of nc                 B block columns
//     for pc in K blocks (equal sizes)     pack op(B)[pc, jc] (kc x nc) into nr-column micro-panels
//       for ic in steps of mc              pack op(A)[ic, pc] (mc x kc) into mr-row micro-panels
//         for jr in micro-panels of B      (kc x nr panel stays in L1)
//           for ir in micro-panels of A    microkernel: mr x nr tile of C, in registers
// Packing absorbs the transposes, so NN, NT, TN and TT run the same inner loops.
//
// Small and skinny shapes (the MLP layers: m = 128 and k or n of a few hundred) are dominated by
// the cost of packing rather than by the microkernel, so the driver skips what it can (block
// sizes and thresholds: gemm_blocking.h):
//   - op(A) is read in place when the tile is narrow (n <= direct_a_max_n: each A panel meets few
//     B micro-panels, so packing does not pay) and short (m <= mc: one A block; taller tiles
//     measured faster packed), unless k is short for its width (Blocking::pack_a_cols_per_k):
//     through a row stride when A is row-major, through a k stride when A is transposed (a k
//     step's mr values are then adjacent). Only a partial last row panel is packed (zero-padded).
//   - op(B) is read in place when it is row-major (NN, TN) and the tile is short
//     (m <= direct_b_max_m). Otherwise, when all rows of the tile fit one A block (m <= mc), each
//     B micro-panel is packed just before its use, into a buffer that stays in L1; else the whole
//     kc x nc block is packed once and shared by all A blocks.
// Packing only moves data: the microkernel does the same FMAs in the same order whatever the path.
//
// Threads: C is cut into a grid of tm x tn tiles on micro-panel boundaries, one task per thread,
// the grid chosen (best_grid) to balance the tiles and to minimise duplicated packing (a tile
// packs only its own columns of B and its own rows of A); for a small product, timed against the
// splits by rows and by columns alone on its first calls (gemm_split_tuner.h). K is never split and its block
// boundaries depend on k alone, and an edge tile is computed by the same microkernel on
// zero-padded panels with only its valid part stored, so every element of C sees exactly the same
// sequence of operations for any number of threads: results are bitwise identical.
#include "gemm.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "kernels/dispatch.h"
#include "kernels/gemm_split_tuner.h"
#include "threadpool.h"

namespace tg {

namespace {

using gemm::Kernels;
using gemm::Tile;

// Grow-only 64-byte-aligned scratch; one set per thread (pool workers are persistent), so a
// steady stream of GEMMs allocates nothing.
struct AlignedBuf {
  float* ptr = nullptr;
  size_t cap = 0;
  size_t release() {
    const size_t bytes = cap * sizeof(float);
    std::free(ptr);
    ptr = nullptr;
    cap = 0;
    return bytes;
  }
  float* get(size_t n) {
    if (n > cap) {
      std::free(ptr);
      ptr = nullptr;
      cap = 0;
      const size_t bytes = (n * sizeof(float) + 63) & ~size_t(63);
      ptr = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!ptr) throw std::bad_alloc();
      cap = bytes / sizeof(float);
    }
    return ptr;
  }
  AlignedBuf() = default;
  AlignedBuf(const AlignedBuf&) = delete;
  AlignedBuf& operator=(const AlignedBuf&) = delete;
  ~AlignedBuf() { std::free(ptr); }
};

struct Scratch {
  AlignedBuf a;       // packed A block, mc x kc
  AlignedBuf b;       // packed B block, kc x nc
  AlignedBuf bpanel;  // one packed B micro-panel, kc x nr
  AlignedBuf edge_a;  // one packed (partial) A micro-panel, mr x kc
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

struct Problem {
  bool ta, tb;
  int64_t m, n, k;
  float alpha, beta;
  const float* A;
  int64_t lda;
  const float* B;
  int64_t ldb;
  float* C;
  int64_t ldc;
  const float* bias;
  bool relu;
  const Kernels* kr;
  int64_t kc;     // K block size (the last block may be shorter)
  const float* packed_b = nullptr;  // op(B) packed by pack_weight (past its header), or null
  int64_t packed_kstride = 0;       // floats from one K block of packed_b to the next
};

// Equal K blocks: ceil(k / ceil(k / kc)), rounded up to a multiple of 8 (whole 8x8 transposes
// when packing) when there are several, so 784 is 200+200+200+184 rather than 3 x 256 + 16.
// Depends on k alone, never on the thread split: every element of C sees the same boundaries.
int64_t k_block(const Kernels& K, int64_t k) {
  const int64_t nkb = (k + K.blk.kc - 1) / K.blk.kc;
  int64_t kc = (k + nkb - 1) / nkb;
  if (nkb > 1) kc = (kc + 7) / 8 * 8;
  return kc;
}

// The header of a pack_weight buffer (64 bytes, so the panels after it keep the buffer's
// alignment): what the panels were packed for.
struct PackedHeader {
  uint32_t magic;
  uint32_t nr;
  int64_t n, k, kc;
};
constexpr uint32_t kPackedMagic = 0x42504754;  // "TGPB"
constexpr int64_t kPackedHeaderFloats = 16;
static_assert(sizeof(PackedHeader) <= kPackedHeaderFloats * sizeof(float), "the header fits its 64 bytes");

// Floats per K block of a packed weight: every micro-panel at the longest block's depth.
int64_t packed_kstride(const Kernels& K, int64_t n, int64_t kc) { return (n + K.blk.nr - 1) / K.blk.nr * K.blk.nr * kc; }

// Floats of a pack_weight buffer for W [n, k] in K's layout.
int64_t packed_floats_for(const Kernels& K, int64_t n, int64_t k) {
  if (n <= 0 || k <= 0) return kPackedHeaderFloats;
  const int64_t kc = k_block(K, k);
  return kPackedHeaderFloats + (k + kc - 1) / kc * packed_kstride(K, n, kc) + gemm::kPackSlack;
}

// Whether a pack_weight buffer's header says it was packed for this shape in K's layout.
bool header_matches(const float* p, const Kernels& K, int64_t n, int64_t k) {
  PackedHeader h;
  std::memcpy(&h, p, sizeof h);
  return h.magic == kPackedMagic && h.nr == static_cast<uint32_t>(K.blk.nr) && h.n == n && h.k == k &&
         h.kc == k_block(K, k);
}

// Address of op(A)(i, p) and op(B)(p, j).
inline const float* a_at(const Problem& P, int64_t i, int64_t p) {
  return P.ta ? P.A + p * P.lda + i : P.A + i * P.lda + p;
}
inline const float* b_at(const Problem& P, int64_t p, int64_t j) {
  return P.tb ? P.B + j * P.ldb + p : P.B + p * P.ldb + j;
}

// Whether a tile with `rows` rows reads a row-major B in place (see Blocking::direct_b_max_m).
inline bool direct_b_ok(const Problem& P, int64_t rows) {
  const gemm::Blocking& b = P.kr->blk;
  return !P.tb && (rows <= b.direct_b_max_m || std::min(P.kc, P.k) * P.ldb <= b.direct_b_max_span);
}

// Whether a tile of `rows` x `cols` reads op(A) in place (see Blocking::direct_a_max_n and
// pack_a_cols_per_k); only a partial last row panel is then packed.
inline bool direct_a_ok(const Problem& P, int64_t rows, int64_t cols) {
  const gemm::Blocking& b = P.kr->blk;
  if (rows > b.mc || cols > b.direct_a_max_n) return false;
  return b.pack_a_cols_per_k == 0 || cols < 3 * b.nr || cols < b.pack_a_cols_per_k * P.k;
}

void run_tile(const Problem& P, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
  const Kernels& K = *P.kr;
  const int MR = K.blk.mr, NR = K.blk.nr;
  const int64_t MC = K.blk.mc, NC = K.blk.nc;
  const int64_t kc_max = std::min(P.kc, P.k);
  Scratch& s = scratch();
  const bool one_ic = i1 - i0 <= MC;  // the tile's rows form a single A block
  const bool direct_a = direct_a_ok(P, i1 - i0, j1 - j0);
  const bool packed_b = P.packed_b != nullptr;
  const bool direct_b = !packed_b && direct_b_ok(P, i1 - i0);
  const bool block_b = !packed_b && !direct_b && !one_ic;
  float* const bufb = block_b ? s.b.get(kc_max * (std::min(NC, j1 - j0) + NR) + gemm::kPackSlack) : nullptr;
  float* const bufa = !direct_a ? s.a.get(kc_max * (std::min(MC, i1 - i0) + MR) + gemm::kPackSlack) : nullptr;
  float* const bufp = !block_b && !packed_b ? s.bpanel.get(kc_max * NR + gemm::kPackSlack) : nullptr;
  float* const edgea = direct_a ? s.edge_a.get(kc_max * MR + gemm::kPackSlack) : nullptr;

  const bool c_far = 4.0 * static_cast<double>(P.m) * static_cast<double>(P.n) >= gemm::kFarCBytes;
  for (int64_t jc = j0; jc < j1; jc += NC) {
    const int64_t nc = std::min(NC, j1 - jc);
    for (int64_t pc = 0; pc < P.k; pc += P.kc) {
      const int64_t kcb = std::min(P.kc, P.k - pc);
      Tile t{P.alpha, P.beta, nullptr, pc == 0, pc + kcb == P.k, P.relu, c_far};
      if (block_b) K.pack_b(P.tb, b_at(P, pc, jc), P.ldb, kcb, nc, bufb);
      for (int64_t ic = i0; ic < i1; ic += MC) {
        const int64_t mc = std::min(MC, i1 - ic);
        const int64_t mp_full = mc / MR;
        const int rows_last = static_cast<int>(mc - (mc - 1) / MR * MR);  // rows of the last panel
        if (!direct_a) {
          K.pack_a(P.ta, a_at(P, ic, pc), P.lda, mc, kcb, bufa);
        } else if (mp_full * MR < mc) {
          K.pack_a(P.ta, a_at(P, ic + mp_full * MR, pc), P.lda, mc - mp_full * MR, kcb, edgea);
        }
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int cols = static_cast<int>(std::min<int64_t>(NR, nc - jr));
          const float* bp;
          int64_t b_ks = NR;
          if (packed_b) {
            const float* const kblock = P.packed_b + (pc / P.kc) * P.packed_kstride;
            bp = kblock + (jc + jr) / NR * kcb * NR;
            t.b_next = jr + NR < nc ? bp + kcb * NR : ic + MC < i1 ? kblock + jc / NR * kcb * NR : nullptr;
          } else if (direct_b && cols == NR) {
            bp = b_at(P, pc, jc + jr);
            b_ks = P.ldb;
          } else if (!block_b) {
            K.pack_b(P.tb, b_at(P, pc, jc + jr), P.ldb, kcb, cols, bufp);
            bp = bufp;
          } else {
            bp = bufb + (jr / NR) * kcb * NR;
            // The next call's B micro-panel: the next one of this block, or its first one for the
            // next A block (a block of B larger than L2 is read from L3 again for every A block).
            t.b_next = jr + NR < nc ? bp + kcb * NR : ic + MC < i1 ? bufb : nullptr;
          }
          t.bias = P.bias ? P.bias + jc + jr : nullptr;
          float* c = P.C + ic * P.ldc + jc + jr;
          if (!direct_a) {
            K.panel_a((mc + MR - 1) / MR, rows_last, cols, kcb, bufa, kcb * MR, MR, bp, b_ks, c, P.ldc, t);
            continue;
          }
          if (mp_full > 0) {
            const float* ap = a_at(P, ic, pc);
            if (P.ta) {
              K.panel_a(mp_full, MR, cols, kcb, ap, MR, P.lda, bp, b_ks, c, P.ldc, t);
            } else {
              K.rows_a(mp_full, MR, cols, kcb, ap, MR * P.lda, P.lda, bp, b_ks, c, P.ldc, t);
            }
          }
          if (mp_full * MR < mc) {
            K.panel_a(1, rows_last, cols, kcb, edgea, 0, MR, bp, b_ks, c + mp_full * MR * P.ldc, P.ldc, t);
          }
        }
      }
    }
  }
}

// k == 0 or alpha == 0: C = act(beta·C + bias), A and B unread.
void scale_only(int64_t m, int64_t n, float beta, float* C, int64_t ldc, const float* bias, bool relu) {
  for (int64_t i = 0; i < m; ++i) {
    float* c = C + i * ldc;
    for (int64_t j = 0; j < n; ++j) {
      float v = beta == 0.0f ? 0.0f : beta * c[j];
      if (bias) v += bias[j];
      if (relu && v < 0.0f) v = 0.0f;
      c[j] = v;
    }
  }
}

// Splits `panels` micro-panels into `parts` contiguous runs as evenly as possible; part r covers
// panels [r*panels/parts, (r+1)*panels/parts).
inline int64_t part_start(int64_t panels, int parts, int r) { return panels * r / parts; }

struct Grid {
  int tm = 1, tn = 1;
};

// Products whose operands fit in about one core's L2 (gemm_blocking.h: kMigrateMaxBytes): their
// data moves between cores when split, and how to split them is timed (gemm_split_tuner.h).
bool fits_one_core(int64_t m, int64_t n, int64_t k) {
  return 4.0 * (double(m) * double(k) + double(k) * double(n) + double(m) * double(n)) <= gemm::kMigrateMaxBytes;
}

// Estimated time of a tm x tn grid of tasks on `threads` threads, or a negative value when the
// grid does not fit the micro-panels: microkernel cycles on whole micro-panels plus about one
// cycle per element packed, per tile, times tiles per thread. With `migration`, a tile also pays
// for moving its data between cores when the whole product is small enough to live in one
// core's L2 (a larger one streams through L3 whichever core runs it): its rows of op(A) and
// columns of op(B) were last written by the thread that made them (the caller, usually) and its
// part of C is read next by the caller (gemm_blocking.h: kMigrateC, kMigrateIn). That is what
// makes a product with a short K (128x256x10: 3.9 us alone, 7.7 us split over 2 threads on a
// 2-vCPU Zen 5 guest) slower when split.
double grid_cost(const Problem& P, int threads, int tm, int tn, bool migration) {
  const Kernels& K = *P.kr;
  const int64_t MR = K.blk.mr, NR = K.blk.nr;
  const int64_t pm = (P.m + MR - 1) / MR, pn = (P.n + NR - 1) / NR;
  if (tm > pm || tn > pn) return -1;
  const double rows = double((pm + tm - 1) / tm * MR), cols = double((pn + tn - 1) / tn * NR);
  const double kk = double(P.k);
  double cost = rows * cols * kk / 16.0;  // 2 flops per FMA lane, 32 flops per cycle
  if (!direct_a_ok(P, static_cast<int64_t>(rows), static_cast<int64_t>(cols))) {  // packs its rows of A, once per B block
    cost += rows * kk * std::ceil(cols / double(K.blk.nc));
  }
  if (!direct_b_ok(P, static_cast<int64_t>(rows))) cost += cols * kk;  // packs its columns of B
  if (migration && fits_one_core(P.m, P.n, P.k)) {
    cost += gemm::kMigrateC * rows * cols + gemm::kMigrateIn * (rows * kk + kk * cols);
  }
  cost += 2000;  // starting a task
  return cost * double((tm * tn + threads - 1) / threads);
}

// The grid of tasks with the lowest grid_cost among those with `threads` tasks (or fewer when C
// has fewer micro-panels), the cost of moving data between cores not counted (it decides whether
// to split, in split_pays, not how); a single tile when C has a single micro-panel. For small
// products this is only the first of the grids timed (gemm_split_tuner.h).
// Exactly one task per thread, so the same part of C goes to the same thread from one call to
// the next (the pool's caller always runs task 0): a Linear layer's forward (split over the
// weight's rows as C's columns), its weight gradient (split over the same rows) and the optimizer
// step over that weight (ThreadPool-sized pieces, fused.cc) then find their data in the cache of
// the core that last wrote it. Measured on a 2-vCPU Zen 5 guest against 2 x threads tasks claimed
// in any order (kept for balance when a thread is slowed down) with Adam in 16K-element pieces:
// forward + weight gradient + Adam over a 512x784 weight at batch 32, 420 -> 311 us; whole
// 2-thread training steps 6-10% faster (two builds alternating in one process).
Grid best_grid(const Problem& P, int threads) {
  const int64_t MR = P.kr->blk.mr, NR = P.kr->blk.nr;
  const int64_t panels = ((P.m + MR - 1) / MR) * ((P.n + NR - 1) / NR);
  const int tasks = static_cast<int>(std::min<int64_t>(threads, panels));
  Grid best;
  double cost = -1;
  for (int tm = 1; tm <= tasks; ++tm) {
    if (tasks % tm != 0) continue;
    const double c = grid_cost(P, threads, tm, tasks / tm, false);
    if (c >= 0 && (cost < 0 || c < cost)) {
      cost = c;
      best.tm = tm;
      best.tn = tasks / tm;
    }
  }
  return best;
}

// The cost model's answer to whether grid g beats a single tile, moving data between cores counted.
bool split_pays(const Problem& P, int threads, Grid g) {
  return grid_cost(P, threads, g.tm, g.tn, true) < grid_cost(P, 1, 1, 1, false);
}

// The microkernel table for a product n columns wide: the narrow one when n fits its tile (at
// AVX-512, at most 16 columns would fill half of the 32-column tile or less, and the 16x16 kernel
// does it faster, with the same bits; elsewhere the narrow kernel is the kernel).
// The tall kernel (at most tall_max_n columns) only from one full panel of rows: below that its
// one panel is a packed partial one, which costs more than the lanes it saves (1x10x256 NN: 0.84
// us on the 16x16 kernel, 1.2 us tall). Its B layout and K blocks are the 16x16 kernel's, so a
// weight packed for one serves the other.
const Kernels& kernels_for(const IsaKernels& T, int64_t m, int64_t n) {
  if (n <= T.tall_max_n && m >= T.gemm_tall.blk.mr) return T.gemm_tall;
  return n <= T.gemm_narrow.blk.nr ? T.gemm_narrow : T.gemm;
}

gemm::SplitTuner& split_tuner() {
  thread_local gemm::SplitTuner t;
  return t;
}

gemm::SplitTuner::Key tuner_key(const Problem& P, int threads) {
  return {P.m, P.n, P.k, (P.ta ? 1u : 0u) | (P.tb ? 2u : 0u) | (static_cast<uint32_t>(threads) << 2), P.kr};
}

}  // namespace

// Which way the batch-1 path walks this weight's rows: the opposite of its last call on this
// thread. A model whose weights are a little larger than L2 (784-512-256-10: 2.14 MB against a
// 2 MiB L2) evicts each row before its next use when every call walks the same way; walking
// back first meets the rows used last, still cached. Measured, that model's three gemv calls on
// one thread of the Intel VM: 40-42 -> 32-35 us. Every output is summed alone, so the bits are
// the same either way. Kept per thread in 16 sets of 4 weights, by address, replacing round
// robin: a set of 4 holds a deep model's weights that hash alike, and a weight evicted by a
// fifth only restarts its alternation.
bool gemm::gemv_descending(const float* B) {
  constexpr int kSets = 16, kWays = 4;
  struct Set {
    const float* key[kWays];
    bool next[kWays];
    uint8_t victim;
  };
  thread_local Set sets[kSets] = {};
  Set& set = sets[(reinterpret_cast<uintptr_t>(B) >> 6) * 0x9E3779B97F4A7C15ull >> 60];
  int way = 0;
  while (way < kWays && set.key[way] != B) ++way;
  if (way == kWays) {
    way = set.victim;
    set.victim = static_cast<uint8_t>((set.victim + 1) % kWays);
    set.key[way] = B;
    set.next[way] = false;
  }
  const bool d = set.next[way];
  set.next[way] = !d;
  return d;
}

const char* sgemm_kernel_name() { return active_kernels().gemm.name; }

size_t release_gemm_scratch() {
  Scratch& s = scratch();
  return s.a.release() + s.b.release() + s.bpanel.release() + s.edge_a.release();
}

void sgemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const GemmEpilogue* ep, ThreadPool* pool,
           GemmSplit split) {
  if (m <= 0 || n <= 0) return;
  const float* bias = ep ? ep->bias : nullptr;
  const bool relu = ep ? ep->relu : false;
  if (k <= 0 || alpha == 0.0f) {
    scale_only(m, n, beta, C, ldc, bias, relu);
    return;
  }
  // The table is read once per call.
  const Kernels& K = kernels_for(active_kernels(), m, n);
  const double flops = 2.0 * double(m) * double(n) * double(k);
  // Threads worth using for this job: none below the kernel's min_parallel_flops; below kMinWakeFlops only when
  // the pool is awake, or once every kMinWakeFlops of such jobs (a stream of them is worth waking
  // the pool for).
  auto useful_threads = [&](double min_flops) {
    int t = pool ? pool->threads() : 1;
    if (t <= 1) return 1;
    if (flops < min_flops) return 1;
    if (flops < gemm::kMinWakeFlops && !pool->workers_awake()) {
      static std::atomic<int64_t> cold_flops{0};
      const int64_t f = static_cast<int64_t>(flops);
      if (cold_flops.fetch_add(f, std::memory_order_relaxed) + f < static_cast<int64_t>(gemm::kMinWakeFlops)) return 1;
      cold_flops.store(0, std::memory_order_relaxed);
    }
    return t;
  };
  // A few rows against a weight stored [out, in]: dot products over the weight rows in place (see
  // gemv_avx2.cc), split over outputs.
  if (transB && K.gemv_nt != nullptr && (m == 1 ? !transA || lda == 1 : !transA && m <= gemm::kGemvMaxRows)) {
    const bool descending = gemm::gemv_descending(B);
    const int threads = static_cast<int>(std::min<int64_t>(useful_threads(gemm::kMinParallelGemvFlops), (n + 63) / 64));
    if (threads <= 1) {
      K.gemv_nt(m, 0, n, k, alpha, A, lda, B, ldb, beta, C, ldc, bias, relu, descending);
      return;
    }
    // One piece of whole multiples of 16 outputs per thread: the same rows go to the same piece on
    // every call, and (the caller claiming piece 0 first) mostly to the same core, whose L2 then
    // keeps them from one request to the next.
    const int64_t tasks = threads, per = ((n + tasks - 1) / tasks + 15) / 16 * 16;
    pool->parallel_for(tasks, [&](int64_t t, int /*worker*/) {
      const int64_t j0 = std::min(n, t * per), j1 = std::min(n, j0 + per);
      if (j0 < j1) K.gemv_nt(m, j0, j1, k, alpha, A, lda, B, ldb, beta, C, ldc, bias, relu, descending);
    });
    return;
  }

  Problem P;
  P.ta = transA;
  P.tb = transB;
  P.m = m;
  P.n = n;
  P.k = k;
  P.alpha = alpha;
  P.beta = beta;
  P.A = A;
  P.lda = lda;
  P.B = B;
  P.ldb = ldb;
  P.C = C;
  P.ldc = ldc;
  P.bias = bias;
  P.relu = relu;
  P.kr = &K;
  P.kc = k_block(K, k);
  // The length too, against the table in use here: a buffer checked under another ISA (an async
  // command queued before setIsa) with a header forged to match would be read past its end.
  if (transB && ep != nullptr && ep->packed_b != nullptr && ep->packed_b_floats >= packed_floats_for(K, n, k) &&
      header_matches(ep->packed_b, K, n, k)) {
    P.packed_b = ep->packed_b + kPackedHeaderFloats;
    P.packed_kstride = packed_kstride(K, n, P.kc);
  }

  const int threads = useful_threads(K.blk.min_parallel_flops);
  Grid g;
  if (threads > 1) g = best_grid(P, threads);
  const int64_t MR = K.blk.mr, NR = K.blk.nr;
  const int64_t pm = (m + MR - 1) / MR, pn = (n + NR - 1) / NR;
  auto run = [&](Grid grid) {
    if (grid.tm * grid.tn <= 1) {
      run_tile(P, 0, m, 0, n);
      return;
    }
    pool->parallel_for(grid.tm * grid.tn, [&](int64_t task, int /*worker*/) {
      const int r = static_cast<int>(task / grid.tn), q = static_cast<int>(task % grid.tn);
      const int64_t i0 = part_start(pm, grid.tm, r) * MR, i1 = std::min(m, part_start(pm, grid.tm, r + 1) * MR);
      const int64_t j0 = part_start(pn, grid.tn, q) * NR, j1 = std::min(n, part_start(pn, grid.tn, q + 1) * NR);
      if (i0 < i1 && j0 < j1) run_tile(P, i0, i1, j0, j1);
    });
  };
  // Rows where C has a row panel for every task; a C of fewer panels (the 10-class layer's weight
  // gradient: one panel) is split as any other product.
  const bool rows_only = split == GemmSplit::Rows && g.tm * g.tn > 1 && pm >= g.tm * g.tn;
  if (rows_only) g = Grid{g.tm * g.tn, 1};
  if (g.tm * g.tn <= 1 || !split_pays(P, threads, g)) return run(Grid{});
  if (rows_only) return run(g);
  if (!fits_one_core(m, n, k)) return run(g);
  // A small product that the cost model splits: how to split it is timed (gemm_split_tuner.h)
  // between the model's grid, the split by rows alone and the split by columns alone, where they
  // differ. The model misjudges some: in a column split both threads write every row of C, and
  // with a short K, where a product is bound by its stores of C, that ran up to 3x slower than a
  // split by rows (on a 2-vCPU Xeon: 256x512x32 TN, the weight gradient at batch 32, 50 us by the
  // model's columns, 28 by rows; 512x256x10, 43 us by columns, 13 by rows); 32x512x256 ran 40 us by
  // the model's rows, 32 by columns. Whether to split at all stays the model's call: a split's C
  // is read next by the caller, a cost outside the GEMM's own time (timed alone against split,
  // 128^3 products chose split, and a 128-128-128-10 MLP then trained 6% slower at batch 128).
  const int tasks = g.tm * g.tn;
  Grid ways[gemm::SplitTuner::kMaxWays] = {g};
  int nways = 1;
  for (const Grid c : {Grid{static_cast<int>(std::min<int64_t>(tasks, pm)), 1}, Grid{1, static_cast<int>(std::min<int64_t>(tasks, pn))}}) {
    bool known = c.tm * c.tn <= 1;
    for (int w = 0; w < nways; ++w) known = known || (ways[w].tm == c.tm && ways[w].tn == c.tn);
    if (!known) ways[nways++] = c;
  }
  if (nways == 1) return run(g);
  const gemm::SplitTuner::Key key = tuner_key(P, threads);
  // Timed only with the workers awake: a call that wakes one says how long waking takes (tens of
  // microseconds on a VM), not which way is faster.
  if (!pool->workers_awake()) {
    const int kept = split_tuner().decision(key);
    return run(ways[kept >= 0 ? kept : 0]);
  }
  bool timed;
  const int way = split_tuner().choose(key, nways, &timed);
  if (!timed) return run(ways[way]);
  const auto t0 = std::chrono::steady_clock::now();
  run(ways[way]);
  const std::chrono::duration<double, std::nano> dt = std::chrono::steady_clock::now() - t0;
  split_tuner().record(key, way, dt.count());
}

int64_t packed_weight_floats(int64_t n, int64_t k) { return packed_floats_for(kernels_for(active_kernels(), 0, n), n, k); }

void pack_weight(int64_t n, int64_t k, const float* w, float* dst) {
  const Kernels& K = kernels_for(active_kernels(), 0, n);
  const int64_t kc = k_block(K, k);
  PackedHeader h{kPackedMagic, static_cast<uint32_t>(K.blk.nr), n, k, kc};
  std::memset(dst, 0, kPackedHeaderFloats * sizeof(float));
  std::memcpy(dst, &h, sizeof h);
  if (n <= 0 || k <= 0) return;
  float* const panels = dst + kPackedHeaderFloats;
  const int64_t stride = packed_kstride(K, n, kc);
  // In order of K block: a block's kPackSlack overrun lands in the next one before it is packed
  // (and past the last in the buffer's own slack).
  for (int64_t pc = 0; pc < k; pc += kc) {
    K.pack_b(true, w + pc, k, std::min(kc, k - pc), n, panels + pc / kc * stride);
  }
}

bool packed_weight_fits(const float* p, int64_t floats, int64_t n, int64_t k) {
  if (p == nullptr || n <= 0 || k <= 0 || floats < packed_weight_floats(n, k)) return false;
  return header_matches(p, kernels_for(active_kernels(), 0, n), n, k);
}

int64_t packed_weight_min_rows() { return active_kernels().gemm.gemv_nt != nullptr ? gemm::kGemvMaxRows + 1 : 2; }

int sgemm_split_decision(bool transA, bool transB, int64_t m, int64_t n, int64_t k, const ThreadPool* pool) {
  Problem P{};
  P.ta = transA;
  P.tb = transB;
  P.m = m;
  P.n = n;
  P.k = k;
  P.kr = &kernels_for(active_kernels(), m, n);
  return split_tuner().decision(tuner_key(P, pool ? pool->threads() : 1));
}

}  // namespace tg
