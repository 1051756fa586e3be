#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "aptrepo/core/large_buffer.hpp"

TEST_CASE("large_buffer: aligned to 2 MiB, writable to its last byte, of any size") {
  for (size_t size :
       {size_t{1}, size_t{4096}, (size_t{2} << 20) - 1, size_t{2} << 20, (size_t{5} << 20) + 3}) {
    INFO(size);
    aptship::LargeBuffer buffer = aptship::make_large_buffer(size);
    REQUIRE(buffer);
    CHECK(reinterpret_cast<uintptr_t>(buffer.get()) % (uintptr_t{2} << 20) == 0);
    std::memset(buffer.get(), 0x5a, size);
    CHECK(buffer.get()[size - 1] == 0x5a);
  }
}

TEST_CASE("large_buffer: an empty request still gives memory, released with free") {
  void* p = aptship::allocate_large(0);
  REQUIRE(p != nullptr);
  std::free(p);
}
