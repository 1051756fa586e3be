#pragma once

// MD5 of many small buffers at once. One MD5 is a chain of dependent
// 32-bit operations, so a core computes it at a fraction of its width;
// eight independent messages side by side in AVX2 registers go several
// times faster. Packing hashes tens of thousands of small files, which is
// the case this serves. Written here because OpenSSL, which the rest of
// aptship hashes with, takes one message at a time.

#include <string>
#include <string_view>
#include <vector>

namespace aptship::deb {

// The lower-case hex MD5 of each of MESSAGES, in order. Uses AVX2 when the
// CPU has it, one message at a time otherwise; the digests are the same.
[[nodiscard]] std::vector<std::string> md5_many(const std::vector<std::string_view>& messages);

} // namespace aptship::deb
