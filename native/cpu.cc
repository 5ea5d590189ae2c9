#include "cpu.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "kernels/dispatch.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#define TG_X86 1
#endif

namespace tg {

namespace {

#ifdef TG_X86
unsigned long long xgetbv0() {
  unsigned int eax, edx;
  // xgetbv with ecx = 0 reads XCR0; encoded as bytes so no -mxsave is needed for this file.
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}
#endif

Isa detect() {
#ifdef TG_X86
  unsigned int eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return Isa::Scalar;
  const bool osxsave = ecx & (1u << 27);
  const bool avx = ecx & (1u << 28);
  const bool fma = ecx & (1u << 12);
  if (!osxsave || !avx || !fma) return Isa::Scalar;
  const unsigned long long xcr0 = xgetbv0();
  if ((xcr0 & 0x6) != 0x6) return Isa::Scalar;  // XMM and YMM state enabled by the OS
  if (__get_cpuid_max(0, nullptr) < 7) return Isa::Scalar;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const bool avx2 = ebx & (1u << 5);
  if (!avx2) return Isa::Scalar;
  const bool avx512f = ebx & (1u << 16);
  const bool avx512dq = ebx & (1u << 17);
  const bool avx512bw = ebx & (1u << 30);
  const bool avx512vl = ebx & (1u << 31);
  const bool zmm_state = (xcr0 & 0xe6) == 0xe6;  // opmask, ZMM_Hi256, Hi16_ZMM
  if (avx512f && avx512dq && avx512bw && avx512vl && zmm_state) return Isa::Avx512;
  return Isa::Avx2;
#elif defined(__aarch64__)
  return Isa::Neon;  // Advanced SIMD is part of every AArch64 Linux target
#else
  return Isa::Scalar;
#endif
}

// Position of a level among this architecture's levels (0 = Scalar); -1 for another
// architecture's level, which is never active here.
int rank(Isa isa) {
  if (isa == Isa::Scalar) return 0;
#if defined(__aarch64__)
  return isa == Isa::Neon ? 1 : -1;
#else
  return isa == Isa::Neon ? -1 : static_cast<int>(isa);
#endif
}

Isa from_env(Isa detected) {
  const char* v = std::getenv("TENSORGRAD_ISA");
  if (v == nullptr || *v == '\0') return detected;
  Isa want = detected;
  if (std::strcmp(v, "scalar") == 0) want = Isa::Scalar;
  else if (std::strcmp(v, "avx2") == 0) want = Isa::Avx2;
  else if (std::strcmp(v, "avx512") == 0) want = Isa::Avx512;
  else if (std::strcmp(v, "neon") == 0) want = Isa::Neon;
  return rank(want) >= 0 && rank(want) < rank(detected) ? want : detected;
}

// Every level of this architecture has a table, so the only cap is what the CPU supports.
Isa clamp(Isa want) {
  const Isa d = detect_isa();
  if (rank(want) < 0) return Isa::Scalar;
  return rank(want) < rank(d) ? want : d;
}

// The one place a level becomes its table. Only levels clamp() lets through get here, so a SIMD
// table (code compiled for that level) is reached only on a CPU that runs it.
const IsaKernels& table_for(Isa isa) {
  switch (isa) {
#if TG_X86_KERNELS
    case Isa::Avx512: return isa_avx512();
    case Isa::Avx2: return isa_avx2();
#endif
#if TG_NEON_KERNELS
    case Isa::Neon: return isa_neon();
#endif
    default: return isa_scalar();
  }
}

// The active table; its isa field is the active level.
std::atomic<const IsaKernels*> g_active{nullptr};

}  // namespace

Isa detect_isa() {
  static const Isa detected = detect();
  return detected;
}

const IsaKernels& active_kernels() {
  const IsaKernels* k = g_active.load(std::memory_order_acquire);
  if (k == nullptr) {
    const IsaKernels* chosen = &table_for(clamp(from_env(detect_isa())));
    // A racing first call or set_active_isa may have stored one already: that one stands.
    k = g_active.compare_exchange_strong(k, chosen, std::memory_order_acq_rel) ? chosen : k;
  }
  return *k;
}

Isa active_isa() { return active_kernels().isa; }

void set_active_isa(Isa isa) { g_active.store(&table_for(clamp(isa)), std::memory_order_release); }

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    case Isa::Neon: return "neon";
    default: return "scalar";
  }
}

}  // namespace tg
