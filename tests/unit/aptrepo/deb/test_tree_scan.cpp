#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "aptrepo/deb/tree.hpp"
#include "testutil.hpp"

using aptship::deb::scan_tree;
using aptship::deb::Tree;
using aptship::deb::TreeCursor;
using aptship::deb::TreeEntry;
using aptship::deb::TreeScan;
using aptship::test::ScopedTempDir;

namespace {

void populate() {
  for (int d = 0; d < 20; ++d) {
    for (int f = 0; f < 30; ++f) {
      aptship::test::write("tree/d" + std::to_string(d) + "/f" + std::to_string(f),
                           std::string(static_cast<size_t>(f), 'x'));
    }
  }
  REQUIRE(symlink("d0/f1", "tree/link") == 0);
}

std::vector<std::string> paths_of(const Tree& tree) {
  std::vector<std::string> out;
  for (const TreeEntry& e : tree.entries) {
    out.push_back(e.tar.path);
  }
  return out;
}

// Populates the tree and lists it with scan_tree, for a scan to match.
Tree populated_listing() {
  populate();
  auto listed = scan_tree("tree", 1000);
  REQUIRE(listed);
  return std::move(*listed);
}

} // namespace

TEST_CASE("tree_scan: entries come out while listed, as scan_tree lists them") {
  ScopedTempDir tmp;
  const Tree expected = populated_listing();
  auto scan = TreeScan::start("tree", 1000);
  TreeCursor cursor(*scan);
  std::vector<std::string> seen;
  const TreeEntry* first = nullptr;
  while (const TreeEntry* e = cursor.next()) {
    first = first != nullptr ? first : e;
    seen.push_back(e->tar.path);
    CHECK(e->tar.mtime <= 1000);
  }
  CHECK(seen == paths_of(expected));
  auto tree = scan->finish();
  REQUIRE(tree);
  CHECK(paths_of(**tree) == seen);
  CHECK((*tree)->installed_size_kib == expected.installed_size_kib);
  // Entries handed out earlier stay where they were.
  CHECK(first == &(*tree)->entries.front());
  CHECK(cursor.next() == nullptr);
}

TEST_CASE("tree_scan: two cursors each walk every entry once, in order, while it is listed") {
  ScopedTempDir tmp;
  const Tree expected = populated_listing();
  auto scan = TreeScan::start("tree", 1000);
  TreeCursor first(*scan);
  TreeCursor second(*scan);
  std::vector<const TreeEntry*> one;
  std::vector<const TreeEntry*> two;
  // Interleaved, as the packer's two readers go.
  while (true) {
    const TreeEntry* a = first.next();
    const TreeEntry* b = second.next();
    CHECK(a == b);
    if (a == nullptr) {
      break;
    }
    one.push_back(a);
    two.push_back(b);
  }
  CHECK(first.next() == nullptr);
  auto tree = scan->finish();
  REQUIRE(tree);
  REQUIRE(one.size() == (*tree)->entries.size());
  for (size_t i = 0; i < one.size(); ++i) {
    CHECK(one[i] == &(*tree)->entries[i]);
  }
  CHECK(paths_of(**tree) == paths_of(expected));
}

TEST_CASE("tree_scan: a scan error ends the listing and comes from finish") {
  ScopedTempDir tmp;
  populate();
  SECTION("a special file") {
    REQUIRE(mkfifo("tree/d3/pipe", 0644) == 0);
    auto scan = TreeScan::start("tree", std::nullopt);
    TreeCursor cursor(*scan);
    while (cursor.next() != nullptr) {
    }
    auto tree = scan->finish();
    REQUIRE_FALSE(tree);
    CHECK_THAT(tree.error().message(), Catch::StartsWith("./d3/pipe: "));
  }
  SECTION("a symlink loop, found once everything is listed") {
    REQUIRE(symlink("loop-b", "tree/loop-a") == 0);
    REQUIRE(symlink("loop-a", "tree/loop-b") == 0);
    auto scan = TreeScan::start("tree", std::nullopt);
    auto tree = scan->finish();
    REQUIRE_FALSE(tree);
    CHECK_THAT(tree.error().message(), Catch::Contains("symlink loop"));
  }
  SECTION("a missing root") {
    auto scan = TreeScan::start("missing", std::nullopt);
    CHECK(TreeCursor(*scan).next() == nullptr);
    CHECK_FALSE(scan->finish());
  }
}

TEST_CASE("tree_scan: destroying a running scan stops it") {
  ScopedTempDir tmp;
  populate();
  auto scan = TreeScan::start("tree", std::nullopt);
  CHECK(TreeCursor(*scan).next() != nullptr);
  scan.reset();
}
