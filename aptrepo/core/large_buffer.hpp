#pragma once

// Memory for the buffers of megabytes that packing fills and drains over
// and over (the file reader's, the compressor's, the output writer's).
//
// It is aligned to 2 MiB and the kernel is asked to back it with
// transparent huge pages, which it does when they are enabled "always" or
// on request ("madvise", as on the Debian 12 machine this was measured
// on): the first fill of a buffer then takes one page fault per 2 MiB
// instead of one per 4 KiB, and copying through it misses the TLB less.
// Packing the 45,000-file bench tree took 7% less CPU (page faults 12,000
// instead of 47,000; the copy into libzstd's input a third cheaper).
// Without huge pages it is plain memory.

#include <cstddef>
#include <memory>

namespace aptship {

// SIZE bytes (rounded up to 2 MiB), or nullptr when out of memory; freed
// with std::free.
[[nodiscard]] void* allocate_large(size_t size) noexcept;

struct LargeFree {
  void operator()(char* p) const noexcept;
};
using LargeBuffer = std::unique_ptr<char, LargeFree>;

// A buffer of SIZE bytes; throws std::bad_alloc when out of memory.
[[nodiscard]] LargeBuffer make_large_buffer(size_t size);

} // namespace aptship
