// AVX2+FMA GEMM microkernel (6x16) and packing routines. Compiled with -mavx2 -mfma (see
// CMakeLists.txt) and reached only through kernels_avx2(), in the AVX2 and AVX-512 tables
// (isa_avx2.cc, isa_avx512.cc), which cpu.cc makes active only on CPUs with AVX2 and FMA.
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "gemm_blocking.h"
#include "simd_avx2.h"

namespace tg {
namespace gemm {
namespace {

constexpr int MR = kBlockingAvx2.mr;
constexpr int NR = kBlockingAvx2.nr;
static_assert(MR == 6 && NR == 16, "the AVX2 microkernel is written for 6x16");

using avx2::load_pair;
using avx2::transpose8x8;
using avx2::transpose_paired;

// The k loop is inline assembly: GCC, given the same loop in intrinsics inside the millikernel,
// spills accumulators and pointer strides to the stack (measured 10-20% slower). Per k step: two
// 8-wide loads of B into ymm12/ymm13, six broadcasts of A into ymm14, twelve FMAs into the
// accumulators, which live in registers the compiler picks ("+x" operands; 24 of GCC's 30
// operand slots, so the pointers are copied into clobbered scratch registers: rax = B,
// r10/r11 = A, rcx = counter). Two k steps per iteration; the second reads B at b + bs and A at
// a + as through index addressing.
#define TG_FMA2(C0, C1)                           \
  "vfmadd231ps %%ymm12, %%ymm14, %[" C0 "]\n\t" \
  "vfmadd231ps %%ymm13, %%ymm14, %[" C1 "]\n\t"

// A in packed/transposed layout: a(i, p) at A_BASE + 4*i bytes for the step's p.
#define TG_STEP_PANEL(BADDR, BADDR8, A_BASE)                      \
  "vmovups " BADDR ", %%ymm12\n\t"                               \
  "vmovups " BADDR8 ", %%ymm13\n\t"                              \
  "vbroadcastss 0" A_BASE ", %%ymm14\n\t" TG_FMA2("c00", "c01")  \
  "vbroadcastss 4" A_BASE ", %%ymm14\n\t" TG_FMA2("c10", "c11")  \
  "vbroadcastss 8" A_BASE ", %%ymm14\n\t" TG_FMA2("c20", "c21")  \
  "vbroadcastss 12" A_BASE ", %%ymm14\n\t" TG_FMA2("c30", "c31") \
  "vbroadcastss 16" A_BASE ", %%ymm14\n\t" TG_FMA2("c40", "c41") \
  "vbroadcastss 20" A_BASE ", %%ymm14\n\t" TG_FMA2("c50", "c51")

// A row-major: rows 0-2 at r10 + {0, 1, 2}*as, rows 3-5 at r11 + {0, 1, 2}*as (as in elements,
// scaled by 4 and 8 in the addressing mode); OFF is the byte offset of the k step.
#define TG_STEP_ROWS(BADDR, BADDR8, OFF)                                    \
  "vmovups " BADDR ", %%ymm12\n\t"                                         \
  "vmovups " BADDR8 ", %%ymm13\n\t"                                        \
  "vbroadcastss " OFF "(%%r10), %%ymm14\n\t" TG_FMA2("c00", "c01")         \
  "vbroadcastss " OFF "(%%r10,%[as],4), %%ymm14\n\t" TG_FMA2("c10", "c11") \
  "vbroadcastss " OFF "(%%r10,%[as],8), %%ymm14\n\t" TG_FMA2("c20", "c21") \
  "vbroadcastss " OFF "(%%r11), %%ymm14\n\t" TG_FMA2("c30", "c31")         \
  "vbroadcastss " OFF "(%%r11,%[as],4), %%ymm14\n\t" TG_FMA2("c40", "c41") \
  "vbroadcastss " OFF "(%%r11,%[as],8), %%ymm14\n\t" TG_FMA2("c50", "c51")

#define TG_ACC_OPERANDS                                                                               \
  [c00] "+x"(c00), [c01] "+x"(c01), [c10] "+x"(c10), [c11] "+x"(c11), [c20] "+x"(c20), [c21] "+x"(c21), \
      [c30] "+x"(c30), [c31] "+x"(c31), [c40] "+x"(c40), [c41] "+x"(c41), [c50] "+x"(c50), [c51] "+x"(c51)

#define TG_K_STEP(A0, A1, A2, A3, A4, A5, BP)    \
  do {                                           \
    const __m256 b0 = _mm256_loadu_ps(BP);       \
    const __m256 b1 = _mm256_loadu_ps((BP) + 8); \
    __m256 av = _mm256_broadcast_ss(A0);         \
    c00 = _mm256_fmadd_ps(av, b0, c00);          \
    c01 = _mm256_fmadd_ps(av, b1, c01);          \
    av = _mm256_broadcast_ss(A1);                \
    c10 = _mm256_fmadd_ps(av, b0, c10);          \
    c11 = _mm256_fmadd_ps(av, b1, c11);          \
    av = _mm256_broadcast_ss(A2);                \
    c20 = _mm256_fmadd_ps(av, b0, c20);          \
    c21 = _mm256_fmadd_ps(av, b1, c21);          \
    av = _mm256_broadcast_ss(A3);                \
    c30 = _mm256_fmadd_ps(av, b0, c30);          \
    c31 = _mm256_fmadd_ps(av, b1, c31);          \
    av = _mm256_broadcast_ss(A4);                \
    c40 = _mm256_fmadd_ps(av, b0, c40);          \
    c41 = _mm256_fmadd_ps(av, b1, c41);          \
    av = _mm256_broadcast_ss(A5);                \
    c50 = _mm256_fmadd_ps(av, b0, c50);          \
    c51 = _mm256_fmadd_ps(av, b1, c51);          \
  } while (0)

// How the store step combines the accumulators with C (see Tile). The three kinds give the same
// bits where they overlap: kPlain is kGeneral with alpha 1, no C, no bias, no relu; kAccumulate
// is kGeneral with alpha 1 and beta 1 (fma(1, c, x) rounds exactly like c + x).
enum StoreKind { kPlain, kAccumulate, kGeneral };

struct StoreParams {
  __m256 alpha, beta, bias0, bias1;
  __m256i mask0, mask1;  // column masks when the tile has fewer than 16 valid columns
  int cols;  // valid columns, 1..16
  bool scale, readc, bias, relu;
};

// Stores the first n (0..7) lanes of x.
inline __attribute__((always_inline)) void store_partial(float* p, __m256 x, int n) {
  __m128 v = _mm256_castps256_ps128(x);
  if (n & 4) {
    _mm_storeu_ps(p, v);
    p += 4;
    v = _mm256_extractf128_ps(x, 1);
  }
  if (n & 2) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_castps_si128(v));
    p += 2;
    v = _mm_movehl_ps(v, v);
  }
  if (n & 1) _mm_store_ss(p, v);
}

template <StoreKind kKind, bool kMasked>
inline __attribute__((always_inline)) void store_row(float* cr, __m256 x0, __m256 x1, const StoreParams& sp) {
  if (kKind == kAccumulate || (kKind == kGeneral && sp.readc)) {
    const __m256 o0 = kMasked ? _mm256_maskload_ps(cr, sp.mask0) : _mm256_loadu_ps(cr);
    const __m256 o1 = kMasked ? _mm256_maskload_ps(cr + 8, sp.mask1) : _mm256_loadu_ps(cr + 8);
    if (kKind == kAccumulate) {
      x0 = _mm256_add_ps(o0, x0);
      x1 = _mm256_add_ps(o1, x1);
    } else {
      if (sp.scale) {
        x0 = _mm256_mul_ps(x0, sp.alpha);
        x1 = _mm256_mul_ps(x1, sp.alpha);
      }
      x0 = _mm256_fmadd_ps(sp.beta, o0, x0);
      x1 = _mm256_fmadd_ps(sp.beta, o1, x1);
    }
  } else if (kKind == kGeneral && sp.scale) {
    x0 = _mm256_mul_ps(x0, sp.alpha);
    x1 = _mm256_mul_ps(x1, sp.alpha);
  }
  if (kKind == kGeneral) {
    if (sp.bias) {
      x0 = _mm256_add_ps(x0, sp.bias0);
      x1 = _mm256_add_ps(x1, sp.bias1);
    }
    if (sp.relu) {  // max(0, x) returns x when x is NaN
      x0 = _mm256_max_ps(_mm256_setzero_ps(), x0);
      x1 = _mm256_max_ps(_mm256_setzero_ps(), x1);
    }
  }
  if (kMasked) {  // vmaskmovps stores are slow on AMD (~10 cycles each); split into 4/2/1 stores
    if (sp.cols >= 8) {
      _mm256_storeu_ps(cr, x0);
      store_partial(cr + 8, x1, sp.cols - 8);
    } else {
      store_partial(cr, x0, sp.cols);
    }
  } else {
    _mm256_storeu_ps(cr, x0);
    _mm256_storeu_ps(cr + 8, x1);
  }
}

// The millikernel: mp row panels of 6 against one 16-column B micro-panel. Panel q reads
// a + q*a_ps; within it a(i, p) is a[p*a_s + i] (kRows false) or a[i*a_s + p] (kRows true). Only
// the first `rows` rows of the last panel and the first `cols` columns are stored.
template <bool kRows, StoreKind kKind, bool kMasked>
void milli(int64_t mp, int rows, int64_t kc, const float* a, int64_t a_ps, int64_t as, const float* b, int64_t bs,
           float* c, int64_t ldc, const StoreParams& sp) {
  for (int64_t q = 0; q < mp; ++q, a += a_ps, c += MR * ldc) {
    if (kKind == kAccumulate || (kKind == kGeneral && sp.readc)) {  // C is read in the store step
      const int nrows = q + 1 < mp ? MR : rows;
      for (int r = 0; r < nrows; ++r) {
        _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 15), _MM_HINT_T0);
      }
    }
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
#if !TG_GEMM_ASM
    if (kRows) {
      for (int64_t p = 0; p < kc; ++p) {
        const float* ap = a + p;
        TG_K_STEP(ap, ap + as, ap + 2 * as, ap + 3 * as, ap + 4 * as, ap + 5 * as, b + p * bs);
      }
    } else {
      for (int64_t p = 0; p < kc; ++p) {
        const float* ap = a + p * as;
        TG_K_STEP(ap, ap + 1, ap + 2, ap + 3, ap + 4, ap + 5, b + p * bs);
      }
    }
#else
    const int64_t bsb = bs * 4;  // bytes
    const int64_t pairs = kc >> 1;
    if (kRows) {
      const float* a3 = a + 3 * as;
      if (pairs > 0) {
        __asm__ volatile(
            "mov %[b], %%rax\n\t"
            "mov %[a0], %%r10\n\t"
            "mov %[a3], %%r11\n\t"
            "mov %[n], %%rcx\n\t"
            "1:\n\t" TG_STEP_ROWS("(%%rax)", "32(%%rax)", "0")
                TG_STEP_ROWS("(%%rax,%[bs],1)", "32(%%rax,%[bs],1)", "4")
            "lea (%%rax,%[bs],2), %%rax\n\t"
            "add $8, %%r10\n\t"
            "add $8, %%r11\n\t"
            "dec %%rcx\n\t"
            "jnz 1b\n\t"
            : TG_ACC_OPERANDS
            : [b] "r"(b), [a0] "r"(a), [a3] "r"(a3), [n] "r"(pairs), [as] "r"(as), [bs] "r"(bsb)
            : "rax", "rcx", "r10", "r11", "ymm12", "ymm13", "ymm14", "cc", "memory");
      }
      if (kc & 1) {
        __asm__ volatile(
            "mov %[b], %%rax\n\t"
            "mov %[a0], %%r10\n\t"
            "mov %[a3], %%r11\n\t" TG_STEP_ROWS("(%%rax)", "32(%%rax)", "0")
            : TG_ACC_OPERANDS
            : [b] "r"(b + 2 * pairs * bs), [a0] "r"(a + 2 * pairs), [a3] "r"(a3 + 2 * pairs), [as] "r"(as)
            : "rax", "r10", "r11", "ymm12", "ymm13", "ymm14", "memory");
      }
    } else {
      const int64_t asb = as * 4;
      if (pairs > 0) {
        __asm__ volatile(
            "mov %[b], %%rax\n\t"
            "mov %[a], %%r10\n\t"
            "mov %[n], %%rcx\n\t"
            "1:\n\t" TG_STEP_PANEL("(%%rax)", "32(%%rax)", "(%%r10)")
                TG_STEP_PANEL("(%%rax,%[bs],1)", "32(%%rax,%[bs],1)", "(%%r10,%[as],1)")
            "lea (%%rax,%[bs],2), %%rax\n\t"
            "lea (%%r10,%[as],2), %%r10\n\t"
            "dec %%rcx\n\t"
            "jnz 1b\n\t"
            : TG_ACC_OPERANDS
            : [b] "r"(b), [a] "r"(a), [n] "r"(pairs), [as] "r"(asb), [bs] "r"(bsb)
            : "rax", "rcx", "r10", "ymm12", "ymm13", "ymm14", "cc", "memory");
      }
      if (kc & 1) {
        __asm__ volatile(
            "mov %[b], %%rax\n\t"
            "mov %[a], %%r10\n\t" TG_STEP_PANEL("(%%rax)", "32(%%rax)", "(%%r10)")
            : TG_ACC_OPERANDS
            : [b] "r"(b + 2 * pairs * bs), [a] "r"(a + 2 * pairs * as)
            : "rax", "r10", "ymm12", "ymm13", "ymm14", "memory");
      }
    }
#endif
    if (q + 1 < mp || rows == MR) {
      store_row<kKind, kMasked>(c, c00, c01, sp);
      store_row<kKind, kMasked>(c + ldc, c10, c11, sp);
      store_row<kKind, kMasked>(c + 2 * ldc, c20, c21, sp);
      store_row<kKind, kMasked>(c + 3 * ldc, c30, c31, sp);
      store_row<kKind, kMasked>(c + 4 * ldc, c40, c41, sp);
      store_row<kKind, kMasked>(c + 5 * ldc, c50, c51, sp);
    } else {
      store_row<kKind, kMasked>(c, c00, c01, sp);
      if (rows > 1) store_row<kKind, kMasked>(c + ldc, c10, c11, sp);
      if (rows > 2) store_row<kKind, kMasked>(c + 2 * ldc, c20, c21, sp);
      if (rows > 3) store_row<kKind, kMasked>(c + 3 * ldc, c30, c31, sp);
      if (rows > 4) store_row<kKind, kMasked>(c + 4 * ldc, c40, c41, sp);
    }
  }
}

