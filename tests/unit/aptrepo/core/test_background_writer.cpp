#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <span>
#include <string>

#include "aptrepo/core/background_writer.hpp"
#include "aptrepo/core/fd.hpp"
#include "testutil.hpp"

using aptship::BackgroundWriter;
using aptship::Fd;

namespace {

// Bytes no two blocks share, so that a block written at the wrong offset
// shows.
std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) {
    c = static_cast<char>(rng());
  }
  return out;
}

// Writes DATA through WRITER in pieces of every size from one byte to
// several blocks.
void write_in_pieces(BackgroundWriter& writer, std::string_view data) {
  std::mt19937 rng(3);
  while (!data.empty()) {
    const size_t limit = rng() % 4 == 0 ? 9 << 20 : 300000;
    const size_t n = std::min(data.size(), 1 + rng() % limit);
    REQUIRE(writer.write(data.substr(0, n)));
    data.remove_prefix(n);
  }
}

Fd open_output(const char* path, int flags = O_RDWR) {
  const int fd = ::open(path, flags | O_CREAT | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  return Fd(fd);
}

// Whether the filesystem of the working directory takes O_DIRECT at all.
bool direct_supported() {
  const int fd = ::open("probe", O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0644);
  if (fd >= 0) {
    ::close(fd);
  }
  ::unlink("probe");
  return fd >= 0;
}

} // namespace

TEST_CASE("background_writer: the file holds every byte in order, in either mode") {
  aptship::test::ScopedTempDir tmp;
  // Not a whole number of blocks or pages: the end goes through the cache.
  const std::string data = random_bytes((10 << 20) + 2822, 1);
  const bool direct = GENERATE(true, false);
  INFO((direct ? "direct" : "page cache"));
  Fd fd = open_output("out");
  BackgroundWriter writer(fd, direct ? BackgroundWriter::Mode::direct
                                     : BackgroundWriter::Mode::page_cache);
  write_in_pieces(writer, data);
  REQUIRE(writer.finish());
  CHECK(writer.written() == data.size());
  CHECK(writer.wrote_direct() == (direct && direct_supported()));
  // Left where the next write appends, without O_DIRECT.
  CHECK(lseek(fd.get(), 0, SEEK_CUR) == static_cast<off_t>(data.size()));
  CHECK((fcntl(fd.get(), F_GETFL) & O_DIRECT) == 0);
  REQUIRE(fd.write_all("tail"));
  CHECK(aptship::test::read("out") == data + "tail");
}

TEST_CASE("background_writer: bytes filled in place and bytes written land in order") {
  aptship::test::ScopedTempDir tmp;
  const std::string data = random_bytes((9 << 20) + 1234, 4);
  const bool direct = GENERATE(true, false);
  INFO((direct ? "direct" : "page cache"));
  Fd fd = open_output("out");
  BackgroundWriter writer(fd, direct ? BackgroundWriter::Mode::direct
                                     : BackgroundWriter::Mode::page_cache);
  std::mt19937 rng(5);
  std::string_view rest = data;
  while (!rest.empty()) {
    const size_t n = std::min(rest.size(), 1 + rng() % 700000);
    if (rng() % 2 == 0) {
      REQUIRE(writer.write(rest.substr(0, n)));
      rest.remove_prefix(n);
      continue;
    }
    // Fills at most the room there is, as a compressor would.
    const std::span<char> room = writer.space();
    REQUIRE_FALSE(room.empty());
    const size_t fill = std::min(n, room.size());
    std::memcpy(room.data(), rest.data(), fill);
    REQUIRE(writer.commit(fill));
    rest.remove_prefix(fill);
  }
  REQUIRE(writer.finish());
  CHECK(writer.written() == data.size());
  CHECK(aptship::test::read("out") == data);
}

TEST_CASE("background_writer: an output that starts mid-page is written through the cache") {
  aptship::test::ScopedTempDir tmp;
  Fd fd = open_output("out");
  REQUIRE(fd.write_all("head"));
  const std::string data = random_bytes(5 << 20, 2);
  BackgroundWriter writer(fd, BackgroundWriter::Mode::direct);
  write_in_pieces(writer, data);
  REQUIRE(writer.finish());
  CHECK_FALSE(writer.wrote_direct());
  CHECK(aptship::test::read("out") == "head" + data);
}

TEST_CASE("background_writer: an empty output writes nothing") {
  aptship::test::ScopedTempDir tmp;
  Fd fd = open_output("out");
  BackgroundWriter writer(fd, BackgroundWriter::Mode::direct);
  REQUIRE(writer.finish());
  CHECK(writer.written() == 0);
  CHECK(aptship::test::read("out").empty());
}

TEST_CASE("background_writer: a failed write is reported, by a later write or by finish") {
  aptship::test::ScopedTempDir tmp;
  aptship::test::write("out", "");
  Fd fd = open_output("out", O_RDONLY);
  const std::string data = random_bytes(13 << 20, 3);
  BackgroundWriter writer(fd, BackgroundWriter::Mode::page_cache);
  bool failed = false;
  for (size_t at = 0; at < data.size() && !failed; at += 1 << 20) {
    auto wrote = writer.write(std::string_view(data).substr(at, 1 << 20));
    if (!wrote) {
      CHECK_THAT(wrote.error().message(), Catch::Contains("writing the output"));
      failed = true;
    }
  }
  auto finished = writer.finish();
  REQUIRE_FALSE(finished);
  CHECK_THAT(finished.error().message(), Catch::Contains("writing the output"));
}

TEST_CASE("background_writer: dropped before finish, it stops without writing the rest") {
  aptship::test::ScopedTempDir tmp;
  Fd fd = open_output("out");
  {
    BackgroundWriter writer(fd, BackgroundWriter::Mode::direct);
    write_in_pieces(writer, random_bytes(9 << 20, 4));
  }
  CHECK((fcntl(fd.get(), F_GETFL) & O_DIRECT) == 0);
  CHECK(aptship::test::read("out").size() <= (9U << 20));
}
