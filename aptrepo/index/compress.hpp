#pragma once

// Index compression in independently decodable units.
//
// A Packages file is compressed chunk by chunk: each chunk becomes one gzip
// member, one zstd frame or one xz block, and the file is their
// concatenation (plus, for xz, one stream header, index and footer around
// the blocks). Decoders read such a file as one stream: zlib and libzstd
// continue across members and frames, and the xz blocks form one stream
// because apt's xz reader stops after the first stream. A chunk that did
// not change since the previous publish keeps its compressed unit, so adding
// one package recompresses one chunk instead of the whole index.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aptrepo/core/error.hpp"
#include "aptrepo/index/publish.hpp"

namespace aptship::index {

// One chunk compressed on its own.
struct CompressedUnit {
  std::string bytes;
  uint64_t raw_size = 0;      // size of the chunk before compression
  uint64_t unpadded_size = 0; // xz: the block's Unpadded Size, which the stream index lists
};

// The file name suffix: ".gz", ".xz" or ".zst".
[[nodiscard]] std::string_view extension(IndexCompression compression);

// Names the codec and every parameter that changes its output, so that
// units made with other settings are never reused ("gzip-6").
[[nodiscard]] std::string_view codec_id(IndexCompression compression);

// Compresses CHUNK into one unit. An empty chunk gives an empty unit for
// xz (a stream needs no block) and a complete empty member or frame for
// the others.
[[nodiscard]] Expected<CompressedUnit> compress_unit(IndexCompression compression,
                                                     std::string_view chunk);

// The sizes of one unit, as the xz stream index needs them.
struct UnitSizes {
  uint64_t raw_size = 0;
  uint64_t unpadded_size = 0;
};

// Bytes before the first unit: the xz stream header; empty for gz and zst.
[[nodiscard]] Expected<std::string> file_header(IndexCompression compression);

// Bytes after the last unit: the xz stream index and footer listing UNITS
// (empty units are skipped, as they hold no block); empty for gz and zst.
[[nodiscard]] Expected<std::string> file_trailer(IndexCompression compression,
                                                 const std::vector<UnitSizes>& units);

// DATA compressed in one unit with its header and trailer: a complete file.
[[nodiscard]] Expected<std::string> compress_whole(IndexCompression compression,
                                                   std::string_view data);

} // namespace aptship::index