// A last row panel of at most 4 of the 6 rows (m = 128 and 32 leave 2, m = 10 and 64 leave 4),
// packed (kRows false), on a tile of kER rows: the zero rows' FMAs are skipped. Written with
// intrinsics (at most 8 accumulators, which GCC keeps in registers); each element of C is the same
// FMA chain over k as in the 6-row loop above, so the bits are the same.
template <int kER, StoreKind kKind, bool kMasked>
void edge(int rows, int64_t kc, const float* a, int64_t as, const float* b, int64_t bs, float* c, int64_t ldc,
          const StoreParams& sp) {
  if (kKind == kAccumulate || (kKind == kGeneral && sp.readc)) {
    for (int r = 0; r < rows; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 15), _MM_HINT_T0);
    }
  }
  // Every loop over the rows fully unrolled, or GCC keeps acc in memory and stores it each k step.
  __m256 acc[kER][2];
#pragma GCC unroll 8
  for (int i = 0; i < kER; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int64_t p = 0; p < kc; ++p) {
    __m256 b0 = _mm256_loadu_ps(b + p * bs), b1 = _mm256_loadu_ps(b + p * bs + 8);
    // Pinned to registers: GCC would fold the loads into every FMA, loading B once per row.
    asm("" : "+x"(b0), "+x"(b1));
#pragma GCC unroll 8
    for (int i = 0; i < kER; ++i) {
      const __m256 av = _mm256_broadcast_ss(a + p * as + i);
      acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < kER; ++i) {
    if (i < rows) store_row<kKind, kMasked>(c + i * ldc, acc[i][0], acc[i][1], sp);
  }
}

