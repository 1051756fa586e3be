#include "aptrepo/index/compress.hpp"

#include <algorithm>
#include <limits>
#include <memory>
#include <stdexcept>

#include <libdeflate.h>
#include <lzma.h>
#include <zstd.h>

#include <fmt/format.h>

namespace aptship::index {

namespace {

// gzip at the level zlib defaults to: chunks are cached, so only a cold
// publish pays for it, and every client download is smaller.
constexpr int k_gzip_level = 6;
constexpr int k_zstd_level = 3;
constexpr uint32_t k_xz_preset = 6;
// A dictionary larger than the chunk buys nothing and costs every encoder
// and decoder memory; xz requires at least 4 KiB.
constexpr uint32_t k_xz_min_dict = 4096;
constexpr lzma_check k_xz_check = LZMA_CHECK_CRC64;

struct CompressorFree {
  void operator()(libdeflate_compressor* c) const { libdeflate_free_compressor(c); }
};

// A gzip member with mtime 0, so that output is reproducible. libdeflate
// takes the chunk whole: at the same level it compresses a Packages text
// over twice as fast as zlib, and smaller.
Expected<CompressedUnit> gzip_member(std::string_view data) {
  // One per thread: a compressor is not shared, and making one costs more
  // than compressing a small chunk.
  thread_local std::unique_ptr<libdeflate_compressor, CompressorFree> compressor(
      libdeflate_alloc_compressor(k_gzip_level));
  if (!compressor) {
    return make_error("gzip: out of memory");
  }
  CompressedUnit unit;
  unit.raw_size = data.size();
  unit.bytes.resize(libdeflate_gzip_compress_bound(compressor.get(), data.size()));
  size_t size = libdeflate_gzip_compress(compressor.get(), data.data(), data.size(),
                                         unit.bytes.data(), unit.bytes.size());
  if (size == 0) {
    return make_error("gzip: compression failed");
  }
  unit.bytes.resize(size);
  return unit;
}

Expected<CompressedUnit> zstd_frame(std::string_view data) {
  CompressedUnit unit;
  unit.raw_size = data.size();
  unit.bytes.resize(ZSTD_compressBound(data.size()));
  size_t size =
      ZSTD_compress(unit.bytes.data(), unit.bytes.size(), data.data(), data.size(), k_zstd_level);
  if (ZSTD_isError(size) != 0) {
    return make_error("zstd: {}", ZSTD_getErrorName(size));
  }
  unit.bytes.resize(size);
  return unit;
}

Expected<CompressedUnit> xz_block(std::string_view data) {
  CompressedUnit unit;
  unit.raw_size = data.size();
  if (data.empty()) {
    return unit;
  }
  lzma_options_lzma options{};
  if (lzma_lzma_preset(&options, k_xz_preset)) {
    return make_error("xz: preset {} is not supported", k_xz_preset);
  }
  uint32_t dict = k_xz_min_dict;
  while (dict < data.size() && dict < options.dict_size) {
    dict *= 2;
  }
  options.dict_size = std::min(dict, options.dict_size);
  lzma_filter filters[] = {{LZMA_FILTER_LZMA2, &options}, {LZMA_VLI_UNKNOWN, nullptr}};
  lzma_block block{};
  block.version = 0;
  block.check = k_xz_check;
  block.filters = filters;
  unit.bytes.resize(lzma_block_buffer_bound(data.size()));
  size_t out_pos = 0;
  if (lzma_ret rc = lzma_block_buffer_encode(
          &block, nullptr, reinterpret_cast<const uint8_t*>(data.data()), data.size(),
          reinterpret_cast<uint8_t*>(unit.bytes.data()), &out_pos, unit.bytes.size());
      rc != LZMA_OK) {
    return make_error("xz: block encoder failed ({})", static_cast<int>(rc));
  }
  unit.bytes.resize(out_pos);
  unit.unpadded_size = lzma_block_unpadded_size(&block);
  if (unit.unpadded_size == 0) {
    return make_error("xz: block encoder produced an invalid block");
  }
  return unit;
}

Expected<std::string> xz_header() {
  lzma_stream_flags flags{};
  flags.version = 0;
  flags.check = k_xz_check;
  std::string out(LZMA_STREAM_HEADER_SIZE, '\0');
  if (lzma_ret rc = lzma_stream_header_encode(&flags, reinterpret_cast<uint8_t*>(out.data()));
      rc != LZMA_OK) {
    return make_error("xz: stream header encoder failed ({})", static_cast<int>(rc));
  }
  return out;
}

struct IndexEnd {
  void operator()(lzma_index* index) const { lzma_index_end(index, nullptr); }
};

Expected<std::string> xz_trailer(const std::vector<UnitSizes>& units) {
  std::unique_ptr<lzma_index, IndexEnd> index(lzma_index_init(nullptr));
  if (!index) {
    throw std::bad_alloc();
  }
  for (const UnitSizes& unit : units) {
    if (unit.raw_size == 0) {
      continue;
    }
    if (lzma_ret rc = lzma_index_append(index.get(), nullptr, unit.unpadded_size, unit.raw_size);
        rc != LZMA_OK) {
      return make_error("xz: cannot index a block ({})", static_cast<int>(rc));
    }
  }
  lzma_vli index_size = lzma_index_size(index.get());
  std::string out(index_size + LZMA_STREAM_HEADER_SIZE, '\0');
  size_t out_pos = 0;
  if (lzma_ret rc = lzma_index_buffer_encode(index.get(), reinterpret_cast<uint8_t*>(out.data()),
                                             &out_pos, index_size);
      rc != LZMA_OK) {
    return make_error("xz: index encoder failed ({})", static_cast<int>(rc));
  }
  lzma_stream_flags flags{};
  flags.version = 0;
  flags.check = k_xz_check;
  flags.backward_size = index_size;
  if (lzma_ret rc =
          lzma_stream_footer_encode(&flags, reinterpret_cast<uint8_t*>(out.data() + out_pos));
      rc != LZMA_OK) {
    return make_error("xz: stream footer encoder failed ({})", static_cast<int>(rc));
  }
  return out;
}

} // namespace

std::string_view extension(IndexCompression compression) {
  switch (compression) {
  case IndexCompression::gz:
    return ".gz";
  case IndexCompression::xz:
    return ".xz";
  case IndexCompression::zst:
    return ".zst";
  }
  throw std::logic_error("unknown index compression");
}

std::string_view codec_id(IndexCompression compression) {
  // The parameters above, and a version for changes in how they are used
  // (such as the xz dictionary sizing).
  static const std::string gz = fmt::format("gzip-{}-libdeflate", k_gzip_level);
  static const std::string xz =
      fmt::format("xz-{}-check{}-1", k_xz_preset, static_cast<int>(k_xz_check));
  static const std::string zst = fmt::format("zstd-{}", k_zstd_level);
  switch (compression) {
  case IndexCompression::gz:
    return gz;
  case IndexCompression::xz:
    return xz;
  case IndexCompression::zst:
    return zst;
  }
  throw std::logic_error("unknown index compression");
}

Expected<CompressedUnit> compress_unit(IndexCompression compression, std::string_view chunk) {
  switch (compression) {
  case IndexCompression::gz:
    return gzip_member(chunk);
  case IndexCompression::xz:
    return xz_block(chunk);
  case IndexCompression::zst:
    return zstd_frame(chunk);
  }
  throw std::logic_error("unknown index compression");
}

Expected<std::string> file_header(IndexCompression compression) {
  if (compression == IndexCompression::xz) {
    return xz_header();
  }
  return std::string();
}

Expected<std::string> file_trailer(IndexCompression compression,
                                   const std::vector<UnitSizes>& units) {
  if (compression == IndexCompression::xz) {
    return xz_trailer(units);
  }
  return std::string();
}

Expected<std::string> compress_whole(IndexCompression compression, std::string_view data) {
  TRY_ASSIGN(std::string out, file_header(compression));
  TRY_ASSIGN(CompressedUnit unit, compress_unit(compression, data));
  out += unit.bytes;
  TRY_ASSIGN(std::string trailer,
             file_trailer(compression, {UnitSizes{unit.raw_size, unit.unpadded_size}}));
  out += trailer;
  return out;
}

} // namespace aptship::index
