// Subnormal flushing for the Adam step, per architecture: x86's MXCSR FTZ and DAZ bits, aarch64's
// FPCR.FZ. Control-register state of the calling thread, so it is set around each piece of work on
// the thread that runs it.
#pragma once

#include <cstdint>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

namespace tg {

// Flushes subnormal floats to zero (inputs and results) on this thread while in scope, x86's
// FTZ and DAZ bits. Adam needs it: a weight whose gradient stays 0 (an input pixel that is 0 in
// every image, a dead ReLU unit) sees m shrink by beta1 each step, below 1e-38 after ~800 steps,
// and every operation on a subnormal costs ~100 cycles on x86: the whole step got 3-4x slower as
// training went on. Flushing changes only values below 1e-38, whose effect on the update
// (lr·m̂/(√v̂ + eps)) is far below a float's resolution of the weight.
struct FlushSubnormals {
#if defined(__x86_64__) || defined(__i386__)
  unsigned saved = _mm_getcsr();
  FlushSubnormals() { _mm_setcsr(saved | 0x8040u); }
  ~FlushSubnormals() { _mm_setcsr(saved); }
#elif defined(__aarch64__)
  // FPCR.FZ (bit 24): subnormal inputs and results are flushed to zero, as FTZ+DAZ on x86.
  uint64_t saved;
  FlushSubnormals() {
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(saved));
    __asm__ __volatile__("msr fpcr, %0" : : "r"(saved | (uint64_t{1} << 24)));
  }
  ~FlushSubnormals() { __asm__ __volatile__("msr fpcr, %0" : : "r"(saved)); }
#else
  FlushSubnormals() {}  // user-provided, so a variable of this type is not "unused"
#endif
};

}  // namespace tg