#undef TG_FMA2
#undef TG_STEP_PANEL
#undef TG_STEP_ROWS
#undef TG_ACC_OPERANDS
#undef TG_K_STEP

// Calls f(kind, masked) with both as std::integral_constant, so that f can pass them on as template
// arguments.
template <class F>
inline void with_store(StoreKind kind, bool masked, F&& f) {
  using P = std::integral_constant<StoreKind, kPlain>;
  using A = std::integral_constant<StoreKind, kAccumulate>;
  using G = std::integral_constant<StoreKind, kGeneral>;
  if (masked) {
    if (kind == kPlain) return f(P{}, std::true_type{});
    if (kind == kAccumulate) return f(A{}, std::true_type{});
    return f(G{}, std::true_type{});
  }
  if (kind == kPlain) return f(P{}, std::false_type{});
  if (kind == kAccumulate) return f(A{}, std::false_type{});
  f(G{}, std::false_type{});
}

template <bool kRows>
void dispatch(StoreKind kind, bool masked, int64_t mp, int rows, int64_t kc, const float* a, int64_t a_ps, int64_t a_s,
              const float* b, int64_t b_ks, float* c, int64_t ldc, const StoreParams& sp) {
  with_store(kind, masked, [&](auto k, auto m) {
    milli<kRows, decltype(k)::value, decltype(m)::value>(mp, rows, kc, a, a_ps, a_s, b, b_ks, c, ldc, sp);
  });
}

