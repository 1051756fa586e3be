#include <catch2/catch.hpp>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include <sys/stat.h>
#include <unistd.h>

#include "aptrepo/serve/file_tree.hpp"
#include "testutil.hpp"

namespace fs = std::filesystem;
using aptship::serve::FileTree;

namespace {

std::string contents(const aptship::serve::OpenedFile& file) {
  std::string out(static_cast<size_t>(file.st.st_size), '\0');
  REQUIRE(pread(file.fd.get(), out.data(), out.size(), 0) == static_cast<ssize_t>(out.size()));
  return out;
}

} // namespace

TEST_CASE("FileTree opens files and directories below the root", "[serve][file_tree]") {
  aptship::test::ScopedTempDir tmp;
  aptship::test::write("root/dists/stable/Release", "release\n");
  auto tree = FileTree::open("root");
  REQUIRE(tree);
  CHECK(tree->root() == fs::canonical("root").string());
  auto file = tree->open_file("dists/stable/Release");
  REQUIRE(file);
  CHECK(S_ISREG(file->st.st_mode));
  CHECK(contents(*file) == "release\n");
  auto root = tree->open_file(".");
  REQUIRE(root);
  CHECK(S_ISDIR(root->st.st_mode));
  auto missing = tree->open_file("dists/stable/InRelease");
  REQUIRE_FALSE(missing);
  CHECK(missing.error() == ENOENT);
}

TEST_CASE("FileTree follows links that stay inside the tree", "[serve][file_tree]") {
  aptship::test::ScopedTempDir tmp;
  aptship::test::write("root/.gen/stable/7/Release", "generation 7\n");
  fs::create_directories("root/dists");
  // Relative, through "..", and absolute: all land inside the root.
  fs::create_symlink("../.gen/stable/7", "root/dists/stable");
  fs::create_symlink(fs::absolute("root/.gen/stable/7"), "root/dists/absolute");
  fs::create_symlink("../../root/.gen/stable/7", "root/dists/roundabout");
  auto tree = FileTree::open("root");
  REQUIRE(tree);
  for (const char* path :
       {"dists/stable/Release", "dists/absolute/Release", "dists/roundabout/Release"}) {
    INFO(path);
    auto file = tree->open_file(path);
    REQUIRE(file);
    CHECK(contents(*file) == "generation 7\n");
  }
}

TEST_CASE("FileTree opens through \"..\" links while renames happen elsewhere",
          "[serve][file_tree]") {
  // The kernel may refuse a RESOLVE_BENEATH walk over ".." with EAGAIN when
  // any rename on the machine races it; such an open must still succeed.
  aptship::test::ScopedTempDir tmp;
  aptship::test::write("root/.gen/stable/7/InRelease", "generation 7\n");
  fs::create_directories("root/dists");
  fs::create_symlink("../.gen/stable/7", "root/dists/stable");
  aptship::test::write("elsewhere/a", "x");
  auto tree = FileTree::open("root");
  REQUIRE(tree);
  std::atomic<bool> stop{false};
  std::thread renamer([&stop] {
    while (!stop) {
      ::rename("elsewhere/a", "elsewhere/b");
      ::rename("elsewhere/b", "elsewhere/a");
    }
  });
  int failures = 0;
  int last_error = 0;
  for (int i = 0; i < 20'000; ++i) {
    auto file = tree->open_file("dists/stable/InRelease");
    if (!file) {
      ++failures;
      last_error = file.error();
    }
  }
  stop = true;
  renamer.join();
  INFO("last error: " << std::strerror(last_error));
  CHECK(failures == 0);
}

TEST_CASE("FileTree refuses links that leave the tree", "[serve][file_tree]") {
  aptship::test::ScopedTempDir tmp;
  aptship::test::write("secret", "secret\n");
  aptship::test::write("root/index", "index\n");
  fs::create_directories("root/sub");
  fs::create_symlink("../secret", "root/relative");
  fs::create_symlink(fs::absolute("secret"), "root/absolute");
  fs::create_symlink("../../secret", "root/sub/deeper");
  fs::create_symlink("..", "root/parent");
  fs::create_symlink("/", "root/slash");
  auto tree = FileTree::open("root");
  REQUIRE(tree);
  for (const char* path :
       {"relative", "absolute", "sub/deeper", "parent/secret", "parent", "slash/etc/passwd"}) {
    INFO(path);
    auto file = tree->open_file(path);
    REQUIRE_FALSE(file);
    CHECK(file.error() == ENOENT);
  }
}

TEST_CASE("FileTree does not block on a FIFO in the tree", "[serve][file_tree]") {
  aptship::test::ScopedTempDir tmp;
  fs::create_directories("root");
  REQUIRE(mkfifo("root/fifo", 0644) == 0);
  auto tree = FileTree::open("root");
  REQUIRE(tree);
  auto fifo = tree->open_file("fifo");
  REQUIRE(fifo);
  CHECK(S_ISFIFO(fifo->st.st_mode));
}

TEST_CASE("FileTree::open fails for a missing root", "[serve][file_tree]") {
  aptship::test::ScopedTempDir tmp;
  auto tree = FileTree::open("nowhere");
  REQUIRE_FALSE(tree);
  CHECK(tree.error().message().find("nowhere") != std::string::npos);
}
