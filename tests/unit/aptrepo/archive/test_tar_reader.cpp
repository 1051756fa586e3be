#include <catch2/catch.hpp>

#include <fcntl.h>

#include <string>
#include <vector>

#include "aptrepo/archive/tar.hpp"
#include "aptrepo/core/fd.hpp"
#include "aptrepo/core/subprocess.hpp"
#include "testutil.hpp"

using aptship::Expected;
using aptship::archive::Compression;
using aptship::archive::compression_of_member;
using aptship::archive::EntryType;
using aptship::archive::TarEntry;
using aptship::test::ScopedTempDir;

namespace {

struct Read {
  std::vector<TarEntry> entries;
  std::vector<std::string> data;
};

// A visitor that appends each entry and its whole content to OUT.
aptship::archive::EntryFn collect(Read& out) {
  return [&out](const TarEntry& entry, const aptship::archive::DataFn& data) -> Expected<void> {
    std::string content;
    char buffer[4096];
    while (true) {
      TRY_ASSIGN(size_t n, data(buffer, sizeof(buffer)));
      if (n == 0) {
        break;
      }
      content.append(buffer, n);
    }
    out.entries.push_back(entry);
    out.data.push_back(std::move(content));
    return {};
  };
}

// Reads [OFFSET, OFFSET+SIZE) of PATH as the member NAME, collecting every
// entry and its contents.
Expected<Read> read_range(const std::string& path, uint64_t offset, uint64_t size,
                          const std::string& name) {
  auto fd = aptship::Fd::open(path, O_RDONLY);
  REQUIRE(fd);
  Read out;
  TRY(aptship::archive::read_tar(*fd, offset, size, name, collect(out)));
  return out;
}

// Reads BYTES, a member named NAME held in memory, like read_range.
Expected<Read> read_bytes(const std::string& bytes, const std::string& name) {
  Read out;
  TRY(aptship::archive::read_tar(bytes, name, collect(out)));
  return out;
}

// Reads the whole file at PATH as the member NAME (its own name by default).
Expected<Read> read_whole(const std::string& path, const std::string& name = "") {
  return read_range(path, 0, aptship::test::read(path).size(), name.empty() ? path : name);
}

void run_ok(const std::vector<std::string>& argv) {
  auto result = aptship::run(argv);
  REQUIRE(result);
  INFO(result->err);
  REQUIRE(result->ok());
}

// Makes a small tree under "tree": ./etc/app.conf, ./usr/bin/app, a symlink.
void make_tree() {
  aptship::test::write("tree/etc/app.conf", "key=value\n");
  aptship::test::write("tree/usr/bin/app", "#!/bin/sh\necho hi\n", 0755);
  run_ok({"ln", "-s", "../../etc/app.conf", "tree/usr/bin/app.conf"});
  run_ok({"touch", "-h", "-d", "@1700000000", "tree/etc/app.conf", "tree/usr/bin/app",
          "tree/usr/bin/app.conf"});
}

// Runs a python3 script with ARGS (tarfile builds what GNU tar will not).
void python(const std::string& script, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"python3", "-c", "import sys, tarfile, io\n" + script};
  argv.insert(argv.end(), args.begin(), args.end());
  run_ok(argv);
}

const TarEntry* find(const Read& read, const std::string& path) {
  for (const TarEntry& e : read.entries) {
    if (e.path == path) {
      return &e;
    }
  }
  return nullptr;
}

// GNU tar's flag for each compression a member may have, and the member's name.
struct Compressed {
  const char* flag;
  const char* name;
};
constexpr Compressed k_compressed[] = {{"--zstd", "data.tar.zst"},
                                       {"--xz", "data.tar.xz"},
                                       {"--gzip", "data.tar.gz"},
                                       {"--bzip2", "data.tar.bz2"},
                                       {"--no-auto-compress", "data.tar"}};

} // namespace