template <int kER>
void dispatch_edge(StoreKind kind, bool masked, int rows, int64_t kc, const float* a, int64_t as, const float* b,
                   int64_t bs, float* c, int64_t ldc, const StoreParams& sp) {
  with_store(kind, masked, [&](auto k, auto m) {
    edge<kER, decltype(k)::value, decltype(m)::value>(rows, kc, a, as, b, bs, c, ldc, sp);
  });
}

template <bool kRows>
void kernel(int64_t mp, int rows, int cols, int64_t kc, const float* a, int64_t a_ps, int64_t a_s, const float* b,
            int64_t b_ks, float* c, int64_t ldc, const Tile& t) {
  StoreParams sp;
  sp.scale = t.alpha != 1.0f;
  sp.readc = !t.first || t.beta != 0.0f;
  sp.bias = t.last && t.bias != nullptr;
  sp.relu = t.last && t.relu;
  sp.alpha = _mm256_set1_ps(t.alpha);
  sp.beta = _mm256_set1_ps(t.first ? t.beta : 1.0f);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  sp.mask0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(cols), lane);
  sp.mask1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(cols - 8), lane);
  const bool masked = cols < NR;
  sp.cols = cols;
  sp.bias0 = sp.bias1 = _mm256_setzero_ps();
  if (sp.bias) {
    sp.bias0 = masked ? _mm256_maskload_ps(t.bias, sp.mask0) : _mm256_loadu_ps(t.bias);
    sp.bias1 = masked ? _mm256_maskload_ps(t.bias + 8, sp.mask1) : _mm256_loadu_ps(t.bias + 8);
  }
  const bool extras = sp.scale || sp.bias || sp.relu;
  const StoreKind kind = extras || (sp.readc && t.first && t.beta != 1.0f) ? kGeneral : sp.readc ? kAccumulate : kPlain;
  if (!kRows && rows <= 4) {
    if (mp > 1) dispatch<kRows>(kind, masked, mp - 1, MR, kc, a, a_ps, a_s, b, b_ks, c, ldc, sp);
    const float* const ae = a + (mp - 1) * a_ps;
    float* const ce = c + (mp - 1) * MR * ldc;
    if (rows <= 2) return dispatch_edge<2>(kind, masked, rows, kc, ae, a_s, b, b_ks, ce, ldc, sp);
    return dispatch_edge<4>(kind, masked, rows, kc, ae, a_s, b, b_ks, ce, ldc, sp);
  }
  dispatch<kRows>(kind, masked, mp, rows, kc, a, a_ps, a_s, b, b_ks, c, ldc, sp);
}


