#include "aptrepo/core/large_buffer.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <new>

namespace aptship {

namespace {
constexpr size_t k_huge_page = size_t{2} << 20;
} // namespace

void* allocate_large(size_t size) noexcept {
  // Whole huge pages, at least one (aligned_alloc wants a multiple of the
  // alignment).
  const size_t rounded = std::max<size_t>(1, (size + k_huge_page - 1) / k_huge_page) * k_huge_page;
  void* p = std::aligned_alloc(k_huge_page, rounded);
  if (p != nullptr) {
    // Advice only: where huge pages are off, or the call is refused, the
    // memory is ordinary pages.
    (void)madvise(p, rounded, MADV_HUGEPAGE);
  }
  return p;
}

void LargeFree::operator()(char* p) const noexcept {
  std::free(p);
}

LargeBuffer make_large_buffer(size_t size) {
  auto* p = static_cast<char*>(allocate_large(size));
  if (p == nullptr) {
    throw std::bad_alloc();
  }
  return LargeBuffer(p);
}

} // namespace aptship
