#include <catch2/catch.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "aptrepo/archive/zstd_stream.hpp"
#include "aptrepo/core/subprocess.hpp"

using aptship::Expected;
using aptship::archive::ZstdStream;

namespace {

// SIZE bytes of text that compresses but not to nothing: words drawn by a
// fixed linear congruential generator, the same on every machine.
std::string sample_text(size_t size) {
  static const char* const k_words[] = {"package ", "archive ", "zstd ",    "frame ",
                                        "worker ",  "\n",       "tarball ", "0123456789 "};
  std::string out;
  out.reserve(size + 16);
  uint64_t state = 42;
  while (out.size() < size) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    out += k_words[(state >> 33) % 8];
    out += static_cast<char>('a' + (state >> 40) % 26);
  }
  out.resize(size);
  return out;
}

// Compresses INPUT in chunks of CHUNK bytes.
std::string compress(std::string_view input, int level, unsigned workers, size_t chunk) {
  std::string out;
  auto stream = ZstdStream::create(level, workers, [&out](std::string_view data) -> Expected<void> {
    out.append(data);
    return {};
  });
  REQUIRE(stream);
  for (size_t at = 0; at < input.size(); at += chunk) {
    REQUIRE(stream->write(input.substr(at, chunk)));
  }
  REQUIRE(stream->finish());
  return out;
}

// What the real zstd makes of COMPRESSED.
std::string zstd_decompress(const std::string& compressed) {
  aptship::SubprocessOptions options;
  options.input = compressed;
  auto result = aptship::run({"zstd", "-d", "-c", "-q"}, options);
  REQUIRE(result);
  INFO(result->err);
  REQUIRE(result->ok());
  return result->out;
}

} // namespace

TEST_CASE("zstd_stream: a large input with several workers decompresses with zstd -d") {
  const std::string input = sample_text(12U << 20);
  const std::string compressed = compress(input, 3, 2, 100'000);
  CHECK(compressed.size() < input.size() / 2);
  CHECK(zstd_decompress(compressed) == input);
}

TEST_CASE("zstd_stream: the output does not depend on the number of workers") {
  const std::string input = sample_text(12U << 20);
  const std::string one = compress(input, 3, 1, 1U << 20);
  CHECK(compress(input, 3, 2, 1U << 20) == one);
  CHECK(compress(input, 3, 3, 77'777) == one);
  // 0 is taken as 1 rather than as libzstd's single-threaded mode.
  CHECK(compress(input, 3, 0, 1U << 20) == one);
}

TEST_CASE("zstd_stream: compressing into an output area gives the same frame as a sink") {
  const std::string input = sample_text(6U << 20);
  const std::string expected = compress(input, 3, 2, 100'000);
  // Rooms of uneven sizes, down to one byte, as a writer's block fills up.
  std::string out;
  std::vector<char> room(70'000);
  size_t calls = 0;
  aptship::archive::OutputArea area{.space =
                                        [&] {
                                          ++calls;
                                          return std::span<char>(room.data(),
                                                                 1 + (calls * 7919) % room.size());
                                        },
                                    .commit = [&](size_t n) -> Expected<void> {
                                      out.append(room.data(), n);
                                      return {};
                                    }};
  auto stream = ZstdStream::create(3, 2, std::move(area));
  REQUIRE(stream);
  for (size_t at = 0; at < input.size(); at += 100'000) {
    REQUIRE(stream->write(std::string_view(input).substr(at, 100'000)));
  }
  REQUIRE(stream->finish());
  CHECK(out == expected);
}

TEST_CASE("zstd_stream: an empty input is a valid, empty frame") {
  std::string out;
  auto stream = ZstdStream::create(3, 2, [&out](std::string_view data) -> Expected<void> {
    out.append(data);
    return {};
  });
  REQUIRE(stream);
  REQUIRE(stream->write(""));
  REQUIRE(stream->finish());
  REQUIRE(out.size() >= 4);
  CHECK(out.substr(0, 4) == "\x28\xb5\x2f\xfd");
  CHECK(zstd_decompress(out).empty());
}

TEST_CASE("zstd_stream: the frame carries a checksum that zstd verifies") {
  const std::string input = sample_text(1U << 20);
  std::string compressed = compress(input, 3, 1, 1U << 20);
  // Flip a bit in the last byte, which is part of the content checksum.
  compressed.back() = static_cast<char>(compressed.back() ^ 0x01);
  aptship::SubprocessOptions options;
  options.input = compressed;
  auto result = aptship::run({"zstd", "-d", "-c", "-q"}, options);
  REQUIRE(result);
  CHECK_FALSE(result->ok());
}

TEST_CASE("zstd_stream: a sink error stops the stream with that error") {
  const std::string input = sample_text(4U << 20);
  size_t calls = 0;
  auto stream = ZstdStream::create(1, 1, [&calls](std::string_view /*data*/) -> Expected<void> {
    ++calls;
    return aptship::make_error("disk full");
  });
  REQUIRE(stream);
  Expected<void> result = stream->write(input);
  if (result) {
    result = stream->finish();
  }
  REQUIRE_FALSE(result);
  CHECK(result.error().message() == "disk full");
  CHECK(calls == 1);
}
