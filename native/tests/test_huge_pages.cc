// Tests of huge_page_span (the whole 2 MiB-aligned pages inside a range: none when the range is too
// small or too ragged to hold one, none for null or wrapping ranges) on every platform, and of
// advise_huge_pages where the system can advise: the advised bytes are exactly that span and the
// contents stay as they were. Runs under ASan/UBSan in CI.
#include <cstdint>
#include <cstdlib>

#include "check.h"
#include "huge_pages.h"

namespace {

bool span_is(uintptr_t start, size_t bytes, uintptr_t lo, uintptr_t hi) {
  const tg::HugeSpan s = tg::huge_page_span(start, bytes);
  return s.lo == lo && s.hi == hi;
}

}  // namespace

int main() {
  const uintptr_t H = tg::kHugePageBytes;
  const uintptr_t B = 64 * H;  // an aligned base address (never dereferenced)
  CHECK(span_is(B, 5 * H, B, B + 5 * H), "aligned: every page");
  CHECK(span_is(B + 16, 2 * H, B + H, B + 2 * H), "two pages' worth from +16: the one inside");
  CHECK(span_is(B + 16, 2 * H - 32, 0, 0), "less than two pages from +16: none");
  CHECK(span_is(B + H - 1, 3 * H + 2, B + H, B + 4 * H), "ragged at both ends: the three inside");
  CHECK(span_is(B, H - 1, 0, 0), "one byte short of a page");
  CHECK(span_is(B, H, B, B + H), "exactly one page");
  CHECK(span_is(B + 4096 + 16, 4 * H, B + H, B + 4 * H), "4 MiB from +4 KiB+16: three whole pages, not four");
  CHECK(span_is(0, 8 * H, 0, 0), "null");
  CHECK(span_is(UINTPTR_MAX - 4095, 4 * H, 0, 0), "a range that wraps");
  const uintptr_t top = UINTPTR_MAX & ~(H - 1);  // the last huge page starts here
  CHECK(span_is(UINTPTR_MAX - 3 * H, 3 * H, top - 2 * H, top), "a range ending at the top of the address space");

  // Advising real memory: exactly the span when the system can advise, else nothing.
  char* base = static_cast<char*>(std::aligned_alloc(H, 5 * H));
  CHECK(base != nullptr, "allocation");
  for (size_t i = 0; i < 5 * H; i += 4096) base[i] = static_cast<char>(i / 4096);
  const size_t one = tg::advise_huge_pages(base, H);
  CHECK(one == H || one == 0, "one aligned page: all of it or nothing");
  if (one == H) {
    CHECK(tg::advise_huge_pages(base + 16, 2 * H) == H, "advised bytes are the span");
    CHECK(tg::advise_huge_pages(base + H - 1, 3 * H + 2) == 3 * H, "advised bytes are the span (ragged)");
    CHECK(tg::advise_huge_pages(base + 16, 2 * H - 32) == 0, "no whole page: nothing advised");
  }
#if !defined(__linux__)
  CHECK(one == 0, "no huge pages off Linux");
#endif
  bool same = true;
  for (size_t i = 0; i < 5 * H; i += 4096) same = same && base[i] == static_cast<char>(i / 4096);
  CHECK(same, "contents unchanged");
  std::free(base);
  return tgtest::finish("test_huge_pages");
}
