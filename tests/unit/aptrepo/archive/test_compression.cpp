#include <catch2/catch.hpp>

#include "aptrepo/archive/compression.hpp"

using aptship::archive::check_level;
using aptship::archive::Compression;
using aptship::archive::default_level;
using aptship::archive::extension;
using aptship::archive::parse_compression;

TEST_CASE("compression: names parse back to the same compressor") {
  for (Compression c : {Compression::zstd, Compression::xz, Compression::gzip, Compression::none}) {
    auto parsed = parse_compression(aptship::archive::name(c));
    REQUIRE(parsed);
    CHECK(*parsed == c);
  }
  CHECK(aptship::archive::name(Compression::zstd) == "zstd");
  CHECK(aptship::archive::name(Compression::none) == "none");
}

TEST_CASE("compression: unknown names are refused with the name quoted") {
  for (const char* text : {"", "lzma", "bzip2", "ZSTD", "gz", "zst", "zstd "}) {
    INFO(text);
    auto parsed = parse_compression(text);
    REQUIRE_FALSE(parsed);
    CHECK_THAT(parsed.error().message(), Catch::Contains(std::string("'") + text + "'"));
  }
}

TEST_CASE("compression: extensions are those of .deb members") {
  CHECK(extension(Compression::zstd) == ".zst");
  CHECK(extension(Compression::xz) == ".xz");
  CHECK(extension(Compression::gzip) == ".gz");
  CHECK(extension(Compression::none).empty());
}

TEST_CASE("compression: default levels are valid levels") {
  CHECK(default_level(Compression::zstd) == 3);
  CHECK(default_level(Compression::xz) == 6);
  CHECK(default_level(Compression::gzip) == 9);
  CHECK(default_level(Compression::none) == 0);
  for (Compression c : {Compression::zstd, Compression::xz, Compression::gzip, Compression::none}) {
    CHECK(check_level(c, default_level(c)));
  }
}

TEST_CASE("compression: levels are checked against each compressor's range") {
  struct Range {
    Compression compression;
    int low;
    int high;
  };
  for (Range r : {Range{Compression::zstd, 1, 19}, Range{Compression::xz, 0, 9},
                  Range{Compression::gzip, 1, 9}}) {
    INFO(aptship::archive::name(r.compression));
    CHECK(check_level(r.compression, r.low));
    CHECK(check_level(r.compression, r.high));
    CHECK_FALSE(check_level(r.compression, r.low - 1));
    auto high = check_level(r.compression, r.high + 1);
    REQUIRE_FALSE(high);
    CHECK_THAT(high.error().message(),
               Catch::Contains(std::to_string(r.high + 1)) &&
                   Catch::Contains(std::string(aptship::archive::name(r.compression))));
  }
  // Without a compressor any level is meaningless, and so harmless.
  CHECK(check_level(Compression::none, 42));
}
