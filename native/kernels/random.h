#pragma once
#include <cstdint>

namespace tg {

// Fills driven by the library's xoshiro128** stream (src/random.ts): `state` is the generator's
// four 32-bit words, advanced by one draw per element; u = (next >> 8) * 2^-24 as nextFloat().
// Same bits as the TypeScript kernels (src/backend/js/random.ts).

// out[i] = lo + (hi - lo) * u_i, in double, rounded to float.
void fill_uniform(uint32_t state[4], double lo, double hi, float* out, int64_t n);

// out[i] = u_i < keep ? scale : 0.
void dropout_mask(uint32_t state[4], double keep, float scale, float* out, int64_t n);

}  // namespace tg