TEST_CASE("tar_reader: GNU tar's output reads back for every compression") {
  for (const Compressed& c : k_compressed) {
    ScopedTempDir tmp;
    INFO(c.name);
    make_tree();
    run_ok({"tar", "--format=gnu", c.flag, "--owner=alice:1234", "--group=staff:50", "--sort=name",
            "-C", "tree", "-cf", c.name, "."});
    auto read = read_whole(c.name);
    REQUIRE(read);
    REQUIRE(read->entries.size() == 7);
    CHECK(read->entries[0].path == "./");
    CHECK(read->entries[0].type == EntryType::directory);
    const TarEntry* app = find(*read, "./usr/bin/app");
    REQUIRE(app != nullptr);
    CHECK(app->type == EntryType::file);
    CHECK(app->mode == 0755);
    CHECK(app->mtime == 1700000000);
    CHECK(app->size == 18);
    // The owner as stored, not as anyone would install it.
    CHECK(app->uid == 1234);
    CHECK(app->gid == 50);
    CHECK(app->uname == "alice");
    CHECK(app->gname == "staff");
    CHECK_FALSE(app->pax);
    const TarEntry* link = find(*read, "./usr/bin/app.conf");
    REQUIRE(link != nullptr);
    CHECK(link->type == EntryType::symlink);
    CHECK(link->link_target == "../../etc/app.conf");
    const size_t conf = static_cast<size_t>(find(*read, "./etc/app.conf") - &read->entries[0]);
    CHECK(read->data[conf] == "key=value\n");
  }
}

TEST_CASE("tar_reader: a member is read in place from its byte range") {
  ScopedTempDir tmp;
  make_tree();
  run_ok({"tar", "--format=gnu", "--gzip", "-C", "tree", "-cf", "member.tar.gz", "."});
  const std::string member = aptship::test::read("member.tar.gz");
  // Bytes around the member that a reader of the range must never see.
  aptship::test::write("container", std::string(1001, 'x') + member + std::string(77, 'y'));
  auto read = read_range("container", 1001, member.size(), "data.tar.gz");
  REQUIRE(read);
  CHECK(read->entries.size() == 7);
}

TEST_CASE("tar_reader: hard links are reported with the path they name") {
  ScopedTempDir tmp;
  make_tree();
  run_ok({"ln", "tree/usr/bin/app", "tree/usr/bin/app2"});
  run_ok({"tar", "--format=gnu", "--sort=name", "-C", "tree", "-cf", "data.tar", "."});
  auto read = read_whole("data.tar");
  REQUIRE(read);
  const TarEntry* second = find(*read, "./usr/bin/app2");
  REQUIRE(second != nullptr);
  CHECK(second->type == EntryType::hardlink);
  CHECK(second->link_target == "./usr/bin/app");
}

TEST_CASE("tar_reader: an entry with a pax header is flagged") {
  ScopedTempDir tmp;
  python("with tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT) as t:\n"
         "  for name, pax in (('./a', {'comment': 'pax'}), ('./b', {})):\n"
         "    info = tarfile.TarInfo(name)\n"
         "    info.size = 2\n"
         "    info.pax_headers = pax\n"
         "    t.addfile(info, io.BytesIO(b'hi'))\n",
         {"data.tar"});
  auto read = read_whole("data.tar");
  REQUIRE(read);
  REQUIRE(read->entries.size() == 2);
  CHECK(read->entries[0].path == "./a");
  CHECK(read->entries[0].pax);
  CHECK(read->data[0] == "hi");
}

TEST_CASE("tar_reader: GNU tar's pax format is flagged for long names") {
  ScopedTempDir tmp;
  const std::string long_name = std::string(150, 'n');
  aptship::test::write("tree/" + long_name, "x");
  run_ok({"tar", "--format=pax", "-C", "tree", "-cf", "data.tar", "."});
  auto read = read_whole("data.tar");
  REQUIRE(read);
  const TarEntry* entry = find(*read, "./" + long_name);
  REQUIRE(entry != nullptr);
  CHECK(entry->pax);
}

TEST_CASE("tar_reader: a global pax header is flagged") {
  ScopedTempDir tmp;
  python("with tarfile.open(sys.argv[1], 'w', format=tarfile.PAX_FORMAT,\n"
         "                  pax_headers={'comment': 'global'}) as t:\n"
         "  info = tarfile.TarInfo('./a')\n"
         "  t.addfile(info, io.BytesIO(b''))\n",
         {"data.tar"});
  auto read = read_whole("data.tar");
  REQUIRE(read);
  REQUIRE(read->entries.size() == 1);
  CHECK(read->entries[0].pax);
}

