// The single-thread FMA peak of this core, in GFLOP/s: 12 independent fused multiply-add chains
// (more than latency x pipes, 4 x 2, on the cores we run on; few enough that the chains and the two
// operands fit AVX2's 16 registers), in registers, no memory traffic. What no float32 kernel on one thread can beat; bench_gemm's figures over it give
// a GEMM's efficiency, and it bounds what any library (onnxruntime's MLAS, OpenBLAS) can reach.
// One JSON line per instruction set this CPU has, median of --reps timed runs; then the read
// bandwidth of one core over 256 KB to 16 MB (what a memory-bound kernel such as batch-1 inference
// can at best reach).
//
//   bench_peak [--reps 7]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdint>
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

// Read bandwidth: a sum over `bytes` of memory read again and again (after one warm pass), four
// independent accumulators, no writes: what a kernel that streams that much data (batch-1
// inference reading every weight once) can at best reach from where the data then sits. One body
// (a macro, as above) for 32- and 64-byte loads; W is the floats per load.
#define TG_READ_BODY(W)                                                                             \
  std::vector<double> t;                                                                            \
  float keep = 0;                                                                                   \
  for (int r = 0; r <= reps; r++) {                                                                 \
    const auto t0 = std::chrono::steady_clock::now();                                               \
    V a0 = ZERO(), a1 = a0, a2 = a0, a3 = a0;                                                       \
    for (int64_t i = 0; i + 4 * (W) <= n; i += 4 * (W)) {                                           \
      a0 = ADD(a0, LOAD(p + i));                                                                    \
      a1 = ADD(a1, LOAD(p + i + (W)));                                                              \
      a2 = ADD(a2, LOAD(p + i + 2 * (W)));                                                          \
      a3 = ADD(a3, LOAD(p + i + 3 * (W)));                                                          \
    }                                                                                               \
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); \
    keep += LANE0(ADD(ADD(a0, a1), ADD(a2, a3)));                                                   \
    if (r > 0) t.push_back(s);                                                                      \
  }                                                                                                 \
  if (keep == 12345.0f) std::printf("#\n");                                                        \
  std::sort(t.begin(), t.end());                                                                    \
  return n * 4.0 / t[t.size() / 2] / 1e9;

__attribute__((target("avx2,fma"))) double read_gbps_256(const float* p, int64_t n, int reps) {
  using V = __m256;
#define ZERO _mm256_setzero_ps
#define LOAD _mm256_loadu_ps
#define ADD _mm256_add_ps
#define LANE0 _mm256_cvtss_f32
  TG_READ_BODY(8)
#undef ZERO
#undef LOAD
#undef ADD
#undef LANE0
}

__attribute__((target("avx512f"))) double read_gbps_512(const float* p, int64_t n, int reps) {
  using V = __m512;
#define ZERO _mm512_setzero_ps
#define LOAD _mm512_loadu_ps
#define ADD _mm512_add_ps
#define LANE0 _mm512_cvtss_f32
  TG_READ_BODY(16)
#undef ZERO
#undef LOAD
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
  if (isa == tg::Isa::Avx512 || isa == tg::Isa::Avx2) {
    // 2140 KB: the 784-512-256-10 MLP's weights (535k floats).
    for (int64_t kb : {256, 1024, 2140, 16384}) {
      std::vector<float> buf(static_cast<size_t>(kb * 1024 / 4), 1.0f);
      auto line = [&](const char* loads, double g) {
        std::printf("{\"read_kb\":%lld,\"loads\":\"%s\",\"threads\":1,\"gbps_median\":%.1f,\"us\":%.1f}\n",
                    (long long)kb, loads, g, kb * 1024.0 / g / 1e3);
      };
      line("avx2", read_gbps_256(buf.data(), static_cast<int64_t>(buf.size()), 200));
      if (isa == tg::Isa::Avx512) line("avx512", read_gbps_512(buf.data(), static_cast<int64_t>(buf.size()), 200));
    }
  }
  return 0;
}

#else

int main() {
  std::printf("{\"note\":\"bench_peak measures x86 FMA units only\"}\n");
  return 0;
}

#endif
