#include "random.h"

#include <cstring>

namespace tg {

namespace {

inline uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

template <class Draw>
void stream(uint32_t state[4], int64_t n, Draw draw) {
  uint32_t s0 = state[0], s1 = state[1], s2 = state[2], s3 = state[3];
  for (int64_t i = 0; i < n; i++) {
    const uint32_t result = rotl(s1 * 5u, 7) * 9u;
    const uint32_t t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    draw(i, static_cast<double>(result >> 8) * (1.0 / 16777216.0));
  }
  state[0] = s0;
  state[1] = s1;
  state[2] = s2;
  state[3] = s3;
}

}  // namespace

void fill_uniform(uint32_t state[4], double lo, double hi, float* out, int64_t n) {
  const double w = hi - lo;
  stream(state, n, [&](int64_t i, double u) { out[i] = static_cast<float>(lo + w * u); });
}

void dropout_mask(uint32_t state[4], double keep, float scale, float* out, int64_t n) {
  // Branch-free: a kept/dropped branch mispredicts at random, which cost more than the draw.
  uint32_t bits;
  std::memcpy(&bits, &scale, sizeof bits);
  stream(state, n, [&](int64_t i, double u) {
    const uint32_t v = bits & (0u - static_cast<uint32_t>(u < keep));
    std::memcpy(out + i, &v, sizeof v);
  });
}

}  // namespace tg
