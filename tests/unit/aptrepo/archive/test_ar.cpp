#include <catch2/catch.hpp>

#include <fcntl.h>

#include <string>
#include <vector>

#include "aptrepo/archive/ar.hpp"
#include "aptrepo/core/fd.hpp"
#include "aptrepo/core/subprocess.hpp"
#include "testutil.hpp"

using aptship::Expected;
using aptship::Fd;
using aptship::archive::ar_header;
using aptship::archive::ar_padding;
using aptship::archive::ArMember;
using aptship::archive::k_ar_header_size;
using aptship::archive::k_ar_magic;
using aptship::archive::read_ar;
using aptship::archive::read_member;
using aptship::test::ScopedTempDir;

namespace {

std::string header_of(std::string_view name, uint64_t size, int64_t mtime) {
  auto header = ar_header(name, size, mtime);
  REQUIRE(header);
  return *header;
}

// An ar archive holding MEMBERS (name, content) in order, as ar_header lays
// them out.
std::string archive_of(const std::vector<std::pair<std::string, std::string>>& members) {
  std::string out(k_ar_magic);
  for (const auto& [name, content] : members) {
    out += header_of(name, content.size(), 1700000000);
    out += content;
    out += ar_padding(content.size());
  }
  return out;
}

Expected<std::vector<ArMember>> read_ar_file(const std::string& path) {
  auto fd = Fd::open(path, O_RDONLY);
  REQUIRE(fd);
  return read_ar(*fd, aptship::test::read(path).size());
}

// The error of reading BYTES, the same from a file and from memory.
std::string error_of(const std::string& bytes) {
  aptship::test::write("bad.a", bytes);
  auto members = read_ar_file("bad.a");
  REQUIRE_FALSE(members);
  auto in_memory = read_ar(std::string_view(bytes));
  REQUIRE_FALSE(in_memory);
  CHECK(in_memory.error().message() == members.error().message());
  return members.error().message();
}

} // namespace

TEST_CASE("ar: a header is 60 bytes laid out field by field") {
  const std::string header = header_of("debian-binary", 4, 1700000000);
  REQUIRE(header.size() == k_ar_header_size);
  CHECK(header.substr(0, 16) == "debian-binary   ");
  CHECK(header.substr(16, 12) == "1700000000  ");
  CHECK(header.substr(28, 6) == "0     ");
  CHECK(header.substr(34, 6) == "0     ");
  CHECK(header.substr(40, 8) == "100644  ");
  CHECK(header.substr(48, 10) == "4         ");
  CHECK(header.substr(58, 2) == "`\n");
}

