// The single-thread FMA peak of this core, in GFLOP/s: 12 independent fused multiply-add chains
// (more than latency x pipes, 4 x 2, on the cores we run on; few enough that the chains and the two
// operands fit AVX2's 16 registers), in registers, no memory traffic. What no float32 kernel on one thread can beat; bench_gemm's figures over it give
// a GEMM's efficiency, and it bounds what any library (onnxruntime's MLAS, OpenBLAS) can reach.
// One JSON line per instruction set this CPU has, median of --reps timed runs.
//
//   bench_peak [--reps 7]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cpu.h"

#if defined(__x86_64__)
#include <immintrin.h>

namespace {

constexpr long kIters = 25000000;  // 12 chains x 25M FMAs: about 0.1 s at AVX-512 speeds

// The chains are written out (not an array) so the compiler keeps all 16 in registers.
#define TG_CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

// One function per ISA (target attributes, so the file needs no ISA flags); the body is a macro
// because a template over vector types would cross the ABI of functions without those ISAs.
#define TG_INIT(i) V a##i = SET1(static_cast<float>(i) * 1e-3f);
#define TG_STEP(i) a##i = FMA(a##i, b, c);
#define TG_PEAK_BODY                                                                                 \
  const V b = SET1(0.999999f + seed), c = SET1(1e-6f);                                              \
  TG_CHAINS(TG_INIT)                                                                                 \
  const auto t0 = std::chrono::steady_clock::now();                                                 \
  for (long n = 0; n < kIters; n++) {                                                                \
    TG_CHAINS(TG_STEP)                                                                               \
  }                                                                                                  \
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();   \
  /* every chain feeds the result, so none can be dropped */                                         \
  V t = ADD(ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7))),                       \
            ADD(ADD(a8, a9), ADD(a10, a11)));                                                        \
  if (LANE0(t) == 12345.0f) std::printf("#\n");                                                    \
  return kIters * 12.0 * (sizeof(V) / sizeof(float)) * 2.0 / s / 1e9;

__attribute__((target("avx512f"))) double peak_avx512(float seed) {
  using V = __m512;
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define ADD _mm512_add_ps
#define LANE0 _mm512_cvtss_f32
  TG_PEAK_BODY
#undef SET1
#undef FMA
#undef ADD
#undef LANE0
}

__attribute__((target("avx2,fma"))) double peak_avx2(float seed) {
  using V = __m256;
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define ADD _mm256_add_ps
#define LANE0 _mm256_cvtss_f32
  TG_PEAK_BODY
#undef SET1
#undef FMA
#undef ADD
#undef LANE0
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 7;
  for (int i = 1; i + 1 < argc; i++) {
    if (std::strcmp(argv[i], "--reps") == 0) reps = std::max(1, std::atoi(argv[++i]));
  }
  const tg::Isa isa = tg::detect_isa();
  const float seed = static_cast<float>(argc) * 1e-9f;  // not a compile-time constant
  auto report = [&](const char* name, double (*f)(float)) {
    std::vector<double> g;
    f(seed);  // warm-up (clock ramp)
    for (int r = 0; r < reps; r++) g.push_back(f(seed));
    std::sort(g.begin(), g.end());
    std::printf("{\"isa\":\"%s\",\"threads\":1,\"gflops_median\":%.1f,\"gflops_min\":%.1f,\"gflops_max\":%.1f}\n", name,
                g[g.size() / 2], g.front(), g.back());
  };
  if (isa == tg::Isa::Avx512) report("avx512", peak_avx512);
  if (isa == tg::Isa::Avx512 || isa == tg::Isa::Avx2) report("avx2", peak_avx2);
  if (isa != tg::Isa::Avx512 && isa != tg::Isa::Avx2) std::printf("{\"note\":\"no AVX2: not measured\"}\n");
  return 0;
}

#else

int main() {
  std::printf("{\"note\":\"bench_peak measures x86 FMA units only\"}\n");
  return 0;
}

#endif
