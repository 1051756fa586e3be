#include "aptrepo/archive/compression.hpp"

namespace aptship::archive {

Expected<Compression> parse_compression(std::string_view text) {
  for (Compression c : {Compression::zstd, Compression::xz, Compression::gzip, Compression::none}) {
    if (text == name(c)) {
      return c;
    }
  }
  return make_error("unknown compression '{}' (expected zstd, xz, gzip or none)", text);
}

std::string_view name(Compression compression) {
  switch (compression) {
  case Compression::zstd:
    return "zstd";
  case Compression::xz:
    return "xz";
  case Compression::gzip:
    return "gzip";
  case Compression::none:
    break;
  }
  return "none";
}

std::string_view extension(Compression compression) {
  switch (compression) {
  case Compression::zstd:
    return ".zst";
  case Compression::xz:
    return ".xz";
  case Compression::gzip:
    return ".gz";
  case Compression::none:
    break;
  }
  return "";
}

int default_level(Compression compression) {
  switch (compression) {
  case Compression::zstd:
    return 3;
  case Compression::xz:
    return 6;
  case Compression::gzip:
    return 9;
  case Compression::none:
    break;
  }
  return 0;
}

Expected<void> check_level(Compression compression, int level) {
  int low = 0;
  int high = 0;
  switch (compression) {
  case Compression::zstd:
    low = 1;
    high = 19;
    break;
  case Compression::xz:
    low = 0;
    high = 9;
    break;
  case Compression::gzip:
    low = 1;
    high = 9;
    break;
  case Compression::none:
    return {};
  }
  if (level < low || level > high) {
    return make_error("compression level {} is out of range for {} ({}-{})", level,
                      name(compression), low, high);
  }
  return {};
}

} // namespace aptship::archive