TEST_CASE("ar: names of 1 to 16 bytes and sizes of up to 10 digits fit") {
  CHECK(header_of("a", 0, 0).size() == k_ar_header_size);
  CHECK(header_of("0123456789abcdef", 0, 0).substr(0, 16) == "0123456789abcdef");
  CHECK(header_of("x", 9'999'999'999ULL, 0).substr(48, 12) == "9999999999`\n");
}

TEST_CASE("ar: too long names, empty names and too large sizes are refused") {
  auto long_name = ar_header("0123456789abcdefg", 1, 0);
  REQUIRE_FALSE(long_name);
  CHECK_THAT(long_name.error().message(), Catch::Contains("0123456789abcdefg"));
  CHECK_FALSE(ar_header("", 1, 0));
  auto huge = ar_header("data.tar.zst", 10'000'000'000ULL, 0);
  REQUIRE_FALSE(huge);
  CHECK_THAT(huge.error().message(), Catch::Contains("data.tar.zst"));
}

TEST_CASE("ar: members are padded to an even size") {
  CHECK(ar_padding(0).empty());
  CHECK(ar_padding(1) == "\n");
  CHECK(ar_padding(4).empty());
  CHECK(ar_padding(9'999'999'999ULL) == "\n");
}

TEST_CASE("ar: the debian-binary header matches the one dpkg-deb writes") {
  ScopedTempDir tmp;
  aptship::test::write("pkg/DEBIAN/control", "Package: p\nVersion: 1\nArchitecture: all\n"
                                             "Maintainer: M <m@example.org>\nDescription: d\n");
  aptship::SubprocessOptions options;
  options.env = std::map<std::string, std::string>{{"PATH", "/usr/bin:/bin:/usr/sbin:/sbin"},
                                                   {"SOURCE_DATE_EPOCH", "1700000000"}};
  auto built = aptship::run({"dpkg-deb", "--root-owner-group", "-b", "pkg", "p.deb"}, options);
  REQUIRE(built);
  INFO(built->err);
  REQUIRE(built->ok());
  const std::string deb = aptship::test::read("p.deb");
  REQUIRE(deb.size() > 68);
  CHECK(deb.substr(0, 8) == k_ar_magic);
  CHECK(deb.substr(8, 60) == header_of("debian-binary", 4, 1700000000));
}

TEST_CASE("ar: read_ar lists members with offsets, skipping the padding") {
  ScopedTempDir tmp;
  aptship::test::write(
      "t.a",
      archive_of({{"debian-binary", "2.0\n"}, {"odd", "abc"}, {"empty", ""}, {"last", "xy"}}));
  auto members = read_ar_file("t.a");
  REQUIRE(members);
  REQUIRE(members->size() == 4);
  CHECK((*members)[0].name == "debian-binary");
  CHECK((*members)[0].offset == 8 + 60);
  CHECK((*members)[0].size == 4);
  CHECK((*members)[1].name == "odd");
  CHECK((*members)[1].offset == 8 + 60 + 4 + 60);
  CHECK((*members)[2].name == "empty");
  CHECK((*members)[2].offset == 8 + 60 + 4 + 60 + 3 + 1 + 60);
  CHECK((*members)[2].size == 0);
  CHECK((*members)[3].name == "last");
  auto fd = Fd::open("t.a", O_RDONLY);
  REQUIRE(fd);
  auto odd = read_member(*fd, (*members)[1]);
  REQUIRE(odd);
  CHECK(*odd == "abc");
  auto last = read_member(*fd, (*members)[3]);
  REQUIRE(last);
  CHECK(*last == "xy");
}

TEST_CASE("ar: an archive with only the magic has no members") {
  ScopedTempDir tmp;
  aptship::test::write("t.a", k_ar_magic);
  auto members = read_ar_file("t.a");
  REQUIRE(members);
  CHECK(members->empty());
}

TEST_CASE("ar: GNU ar's '/'-terminated names are read without the '/'") {
  ScopedTempDir tmp;
  aptship::test::write("debian-binary", "2.0\n");
  aptship::test::write("control.tar.gz", "odd");
  auto made = aptship::run({"ar", "rcD", "gnu.a", "debian-binary", "control.tar.gz"});
  REQUIRE(made);
  INFO(made->err);
  REQUIRE(made->ok());
  // GNU ar writes "debian-binary/": the terminator is what this case is about.
  CHECK(aptship::test::read("gnu.a").substr(8, 16) == "debian-binary/  ");
  auto members = read_ar_file("gnu.a");
  REQUIRE(members);
  REQUIRE(members->size() == 2);
  CHECK((*members)[0].name == "debian-binary");
  CHECK((*members)[1].name == "control.tar.gz");
  CHECK((*members)[1].size == 3);
}

TEST_CASE("ar: read_ar refuses what is not an ar archive") {
  ScopedTempDir tmp;
  CHECK_THAT(error_of(""), Catch::Contains("too short"));
  CHECK_THAT(error_of("!<arch>"), Catch::Contains("too short"));
  CHECK_THAT(error_of("!<arcx>\n"), Catch::Contains("bad magic"));
  CHECK_THAT(error_of("PK\x03\x04 not an ar archive at all"), Catch::Contains("bad magic"));
}

TEST_CASE("ar: read_ar refuses a truncated header") {
  ScopedTempDir tmp;
  const std::string full = archive_of({{"debian-binary", "2.0\n"}, {"data", "xyz"}});
  // Cut inside the second header: 8 + 60 + 4 + 30.
  CHECK_THAT(error_of(full.substr(0, 102)), Catch::Contains("truncated ar header at byte 72"));
  CHECK_THAT(error_of(full.substr(0, 8 + 59)), Catch::Contains("truncated ar header at byte 8"));
}

TEST_CASE("ar: read_ar refuses a member that runs past the end") {
  ScopedTempDir tmp;
  const std::string full = archive_of({{"debian-binary", "2.0\n"}, {"data.tar.xz", "0123456789"}});
  // The last member's bytes cut short.
  const std::string message = error_of(full.substr(0, full.size() - 1));
  CHECK_THAT(message, Catch::Contains("data.tar.xz") && Catch::Contains("past the end"));
  // A size field larger than the whole file.
  std::string big = archive_of({{"x", ""}});
  big.replace(8 + 48, 10, "99999     ");
  CHECK_THAT(error_of(big), Catch::Contains("past the end"));
}

TEST_CASE("ar: read_ar refuses corrupt header fields") {
  ScopedTempDir tmp;
  std::string bad_end = archive_of({{"x", "ab"}});
  bad_end[8 + 58] = '\'';
  CHECK_THAT(error_of(bad_end), Catch::Contains("corrupt ar header at byte 8"));
  for (const char* size : {"          ", "12a       ", "-1        ", "0x10      "}) {
    std::string bad_size = archive_of({{"x", "ab"}});
    bad_size.replace(8 + 48, 10, size);
    INFO(size);
    CHECK_THAT(error_of(bad_size), Catch::Contains("bad size field"));
  }
}

TEST_CASE("ar: read_ar of bytes in memory lists what read_ar of the file does") {
  ScopedTempDir tmp;
  const std::string bytes =
      archive_of({{"debian-binary", "2.0\n"}, {"control.tar.gz", "abc"}, {"data.tar.xz", "0123"}});
  aptship::test::write("pkg.deb", bytes);
  auto from_file = read_ar_file("pkg.deb");
  auto from_memory = read_ar(std::string_view(bytes));
  REQUIRE(from_file);
  REQUIRE(from_memory);
  REQUIRE(from_memory->size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK((*from_memory)[i].name == (*from_file)[i].name);
    CHECK((*from_memory)[i].offset == (*from_file)[i].offset);
    CHECK((*from_memory)[i].size == (*from_file)[i].size);
  }
  CHECK(bytes.substr((*from_memory)[1].offset, (*from_memory)[1].size) == "abc");
}
