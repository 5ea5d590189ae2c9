// Tests of the saved-tensor fingerprint: equal to a naive Σ bits[i]·(2i+1) mod 2^32 for every
// length around the 4-lane unrolling, changed by any single-element edit (including 0 → -0 and a
// swap of two different values), and safe on empty input. Runs under ASan/UBSan in CI.
#include <cstdint>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "kernels/fingerprint.h"

namespace {

int g_pass = 0, g_fail = 0;

void check(bool ok, const char* what, int64_t n) {
  if (ok) {
    g_pass++;
  } else {
    g_fail++;
    std::printf("FAIL %s (n=%lld)\n", what, static_cast<long long>(n));
  }
}

uint32_t naive(const std::vector<float>& x) {
  uint64_t h = 0;
  for (size_t i = 0; i < x.size(); i++) {
    uint32_t b;
    std::memcpy(&b, &x[i], sizeof b);
    h += static_cast<uint64_t>(b) * (2 * i + 1);
  }
  return static_cast<uint32_t>(h);
}

}  // namespace

int main() {
  check(tg::fingerprint(nullptr, 0) == 0, "empty input is 0", 0);
  uint32_t state = 12345;
  auto next = [&] {
    state = state * 1664525u + 1013904223u;
    return static_cast<float>(state >> 8) / 16777216.0f - 0.5f;
  };
  for (int64_t n = 1; n <= 67; n++) {
    std::vector<float> x(n);
    for (auto& v : x) v = next();
    uint32_t h = tg::fingerprint(x.data(), n);
    check(h == naive(x), "matches the naive sum", n);
    for (int64_t i = 0; i < n; i++) {
      std::vector<float> y = x;
      y[i] = std::nextafter(y[i], 1.0f);  // the smallest possible change
      check(tg::fingerprint(y.data(), n) != h, "one-ulp edit changes it", n);
    }
    if (n >= 2 && x[0] != x[n - 1]) {
      std::vector<float> y = x;
      std::swap(y[0], y[n - 1]);
      check(tg::fingerprint(y.data(), n) != h, "a swap changes it", n);
    }
    std::vector<float> z(n, 0.0f);
    uint32_t hz = tg::fingerprint(z.data(), n);
    z[n / 2] = -0.0f;
    check(tg::fingerprint(z.data(), n) != hz, "0 -> -0 changes it", n);
  }
  std::printf("test_fingerprint: %d passed, %d failed\n", g_pass, g_fail);
  return g_fail == 0 ? 0 : 1;
}
