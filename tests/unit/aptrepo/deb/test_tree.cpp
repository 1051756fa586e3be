#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "aptrepo/core/subprocess.hpp"
#include "aptrepo/deb/tree.hpp"
#include "testutil.hpp"

using aptship::archive::EntryType;
using aptship::deb::scan_tree;
using aptship::deb::Tree;
using aptship::deb::TreeEntry;
using aptship::test::ScopedTempDir;

namespace {

void run_ok(const std::vector<std::string>& argv, const std::filesystem::path& cwd = {}) {
  aptship::SubprocessOptions options;
  options.cwd = cwd;
  auto result = aptship::run(argv, options);
  REQUIRE(result);
  INFO(result->err);
  REQUIRE(result->ok());
}

void symlink_to(const std::string& target, const std::string& link) {
  std::filesystem::create_directories(std::filesystem::path(link).parent_path());
  REQUIRE(symlink(target.c_str(), link.c_str()) == 0);
}

Tree scan(const std::string& root = "tree", std::optional<int64_t> clamp = std::nullopt) {
  auto tree = scan_tree(root, clamp);
  INFO((tree ? std::string() : tree.error().message()));
  REQUIRE(tree);
  return *tree;
}

std::string scan_error(const std::string& root = "tree") {
  auto tree = scan_tree(root, std::nullopt);
  REQUIRE_FALSE(tree);
  // One line: it ends up in logs and HTTP responses.
  CHECK(tree.error().message().find('\n') == std::string::npos);
  return tree.error().message();
}

std::vector<std::string> paths_of(const Tree& tree) {
  std::vector<std::string> out;
  for (const TreeEntry& e : tree.entries) {
    out.push_back(e.tar.path);
  }
  return out;
}

const TreeEntry& entry(const Tree& tree, const std::string& path) {
  for (const TreeEntry& e : tree.entries) {
    if (e.tar.path == path) {
      return e;
    }
  }
  FAIL("no entry " << path);
  throw std::logic_error("unreachable");
}

// True when the kernel itself, resolving PATH, finds a loop.
bool kernel_finds_loop(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) != 0 && errno == ELOOP;
}

} // namespace

TEST_CASE("tree: './' first, then depth-first with names sorted bytewise") {
  ScopedTempDir tmp;
  for (const char* path :
       {"tree/ab", "tree/a-b", "tree/a/b", "tree/a/c/d", "tree/a.c", "tree/B", "tree/a/C"}) {
    aptship::test::write(path, "x");
  }
  // A directory sorts by its bare name: "a" before "a-b", though "a/"
  // would sort after "a-b" as a whole path.
  CHECK(paths_of(scan()) == std::vector<std::string>{"./", "./B", "./a/", "./a/C", "./a/b",
                                                     "./a/c/", "./a/c/d", "./a-b", "./a.c",
                                                     "./ab"});
}

TEST_CASE("tree: the order is the one dpkg-deb gives data.tar") {
  ScopedTempDir tmp;
  for (const char* path : {"tree/ab", "tree/a-b", "tree/a/b", "tree/a/c/d", "tree/a.c", "tree/B",
                           "tree/a/C", "tree/a_/z", "tree/a~"}) {
    aptship::test::write(path, "x");
  }
  const std::vector<std::string> ours = paths_of(scan());
  aptship::test::write("tree/DEBIAN/control", "Package: p\nVersion: 1\nArchitecture: all\n"
                                              "Maintainer: M <m@example.org>\nDescription: d\n");
  run_ok({"dpkg-deb", "--root-owner-group", "-Znone", "-b", "tree", "p.deb"});
  run_ok({"sh", "-c", "dpkg-deb --fsys-tarfile p.deb | tar -t > list"});
  std::vector<std::string> theirs;
  const std::string list = aptship::test::read("list");
  for (size_t at = 0; at < list.size();) {
    const size_t end = list.find('\n', at);
    theirs.push_back(list.substr(at, end - at));
    at = end + 1;
  }
  CHECK(ours == theirs);
}

TEST_CASE("tree: DEBIAN is skipped at the top level only") {
  ScopedTempDir tmp;
  aptship::test::write("tree/DEBIAN/control", "Package: p\n");
  aptship::test::write("tree/usr/DEBIAN/keep", "x");
  CHECK(paths_of(scan()) ==
        std::vector<std::string>{"./", "./usr/", "./usr/DEBIAN/", "./usr/DEBIAN/keep"});
}

