#include <catch2/catch.hpp>

#include <cstdlib>

#include "aptrepo/core/tempdir.hpp"
#include "testutil.hpp"

using aptship::TempDir;
namespace fs = std::filesystem;

TEST_CASE("TempDir creates a unique directory and removes it recursively", "[tempdir]") {
  aptship::test::ScopedTempDir scope;
  fs::path path;
  {
    auto dir = TempDir::create("unit", scope.path());
    REQUIRE(dir);
    path = dir->path();
    CHECK(path.parent_path() == scope.path());
    CHECK(path.filename().string().rfind("unit.", 0) == 0);
    CHECK(path.filename().string().size() == 5 + 6);
    CHECK(fs::is_directory(path));
    CHECK((fs::status(path).permissions() & fs::perms::all) == fs::perms::owner_all);

    auto other = TempDir::create("unit", scope.path());
    REQUIRE(other);
    CHECK(other->path() != path);

    aptship::test::write(path / "a/b/c.txt", "deep");
  }
  CHECK_FALSE(fs::exists(path));
}

TEST_CASE("TempDir defaults to $TMPDIR", "[tempdir]") {
  aptship::test::ScopedTempDir scope;
  const char* old = std::getenv("TMPDIR");
  std::string saved = old != nullptr ? old : "";
  ::setenv("TMPDIR", scope.path().c_str(), 1);
  auto dir = TempDir::create();
  if (old != nullptr) {
    ::setenv("TMPDIR", saved.c_str(), 1);
  } else {
    ::unsetenv("TMPDIR");
  }
  REQUIRE(dir);
  CHECK(dir->path().parent_path() == scope.path());
  CHECK(dir->path().filename().string().rfind("aptship.", 0) == 0);
}

TEST_CASE("TempDir moves ownership; keep() leaves the directory", "[tempdir]") {
  aptship::test::ScopedTempDir scope;
  fs::path first_path;
  fs::path kept_path;
  {
    auto first = TempDir::create("m", scope.path());
    REQUIRE(first);
    first_path = first->path();
    TempDir moved(std::move(*first));
    CHECK(first->path().empty());
    CHECK(moved.path() == first_path);

    auto second = TempDir::create("m", scope.path());
    REQUIRE(second);
    fs::path second_path = second->path();
    // Assigning over a live TempDir removes the directory it held.
    moved = std::move(*second);
    CHECK_FALSE(fs::exists(first_path));
    CHECK(moved.path() == second_path);

    auto kept = TempDir::create("k", scope.path());
    REQUIRE(kept);
    kept_path = kept->path();
    kept->keep();
  }
  CHECK(fs::is_directory(kept_path));
}

TEST_CASE("TempDir reports a missing parent", "[tempdir]") {
  aptship::test::ScopedTempDir scope;
  auto dir = TempDir::create("x", scope.path() / "missing");
  REQUIRE_FALSE(dir);
  CHECK(dir.error().message() == "creating a temporary directory in " +
                                     (scope.path() / "missing").string() +
                                     ": No such file or directory");
}