TEST_CASE("tar_reader: a member whose content does not match its extension is refused") {
  ScopedTempDir tmp;
  make_tree();
  run_ok({"tar", "--format=gnu", "--gzip", "-C", "tree", "-cf", "gz", "."});
  run_ok({"tar", "--format=gnu", "--zstd", "-C", "tree", "-cf", "zst", "."});
  run_ok({"tar", "--format=gnu", "--no-auto-compress", "-C", "tree", "-cf", "plain", "."});
  struct Case {
    const char* file;
    const char* name;
  };
  for (Case c : {Case{"gz", "data.tar.xz"}, Case{"gz", "data.tar.zst"}, Case{"gz", "data.tar"},
                 Case{"zst", "data.tar.gz"}, Case{"zst", "data.tar"}, Case{"plain", "data.tar.xz"},
                 Case{"plain", "control.tar.zst"}}) {
    INFO(c.file << " read as " << c.name);
    auto read = read_whole(c.file, c.name);
    REQUIRE_FALSE(read);
    CHECK_THAT(read.error().message(), Catch::StartsWith(std::string(c.name) + ": "));
  }
}

TEST_CASE("tar_reader: unknown compressions are refused by name") {
  ScopedTempDir tmp;
  aptship::test::write("x", "whatever");
  for (const char* name : {"data.tar.lzma", "data.tar.zstd", "data.tar.gz.xz"}) {
    INFO(name);
    auto read = read_whole("x", name);
    REQUIRE_FALSE(read);
    CHECK_THAT(read.error().message(), Catch::Contains(name));
  }
}

