#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "aptrepo/core/hash.hpp"
#include "aptrepo/deb/file_feed.hpp"
#include "aptrepo/deb/tree.hpp"
#include "testutil.hpp"

using aptship::Digest;
using aptship::archive::EntryType;
using aptship::deb::FileFeed;
using aptship::deb::scan_tree;
using aptship::deb::Tree;
using aptship::deb::TreeEntry;
using aptship::test::ScopedTempDir;

namespace {

Tree listed(const std::string& root = "tree") {
  auto tree = scan_tree(root, std::nullopt);
  INFO((tree ? std::string() : tree.error().message()));
  REQUIRE(tree);
  return std::move(*tree);
}

std::vector<const TreeEntry*> regular_files(const Tree& tree) {
  std::vector<const TreeEntry*> out;
  for (const TreeEntry& e : tree.entries) {
    if (e.tar.type == EntryType::file) {
      out.push_back(&e);
    }
  }
  return out;
}

// Three small files, a, b and c, read in that order.
void write_three_files() {
  aptship::test::write("tree/a", "first");
  aptship::test::write("tree/b", "second");
  aptship::test::write("tree/c", "third");
}

// Yields FILES by name; with OPEN, each already open, as a scan that opens
// files hands them over.
FileFeed::FileSource source_of(const std::vector<const TreeEntry*>& files, bool open = false) {
  return [&files, open, next = size_t{0}]() mutable -> FileFeed::SourceFile {
    if (next == files.size()) {
      return {};
    }
    const TreeEntry* entry = files[next++];
    aptship::Fd fd;
    if (open) {
      fd = aptship::Fd(::open(("tree/" + entry->source).c_str(), O_RDONLY | O_CLOEXEC));
      REQUIRE(fd);
    }
    return {entry, std::move(fd)};
  };
}

struct Drained {
  std::vector<std::string> contents; // by file number, from the pieces
  size_t chunks = 0;
  std::optional<std::string> error;
};

// Consumes every chunk as the tar writer does, checking that pieces come
// in file order and that each file ends with a last piece.
Drained drain(FileFeed& feed) {
  Drained out;
  size_t current = 0;
  bool open = false;
  while (const FileFeed::Chunk* chunk = feed.next()) {
    ++out.chunks;
    for (const FileFeed::Piece& piece : chunk->pieces) {
      if (!open) {
        REQUIRE(piece.file == out.contents.size());
        out.contents.emplace_back();
        current = piece.file;
        open = true;
      }
      REQUIRE(piece.file == current);
      out.contents.back().append(chunk->data + piece.offset, piece.size);
      if (piece.last) {
        open = false;
      }
    }
    if (chunk->error) {
      out.error = chunk->error->message();
      REQUIRE(feed.next() == nullptr);
      feed.release(chunk);
      break;
    }
    feed.release(chunk);
  }
  if (!out.error) {
    CHECK_FALSE(open);
  }
  return out;
}

} // namespace

TEST_CASE("file_feed: files of every size arrive whole, in order, with their MD5") {
  ScopedTempDir tmp;
  constexpr size_t k_size = 64;
  // Sizes around the buffer size: empty, one byte, exactly one buffer, one
  // more or less, and several buffers.
  const std::vector<size_t> sizes = {0, 1, k_size - 1, k_size,         k_size + 1, 3 * k_size,
                                     0, 7, k_size - 8, 5 * k_size + 3, 2 * k_size, k_size / 2};
  std::vector<std::string> expected;
  for (size_t i = 0; i < sizes.size(); ++i) {
    std::string content;
    for (size_t j = 0; j < sizes[i]; ++j) {
      content.push_back(static_cast<char>('a' + (i * 7 + j) % 26));
    }
    aptship::test::write(std::filesystem::path("tree/d") / fmt::format("f{:02}", i), content);
    expected.push_back(std::move(content));
  }
  const Tree tree = listed();
  const auto files = regular_files(tree);
  REQUIRE(files.size() == sizes.size());
  for (size_t count : {2U, 3U, 8U}) {
    auto feed = FileFeed::start("tree", source_of(files), count, k_size);
    REQUIRE(feed);
    Drained got = drain(**feed);
    CHECK_FALSE(got.error);
    CHECK(got.contents == expected);
    const std::vector<std::string> digests = (*feed)->digests();
    REQUIRE(digests.size() == expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      CHECK(digests[i] == aptship::hex_digest(Digest::md5, expected[i]));
    }
  }
}

