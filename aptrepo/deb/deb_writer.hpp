#pragma once

// Builds a .deb from a directory laid out as for `dpkg-deb -b`: DEBIAN/
// (control, conffiles, maintainer scripts) beside the file tree.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "aptrepo/archive/compression.hpp"
#include "aptrepo/core/error.hpp"

namespace aptship::deb {

// Supplies the bytes a signature covers: fills BUFFER with up to SIZE bytes,
// returns the count, 0 at the end, -1 with errno on failure.
using ByteReader = std::function<ssize_t(void* buffer, size_t size)>;
// Makes a detached OpenPGP signature over everything READER yields.
using SignFn = std::function<Expected<std::string>(const ByteReader& reader)>;

struct PackOptions {
  archive::Compression compression = archive::Compression::zstd;
  int level = -1; // -1: the compressor's default
  // Clamps every mtime and dates the ar members; unset: files keep their
  // mtimes and members carry the current time, as dpkg-deb does.
  std::optional<int64_t> source_date_epoch;
  unsigned threads = 0; // compression workers; 0 = one per core
  SignFn sign;          // when set, a debsigs "_gpgorigin" member is added
};

struct PackResult {
  std::string package;
  std::string version;
  std::string architecture;
  uint64_t installed_size_kib = 0;
  size_t entries = 0; // entries in data.tar
  uint64_t size = 0;  // bytes of the .deb
};

// Packs DIR into OUTPUT. On any error OUTPUT is left as it was (absent or
// the previous file) and no temporary file remains.
[[nodiscard]] Expected<PackResult> pack(const std::filesystem::path& dir,
                                        const std::filesystem::path& output,
                                        const PackOptions& options);

// SOURCE_DATE_EPOCH from the environment, if set; an error if malformed.
[[nodiscard]] Expected<std::optional<int64_t>> source_date_epoch_from_env();

} // namespace aptship::deb
