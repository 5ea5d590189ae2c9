#pragma once
#include <cstdint>

namespace tg {

// Σ bits[i]·(2i+1) mod 2^32 over the float32 bit patterns of x[0..n). Odd weights are invertible
// mod 2^32, so any single-element change alters the result. Must equal the TypeScript backend's
// fingerprint (src/backend/js/fingerprint.ts) bit for bit.
uint32_t fingerprint(const float* x, int64_t n);

}  // namespace tg
