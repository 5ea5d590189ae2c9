// Tests of advise_huge_pages: it advises exactly the whole 2 MiB-aligned pages inside the range
// (none for a range too small or too ragged to hold one), refuses null and wrapping ranges, and
// leaves the contents alone. Runs under ASan/UBSan in CI.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "check.h"
#include "huge_pages.h"

int main() {
  using tg::advise_huge_pages;
  using tg::kHugePageBytes;
  const size_t H = kHugePageBytes;
  CHECK(advise_huge_pages(nullptr, 8 * H) == 0, "null pointer");
  CHECK(advise_huge_pages(reinterpret_cast<void*>(UINTPTR_MAX - 4095), 4 * H) == 0, "a range that wraps");

  // 5 huge pages, aligned: offsets into it give every ragged case.
  char* base = static_cast<char*>(std::aligned_alloc(H, 5 * H));
  CHECK(base != nullptr, "allocation");
  for (size_t i = 0; i < 5 * H; i += 4096) base[i] = static_cast<char>(i / 4096);
#if defined(__linux__)
  CHECK(advise_huge_pages(base, 5 * H) == 5 * H || advise_huge_pages(base, 5 * H) == 0,
        "aligned 5 pages: all five advised (or none where THP is compiled out)");
  const bool thp = advise_huge_pages(base, H) == H;
  if (thp) {
    CHECK(advise_huge_pages(base + 16, 2 * H) == H, "two pages' worth from +16 hold one whole page");
    CHECK(advise_huge_pages(base + 16, 2 * H - 32) == 0, "less than two pages from +16 hold none");
    CHECK(advise_huge_pages(base + H - 1, 3 * H + 2) == 3 * H, "ragged at both ends: the three inside");
    CHECK(advise_huge_pages(base, H - 1) == 0, "one byte short of a page");
  }
#else
  CHECK(advise_huge_pages(base, 5 * H) == 0, "no huge pages off Linux");
#endif
  bool same = true;
  for (size_t i = 0; i < 5 * H; i += 4096) same = same && base[i] == static_cast<char>(i / 4096);
  CHECK(same, "contents unchanged");
  std::free(base);
  return tgtest::finish("test_huge_pages");
}
