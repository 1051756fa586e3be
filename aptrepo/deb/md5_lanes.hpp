#pragma once

// MD5 of many small buffers at once. One MD5 is a chain of dependent
// 32-bit operations, so a core computes it at a fraction of its width;
// eight independent messages side by side in AVX2 registers, or sixteen
// with AVX-512, go several times faster. Packing hashes tens of thousands of small files, which is
// the case this serves. Written here because OpenSSL, which the rest of
// aptship hashes with, takes one message at a time.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace aptship::deb {

// How md5_many hashes on this CPU: LANES messages side by side (16, 8, or
// 1 for one at a time), where one block in every lane costs STEP_COST
// blocks of a single message hashed alone.
struct Md5Lanes {
  size_t lanes = 1;
  double step_cost = 1;
};
[[nodiscard]] Md5Lanes md5_lane_shape(size_t max_lanes = 16);

// The lower-case hex MD5 of each of MESSAGES, in order. Uses AVX-512 or
// AVX2 when the CPU has them, at most MAX_LANES side by side (tests lower
// it to cover each width), one message at a time otherwise; the digests
// are the same.
[[nodiscard]] std::vector<std::string> md5_many(const std::vector<std::string_view>& messages,
                                                size_t max_lanes = 16);

} // namespace aptship::deb
