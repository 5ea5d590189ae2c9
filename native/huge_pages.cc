#include "huge_pages.h"

#include <cstdint>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace tg {

size_t advise_huge_pages(void* p, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const uintptr_t start = reinterpret_cast<uintptr_t>(p);
  if (start == 0 || bytes < kHugePageBytes || start > UINTPTR_MAX - bytes) return 0;
  // Only the whole huge pages: advising the ragged ends would split the mapping into more areas
  // (each counts against vm.max_map_count) for pages that can never be huge.
  const uintptr_t lo = (start + kHugePageBytes - 1) & ~uintptr_t(kHugePageBytes - 1);
  const uintptr_t hi = (start + bytes) & ~uintptr_t(kHugePageBytes - 1);
  if (hi <= lo) return 0;
  if (madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE) != 0) return 0;
  return hi - lo;
#else
  (void)p;
  (void)bytes;
  return 0;
#endif
}

}  // namespace tg
