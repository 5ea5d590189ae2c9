// Transparent huge pages for large buffers (Linux): what numpy does for its arrays of 4 MiB and up.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tg {

// The size of one transparent huge page on x86-64 and on arm64 with 4 KiB base pages.
inline constexpr size_t kHugePageBytes = size_t(2) << 20;

// The whole 2 MiB-aligned pages inside [start, start + bytes), as [lo, hi); lo == hi when none fits
// (or start is 0, or the range wraps).
struct HugeSpan {
  uintptr_t lo, hi;
};
HugeSpan huge_page_span(uintptr_t start, size_t bytes);

// Asks the kernel to back the whole huge pages inside [p, p + bytes) with transparent huge pages
// (madvise MADV_HUGEPAGE); the partial pages at either end are left alone. Returns the bytes
// advised: 0 when no whole huge page fits, on systems without the call, or when the kernel refuses
// (THP compiled out). Only the page tables change, never the contents, so it may be asked of
// memory in use; pages not yet touched then fault in 2 MiB at a time, pages already there may be
// merged later by khugepaged, and either way reads and writes need fewer TLB entries.
size_t advise_huge_pages(void* p, size_t bytes);

}  // namespace tg
