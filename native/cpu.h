// Runtime CPU feature detection and the instruction-set level the kernels dispatch on (the level's
// table of kernels: kernels/dispatch.h).
#pragma once

// 1 when this build has the x86 SIMD kernel files (*_avx2.cc, *_avx512.cc, with the AVX2 and AVX-512
// tables), which CMake compiles for x86-64 targets only; elsewhere cpu.cc leaves those tables out.
#if defined(__x86_64__) || defined(_M_X64)
#define TG_X86_KERNELS 1
#else
#define TG_X86_KERNELS 0
#endif
// 1 when this build has the aarch64 NEON kernel files (*_neon.cc, with the NEON table): aarch64
// targets only.
#if defined(__aarch64__)
#define TG_NEON_KERNELS 1
#else
#define TG_NEON_KERNELS 0
#endif

namespace tg {

// The x86 levels are ordered (Scalar < Avx2 < Avx512); Neon is the aarch64 level above Scalar.
// A level of the other architecture is never active: asking for it gives Scalar.
enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2, Neon = 3 };

// Highest level this CPU and OS support (cpuid feature bits plus xgetbv: the OS must save the
// YMM/ZMM state, or AVX instructions fault even when cpuid lists them).
Isa detect_isa();

// The level kernels use: detect_isa(), lowered by env TENSORGRAD_ISA=scalar|avx2|avx512|neon (a request
// above what the CPU supports is clamped down, never up). Chosen on first use, with its table of
// kernels (active_kernels() in kernels/dispatch.h); thread-safe.
Isa active_isa();

// Overrides the active level (clamped to detect_isa()) and switches to its table; for tests,
// benchmarks and the addon's setIsa. A kernel call already running keeps the table it started with.
void set_active_isa(Isa isa);

const char* isa_name(Isa isa);

}  // namespace tg
