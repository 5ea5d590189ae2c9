#include "kernels/fingerprint.h"

#include <cstring>

namespace tg {

uint32_t fingerprint(const float* x, int64_t n) {
  // Four independent lanes (weights w, w+2, w+4, w+6) so the multiply-adds pipeline; unsigned
  // arithmetic wraps mod 2^32 by definition.
  uint32_t h0 = 0, h1 = 0, h2 = 0, h3 = 0, w = 1;
  int64_t i = 0;
  uint32_t b[4];
  for (; i + 4 <= n; i += 4) {
    std::memcpy(b, x + i, sizeof b);
    h0 += b[0] * w;
    h1 += b[1] * (w + 2);
    h2 += b[2] * (w + 4);
    h3 += b[3] * (w + 6);
    w += 8;
  }
  for (; i < n; i++) {
    uint32_t v;
    std::memcpy(&v, x + i, sizeof v);
    h0 += v * w;
    w += 2;
  }
  return h0 + h1 + h2 + h3;
}

}  // namespace tg