TEST_CASE("tar_reader: a truncated member is refused") {
  ScopedTempDir tmp;
  make_tree();
  aptship::test::write("tree/usr/share/big", std::string(200'000, 'b'));
  run_ok({"tar", "--format=gnu", "--xz", "-C", "tree", "-cf", "data.tar.xz", "."});
  const std::string whole = aptship::test::read("data.tar.xz");
  aptship::test::write("cut.tar.xz", whole.substr(0, whole.size() / 2));
  auto cut = read_whole("cut.tar.xz", "data.tar.xz");
  REQUIRE_FALSE(cut);
  CHECK_THAT(cut.error().message(), Catch::StartsWith("data.tar.xz: "));
  // A range that claims more bytes than the file holds.
  auto past_end = read_range("data.tar.xz", 0, whole.size() + 100, "data.tar.xz");
  REQUIRE_FALSE(past_end);
  CHECK_THAT(past_end.error().message(), Catch::StartsWith("data.tar.xz: "));
}

TEST_CASE("tar_reader: the visitor's error stops the walk and is returned") {
  ScopedTempDir tmp;
  make_tree();
  run_ok({"tar", "--format=gnu", "--sort=name", "-C", "tree", "-cf", "data.tar", "."});
  auto fd = aptship::Fd::open("data.tar", O_RDONLY);
  REQUIRE(fd);
  size_t visited = 0;
  auto read = aptship::archive::read_tar(
      *fd, 0, aptship::test::read("data.tar").size(), "data.tar",
      [&visited](const TarEntry& /*entry*/,
                 const aptship::archive::DataFn& /*data*/) -> Expected<void> {
        if (++visited == 2) {
          return aptship::make_error("stop here");
        }
        return {};
      });
  REQUIRE_FALSE(read);
  CHECK(read.error().message() == "stop here");
  CHECK(visited == 2);
}

TEST_CASE("tar_reader: compression_of_member reads the extension after the stem") {
  struct Case {
    const char* member;
    Compression compression;
  };
  for (Case c : {Case{"data.tar.zst", Compression::zstd}, Case{"data.tar.xz", Compression::xz},
                 Case{"data.tar.gz", Compression::gzip}, Case{"data.tar", Compression::none}}) {
    INFO(c.member);
    auto compression = compression_of_member(c.member, "data.tar");
    REQUIRE(compression);
    CHECK(*compression == c.compression);
  }
  auto other_stem = compression_of_member("control.tar.gz", "data.tar");
  REQUIRE_FALSE(other_stem);
  CHECK_THAT(other_stem.error().message(), Catch::Contains("control.tar.gz"));
  for (const char* bad : {"data.tar.bz2", "data.tar.lzma", "data.tarx", "data.tar.", "data.tgz"}) {
    INFO(bad);
    CHECK_FALSE(compression_of_member(bad, "data.tar"));
  }
}

TEST_CASE("tar_reader: a member in memory reads as the same bytes in a file do") {
  for (const Compressed& c : k_compressed) {
    ScopedTempDir tmp;
    INFO(c.name);
    make_tree();
    run_ok({"tar", "--format=gnu", c.flag, "--sort=name", "-C", "tree", "-cf", c.name, "."});
    auto from_file = read_whole(c.name);
    auto from_memory = read_bytes(aptship::test::read(c.name), c.name);
    REQUIRE(from_file);
    REQUIRE(from_memory);
    REQUIRE(from_memory->entries.size() == from_file->entries.size());
    for (size_t i = 0; i < from_file->entries.size(); ++i) {
      CHECK(from_memory->entries[i].path == from_file->entries[i].path);
      CHECK(from_memory->entries[i].size == from_file->entries[i].size);
      CHECK(from_memory->data[i] == from_file->data[i]);
    }
    // The name decides the compression in memory too.
    auto wrong = read_bytes(aptship::test::read(c.name), "data.tar.lzma");
    REQUIRE_FALSE(wrong);
  }
}

TEST_CASE("tar_reader: a gzip stream of several members reads as one tar stream") {
  ScopedTempDir tmp;
  make_tree();
  run_ok({"tar", "--format=gnu", "--sort=name", "-C", "tree", "-cf", "data.tar", "."});
  const std::string tar = aptship::test::read("data.tar");
  // Split inside a header block: neither half is a tar stream on its own.
  aptship::test::write("first", tar.substr(0, 700));
  aptship::test::write("second", tar.substr(700));
  run_ok({"gzip", "-n", "first", "second"});
  const std::string joined = aptship::test::read("first.gz") + aptship::test::read("second.gz");
  aptship::test::write("data.tar.gz", joined);
  auto read = read_whole("data.tar.gz");
  REQUIRE(read);
  CHECK(read->entries.size() == 7);
  auto in_memory = read_bytes(joined, "data.tar.gz");
  REQUIRE(in_memory);
  CHECK(in_memory->entries.size() == 7);
}

TEST_CASE("tar_reader: a corrupt or truncated gzip member is refused") {
  ScopedTempDir tmp;
  make_tree();
  aptship::test::write("tree/usr/share/text", std::string(50'000, 't'));
  run_ok({"tar", "--format=gnu", "--gzip", "-C", "tree", "-cf", "data.tar.gz", "."});
  const std::string whole = aptship::test::read("data.tar.gz");
  std::string corrupt = whole;
  corrupt[corrupt.size() - 6] ^= 0x55; // the CRC of the inflated data
  aptship::test::write("corrupt.tar.gz", corrupt);
  aptship::test::write("cut.tar.gz", whole.substr(0, whole.size() - 30));
  for (const char* file : {"corrupt.tar.gz", "cut.tar.gz"}) {
    INFO(file);
    auto read = read_whole(file, "data.tar.gz");
    REQUIRE_FALSE(read);
    CHECK_THAT(read.error().message(), Catch::StartsWith("data.tar.gz: "));
  }
}

TEST_CASE("tar_reader: large members are streamed with the same result") {
  ScopedTempDir tmp;
  make_tree();
  // Past what is read at once (16 MiB stored), and past what is inflated
  // at once (64 MiB from a small gzip member).
  aptship::test::write("tree/usr/share/zeros", std::string(70U << 20, '\0'));
  run_ok({"tar", "--format=gnu", "--sort=name", "-C", "tree", "-cf", "data.tar", "."});
  run_ok({"gzip", "-1", "-k", "-n", "data.tar"});
  for (const char* name : {"data.tar", "data.tar.gz"}) {
    INFO(name);
    auto read = read_whole(name);
    REQUIRE(read);
    const TarEntry* zeros = find(*read, "./usr/share/zeros");
    REQUIRE(zeros != nullptr);
    CHECK(zeros->size == (70U << 20));
  }
}
