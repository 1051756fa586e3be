#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "builder/buildpack/git_source.hpp"
#include "fixtures.hpp"

using namespace aptship::buildpack;
using aptship::test::GitRepo;
using aptship::test::read;
using aptship::test::ScopedTempDir;
using aptship::test::write;
namespace fs = std::filesystem;

TEST_CASE("a git buildpack is cloned once and written out at the default branch") {
  ScopedTempDir tmp;
  GitRepo repo(tmp.path() / "bp");
  write(repo.dir() / "bin" / "compile", "#!/bin/sh\necho v1\n", 0755);
  std::string first = repo.commit_all("v1");

  auto commit = fetch_git_buildpack(repo.url(), "", tmp.path() / "clones", tmp.path() / "out1");
  REQUIRE(commit);
  CHECK(*commit == first);
  CHECK(read(tmp.path() / "out1" / "bin" / "compile") == "#!/bin/sh\necho v1\n");
  struct stat st {};
  REQUIRE(::stat((tmp.path() / "out1" / "bin" / "compile").c_str(), &st) == 0);
  CHECK((st.st_mode & 0111) != 0);
  CHECK(!fs::exists(tmp.path() / "out1" / ".git"));
  fs::path clone = clone_path(tmp.path() / "clones", repo.url());
  CHECK(fs::is_directory(clone));

  // A later build fetches the new commit into the same clone.
  write(repo.dir() / "bin" / "compile", "#!/bin/sh\necho v2\n", 0755);
  std::string second = repo.commit_all("v2");
  auto updated = fetch_git_buildpack(repo.url(), "", tmp.path() / "clones", tmp.path() / "out2");
  REQUIRE(updated);
  CHECK(*updated == second);
  CHECK(read(tmp.path() / "out2" / "bin" / "compile") == "#!/bin/sh\necho v2\n");
  size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(tmp.path() / "clones")) {
    ++entries;
  }
  CHECK(entries == 2); // the clone and its lock file
}

TEST_CASE("#ref pins a tag, a branch or a commit") {
  ScopedTempDir tmp;
  GitRepo repo(tmp.path() / "bp");
  write(repo.dir() / "VERSION", "1");
  std::string first = repo.commit_all("one");
  repo.tag("v1");
  write(repo.dir() / "VERSION", "2");
  std::string second = repo.commit_all("two");
  fs::path clones = tmp.path() / "clones";

  auto tag = fetch_git_buildpack(repo.url(), "v1", clones, tmp.path() / "tag");
  REQUIRE(tag);
  CHECK(*tag == first);
  CHECK(read(tmp.path() / "tag" / "VERSION") == "1");

  auto by_id = fetch_git_buildpack(repo.url(), first, clones, tmp.path() / "id");
  REQUIRE(by_id);
  CHECK(read(tmp.path() / "id" / "VERSION") == "1");

  auto short_id = fetch_git_buildpack(repo.url(), second.substr(0, 10), clones, tmp.path() / "s");
  REQUIRE(short_id);
  CHECK(*short_id == second);

  auto missing = fetch_git_buildpack(repo.url(), "v9", clones, tmp.path() / "none");
  REQUIRE(!missing);
  CHECK(missing.error().message() ==
        fmt::format("buildpack {}: no branch, tag or commit 'v9'", repo.url()));
}

TEST_CASE("a pinned commit in the cache needs no fetch") {
  ScopedTempDir tmp;
  fs::path clones = tmp.path() / "clones";
  std::string url;
  std::string id;
  {
    GitRepo repo(tmp.path() / "bp");
    write(repo.dir() / "VERSION", "1");
    id = repo.commit_all("one");
    url = repo.url();
    REQUIRE(fetch_git_buildpack(url, "", clones, tmp.path() / "first"));
  }
  fs::remove_all(tmp.path() / "bp");
  auto cached = fetch_git_buildpack(url, id, clones, tmp.path() / "second");
  REQUIRE(cached);
  CHECK(read(tmp.path() / "second" / "VERSION") == "1");
  auto branch = fetch_git_buildpack(url, "", clones, tmp.path() / "third");
  REQUIRE(!branch);
  CHECK(branch.error().message().starts_with(fmt::format("fetching buildpack {}: ", url)));
}

TEST_CASE("a clone that fails names the URL and leaves nothing cached") {
  ScopedTempDir tmp;
  std::string url = "file://" + (tmp.path() / "no-such-repo").string();
  auto result = fetch_git_buildpack(url, "", tmp.path() / "clones", tmp.path() / "out");
  REQUIRE(!result);
  CHECK(result.error().message().starts_with(fmt::format("cloning buildpack {}: ", url)));
  CHECK(!fs::exists(clone_path(tmp.path() / "clones", url)));
  CHECK(!fs::exists(tmp.path() / "out"));
  for (const auto& entry : fs::directory_iterator(tmp.path() / "clones")) {
    CHECK(entry.path().extension() == ".lock");
  }
}
