// The pass/fail counting shared by the standalone C++ tests: CHECK(cond, printf-format, ...)
// counts a pass or prints the failure with its line; finish() prints the tally and gives main's
// exit status. Header-only, one copy per test executable.
#pragma once
#include <cstdio>

namespace tgtest {

inline int g_pass = 0, g_fail = 0;

inline int finish(const char* name) {
  std::printf("%s: %d passed, %d failed\n", name, g_pass, g_fail);
  return g_fail == 0 ? 0 : 1;
}

}  // namespace tgtest

#define CHECK(cond, ...)                       \
  do {                                         \
    if (cond) {                                \
      tgtest::g_pass++;                        \
    } else {                                   \
      tgtest::g_fail++;                        \
      std::printf("FAIL line %d: ", __LINE__); \
      std::printf(__VA_ARGS__);                \
      std::printf("\n");                       \
    }                                          \
  } while (0)