TEST_CASE("tree: entries carry type, mode, size, link target and source path") {
  ScopedTempDir tmp;
  aptship::test::write("tree/usr/bin/tool", "#!/bin/sh\n", 0755);
  aptship::test::write("tree/etc/secret", "s", 0600);
  symlink_to("../etc/secret", "tree/usr/link");
  REQUIRE(chmod("tree/usr", 0750) == 0);
  const Tree tree = scan();
  const TreeEntry& root = entry(tree, "./");
  CHECK(root.source.empty());
  CHECK(root.tar.type == EntryType::directory);
  const TreeEntry& usr = entry(tree, "./usr/");
  CHECK(usr.source == "usr");
  CHECK(usr.tar.mode == 0750);
  const TreeEntry& tool = entry(tree, "./usr/bin/tool");
  CHECK(tool.source == "usr/bin/tool");
  CHECK(tool.tar.type == EntryType::file);
  CHECK(tool.tar.mode == 0755);
  CHECK(tool.tar.size == 10);
  struct stat st {};
  REQUIRE(stat("tree/usr/bin/tool", &st) == 0);
  CHECK(tool.ino == st.st_ino);
  CHECK(tool.dev == st.st_dev);
  CHECK(entry(tree, "./etc/secret").tar.mode == 0600);
  const TreeEntry& link = entry(tree, "./usr/link");
  CHECK(link.tar.type == EntryType::symlink);
  CHECK(link.tar.link_target == "../etc/secret");
}

TEST_CASE("tree: a hard link becomes a link to the first path that names the file") {
  ScopedTempDir tmp;
  aptship::test::write("tree/b/first", std::string(3000, 'x'));
  std::filesystem::create_directory("tree/a");
  run_ok({"ln", "tree/b/first", "tree/a/second"});
  run_ok({"ln", "tree/b/first", "tree/c"});
  // A link to a file outside the tree does not make the file a link.
  aptship::test::write("tree/alone", "y");
  run_ok({"ln", "tree/alone", "outside"});
  const Tree tree = scan();
  const TreeEntry& first = entry(tree, "./a/second");
  CHECK(first.tar.type == EntryType::file);
  CHECK(first.tar.size == 3000);
  for (const char* path : {"./b/first", "./c"}) {
    INFO(path);
    const TreeEntry& link = entry(tree, path);
    CHECK(link.tar.type == EntryType::hardlink);
    CHECK(link.tar.link_target == "./a/second");
    CHECK(link.tar.size == 0);
  }
  CHECK(entry(tree, "./alone").tar.type == EntryType::file);
  // 3 directories, 3 KiB once for the linked file, 1 for "alone".
  CHECK(tree.installed_size_kib == 3 + 3 + 1);
}

TEST_CASE("tree: Installed-Size is counted as dpkg-gencontrol counts it") {
  ScopedTempDir tmp;
  aptship::test::write("tree/usr/empty", "");
  aptship::test::write("tree/usr/one", "1");
  aptship::test::write("tree/usr/kib", std::string(1024, 'k'));
  aptship::test::write("tree/usr/kib1", std::string(1025, 'k'));
  run_ok({"ln", "tree/usr/kib1", "tree/usr/kib1-again"});
  symlink_to("12345", "tree/usr/link");
  symlink_to(std::string(1500, 't'), "tree/usr/longlink");
  std::filesystem::create_directories("tree/usr/share/doc");
  // dirs ./ usr share doc: 4; files 0+1+1+2 (the link is free); symlinks 1+2.
  const Tree tree = scan();
  CHECK(tree.installed_size_kib == 4 + 4 + 3);

  aptship::test::write("src/debian/control", "Source: p\nMaintainer: M <m@example.org>\n\n"
                                             "Package: p\nArchitecture: all\n"
                                             "Description: d\n long\n");
  aptship::test::write("src/debian/changelog",
                       "p (1.0-1) unstable; urgency=medium\n\n  * Test.\n\n"
                       " -- M <m@example.org>  Tue, 14 Nov 2023 22:13:20 +0000\n");
  aptship::SubprocessOptions options;
  options.cwd = "src";
  auto generated = aptship::run(
      {"dpkg-gencontrol", "-pp", "-P" + (tmp.path() / "tree").string(), "-ffiles", "-O"}, options);
  REQUIRE(generated);
  INFO(generated->err);
  REQUIRE(generated->ok());
  CHECK_THAT(generated->out,
             Catch::Contains("Installed-Size: " + std::to_string(tree.installed_size_kib) + "\n"));
}

TEST_CASE("tree: mtimes later than the clamp are clamped, earlier ones kept") {
  ScopedTempDir tmp;
  aptship::test::write("tree/old", "o");
  aptship::test::write("tree/new", "n");
  symlink_to("new", "tree/link");
  run_ok({"touch", "-d", "@1000", "tree/old"});
  run_ok({"touch", "-d", "@3000000000", "tree/new"});
  run_ok({"touch", "-h", "-d", "@3000000000", "tree/link"});
  run_ok({"touch", "-d", "@2500000000", "tree"});
  const Tree clamped = scan("tree", 2000000000);
  CHECK(entry(clamped, "./old").tar.mtime == 1000);
  CHECK(entry(clamped, "./new").tar.mtime == 2000000000);
  CHECK(entry(clamped, "./link").tar.mtime == 2000000000);
  CHECK(entry(clamped, "./").tar.mtime == 2000000000);
  const Tree unclamped = scan("tree", std::nullopt);
  CHECK(entry(unclamped, "./new").tar.mtime == 3000000000);
  CHECK(entry(unclamped, "./").tar.mtime == 2500000000);
}

