#pragma once

// The compressors a .deb member or an index may use.

#include <string_view>

#include "aptrepo/core/error.hpp"

namespace aptship::archive {

enum class Compression { zstd, xz, gzip, none };

// Parses "zstd", "xz", "gzip" or "none".
[[nodiscard]] Expected<Compression> parse_compression(std::string_view name);
// The name parse_compression accepts.
[[nodiscard]] std::string_view name(Compression compression);
// The file extension with its dot (".zst", ".xz", ".gz"), empty for none.
[[nodiscard]] std::string_view extension(Compression compression);
// The level used when none is given: zstd 3, xz 6, gzip 9, none 0.
[[nodiscard]] int default_level(Compression compression);
// Checks LEVEL is in the compressor's range (zstd 1-19, xz 0-9, gzip 1-9).
[[nodiscard]] Expected<void> check_level(Compression compression, int level);

} // namespace aptship::archive
