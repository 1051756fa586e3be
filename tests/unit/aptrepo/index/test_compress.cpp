#include "aptrepo/index/compress.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "aptrepo/core/subprocess.hpp"
#include "testutil.hpp"

using aptship::index::codec_id;
using aptship::index::compress_unit;
using aptship::index::compress_whole;
using aptship::index::CompressedUnit;
using aptship::index::extension;
using aptship::index::file_header;
using aptship::index::file_trailer;
using aptship::index::IndexCompression;
using aptship::index::UnitSizes;
using aptship::test::ScopedTempDir;
using aptship::test::write;

namespace {

const std::vector<IndexCompression> k_all = {IndexCompression::gz, IndexCompression::xz,
                                             IndexCompression::zst};

// Text shaped like a Packages index, with enough variety not to collapse
// to nothing when compressed.
std::string sample_text(size_t stanzas, size_t seed = 0) {
  std::string out;
  for (size_t i = 0; i < stanzas; ++i) {
    out += fmt::format("Package: pkg{}\nVersion: 1.{}.{}\nArchitecture: amd64\n"
                       "SHA256: {:064x}\n\n",
                       i + seed, i % 7, i * 31 + seed, (i + 1) * 0x9e3779b97f4a7c15ULL);
  }
  return out;
}

// What apt's own reader makes of FILE (apt-helper decompresses by the
// file name's extension, with the same code as apt-get update).
std::string apt_cat(const std::string& file) {
  auto result = aptship::run({"/usr/lib/apt/apt-helper", "cat-file", file});
  REQUIRE(result);
  INFO(result->err);
  REQUIRE(result->ok());
  return result->out;
}

// The command-line tool's reading of FILE.
std::string tool_cat(IndexCompression compression, const std::string& file) {
  std::string tool = compression == IndexCompression::gz   ? "gzip"
                     : compression == IndexCompression::xz ? "xz"
                                                           : "zstd";
  std::vector<std::string> argv{tool, "-dc", file};
  if (compression == IndexCompression::zst) {
    argv.insert(argv.begin() + 1, "-q");
  }
  auto result = aptship::run(argv);
  REQUIRE(result);
  INFO(result->err);
  REQUIRE(result->ok());
  return result->out;
}

// CHUNKS compressed unit by unit and joined into one file.
std::string chunked_file(IndexCompression compression, const std::vector<std::string>& chunks) {
  auto out = file_header(compression);
  REQUIRE(out);
  std::vector<UnitSizes> sizes;
  for (const std::string& chunk : chunks) {
    auto unit = compress_unit(compression, chunk);
    REQUIRE(unit);
    CHECK(unit->raw_size == chunk.size());
    *out += unit->bytes;
    sizes.push_back(UnitSizes{unit->raw_size, unit->unpadded_size});
  }
  auto trailer = file_trailer(compression, sizes);
  REQUIRE(trailer);
  *out += *trailer;
  return *out;
}

} // namespace

TEST_CASE("each codec has its suffix and a distinct identity", "[compress]") {
  CHECK(extension(IndexCompression::gz) == ".gz");
  CHECK(extension(IndexCompression::xz) == ".xz");
  CHECK(extension(IndexCompression::zst) == ".zst");
  CHECK(codec_id(IndexCompression::gz) != codec_id(IndexCompression::xz));
  CHECK(codec_id(IndexCompression::xz) != codec_id(IndexCompression::zst));
  CHECK(codec_id(IndexCompression::gz) != codec_id(IndexCompression::zst));
}

TEST_CASE("a whole file decompresses with the command-line tools and with apt", "[compress]") {
  ScopedTempDir dir;
  std::string text = sample_text(2000);
  for (IndexCompression compression : k_all) {
    std::string name = "Packages" + std::string(extension(compression));
    auto data = compress_whole(compression, text);
    REQUIRE(data);
    CHECK(data->size() < text.size() / 2);
    write(name, *data);
    CHECK(tool_cat(compression, name) == text);
    CHECK(apt_cat(name) == text);
  }
}

TEST_CASE("units joined into one file read back as the whole text", "[compress]") {
  ScopedTempDir dir;
  std::vector<std::string> chunks = {sample_text(500, 0), sample_text(1, 9000),
                                     sample_text(800, 20000), std::string("Package: last\n")};
  std::string whole;
  for (const std::string& chunk : chunks) {
    whole += chunk;
  }
  for (IndexCompression compression : k_all) {
    INFO(codec_id(compression));
    std::string name = "Packages" + std::string(extension(compression));
    write(name, chunked_file(compression, chunks));
    CHECK(tool_cat(compression, name) == whole);
    CHECK(apt_cat(name) == whole);
  }
  // xz: one stream of several blocks, since apt stops after the first
  // stream of a file.
  auto list = aptship::run({"xz", "--robot", "--list", "Packages.xz"});
  REQUIRE(list);
  REQUIRE(list->ok());
  CHECK_THAT(list->out, Catch::Contains("totals\t1\t4\t"));
}

TEST_CASE("the same chunk always compresses to the same unit", "[compress]") {
  std::string chunk = sample_text(300);
  for (IndexCompression compression : k_all) {
    auto a = compress_unit(compression, chunk);
    auto b = compress_unit(compression, chunk);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->bytes == b->bytes);
    CHECK(a->unpadded_size == b->unpadded_size);
  }
}

TEST_CASE("an empty index compresses to a file that reads as empty", "[compress]") {
  ScopedTempDir dir;
  for (IndexCompression compression : k_all) {
    INFO(codec_id(compression));
    std::string name = "Packages" + std::string(extension(compression));
    write(name, chunked_file(compression, {std::string()}));
    CHECK(tool_cat(compression, name).empty());
    CHECK(apt_cat(name).empty());
  }
  auto unit = compress_unit(IndexCompression::xz, "");
  REQUIRE(unit);
  CHECK(unit->bytes.empty());
}

TEST_CASE("empty chunks between others leave the xz stream valid", "[compress]") {
  ScopedTempDir dir;
  std::vector<std::string> chunks = {"", sample_text(10), "", sample_text(5, 100)};
  write("Packages.xz", chunked_file(IndexCompression::xz, chunks));
  CHECK(tool_cat(IndexCompression::xz, "Packages.xz") == chunks[1] + chunks[3]);
  CHECK(apt_cat("Packages.xz") == chunks[1] + chunks[3]);
}