TEST_CASE("tree: symlinks that loop within the package are refused") {
  struct Case {
    const char* what;
    std::vector<std::pair<std::string, std::string>> links; // link path -> target
    bool relative;                                          // the kernel can check it here
  };
  const std::vector<Case> cases = {
      {"a -> b -> a", {{"usr/a", "b"}, {"usr/b", "a"}}, true},
      {"self", {{"usr/self", "self"}}, true},
      {"self through ./", {{"usr/self", "./self"}}, true},
      {"through a directory symlink", {{"usr/real/x", "../loop/x"}, {"usr/loop", "real"}}, true},
      {"absolute, resolved in the package root", {{"x", "/x"}}, false},
      {"absolute pair", {{"usr/a", "/usr/b"}, {"usr/b", "../usr/./a"}}, false},
      {"'..' above the root stays at the root", {{"usr/up", "../../../../usr/up"}}, false},
  };
  for (const Case& c : cases) {
    ScopedTempDir tmp;
    INFO(c.what);
    std::filesystem::create_directories("tree/usr/real");
    for (const auto& [link, target] : c.links) {
      symlink_to(target, "tree/" + link);
    }
    if (c.relative) {
      CHECK(kernel_finds_loop("tree/" + c.links.front().first));
    }
    const std::string message = scan_error();
    CHECK_THAT(message, Catch::Contains("loop"));
  }
}

TEST_CASE("tree: symlinks that leave the package or dangle are accepted") {
  ScopedTempDir tmp;
  aptship::test::write("tree/usr/lib/libx.so.1", "elf");
  symlink_to("libx.so.1", "tree/usr/lib/libx.so");
  symlink_to("usr/lib", "tree/lib");
  symlink_to("../../lib/libx.so", "tree/usr/bin/via-dir-link");
  symlink_to("/lib/libx.so", "tree/usr/bin/absolute");
  symlink_to("/etc/passwd", "tree/usr/passwd");
  symlink_to("../../../../../etc/hostname", "tree/usr/up");
  symlink_to("missing/file", "tree/usr/dangling");
  symlink_to("libx.so.1/inside-a-file", "tree/usr/lib/through-file");
  // A chain that ends somewhere real: c -> b -> a -> file.
  symlink_to("b", "tree/usr/c");
  symlink_to("a", "tree/usr/b");
  symlink_to("lib/libx.so.1", "tree/usr/a");
  const Tree tree = scan();
  CHECK(entry(tree, "./usr/dangling").tar.link_target == "missing/file");
}

TEST_CASE("tree: check_symlink_loops works on entries alone") {
  auto link = [](std::string path, std::string target) {
    TreeEntry e;
    e.tar.path = std::move(path);
    e.tar.type = EntryType::symlink;
    e.tar.link_target = std::move(target);
    return e;
  };
  TreeEntry dir;
  dir.tar.path = "./d/";
  dir.tar.type = EntryType::directory;
  CHECK(aptship::deb::check_symlink_loops({dir, link("./d/ok", "../elsewhere")}));
  auto loop = aptship::deb::check_symlink_loops({dir, link("./d/x", "/d/y"), link("./d/y", "x")});
  REQUIRE_FALSE(loop);
  CHECK_THAT(loop.error().message(), Catch::StartsWith("./d/"));
}

TEST_CASE("tree: special files are refused with their path") {
  ScopedTempDir tmp;
  aptship::test::write("tree/usr/ok", "x");
  REQUIRE(mkfifo("tree/usr/pipe", 0644) == 0);
  const std::string message = scan_error();
  CHECK_THAT(message, Catch::StartsWith("./usr/pipe: "));
}

TEST_CASE("tree: names and link targets with newlines are refused in one line") {
  SECTION("a file") {
    ScopedTempDir tmp;
    aptship::test::write("tree/usr/two\nlines", "x");
    CHECK_THAT(scan_error(), Catch::Contains("./usr/two") && Catch::Contains("newline"));
  }
  SECTION("a directory") {
    ScopedTempDir tmp;
    aptship::test::write("tree/usr/dir\nname/file", "x");
    CHECK_THAT(scan_error(), Catch::Contains("./usr/dir") && Catch::Contains("newline"));
  }
  SECTION("a symlink target") {
    ScopedTempDir tmp;
    symlink_to("two\nlines", "tree/usr/link");
    CHECK_THAT(scan_error(), Catch::Contains("./usr/link") && Catch::Contains("newline"));
  }
}

TEST_CASE("tree: the root must be an existing directory") {
  ScopedTempDir tmp;
  CHECK_THAT(scan_error("missing"), Catch::Contains("missing"));
  aptship::test::write("file", "x");
  CHECK_THAT(scan_error("file"), Catch::Contains("not a directory"));
}
