#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <sys/stat.h>

#include "aptrepo/core/subprocess.hpp"
#include "builder/receive/tree_export.hpp"
#include "git_fixture.hpp"
#include "testutil.hpp"

namespace fs = std::filesystem;
using aptship::receive::export_tree;
using aptship::receive::read_blob;
using aptship::test::commit_files;
using aptship::test::FileSpec;
using aptship::test::init_repo;

namespace {

mode_t mode_of(const fs::path& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// Every path below DIR, sorted, with a type letter: "d a", "f a/b", "l c".
std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> out;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator();
       ++it) {
    const char type = it->is_symlink() ? 'l' : it->is_directory() ? 'd' : 'f';
    out.push_back(std::string(1, type) + ' ' + it->path().lexically_relative(dir).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace

TEST_CASE("export_tree writes files, modes, symlinks and nested directories", "[tree_export]") {
  aptship::test::ScopedTempDir tmp;
  auto repo = init_repo(tmp.path() / "app.git");
  const std::string commit =
      commit_files(repo.get(), {{"Procfile", "web: ./run\n"},
                                {"run", "#!/bin/sh\necho hi\n", GIT_FILEMODE_BLOB_EXECUTABLE},
                                {"lib/deep/er/data.txt", "deep\n"},
                                {"lib/link", "deep/er/data.txt", GIT_FILEMODE_LINK},
                                {"abs-link", "/etc/hostname", GIT_FILEMODE_LINK},
                                {"with space.txt", "spaces\n"},
                                {"empty", ""},
                                {"binary.bin", std::string("\0\1\2\xff", 4)}});
  const fs::path dest = tmp.path() / "out/src";
  REQUIRE(export_tree(tmp.path() / "app.git", commit, dest));

  CHECK(listing(dest) == std::vector<std::string>{"d lib", "d lib/deep", "d lib/deep/er",
                                                  "f Procfile", "f binary.bin", "f empty",
                                                  "f lib/deep/er/data.txt", "f run",
                                                  "f with space.txt", "l abs-link", "l lib/link"});
  CHECK(aptship::test::read(dest / "Procfile") == "web: ./run\n");
  CHECK(aptship::test::read(dest / "binary.bin") == std::string("\0\1\2\xff", 4));
  CHECK(aptship::test::read(dest / "empty").empty());
  CHECK(mode_of(dest / "Procfile") == 0644);
  CHECK(mode_of(dest / "run") == 0755);
  CHECK(mode_of(dest / "lib") == 0755);
  CHECK(mode_of(dest / "lib/deep/er") == 0755);
  CHECK(fs::read_symlink(dest / "lib/link") == "deep/er/data.txt");
  CHECK(fs::read_symlink(dest / "abs-link") == "/etc/hostname");
  CHECK(aptship::test::read(dest / "lib/link") == "deep\n");

  // The same content as git's own checkout.
  auto archive = aptship::run_checked(
      {"sh", "-c",
       "mkdir ref && git --git-dir='" + (tmp.path() / "app.git").string() + "' archive " + commit +
           " | tar -x -C ref && diff -r --no-dereference ref '" + dest.string() + "'"});
  CHECK(archive);
}

TEST_CASE("export_tree takes branch names and refuses non-commits", "[tree_export]") {
  aptship::test::ScopedTempDir tmp;
  auto repo = init_repo(tmp.path() / "app.git");
  commit_files(repo.get(), {{"a", "main\n"}});
  commit_files(repo.get(), {{"b", "other\n"}}, "refs/heads/other");
  REQUIRE(export_tree(tmp.path() / "app.git", "other", "x"));
  CHECK(fs::exists("x/b"));
  CHECK_FALSE(fs::exists("x/a"));

  auto missing = export_tree(tmp.path() / "app.git", "nope", "y");
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.error().message(), Catch::Contains("'nope'"));
  CHECK_FALSE(export_tree(tmp.path() / "not-a-repo", "main", "z"));
}

TEST_CASE("export_tree refuses to overwrite what is in the destination", "[tree_export]") {
  aptship::test::ScopedTempDir tmp;
  auto repo = init_repo(tmp.path() / "app.git");
  const std::string commit = commit_files(repo.get(), {{"sub/file", "new\n"}});
  fs::create_directories("dest");
  fs::create_directories("target");
  fs::create_symlink(tmp.path() / "target", "dest/sub");
  auto result = export_tree(tmp.path() / "app.git", commit, "dest");
  REQUIRE_FALSE(result);
  CHECK_THAT(result.error().message(), Catch::Contains("sub"));
  CHECK(fs::is_empty("target"));
}

TEST_CASE("an unavailable submodule is a clear error naming it", "[tree_export]") {
  aptship::test::ScopedTempDir tmp;
  auto repo = init_repo(tmp.path() / "app.git");
  const std::string commit = commit_files(
      repo.get(), {{".gitmodules", "[submodule \"vendor/x\"]\n\tpath = vendor/x\n"},
                   {"vendor/x", "0123456789abcdef0123456789abcdef01234567", GIT_FILEMODE_COMMIT},
                   {"Procfile", "web: x\n"}});
  auto result = export_tree(tmp.path() / "app.git", commit, "dest");
  REQUIRE_FALSE(result);
  CHECK_THAT(result.error().message(),
             Catch::Contains("submodule vendor/x is not available: aptship does not fetch "
                             "submodules; vendor it or remove it"));
}

TEST_CASE("a submodule whose commit is in the repository is exported", "[tree_export]") {
  aptship::test::ScopedTempDir tmp;
  auto repo = init_repo(tmp.path() / "app.git");
  const std::string vendored = commit_files(repo.get(), {{"lib.c", "int x;\n"}}, "refs/vendor/x");
  const std::string commit = commit_files(
      repo.get(), {{"vendor/x", vendored, GIT_FILEMODE_COMMIT}, {"main.c", "int main;\n"}});
  REQUIRE(export_tree(tmp.path() / "app.git", commit, "dest"));
  CHECK(aptship::test::read("dest/vendor/x/lib.c") == "int x;\n");
}

TEST_CASE("tree entries that could escape or write git metadata are refused", "[tree_export]") {
  aptship::test::ScopedTempDir tmp;
  auto repo = init_repo(tmp.path() / "app.git");
  const git_oid blob = aptship::test::write_blob(repo.get(), "payload\n");
  for (const std::string name : {"..", ".", ".git", ".GIT", "a/b"}) {
    INFO(name);
    const git_oid tree = aptship::test::write_raw_tree(repo.get(), {{"100644", name, blob}});
    const std::string commit = aptship::test::commit_tree_id(repo.get(), tree, "");
    const fs::path dest = tmp.path() / "dest" / "inner";
    auto result = export_tree(tmp.path() / "app.git", commit, dest);
    REQUIRE_FALSE(result);
    CHECK_THAT(result.error().message(), Catch::Contains("refusing a tree entry"));
    CHECK(fs::is_empty(dest));
    CHECK(listing(tmp.path() / "dest") == std::vector<std::string>{"d inner"});
    fs::remove_all(tmp.path() / "dest");
  }
}

TEST_CASE("a tree naming one entry twice cannot write through its own symlink", "[tree_export]") {
  aptship::test::ScopedTempDir tmp;
  auto repo = init_repo(tmp.path() / "app.git");
  fs::create_directories("outside");
  const git_oid target = aptship::test::write_blob(repo.get(), (tmp.path() / "outside/f").string());
  const git_oid payload = aptship::test::write_blob(repo.get(), "owned\n");
  const git_oid tree = aptship::test::write_raw_tree(
      repo.get(), {{"120000", "x", target}, {"100644", "x", payload}});
  const std::string commit = aptship::test::commit_tree_id(repo.get(), tree, "");
  auto result = export_tree(tmp.path() / "app.git", commit, "dest");
  REQUIRE_FALSE(result);
  CHECK_THAT(result.error().message(), Catch::EndsWith("x: File exists"));
  CHECK_FALSE(fs::exists("outside/f"));
}

TEST_CASE("read_blob reads one file of a commit", "[tree_export]") {
  aptship::test::ScopedTempDir tmp;
  auto repo = init_repo(tmp.path() / "app.git");
  const std::string commit = commit_files(repo.get(), {{"app.json", "{\"name\": \"x\"}\n"},
                                                       {"conf/aptship.toml", "[package]\n"},
                                                       {"link", "app.json", GIT_FILEMODE_LINK}});
  const fs::path r = tmp.path() / "app.git";
  auto json = read_blob(r, commit, "app.json");
  REQUIRE(json);
  REQUIRE(json->has_value());
  CHECK(**json == "{\"name\": \"x\"}\n");
  auto nested = read_blob(r, "main", "conf/aptship.toml");
  REQUIRE(nested);
  CHECK(nested->value() == "[package]\n");
  auto missing = read_blob(r, commit, "aptship.toml");
  REQUIRE(missing);
  CHECK_FALSE(missing->has_value());
  auto missing_dir = read_blob(r, commit, "nope/x");
  REQUIRE(missing_dir);
  CHECK_FALSE(missing_dir->has_value());
  CHECK_FALSE(read_blob(r, commit, "conf"));
  CHECK_FALSE(read_blob(r, commit, "link"));
  CHECK_FALSE(read_blob(r, commit, ""));
  CHECK_FALSE(read_blob(r, "nope", "app.json"));
}

TEST_CASE("resolve_commit gives the full id", "[tree_export]") {
  aptship::test::ScopedTempDir tmp;
  auto repo = init_repo(tmp.path() / "app.git");
  const std::string commit = commit_files(repo.get(), {{"a", "1"}});
  auto full = aptship::receive::resolve_commit(tmp.path() / "app.git", "main");
  REQUIRE(full);
  CHECK(*full == commit);
  auto short_id = aptship::receive::resolve_commit(tmp.path() / "app.git", commit.substr(0, 7));
  REQUIRE(short_id);
  CHECK(*short_id == commit);
  auto missing = aptship::receive::resolve_commit(tmp.path() / "app.git", "nope");
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.error().message(), Catch::Contains("app.git"));
}