void pack_a(bool trans, const float* a, int64_t lda, int64_t mc, int64_t kc, float* dst) {
  for (int64_t i0 = 0; i0 < mc; i0 += MR, dst += MR * kc) {
    const int64_t mr = mc - i0 < MR ? mc - i0 : MR;
    if (mr < MR) {  // partial panel: zero it, then copy the rows there are
      std::memset(dst, 0, sizeof(float) * MR * kc);
      if (trans) {
        for (int64_t p = 0; p < kc; ++p)
          for (int64_t i = 0; i < mr; ++i) dst[p * MR + i] = a[p * lda + i0 + i];
      } else {
        for (int64_t i = 0; i < mr; ++i) {
          const float* src = a + (i0 + i) * lda;
          for (int64_t p = 0; p < kc; ++p) dst[p * MR + i] = src[p];
        }
      }
      continue;
    }
    if (trans) {  // six contiguous floats per k step
      const float* src = a + i0;
      for (int64_t p = 0; p < kc; ++p) {
        _mm_storeu_ps(dst + p * MR, _mm_loadu_ps(src + p * lda));
        _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + p * MR + 4),
                         _mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + p * lda + 4)));
      }
    } else {  // six rows: transpose 8 k steps at a time (rows 6 and 7 read as duplicates of row 5)
      const float* src = a + i0 * lda;
      int64_t p = 0;
      for (; p + 8 <= kc; p += 8) {
        const float* s0 = src + p;
        const float* s1 = s0 + lda;
        const float* s2 = s0 + 2 * lda;
        const float* s3 = s0 + 3 * lda;
        const float* s4 = s0 + 4 * lda;
        const float* s5 = s0 + 5 * lda;
        __m256 r0 = load_pair(s0, s4), r1 = load_pair(s1, s5), r2 = load_pair(s2, s5), r3 = load_pair(s3, s5);
        __m256 q0 = load_pair(s0 + 4, s4 + 4), q1 = load_pair(s1 + 4, s5 + 4), q2 = load_pair(s2 + 4, s5 + 4),
               q3 = load_pair(s3 + 4, s5 + 4);
        transpose_paired(r0, r1, r2, r3);
        transpose_paired(q0, q1, q2, q3);
        // Each column q is 8 floats of which the first 6 belong; the 8-wide stores overlap and are
        // issued in increasing order, so the next one overwrites the 2 extra floats (the last
        // panel's last store writes 2 floats of kPackSlack).
        float* d = dst + p * MR;
        _mm256_storeu_ps(d + 0 * MR, r0);
        _mm256_storeu_ps(d + 1 * MR, r1);
        _mm256_storeu_ps(d + 2 * MR, r2);
        _mm256_storeu_ps(d + 3 * MR, r3);
        _mm256_storeu_ps(d + 4 * MR, q0);
        _mm256_storeu_ps(d + 5 * MR, q1);
        _mm256_storeu_ps(d + 6 * MR, q2);
        _mm256_storeu_ps(d + 7 * MR, q3);
      }
      for (; p < kc; ++p)
        for (int64_t i = 0; i < MR; ++i) dst[p * MR + i] = src[i * lda + p];
    }
  }
}