TEST_CASE("file_feed: small files share a buffer") {
  ScopedTempDir tmp;
  for (int i = 0; i < 100; ++i) {
    aptship::test::write("tree/f" + std::to_string(1000 + i), "0123456789");
  }
  const Tree tree = listed();
  const auto files = regular_files(tree);
  auto feed = FileFeed::start("tree", source_of(files), 4, 1 << 20);
  REQUIRE(feed);
  Drained got = drain(**feed);
  CHECK(got.contents.size() == 100);
  CHECK(got.chunks == 1);
}

TEST_CASE("file_feed: a file changed, vanished, grown or shrunk is reported after the files "
          "before it") {
  ScopedTempDir tmp;
  write_three_files();
  const Tree tree = listed();
  const auto files = regular_files(tree);
  REQUIRE(files.size() == 3);
  std::string expected_error;
  SECTION("changed size") {
    aptship::test::write("tree/b", "second, longer");
    expected_error = "./b: file changed while packing";
  }
  SECTION("vanished") {
    REQUIRE(unlink("tree/b") == 0);
    expected_error = "./b: file vanished while packing";
  }
  SECTION("replaced by another file of the same size") {
    aptship::test::write("tree/b.new", "SECOND");
    REQUIRE(rename("tree/b.new", "tree/b") == 0);
    expected_error = "./b: file changed while packing";
  }
  auto feed = FileFeed::start("tree", source_of(files), 2, 4);
  REQUIRE(feed);
  Drained got = drain(**feed);
  REQUIRE(got.error);
  CHECK(*got.error == expected_error);
  REQUIRE(!got.contents.empty());
  CHECK(got.contents[0] == "first");
}

TEST_CASE("file_feed: a file handed over open is read from its descriptor, as it was opened") {
  ScopedTempDir tmp;
  write_three_files();
  const Tree tree = listed();
  const auto files = regular_files(tree);
  // Opened all at once here, before the changes below (the source opens
  // each only when the feed asks for it).
  auto source = source_of(files, true);
  std::vector<FileFeed::SourceFile> opened;
  for (size_t i = 0; i < files.size(); ++i) {
    opened.push_back(source());
  }
  // Replaced and removed by name after they were opened: what was opened
  // is what is packed.
  aptship::test::write("tree/b.new", "SECOND");
  REQUIRE(rename("tree/b.new", "tree/b") == 0);
  REQUIRE(unlink("tree/c") == 0);
  auto feed = FileFeed::start(
      "tree",
      [&opened, next = size_t{0}]() mutable -> FileFeed::SourceFile {
        return next < opened.size() ? std::move(opened[next++]) : FileFeed::SourceFile{};
      },
      2, 4);
  REQUIRE(feed);
  Drained got = drain(**feed);
  CHECK_FALSE(got.error);
  CHECK(got.contents == std::vector<std::string>{"first", "second", "third"});
}

TEST_CASE("file_feed: an open file that grew since it was listed is reported") {
  ScopedTempDir tmp;
  aptship::test::write("tree/a", "first");
  const Tree tree = listed();
  const auto files = regular_files(tree);
  aptship::test::write("tree/a", "first, and more");
  auto feed = FileFeed::start("tree", source_of(files, true), 2, 64);
  REQUIRE(feed);
  Drained got = drain(**feed);
  REQUIRE(got.error);
  CHECK(*got.error == "./a: file grew while packing");
}

TEST_CASE("file_feed: stopping before the end neither hangs nor leaks") {
  ScopedTempDir tmp;
  for (int i = 0; i < 50; ++i) {
    aptship::test::write("tree/f" + std::to_string(100 + i), std::string(100, 'x'));
  }
  const Tree tree = listed();
  const auto files = regular_files(tree);
  SECTION("nothing consumed") {
    auto feed = FileFeed::start("tree", source_of(files), 2, 64);
    REQUIRE(feed);
  }
  SECTION("one chunk held") {
    auto feed = FileFeed::start("tree", source_of(files), 2, 64);
    REQUIRE(feed);
    CHECK((*feed)->next() != nullptr);
  }
}

TEST_CASE("file_feed: the root must be a directory") {
  ScopedTempDir tmp;
  std::vector<const TreeEntry*> none;
  CHECK_FALSE(FileFeed::start("missing", source_of(none), 2, 64));
}
