#include "huge_pages.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace tg {

HugeSpan huge_page_span(uintptr_t start, size_t bytes) {
  if (start == 0 || bytes < kHugePageBytes || start > UINTPTR_MAX - bytes) return {0, 0};
  const uintptr_t mask = uintptr_t(kHugePageBytes - 1);
  // Rounding start up cannot wrap: start + bytes does not, and bytes >= one huge page.
  const uintptr_t lo = (start + mask) & ~mask;
  const uintptr_t hi = (start + bytes) & ~mask;
  return hi > lo ? HugeSpan{lo, hi} : HugeSpan{0, 0};
}

size_t advise_huge_pages(void* p, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  // Only the whole huge pages: advising the ragged ends would split the mapping into more areas
  // (each counts against vm.max_map_count) for pages that can never be huge.
  const HugeSpan s = huge_page_span(reinterpret_cast<uintptr_t>(p), bytes);
  if (s.hi == s.lo) return 0;
  if (madvise(reinterpret_cast<void*>(s.lo), s.hi - s.lo, MADV_HUGEPAGE) != 0) return 0;
  return s.hi - s.lo;
#else
  (void)p;
  (void)bytes;
  return 0;
#endif
}

}  // namespace tg