void pack_b(bool trans, const float* b, int64_t ldb, int64_t kc, int64_t nc, float* dst) {
  for (int64_t j0 = 0; j0 < nc; j0 += NR, dst += NR * kc) {
    const int64_t nr = nc - j0 < NR ? nc - j0 : NR;
    if (nr < NR && !trans) {  // partial panel: masked loads, zeros past nr
      const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
      const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(nr)), lane);
      const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(nr) - 8), lane);
      const float* src = b + j0;
      for (int64_t p = 0; p < kc; ++p) {
        _mm256_storeu_ps(dst + p * NR, _mm256_maskload_ps(src + p * ldb, m0));
        _mm256_storeu_ps(dst + p * NR + 8, _mm256_maskload_ps(src + p * ldb + 8, m1));
      }
      continue;
    }
    if (nr < NR) {  // partial transposed panel: 8 rows of B at a time through the 8x8 transpose
      std::memset(dst, 0, sizeof(float) * NR * kc);
      const float* src = b + j0 * ldb;
      int64_t j = 0;
      if (nr >= 8) {
        int64_t p = 0;
        for (; p + 8 <= kc; p += 8) {
          float* d = dst + p * NR;
          transpose8x8(src + p, ldb, [d](int q, __m256 v) { _mm256_storeu_ps(d + q * NR, v); });
        }
        for (; p < kc; ++p)
          for (int64_t jj = 0; jj < 8; ++jj) dst[p * NR + jj] = src[jj * ldb + p];
        j = 8;
      }
      for (; j < nr; ++j) {
        const float* row = src + j * ldb;
        for (int64_t p = 0; p < kc; ++p) dst[p * NR + j] = row[p];
      }
      continue;
    }
    if (!trans) {
      const float* src = b + j0;
      for (int64_t p = 0; p < kc; ++p) {
        _mm256_storeu_ps(dst + p * NR, _mm256_loadu_ps(src + p * ldb));
        _mm256_storeu_ps(dst + p * NR + 8, _mm256_loadu_ps(src + p * ldb + 8));
      }
    } else {  // op(B)(p, j) = b[j*ldb + p]: 16 rows of B, transposed 8x8 at a time
      const float* src = b + j0 * ldb;
      int64_t p = 0;
      for (; p + 8 <= kc; p += 8) {
        float* d = dst + p * NR;
        transpose8x8(src + p, ldb, [d](int q, __m256 v) { _mm256_storeu_ps(d + q * NR, v); });
        transpose8x8(src + 8 * ldb + p, ldb, [d](int q, __m256 v) { _mm256_storeu_ps(d + q * NR + 8, v); });
      }
      for (; p < kc; ++p)
        for (int64_t j = 0; j < NR; ++j) dst[p * NR + j] = src[j * ldb + p];
    }
  }
}

}  // namespace

const Kernels& kernels_avx2() {
  static const Kernels k{"avx2", kBlockingAvx2, &kernel<false>, &kernel<true>, &pack_a, &pack_b, &gemv_nt_avx2};
  return k;
}

}  // namespace gemm
}  // namespace tg
